"""Training runs in the workspace: ingest finished run folders exactly once, list them, read one back.

A run folder (layout in models/runs.py) is read directly with json and pandas, so the data layer does not
depend on models/. A run is ingested when its status.json exists (written last by the trainer): all its rows
(runs, run_epochs, run_predictions) go in one transaction, after checking inside that transaction that it is
not there yet, so a crash at any point leaves either the whole run or nothing, and the next `ingest_all`
finishes the job. A failed or cancelled run that is later resumed and finishes again (a new status.json with
another finished_at) replaces its earlier rows; a succeeded run is never written twice.

A generation run (sft, sft_lora) has no predictions.parquet: its eval.json reply metrics and every row of its
generations.parquet go to run_generation_eval and run_generations (analytics.ingest.generation_runs, migration
008) in the same transaction.

inference.json (the measure job's latency/throughput record) is written after status.json and may be
replaced later by a re-measure: its columns are filled, and refilled, by `attach_pending_inference` whenever
the file's measured_at differs from the one in the workspace.

An endpoint run (method "endpoint": a hosted or served OpenAI-compatible model evaluated by `python -m models
evaluate-endpoint`) is ingested like any run: its eval.json accuracy with CI, its predictions.parquet into
run_predictions (so cascades and paired comparisons work), and its client-measured p50/p95 latency into the
latency columns (inference_measured_by 'client: evaluate-endpoint'); Compare prices it as an API from its
measured tokens per request. serving.json (load tests, analytics.ingest.serving) is attached by `ingest_all`.

A churn run (methods churn_logreg, churn_gbm, churn_mlp; config.json task 'tabular') is ingested like a
classifier (eval.json accuracy at 0.5, predictions.parquet of its test accounts) with task 'tabular'; its
scores.parquet goes to churn_scores (analytics.ingest.churn_runs, migration 012), attached by `ingest_all`.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from analytics.db import Workspace, register_app_tables
from analytics.errors import RunIngestError, RunNotFoundError
from analytics.ingest import churn_runs, generation_runs, serving
from analytics.ingest.run_files import read_json_object, read_parquet_columns

log = logging.getLogger(__name__)

RUN_TABLES = ("runs", "run_epochs", "run_predictions", "run_generation_eval", "run_generations")
register_app_tables(*RUN_TABLES)
FINAL_STATES = ("succeeded", "failed", "cancelled")
ENDPOINT_METHOD = "endpoint"
"""config.json method of a run that evaluated an OpenAI-compatible endpoint (models.serving.endpoint)."""
ENDPOINT_MEASURED_BY = "client: evaluate-endpoint"
"""inference_measured_by of an endpoint run: its latency was timed by the client, per request, over HTTP."""
RUN_COLUMNS = (
    "run_id", "job_id", "method", "model", "dataset", "state", "started_at", "finished_at", "train_seconds",
    "hardware", "device", "accuracy", "accuracy_ci_low", "accuracy_ci_high", "macro_f1", "macro_f1_ci_low",
    "macro_f1_ci_high", "n_test", "samples_per_s", "peak_memory_bytes", "error", "config_json",
    "environment_json", "eval_json", "task", "ingested_at",
)
INFERENCE_FILE = "inference.json"
INFERENCE_COLUMNS = (
    "p50_ms", "p95_ms", "throughput_per_s", "inference_hardware", "inference_measured_at", "model_params",
    "tokens_per_request", "api_input_tokens", "api_output_tokens", "api_tokenizer", "inference_load_average",
    "inference_cpu_count", "p50_best_ms", "p50_spread", "throughput_best_per_s", "throughput_spread",
    "inference_repeats", "inference_threads", "inference_busy", "inference_measured_by",
    "inference_load_average_start", "inference_others_cpu_share",
)
"""Columns filled from a run folder's inference.json (migrations 004, 006, 007); NULL until it exists (and for
records written before the measure jobs: no repeats, spread or busy flag)."""
REMEASURE_SLACK_S = 2.0
"""inference.json is re-read only when written this long after the measured_at in the workspace (its
measured_at is the time the file was written): a stat per run, a read only after a re-measure."""
EPOCH_COLUMNS = (
    "run_id", "epoch", "step", "train_loss", "val_loss", "val_accuracy", "val_macro_f1", "improved",
)
PREDICTION_COLUMNS = ("run_id", "text_id", "true_label", "pred_label", "confidence", "correct", "probs")


_DELETE_RUN = (
    "delete from run_generations where run_id = ?",
    "delete from run_generation_eval where run_id = ?",
    "delete from run_predictions where run_id = ?",
    "delete from run_epochs where run_id = ?",
    "delete from runs where run_id = ?",
)


@dataclass(frozen=True)
class RunRecord:
    """Everything one run folder contributes, ready to insert."""

    run_id: str
    """Folder name."""
    state: str
    """succeeded, failed or cancelled (from status.json)."""
    finished_at: pd.Timestamp
    """status.json finished_at, naive UTC."""
    run: pd.DataFrame
    """One row in RUN_COLUMNS order (ingested_at filled at insert)."""
    epochs: pd.DataFrame
    """EPOCH_COLUMNS rows."""
    predictions: pd.DataFrame
    """PREDICTION_COLUMNS rows."""
    generation_eval: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(generation_runs.EVAL_COLUMNS)))
    """A generation run's run_generation_eval row (empty for classifiers and failed runs)."""
    generations: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(generation_runs.GENERATION_COLUMNS)))
    """A generation run's judged replies (run_generations rows)."""


