"""Fake churn run folders written as the churn contract says (models.training.churn writes the real ones), so
analytics and page tests need no training: config.json, environment.json, events.jsonl, eval.json,
predictions.parquet, scores.parquet and status.json (written last)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

DATASET = "workspace_churn_2025-06-30_30d"
SCORES = ((1, 0.5, 100.0), (2, 0.1, 50.0), (3, 0.25, 0.0), (4, 0.8, 10.0))
"""(account_id, score, mrr_usd) of the fake runs' scored accounts."""


def evaluation(roc_auc: float, *, cutoff: str = "2025-06-30", horizon_days: int = 30,
               score_cutoff: str | None = "2025-07-31") -> dict:
    """eval.json of a fake churn run: round figures, two calibration bins, three features' importance."""
    out = {
        "task": "tabular", "roc_auc": roc_auc, "roc_auc_ci_low": roc_auc - 0.1,
        "roc_auc_ci_high": roc_auc + 0.05,
        "pr_auc": roc_auc / 2, "pr_auc_ci_low": roc_auc / 2 - 0.1, "pr_auc_ci_high": roc_auc / 2 + 0.1,
        "brier": 0.1, "accuracy": 0.9, "accuracy_ci_low": 0.8, "accuracy_ci_high": 0.95, "threshold": 0.5,
        "calibration": [{"bin": 0, "predicted": 0.05, "observed": 0.04, "n": 30},
                        {"bin": 3, "predicted": 0.6, "observed": 0.5, "n": 10}],
        "importance": [{"feature": "sessions_4w", "mean": 0.02, "std": 0.01},
                       {"feature": "tenure_days", "mean": 0.12, "std": 0.03},
                       {"feature": "plan_tier", "mean": -0.01, "std": 0.005}],
        "n_train": 120, "n_test": 40, "n": 40, "positives_test": 4, "base_rate": 0.1,
        "cutoff": cutoff, "horizon_days": horizon_days, "features_sha256": "ab" * 32,
    }
    if score_cutoff is not None:
        out["score_cutoff"] = score_cutoff
    return out


def make_churn_run(runs_dir: Path, run_id: str, *, method: str = "churn_gbm", roc_auc: float = 0.8,
                   dataset: str = DATASET, scores: tuple = SCORES, state: str = "succeeded",
                   finished_at: str = "2026-12-01T11:00:00+00:00", eval_json: dict | None = None,
                   features_dir: str = "/nonexistent/churn-input", write_scores: bool = True) -> Path:
    """Write a finished churn run folder under `runs_dir`; returns it."""
    run_dir = Path(runs_dir) / run_id
    run_dir.mkdir(parents=True)
    model = {"churn_logreg": "logistic-regression", "churn_gbm": "hist-gradient-boosting",
             "churn_mlp": "mlp-64-32"}.get(method, method)
    _write(run_dir / "config.json", {"method": method, "model": model, "dataset": dataset, "task": "tabular",
                                     "features_dir": features_dir, "seed": 42, "test_share": 0.25})
    _write(run_dir / "environment.json", {"hardware": "CPU x2", "cpu_count": 2,
                                          "recorded_at": "2026-12-01T10:59:00+00:00"})
    (run_dir / "events.jsonl").write_text(json.dumps({"time": "2026-12-01T10:59:01+00:00", "kind": "start",
                                                      "device": "cpu"}) + "\n", encoding="utf-8")
    if state == "succeeded":
        _write(run_dir / "eval.json", eval_json or evaluation(roc_auc))
        pd.DataFrame({"text_id": ["1", "2"], "true_label": ["churned", "stayed"],
                      "pred_label": ["churned", "churned"], "confidence": [0.7, 0.6],
                      "correct": [True, False], "probs": [[0.3, 0.7], [0.4, 0.6]]}
                     ).to_parquet(run_dir / "predictions.parquet", index=False)
        if write_scores:
            pd.DataFrame(list(scores), columns=["account_id", "score", "mrr_usd"]
                         ).to_parquet(run_dir / "scores.parquet", index=False)
    status = {"state": state, "finished_at": finished_at, "train_seconds": 2.5, "device": "cpu"}
    if state != "succeeded":
        status["error"] = "too few churned accounts"
    _write(run_dir / "status.json", status)
    return run_dir


def make_churn_set(runs_dir: Path, prefix: str = "20261201-110000-churn", *, dataset: str = DATASET,
                   finished_at: str = "2026-12-01T11:00:00+00:00") -> list[Path]:
    """The three models of one feature set: logreg 0.7, gbm 0.8 (the best), mlp 0.75."""
    return [make_churn_run(runs_dir, f"{prefix}-{name}", method=f"churn_{name}", roc_auc=auc, dataset=dataset,
                           finished_at=finished_at)
            for name, auc in (("logreg", 0.7), ("gbm", 0.8), ("mlp", 0.75))]


def _write(path: Path, payload: dict) -> None:
    path.write_text(json.dumps(payload, indent=2), encoding="utf-8")
