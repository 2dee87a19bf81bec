"""The candidates on an evaluation set: which sets exist, hosted-API candidates (entered or computed from an
imported predictions file), and a signature that changes whenever any of it does."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd

from analytics.compute import costs
from analytics.db import Workspace, register_app_tables
from analytics.errors import CostInputError
from analytics.money import format_number

register_app_tables("api_candidates", "api_predictions")

PREDICTION_FILE_COLUMNS = ("text_id", "pred_label")


def data_signature(ws: Workspace) -> tuple[int, ...]:
    """(runs, runs with an inference record, API candidates, price edits, serving levels and the newest
    serving file's mtime in ms): changes whenever anything the Compare page shows could have changed, whoever
    wrote it (another session, a job sync)."""
    runs, measured = ws.rows("select count(*), count(inference_measured_at) from runs")[0]
    apis = ws.scalar("select count(*) from api_candidates")
    edits = ws.scalar("select count(*) from price_edits")
    levels, newest = ws.rows("select count(*), coalesce(max(file_mtime), 0) from serving_levels")[0]
    return (int(runs), int(measured), int(apis), int(edits), int(levels), int(float(newest) * 1000))


def evaluation_sets(ws: Workspace) -> pd.DataFrame:
    """Datasets with at least one succeeded run or API candidate: dataset, runs, api_candidates, latest."""
    return ws.query("compare_evaluation_sets")


def add_api_candidate(ws: Workspace, *, name: str, dataset: str, price_id: int, accuracy: float, n_eval: int,
                      accuracy_source: str, macro_f1: float | None = None,
                      input_tokens_per_request: float | None = None,
                      output_tokens_per_request: float | None = None) -> int:
    """Record a hosted API as a candidate on `dataset`; returns its candidate_id.

    Raises CostInputError when the source is empty, the accuracy is outside 0-1 (give 0.87, not 87),
    n_eval < 1, the price row is not an API price, the token counts are not positive, or the name is taken.
    """
    name, source = str(name or "").strip(), str(accuracy_source or "").strip()
    if not name:
        raise CostInputError("give the API candidate a name, e.g. 'gpt-4o-mini, zero-shot prompt'")
    if not source:
        raise CostInputError("say where the accuracy comes from (a paper, a leaderboard URL, your own eval "
                             "file); an accuracy without a source is not added")
    accuracy = _fraction("accuracy", accuracy)
    macro_f1 = None if macro_f1 is None else _fraction("macro-F1", macro_f1)
    if not isinstance(n_eval, (int, np.integer)) or isinstance(n_eval, bool) or n_eval < 1:
        raise CostInputError(f"n_eval (examples the accuracy was measured on) must be a whole number >= 1, "
                             f"got {n_eval!r}")
    _check_api_price(ws, price_id)
    tokens_in = None if input_tokens_per_request is None else costs.check_positive(
        "input tokens per request", input_tokens_per_request, upper=2e6)
    tokens_out = None if output_tokens_per_request is None else costs.check_positive(
        "output tokens per request", output_tokens_per_request, allow_zero=True, upper=2e6)
    return _insert_candidate(ws, [name, dataset, int(price_id), accuracy, macro_f1, int(n_eval), source,
                                  tokens_in, tokens_out, None])


def _fraction(label: str, value: object) -> float:
    number = costs.check_positive(label, value, allow_zero=True)
    if number > 1:
        raise CostInputError(f"{label} must be a fraction between 0 and 1 (0.87 for 87%), got "
                             f"{format_number(number, 4)}")
    return number


def _check_api_price(ws: Workspace, price_id: int) -> None:
    kind = ws.scalar("select kind from prices where price_id = ?", [int(price_id)])
    if kind is None:
        raise CostInputError(f"no price row {price_id}; pick an API row from the price catalog")
    if kind != "api":
        raise CostInputError(f"price row {price_id} is a {kind} price; an API candidate needs an API price "
                             f"row")


def _insert_candidate(ws: Workspace, values: list[object]) -> int:
    with ws.transaction() as tx:
        taken = tx.scalar("select count(*) from api_candidates where dataset = ? and name = ?",
                          [values[1], values[0]], label="checking the API candidate's name")
        if taken:
            raise CostInputError(f"an API candidate named {values[0]!r} already exists on {values[1]}; "
                                 f"choose another name or delete the old one")
        new_id = tx.scalar("select coalesce(max(candidate_id), 0) + 1 from api_candidates",
                           label="numbering the API candidate")
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        tx.execute("insert into api_candidates (candidate_id, name, dataset, price_id, accuracy, macro_f1, "
                   "n_eval, accuracy_source, input_tokens_per_request, output_tokens_per_request, "
                   "matched_run_id, entered_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   [new_id, *values, now], label="adding the API candidate")
    return int(new_id)


def import_api_predictions(ws: Workspace, *, name: str, price_id: int, run_id: str, predictions: pd.DataFrame,
                           file_name: str) -> int:
    """Add an API candidate whose accuracy is computed from its predictions on a run's test texts.

    `predictions` needs text_id and pred_label columns; rows are matched to `run_id`'s stored test predictions
    by text_id (unmatched ids are refused, so a file for another split cannot slip in). The source recorded
    is the file name. Returns the candidate_id. Raises CostInputError with the fix.
    """
    missing = [c for c in PREDICTION_FILE_COLUMNS if c not in predictions.columns]
    if missing:
        raise CostInputError(f"the predictions file needs columns {', '.join(PREDICTION_FILE_COLUMNS)}; "
                             f"missing {', '.join(missing)} "
                             f"(it has {', '.join(map(str, predictions.columns))})")
    truth = ws.sql("select r.dataset, p.text_id, p.true_label from run_predictions p "
                   "join runs r using (run_id) where run_id = ?", [run_id])
    if truth.empty:
        raise CostInputError(f"run {run_id!r} has no stored test predictions to match against; pick another "
                             f"run")
    frame = pd.DataFrame({"text_id": predictions["text_id"].astype(str).str.strip(),
                          "pred_label": predictions["pred_label"].astype(str).str.strip()})
    if frame["text_id"].duplicated().any():
        raise CostInputError("the predictions file repeats some text_id values; keep one prediction per text")
    merged = frame.merge(truth[["text_id", "true_label"]], on="text_id", how="left")
    unmatched = merged["true_label"].isna()
    if unmatched.any():
        examples = ", ".join(merged.loc[unmatched, "text_id"].head(3))
        raise CostInputError(f"{int(unmatched.sum())} text_id values are not in run {run_id}'s test set "
                             f"(e.g. {examples}); export predictions for the same test texts")
    merged["correct"] = merged["true_label"].astype(str) == merged["pred_label"]
    _check_api_price(ws, price_id)
    candidate_id = _insert_candidate(ws, [str(name).strip() or file_name, str(truth["dataset"].iloc[0]),
                                          int(price_id), float(merged["correct"].mean()), None, len(merged),
                                          f"imported predictions: {file_name}", None, None, run_id])
    rows = merged.assign(candidate_id=candidate_id)[["candidate_id", "text_id", "true_label", "pred_label",
                                                     "correct"]]
    with ws.transaction() as tx:
        tx.insert_frame("api_predictions", rows)
    return candidate_id


def delete_api_candidate(ws: Workspace, candidate_id: int) -> None:
    """Remove an API candidate and its imported predictions."""
    with ws.transaction() as tx:
        tx.execute("delete from api_predictions where candidate_id = ?", [int(candidate_id)],
                   label=f"deleting the predictions of API candidate {candidate_id}")
        tx.execute("delete from api_candidates where candidate_id = ?", [int(candidate_id)],
                   label=f"deleting API candidate {candidate_id}")


def api_candidates(ws: Workspace, dataset: str) -> pd.DataFrame:
    """API candidates on `dataset` with their price rows."""
    return ws.query("compare_api", dataset=dataset)