@dataclass(frozen=True)
class RunDetail:
    """One ingested run for the results view."""

    summary: dict[str, Any]
    """The runs row without the json blobs."""
    config: dict[str, Any]
    """The resolved TrainConfig as saved in config.json."""
    environment: dict[str, Any]
    """Hardware and library versions (environment.json)."""
    evaluation: dict[str, Any]
    """eval.json: metrics, per-class figures, confusion matrix ({} for failed runs)."""
    epochs: pd.DataFrame
    """Per-epoch metrics in epoch order."""
    predictions: pd.DataFrame
    """Per-example predictions, the most confident mistakes first."""


# ------------------------------------------------------------------------------------------ ingest


def ingest_run(ws: Workspace, run_dir: Path | str) -> bool:
    """Ingest one run folder if it has finished and is not in the workspace yet.

    Returns True when rows were written, False when the run is unfinished (no status.json) or already
    ingested. Raises RunIngestError for a malformed folder; then nothing is written.
    """
    record = read_run_folder(run_dir)
    if record is None:
        return False
    with ws.transaction() as tx:
        found = tx.rows("select state, finished_at from runs where run_id = ?", [record.run_id],
                        label=f"looking up run {record.run_id}")
        existing = found[0] if found else None
        if existing is not None and not _replaces(existing, record):
            return False
        if existing is not None:
            for statement in _DELETE_RUN:
                tx.execute(statement, [record.run_id], label=f"replacing run {record.run_id}")
        run = record.run.assign(ingested_at=datetime.now(timezone.utc).replace(tzinfo=None))
        tx.insert_frame("runs", run)
        if len(record.epochs):
            tx.insert_frame("run_epochs", record.epochs)
        if len(record.predictions):
            tx.insert_frame("run_predictions", record.predictions)
        if len(record.generation_eval):
            tx.insert_frame("run_generation_eval", record.generation_eval)
        if len(record.generations):
            tx.insert_frame("run_generations", record.generations)
    log.info("ingested run %s (%s, %d predictions, %d generations)", record.run_id, record.state,
             len(record.predictions), len(record.generations))
    return True


def _replaces(existing: tuple[str, Any], record: RunRecord) -> bool:
    """A resumed failed/cancelled run that finished again replaces its rows; nothing else does."""
    state, finished_at = existing
    return state != "succeeded" and pd.Timestamp(finished_at) != record.finished_at


