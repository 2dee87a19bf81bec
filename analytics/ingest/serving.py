"""Serving records in the workspace: a run folder's serving.json (load tests of the run behind a real server).

serving.json (written by `python -m models loadtest`, models.serving.server.loadtest, rewritten atomically)
keeps a list of records, one per load test: when, which server (litserve, transformers serve, vllm, external)
on what hardware, and per concurrency level the requests, errors, p50/p95/p99 latency, requests/s and
tokens/s. Each level is a row of `serving_levels` (migration 009). Like inference.json, the file is read again
only when it was rewritten after the rows in the workspace were taken from it (its mtime): a stat per run
folder, a read only after a new load test.

A folder with serving.json and no status.json (`loadtest --out DIR` for an external URL) is ingested too,
under its folder name; Compare uses the records of its runs only.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

import pandas as pd

from analytics.db import Workspace
from analytics.errors import RunIngestError
from analytics.ingest.run_files import read_json_object

log = logging.getLogger(__name__)

SERVING_FILE = "serving.json"
SERVERS = ("litserve", "transformers serve", "vllm", "external")
"""Servers a record may name (others are kept as written)."""
LEVEL_COLUMNS = (
    "run_id", "measured_at", "base_url", "model", "server", "hardware", "threads", "continuous_batching",
    "max_batch_size", "duration_s", "concurrency", "requests", "errors", "error_rate", "p50_ms", "p95_ms",
    "p99_ms", "requests_per_s", "tokens_per_s", "prompt_tokens_mean", "completion_tokens_mean", "file_mtime",
)
"""serving_levels columns, in order."""


def read_serving_file(run_dir: Path | str) -> pd.DataFrame:
    """Every level of every record in `run_dir`/serving.json as LEVEL_COLUMNS rows (empty when the file is
    absent). A record without a valid measured_at or a level without a whole concurrency >= 1 is skipped
    with a warning; raises RunIngestError when the file cannot be read or is not {"records": [...]}."""
    run_dir = Path(run_dir)
    path = run_dir / SERVING_FILE
    if not path.is_file():
        return pd.DataFrame(columns=list(LEVEL_COLUMNS))
    try:
        mtime = path.stat().st_mtime  # before the read: a rewrite after it is seen by the next scan
    except OSError as e:
        raise RunIngestError(f"cannot read {path}: {e}") from e
    records = read_json_object(path, required=True).get("records")
    if not isinstance(records, list):
        raise RunIngestError(f"{path} must hold {{\"records\": [...]}} (written by `python -m models "
                             f"loadtest`)")
    rows = []
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            log.warning("%s: record %d is not an object; skipped", path, i)
            continue
        measured = _timestamp(record.get("measured_at"))
        levels = record.get("levels")
        if measured is None or not isinstance(levels, list):
            log.warning("%s: record %d has no measured_at or levels; skipped", path, i)
            continue
        for level in levels:
            concurrency = _whole(level.get("concurrency")) if isinstance(level, dict) else None
            if concurrency is None or concurrency < 1:
                log.warning("%s: record %d has a level without a concurrency >= 1; skipped", path, i)
                continue
            rows.append({
                "run_id": run_dir.name, "measured_at": measured, "base_url": _text(record.get("base_url")),
                "model": _text(record.get("model")), "server": _text(record.get("server")),
                "hardware": _text(record.get("hardware")), "threads": _whole(record.get("threads")),
                "continuous_batching": (record["continuous_batching"]
                                        if isinstance(record.get("continuous_batching"), bool) else None),
                "max_batch_size": _whole(record.get("max_batch_size")),
                "duration_s": _number(record.get("duration_s")), "concurrency": concurrency,
                "requests": _whole(level.get("requests")), "errors": _whole(level.get("errors")),
                "error_rate": _fraction(level.get("error_rate")), "p50_ms": _number(level.get("p50_ms")),
                "p95_ms": _number(level.get("p95_ms")), "p99_ms": _number(level.get("p99_ms")),
                "requests_per_s": _positive(level.get("requests_per_s")),
                "tokens_per_s": _positive(level.get("tokens_per_s")),
                "prompt_tokens_mean": _number(level.get("prompt_tokens_mean")),
                "completion_tokens_mean": _number(level.get("completion_tokens_mean")), "file_mtime": mtime,
            })
    frame = pd.DataFrame(rows, columns=list(LEVEL_COLUMNS))
    # the same record twice (a torn rewrite merged by hand) must not break the primary key: keep the last
    return frame.drop_duplicates(subset=["measured_at", "concurrency"], keep="last")


def ingest_serving(ws: Workspace, run_dir: Path | str) -> bool:
    """Replace the workspace's rows of `run_dir` with its serving.json's levels. Returns True when rows were
    written; False when the file is absent or holds no usable level. Raises RunIngestError for a malformed
    file (nothing written)."""
    run_dir = Path(run_dir)
    frame = read_serving_file(run_dir)
    if frame.empty:
        return False
    with ws.transaction() as tx:
        tx.execute("delete from serving_levels where run_id = ?", [run_dir.name],
                   label=f"replacing the serving records of {run_dir.name}")
        tx.insert_frame("serving_levels", frame)
    log.info("ingested %d serving levels of %s", len(frame), run_dir.name)
    return True


def attach_pending_serving(ws: Workspace, runs_dir: Path | str) -> list[str]:
    """Ingest every serving.json under `runs_dir` that is new or was rewritten since its rows were taken
    (mtime later than the stored file_mtime). A malformed file is logged and skipped. Returns the folder
    names updated."""
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    stored = {run_id: float(mtime) for run_id, mtime in
              ws.rows("select run_id, max(file_mtime) from serving_levels group by run_id")}
    updated = []
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        try:
            written = os.stat(os.path.join(entry.path, SERVING_FILE)).st_mtime
        except OSError:
            continue
        if entry.name in stored and written <= stored[entry.name]:
            continue
        try:
            if ingest_serving(ws, entry.path):
                updated.append(entry.name)
        except RunIngestError as e:
            log.warning("skipping %s: %s", Path(entry.path) / SERVING_FILE, e)
    return updated


def serving_levels(ws: Workspace, run_ids: list[str] | None = None) -> pd.DataFrame:
    """Stored levels (of `run_ids`, or all), the newest record of each (run, concurrency) only, ordered by run
    and concurrency."""
    frame = ws.query("serving_levels_latest")
    if run_ids is not None:
        frame = frame[frame["run_id"].isin(run_ids)]
    return frame.reset_index(drop=True)


def _timestamp(value: Any) -> pd.Timestamp | None:
    if not value:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        return None
    if stamp is pd.NaT:
        return None
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo else stamp


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _positive(value: Any) -> float | None:
    number = _number(value)
    return number if number is not None and number >= 0 else None


def _fraction(value: Any) -> float | None:
    number = _number(value)
    return number if number is not None and 0 <= number <= 1 else None


def _whole(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str) and value.strip() else None
