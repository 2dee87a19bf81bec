"""What the Churn page and the Business case page read from ingested churn runs (runs + migration 012).

One feature set (runs.dataset 'workspace_churn_<cutoff>_<horizon>d') holds up to three runs: logistic
regression, gradient boosting and the MLP, all evaluated on the same held-out test accounts. The best model
of a set is the one with the highest ROC-AUC (ties: the lower Brier score). Its scores over every account
active on the score day give the expected churn and the MRR at risk.

Conversions: a score is P(cancel within H days). The expected share of accounts lost within H days is the
mean score p; at a constant hazard, the monthly rate is 1 - (1 - p) ** (30.4375 / H). MRR at risk over the
horizon = sum(score x MRR); the revenue churn over the horizon is that over the scored MRR, made monthly the
same way.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from analytics.compute.churn.features import DAYS_PER_MONTH
from analytics.db import Workspace
from analytics.money import format_count, format_percent, format_usd

log = logging.getLogger(__name__)

AT_RISK_ROWS = 20
"""Accounts in the at-risk table."""
MODEL_LABELS = {"churn_logreg": "Logistic regression", "churn_gbm": "Gradient boosting", "churn_mlp": "MLP"}
"""Display names of the churn methods."""


@dataclass(frozen=True)
class ExpectedChurn:
    """Churn expected from the best model of the newest churn feature set, for the Business case page."""

    monthly_churn_rate: float
    """Share of the accounts active on the score day expected to cancel per month (0..1)."""
    paying_monthly_churn_rate: float | None
    """The same over paying accounts only (MRR > 0); None without paying accounts."""
    monthly_revenue_churn_rate: float | None
    """Share of the scored MRR expected to be lost per month (0..1); None without MRR."""
    horizon_churn_rate: float
    """Mean score: share expected to cancel within the horizon."""
    mrr_at_risk_usd: float
    """Expected MRR lost within the horizon: sum of score x MRR over the scored accounts."""
    scored_mrr_usd: float
    """MRR of the scored accounts on the score day."""
    accounts: int
    """Accounts scored (active on the score day)."""
    run_id: str
    """The run whose scores these are."""
    model: str
    """Its display name (Logistic regression, Gradient boosting, MLP)."""
    roc_auc: float | None
    """Its ROC-AUC on the held-out test accounts."""
    roc_auc_ci: tuple[float | None, float | None]
    """95% bootstrap interval of the ROC-AUC."""
    cutoff: date | None
    """Cut-off day of the training features."""
    horizon_days: int | None
    """Label horizon in days."""
    score_cutoff: date | None
    """Day the scored accounts were active on."""
    provenance: str
    """Where the figures come from, in one sentence."""


@dataclass(frozen=True)
class ChurnResults:
    """Everything the Churn page shows for one feature set."""

    dataset: str
    """The feature set (runs.dataset)."""
    models: pd.DataFrame
    """One row per model (churn_models.sql columns plus `label`), best first."""
    best_run_id: str
    """run_id of the best model (highest ROC-AUC)."""
    calibration: pd.DataFrame
    """label, run_id, bin, predicted (mean score), observed (churn rate), n: every model's bins."""
    importance: pd.DataFrame
    """feature, mean (ROC-AUC drop when shuffled), std, of the best model, largest first."""
    at_risk: pd.DataFrame
    """The best model's accounts with the most MRR at risk (churn_at_risk.sql)."""
    expected: ExpectedChurn
    """The best model's expected churn and MRR at risk."""


def churn_models(ws: Workspace, dataset: str | None = None) -> pd.DataFrame:
    """Succeeded churn runs with ingested scores (churn_models.sql), newest feature set first, best first
    within a set, with a `label` column (the model's display name)."""
    frame = ws.query("churn_models", dataset=dataset)
    frame.insert(1, "label", [MODEL_LABELS.get(m, m) for m in frame["method"]])
    return frame


def churn_datasets(ws: Workspace) -> list[str]:
    """Feature sets with at least one usable churn run, newest first."""
    return list(dict.fromkeys(churn_models(ws)["dataset"]))


def churn_results(ws: Workspace, dataset: str | None = None) -> ChurnResults | None:
    """Results of one feature set (None: the newest); None when there is no usable churn run."""
    models = churn_models(ws, dataset)
    if models.empty:
        return None
    chosen = models["dataset"].iloc[0]
    models = models[models["dataset"] == chosen].reset_index(drop=True)
    best = models.iloc[0]
    evaluations = _evaluations(ws, list(models["run_id"]))
    return ChurnResults(
        dataset=chosen, models=models, best_run_id=str(best["run_id"]),
        calibration=calibration_frame(models, evaluations),
        importance=importance_frame(evaluations.get(str(best["run_id"]), {})),
        at_risk=ws.query("churn_at_risk", run_id=str(best["run_id"]), limit=AT_RISK_ROWS),
        expected=_expected(ws, best, len(models)),
    )