def ingest_all(ws: Workspace, runs_dir: Path | str) -> list[str]:
    """Ingest every finished, not yet ingested run under `runs_dir` (e.g. those that ended while the app was
    down). A malformed folder is logged and skipped. Returns the ids ingested now, in name order."""
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    known = {run_id: (state, finished) for run_id, state, finished in
             ws.rows("select run_id, state, finished_at from runs")}
    ingested = []
    attach_pending_inference(ws, root)
    serving.attach_pending_serving(ws, root)
    for run_dir in sorted(p for p in root.iterdir() if (p / "status.json").is_file()):
        if run_dir.name in known and known[run_dir.name][0] == "succeeded":
            continue  # the common case, decided without reading the folder
        try:
            if ingest_run(ws, run_dir):
                ingested.append(run_dir.name)
        except RunIngestError as e:
            log.warning("skipping run folder %s: %s", run_dir, e)
    churn_runs.attach_pending_scores(ws, root)
    return ingested


def attach_pending_inference(ws: Workspace, runs_dir: Path | str) -> list[str]:
    """Attach inference.json to every ingested succeeded run that lacks it and now has one (the measure job
    runs after status.json is written), and re-attach the ones re-measured since (a newer measured_at).
    Cheap: one query and a stat per succeeded run; a file is read only when new or rewritten. Returns the run
    ids updated."""
    root = Path(runs_dir)
    attached = []
    for run_id, measured_at in ws.rows("select run_id, inference_measured_at from runs "
                                       "where state = 'succeeded' order by run_id"):
        try:
            written = (root / run_id / INFERENCE_FILE).stat().st_mtime
        except OSError:
            continue
        if measured_at is not None:
            stored = pd.Timestamp(measured_at).tz_localize("UTC").timestamp()
            if written <= stored + REMEASURE_SLACK_S:
                continue
        if attach_inference(ws, root / run_id, unless_measured_at=measured_at):
            attached.append(run_id)
    return attached


def attach_inference(ws: Workspace, run_dir: Path | str, *, unless_measured_at: Any = None) -> bool:
    """Fill the inference columns of an ingested run from its inference.json (written after status.json,
    so it may land after the run was ingested, and rewritten by a re-measure). Returns True when a row was
    updated; False when the file has no measured_at or the same one as `unless_measured_at` (already
    attached); a malformed file is logged and skipped."""
    run_dir = Path(run_dir)
    try:
        values = _inference_values(run_dir)
    except RunIngestError as e:
        log.warning("skipping %s: %s", run_dir / INFERENCE_FILE, e)
        return False
    measured = values["inference_measured_at"]
    if measured is None or (unless_measured_at is not None and measured == pd.Timestamp(unless_measured_at)):
        return False
    sets = ", ".join(f"{column} = ?" for column in INFERENCE_COLUMNS)
    with ws.transaction() as tx:
        tx.execute(f"update runs set {sets} where run_id = ?", [*values.values(), run_dir.name],
                   label=f"attaching the inference record of run {run_dir.name}")
    return True


# ------------------------------------------------------------------------------------------ reading a folder


