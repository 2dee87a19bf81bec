"""Churn runs' scores: every succeeded churn run's scores.parquet into churn_scores, once (migration 012).

A churn run folder (methods churn_logreg, churn_gbm, churn_mlp; task 'tabular'; written by
models.training.churn) is ingested into `runs` by analytics.ingest.runs like any run: its eval.json (ROC-AUC,
PR-AUC with CIs, calibration, permutation importance, accuracy at 0.5) lands in runs.eval_json and its test
predictions in run_predictions. What the Churn and Business case pages need beyond that comes from here:

- churn_runs: the feature set (dataset, cut-off, horizon) and the score day of the run, with how many
  accounts it scored and their MRR;
- churn_scores: scores.parquet, one row per account active on the score day: account_id, score (probability
  of a cancel within the horizon), mrr_usd.

`attach_pending_scores` runs after the runs are ingested (analytics.ingest.runs.ingest_all calls it) and
writes each run's rows in one transaction, after checking inside it that the run has none yet.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from analytics.db import Workspace
from analytics.errors import RunIngestError
from analytics.ingest.run_files import read_parquet_columns

log = logging.getLogger(__name__)

CHURN_METHODS = ("churn_logreg", "churn_gbm", "churn_mlp")
"""config.json methods of churn runs (models.training.churn.config.CHURN_METHODS)."""
SCORES_FILE = "scores.parquet"
SCORE_COLUMNS = ("run_id", "account_id", "score", "mrr_usd")


def is_churn_method(method: str | None) -> bool:
    """True for a churn run's method (churn_logreg, churn_gbm, churn_mlp, or a later churn_*)."""
    return isinstance(method, str) and method.startswith("churn_")


def pending_runs(ws: Workspace) -> list[str]:
    """Succeeded churn runs in `runs` without a churn_runs row yet, in id order."""
    rows = ws.rows("select run_id from runs where state = 'succeeded' and starts_with(method, 'churn_') "
                   "and run_id not in (select run_id from churn_runs) order by run_id")
    return [r[0] for r in rows]


def attach_pending_scores(ws: Workspace, runs_dir: Path | str) -> list[str]:
    """Ingest scores.parquet of every succeeded churn run that has no scores in the workspace yet. A run
    folder without a readable scores.parquet is logged and skipped (tried again next time). Returns the run
    ids written."""
    root = Path(runs_dir)
    written = []
    for run_id in pending_runs(ws):
        try:
            if ingest_scores(ws, root / run_id):
                written.append(run_id)
        except RunIngestError as e:
            log.warning("skipping churn scores of run %s: %s", run_id, e)
    return written


def ingest_scores(ws: Workspace, run_dir: Path | str) -> bool:
    """Write the churn_runs row and the churn_scores rows of one ingested churn run.

    Returns False when the run already has them. Raises RunIngestError when the run is not an ingested
    succeeded churn run, or scores.parquet is missing or malformed (then nothing is written).
    """
    run_dir = Path(run_dir)
    run_id = run_dir.name
    found = ws.rows("select method, dataset, state, eval_json from runs where run_id = ?", [run_id])
    if not found:
        raise RunIngestError(f"run {run_id} is not ingested yet; ingest the run folder first")
    method, dataset, state, eval_json = found[0]
    if not is_churn_method(method) or state != "succeeded":
        raise RunIngestError(f"run {run_id} is a {state} {method} run, not a succeeded churn run")
    evaluation = json.loads(eval_json) if isinstance(eval_json, str) else {}
    scores = read_scores(run_dir)
    info = run_info(run_id, dataset, evaluation, _features_meta(run_dir), scores)
    with ws.transaction() as tx:
        if tx.scalar("select count(*) from churn_runs where run_id = ?", [run_id],
                     label=f"looking up churn run {run_id}"):
            return False
        tx.insert_frame("churn_runs", info)
        if len(scores):
            tx.insert_frame("churn_scores", scores)
    log.info("ingested %d churn scores of run %s", len(scores), run_id)
    return True


def read_scores(run_dir: Path) -> pd.DataFrame:
    """scores.parquet as SCORE_COLUMNS rows; raises RunIngestError naming what is wrong."""
    path = run_dir / SCORES_FILE
    if not path.is_file():
        raise RunIngestError(f"{path} is missing; a succeeded churn run writes it last but one")
    frame = read_parquet_columns(path, ("account_id", "score", "mrr_usd"))
    try:
        out = pd.DataFrame({"run_id": run_dir.name, "account_id": frame["account_id"].astype("int64"),
                            "score": frame["score"].astype("float64"),
                            "mrr_usd": frame["mrr_usd"].astype("float64")})
    except (TypeError, ValueError) as e:
        raise RunIngestError(f"{path} holds non-numeric account_id, score or mrr_usd: {e}") from e
    bad = out[~out["score"].between(0, 1) | ~(out["mrr_usd"] >= 0)]
    if len(bad):
        raise RunIngestError(f"{path}: {len(bad):,} rows have a score outside 0..1 or a negative or missing "
                             f"MRR (first: account {bad['account_id'].iloc[0]})")
    if out["account_id"].duplicated().any():
        raise RunIngestError(f"{path} lists an account twice; one row per account is expected")
    return out[list(SCORE_COLUMNS)]


def run_info(run_id: str, dataset: str, evaluation: dict[str, Any], features: dict[str, Any],
             scores: pd.DataFrame) -> pd.DataFrame:
    """The churn_runs row: cut-off and horizon from eval.json (else features.json), the score day from
    eval.json's or features.json's score_cutoff."""
    def pick(key: str) -> Any:
        value = evaluation.get(key)
        return features.get(key) if value is None else value

    horizon = pick("horizon_days")
    return pd.DataFrame([{
        "run_id": run_id, "dataset": dataset, "cutoff": _day(pick("cutoff")),
        "horizon_days": horizon if isinstance(horizon, int) and not isinstance(horizon, bool) else None,
        "score_cutoff": _day(pick("score_cutoff")), "n_scored": len(scores),
        "scored_mrr_usd": float(scores["mrr_usd"].sum()) if len(scores) else 0.0,
        "ingested_at": datetime.now(timezone.utc).replace(tzinfo=None),
    }])


def _features_meta(run_dir: Path) -> dict[str, Any]:
    """features.json of the folder the run trained on (config.json features_dir), {} when gone."""
    try:
        config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
        folder = config.get("features_dir") if isinstance(config, dict) else None
        meta = json.loads((Path(folder) / "features.json").read_text(encoding="utf-8")) if folder else {}
    except (OSError, ValueError, AttributeError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _day(value: Any) -> Any:
    """An ISO day text as a date (None when absent or unparsable)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        return None
    return None if pd.isna(stamp) else stamp.date()