def expected_churn(ws: Workspace) -> ExpectedChurn | None:
    """Expected monthly churn and MRR at risk from the best model of the newest churn feature set, or None
    when no churn run has been ingested (train one on the Churn page)."""
    models = churn_models(ws)
    if models.empty:
        return None
    models = models[models["dataset"] == models["dataset"].iloc[0]]
    return _expected(ws, models.iloc[0], len(models))


def monthly_rate(horizon_rate: float, horizon_days: int) -> float:
    """A share lost within `horizon_days` as a monthly share at a constant hazard:
    1 - (1 - rate) ** (30.4375 / horizon_days)."""
    rate = min(max(float(horizon_rate), 0.0), 1.0)
    return 1.0 - (1.0 - rate) ** (DAYS_PER_MONTH / horizon_days)


def _expected(ws: Workspace, best: pd.Series, n_models: int) -> ExpectedChurn:
    row = ws.query("churn_expected", run_id=str(best["run_id"])).iloc[0]
    horizon = _int(best["horizon_days"])
    months_from = horizon or 30  # a run without a horizon (never written by models) reads as 30 days
    mean = _float(row["mean_score"]) or 0.0
    paying = _float(row["paying_mean_score"])
    mrr, at_risk = float(row["mrr_usd"]), float(row["mrr_at_risk_usd"])
    label = MODEL_LABELS.get(str(best["method"]), str(best["method"]))
    auc = _float(best["roc_auc"])
    low, high = _float(best["roc_auc_ci_low"]), _float(best["roc_auc_ci_high"])
    cutoff, score_day = _date(best["cutoff"]), _date(best["score_cutoff"])
    plural = "s" if n_models != 1 else ""
    provenance = (
        f"{label} (run {best['run_id']}, best ROC-AUC of {n_models} churn model{plural}: "
        f"{format_percent(auc, fixed=True)}, 95% CI {format_percent(low)} to {format_percent(high)}), "
        f"trained on features at cut-off {cutoff or 'unknown'} with a {horizon or '?'}-day horizon; "
        f"scores of the {format_count(int(row['accounts']))} accounts active on "
        f"{score_day or 'the last day'} (table churn_scores), scored MRR {format_usd(mrr)}")
    return ExpectedChurn(
        monthly_churn_rate=monthly_rate(mean, months_from),
        paying_monthly_churn_rate=None if paying is None else monthly_rate(paying, months_from),
        monthly_revenue_churn_rate=monthly_rate(at_risk / mrr, months_from) if mrr > 0 else None,
        horizon_churn_rate=mean, mrr_at_risk_usd=at_risk, scored_mrr_usd=mrr, accounts=int(row["accounts"]),
        run_id=str(best["run_id"]), model=label, roc_auc=auc, roc_auc_ci=(low, high), cutoff=cutoff,
        horizon_days=horizon, score_cutoff=score_day, provenance=provenance)


def _evaluations(ws: Workspace, run_ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = ws.rows("select run_id, eval_json from runs where run_id in (select unnest($ids))",
                   {"ids": run_ids})
    out = {}
    for run_id, text in rows:
        try:
            value = json.loads(text) if isinstance(text, str) else {}
        except ValueError:
            log.warning("run %s has an unreadable eval_json", run_id)
            value = {}
        out[run_id] = value if isinstance(value, dict) else {}
    return out


def calibration_frame(models: pd.DataFrame, evaluations: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """Every model's calibration bins from its eval.json, models in `models` order."""
    rows = []
    for run_id, label in zip(models["run_id"], models["label"], strict=True):
        for item in evaluations.get(run_id, {}).get("calibration") or []:
            if not isinstance(item, dict):
                continue
            values = [_float(item.get(k)) for k in ("predicted", "observed")]
            if None in values:
                continue
            rows.append({"label": label, "run_id": run_id, "bin": _int(item.get("bin")),
                         "predicted": values[0], "observed": values[1], "n": _int(item.get("n"))})
    return pd.DataFrame(rows, columns=["label", "run_id", "bin", "predicted", "observed", "n"])


def importance_frame(evaluation: dict[str, Any]) -> pd.DataFrame:
    """feature, mean, std of a run's permutation importance (eval.json), largest mean first."""
    rows = [{"feature": str(item["feature"]), "mean": _float(item.get("mean")),
             "std": _float(item.get("std"))}
            for item in evaluation.get("importance") or []
            if isinstance(item, dict) and "feature" in item and _float(item.get("mean")) is not None]
    frame = pd.DataFrame(rows, columns=["feature", "mean", "std"])
    frame = frame.sort_values(["mean", "feature"], ascending=[False, True], kind="stable")
    return frame.reset_index(drop=True)


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if pd.isna(number) else number


def _int(value: Any) -> int | None:
    number = _float(value)
    return None if number is None else int(number)


def _date(value: Any) -> date | None:
    if value is None or (not isinstance(value, date) and pd.isna(value)):
        return None
    return pd.Timestamp(value).date()