def read_run_folder(run_dir: Path | str) -> RunRecord | None:
    """The rows a finished run folder contributes; None while it has no status.json.

    Raises RunIngestError when a file is unreadable or a succeeded run lacks eval.json / predictions.parquet.
    """
    run_dir = Path(run_dir)
    status = read_json_object(run_dir / "status.json", required=False)
    if status is None:
        return None
    state = status.get("state")
    if state not in FINAL_STATES:
        raise RunIngestError(f"{run_dir}/status.json has state {state!r}; "
                             f"expected one of {', '.join(FINAL_STATES)}")
    finished_at = _timestamp(status.get("finished_at"))
    if finished_at is None:
        raise RunIngestError(f"{run_dir}/status.json has no valid finished_at")
    succeeded = state == "succeeded"
    config = read_json_object(run_dir / "config.json", required=True)
    environment = read_json_object(run_dir / "environment.json", required=False) or {}
    evaluation = read_json_object(run_dir / "eval.json", required=succeeded) or {}
    job = read_json_object(run_dir / "job.json", required=False) or {}
    events = _read_events(run_dir / "events.jsonl")
    run_row = _run_row(run_dir.name, config, environment, evaluation, status, events, job)
    try:
        inference = _inference_values(run_dir)
    except RunIngestError as e:  # the benchmark is an add-on: a bad file must not keep the run out
        log.warning("ignoring %s: %s", run_dir / INFERENCE_FILE, e)
        inference = dict.fromkeys(INFERENCE_COLUMNS)
    if str(config.get("method")) == ENDPOINT_METHOD:
        inference.update(_endpoint_latency(evaluation))
    run_row = run_row.assign(**{k: [v] for k, v in inference.items()})
    epochs = _epoch_rows(run_dir.name, events)
    if generation_runs.is_generation(config, evaluation):
        return RunRecord(run_id=run_dir.name, state=state, finished_at=finished_at, run=run_row,
                         epochs=epochs, predictions=_prediction_rows(run_dir, required=False),
                         generation_eval=generation_runs.eval_row(run_dir.name, config, evaluation),
                         generations=generation_runs.generation_rows(run_dir, required=succeeded))
    return RunRecord(run_id=run_dir.name, state=state, finished_at=finished_at, run=run_row, epochs=epochs,
                     predictions=_prediction_rows(run_dir, required=succeeded))


def _inference_values(run_dir: Path) -> dict[str, Any]:
    """INFERENCE_COLUMNS from inference.json (all None when the file is absent)."""
    bench = read_json_object(run_dir / INFERENCE_FILE, required=False) or {}
    api = bench.get("api_prompt") if isinstance(bench.get("api_prompt"), dict) else {}
    params = _number(bench.get("model_params"))
    return {
        "p50_ms": _number(bench.get("p50_ms")), "p95_ms": _number(bench.get("p95_ms")),
        "throughput_per_s": _number(bench.get("throughput_per_s")),
        "inference_hardware": bench.get("hardware"),
        "inference_measured_at": _timestamp(bench.get("measured_at")),
        "model_params": int(params) if params is not None else None,
        "tokens_per_request": _number(bench.get("tokens_per_request")),
        "api_input_tokens": _number(api.get("input_tokens_mean")),
        "api_output_tokens": _number(api.get("output_tokens_mean")), "api_tokenizer": api.get("tokenizer"),
        "inference_load_average": _number(bench.get("load_average_1m")),
        "inference_cpu_count": _whole(bench.get("cpu_count")),
        "p50_best_ms": _number(bench.get("p50_best_ms")), "p50_spread": _number(bench.get("p50_spread")),
        "throughput_best_per_s": _number(bench.get("throughput_best_per_s")),
        "throughput_spread": _number(bench.get("throughput_spread")),
        "inference_repeats": _whole(bench.get("repeats")), "inference_threads": _whole(bench.get("threads")),
        "inference_busy": bench["busy"] if isinstance(bench.get("busy"), bool) else None,
        "inference_measured_by": (bench["measured_by"] if isinstance(bench.get("measured_by"), str)
                                  else None),
        "inference_load_average_start": _number(bench.get("load_average_1m_start")),
        "inference_others_cpu_share": _number(bench.get("others_cpu_share")),
    }


def _endpoint_latency(evaluation: dict[str, Any]) -> dict[str, Any]:
    """An endpoint run's latency columns from its eval.json: p50/p95 measured by the client (cache hits
    excluded), when they were measured and by whom."""
    p50 = _number(evaluation.get("latency_p50_ms"))
    return {"p50_ms": p50, "p95_ms": _number(evaluation.get("latency_p95_ms")),
            "inference_measured_at": _timestamp(evaluation.get("measured_at")) if p50 is not None else None,
            "inference_measured_by": ENDPOINT_MEASURED_BY if p50 is not None else None}


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _read_events(path: Path) -> list[dict[str, Any]]:
    """Complete lines of events.jsonl (a torn last line is skipped)."""
    if not path.is_file():
        return []
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            events.append(value)
    return events


def _timestamp(value: Any) -> pd.Timestamp | None:
    """ISO text -> naive UTC timestamp (DuckDB `timestamp`), None if absent or unparsable."""
    if not value:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        return None
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo else stamp


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _interval(evaluation: dict[str, Any], metric: str) -> tuple[float | None, float | None]:
    """(low, high) of a metric's 95% interval: '<metric>_ci95': [low, high] or '<metric>_ci_low/high'."""
    pair = evaluation.get(f"{metric}_ci95")
    if isinstance(pair, (list, tuple)) and len(pair) == 2:
        return _number(pair[0]), _number(pair[1])
    return _number(evaluation.get(f"{metric}_ci_low")), _number(evaluation.get(f"{metric}_ci_high"))


def _run_row(run_id: str, config: dict[str, Any], environment: dict[str, Any], evaluation: dict[str, Any],
             status: dict[str, Any], events: list[dict[str, Any]], job: dict[str, Any]) -> pd.DataFrame:
    method = str(config.get("method", "unknown"))
    acc_low, acc_high = _interval(evaluation, "accuracy")
    f1_low, f1_high = _interval(evaluation, "macro_f1")
    n_test = evaluation.get("n_test_scored", evaluation.get("n"))
    if generation_runs.is_generation(config, evaluation) and n_test is None:
        n_test = evaluation.get("n_test_total")
    memory = status.get("memory_bytes")
    row = {
        "run_id": run_id, "job_id": job.get("job_id"), "method": method,
        "model": "tfidf" if method == "classic" else str(config.get("model", "unknown")),
        "dataset": str(config.get("dataset", "unknown")), "state": status["state"],
        "started_at": _started_at(events, environment), "finished_at": _timestamp(status["finished_at"]),
        "train_seconds": _number(status.get("train_seconds")), "hardware": environment.get("hardware"),
        "device": _device(method, status, events), "accuracy": _number(evaluation.get("accuracy")),
        "accuracy_ci_low": acc_low, "accuracy_ci_high": acc_high,
        "macro_f1": _number(evaluation.get("macro_f1")),
        "macro_f1_ci_low": f1_low, "macro_f1_ci_high": f1_high,
        "n_test": int(n_test) if isinstance(n_test, int) else None,
        "samples_per_s": _samples_per_s(status, events),
        "peak_memory_bytes": int(memory) if isinstance(memory, (int, float)) else None,
        "error": status.get("error"), "config_json": json.dumps(config, sort_keys=True),
        "environment_json": json.dumps(environment, sort_keys=True),
        "eval_json": json.dumps(evaluation, sort_keys=True) if evaluation else None,
        "task": _task(config, evaluation),
    }
    return pd.DataFrame([row], columns=[c for c in RUN_COLUMNS if c != "ingested_at"])


def _task(config: dict[str, Any], evaluation: dict[str, Any]) -> str:
    """What the run was judged on: 'generation' (replies), 'tabular' (a churn model's accounts, config.json
    task) or 'classification' (texts)."""
    if generation_runs.is_generation(config, evaluation):
        return "generation"
    return "tabular" if config.get("task") == "tabular" else "classification"


def _started_at(events: list[dict[str, Any]], environment: dict[str, Any]) -> pd.Timestamp | None:
    first = next((e.get("time") for e in events if e.get("time")), None)
    return _timestamp(first or environment.get("recorded_at"))


def _device(method: str, status: dict[str, Any], events: list[dict[str, Any]]) -> str | None:
    start = next((e for e in reversed(events) if e.get("kind") == "start" and e.get("device")), {})
    device = status.get("device") or start.get("device")
    return str(device) if device else ("cpu" if method == "classic" else None)


def _samples_per_s(status: dict[str, Any], events: list[dict[str, Any]]) -> float | None:
    """Training throughput: status.json's figure, else the mean of the step events'."""
    for key in ("samples_per_s", "embed_samples_per_s"):
        if _number(status.get(key)) is not None:
            return _number(status.get(key))
    rates = [_number(e.get("samples_per_s")) for e in events if e.get("kind") == "step"]
    rates = [r for r in rates if r is not None]
    return sum(rates) / len(rates) if rates else None


def _epoch_rows(run_id: str, events: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per epoch event (the last when logged twice); train_loss = mean step loss within that epoch."""
    losses: dict[int, list[float]] = {}
    for e in events:
        if (e.get("kind") == "step" and _number(e.get("loss")) is not None
                and _number(e.get("epoch")) is not None):
            losses.setdefault(int(math.floor(e["epoch"])) + 1, []).append(float(e["loss"]))
    by_epoch: dict[int, dict[str, Any]] = {}
    for e in events:
        if e.get("kind") == "epoch" and isinstance(e.get("epoch"), int) and e["epoch"] >= 1:
            epoch = e["epoch"]
            window = losses.get(epoch, [])
            by_epoch[epoch] = {
                "run_id": run_id, "epoch": epoch, "step": e.get("step"),
                "train_loss": sum(window) / len(window) if window else None,
                "val_loss": _number(e.get("val_loss")), "val_accuracy": _number(e.get("val_accuracy")),
                "val_macro_f1": _number(e.get("val_macro_f1")), "improved": e.get("improved"),
            }
    return pd.DataFrame([by_epoch[k] for k in sorted(by_epoch)], columns=list(EPOCH_COLUMNS))


def _prediction_rows(run_dir: Path, *, required: bool) -> pd.DataFrame:
    path = run_dir / "predictions.parquet"
    if not path.is_file():
        if required:
            raise RunIngestError(f"{path} is missing; the run folder is incomplete")
        return pd.DataFrame(columns=list(PREDICTION_COLUMNS))
    frame = read_parquet_columns(path, ("text_id", "true_label", "pred_label"))
    out = pd.DataFrame({
        "run_id": run_dir.name,
        "text_id": frame["text_id"].astype(str),
        "true_label": frame["true_label"].astype(str),
        "pred_label": frame["pred_label"].astype(str),
        "confidence": frame["confidence"].astype(float) if "confidence" in frame else None,
        "correct": frame["correct"].astype(bool) if "correct" in frame
        else frame["true_label"].astype(str) == frame["pred_label"].astype(str),
        "probs": [None if p is None else list(map(float, p)) for p in frame["probs"]] if "probs" in frame
        else None,
    })
    return out[list(PREDICTION_COLUMNS)]


# ------------------------------------------------------------------------------------------ reading back


def list_runs(ws: Workspace) -> pd.DataFrame:
    """Every ingested run, newest first: ids, method, model, dataset, state, times, metrics with 95% CIs."""
    return ws.query("runs_list")


def run_detail(ws: Workspace, run_id: str) -> RunDetail:
    """One ingested run with its config, environment, evaluation, epochs and predictions.

    Raises RunNotFoundError for an id that is not in the workspace.
    """
    rows = ws.sql("select * from runs where run_id = ?", [run_id], label="run detail")
    if rows.empty:
        raise RunNotFoundError(f"no ingested run {run_id!r}; pick one from the runs list")
    row = rows.iloc[0].to_dict()
    blobs = {k: row.pop(k) for k in ("config_json", "environment_json", "eval_json")}
    return RunDetail(
        summary=row,
        config=json.loads(blobs["config_json"]),
        environment=(json.loads(blobs["environment_json"])
                     if isinstance(blobs["environment_json"], str) else {}),
        evaluation=json.loads(blobs["eval_json"]) if isinstance(blobs["eval_json"], str) else {},
        epochs=ws.query("runs_epochs", run_id=run_id),
        predictions=ws.query("runs_predictions", run_id=run_id),
    )
