"""Synthetic churn feature folders, laid out as the analytics side writes them (train.parquet, score.parquet,
features.json): a learnable signal (falling activity and downgrades raise churn), seeded."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

FEATURES = ("tenure_days", "seats", "active_users_4w", "activity_trend_4w_12w", "invoices", "downgrades",
            "plan_free", "plan_pro", "plan_tier")


def synthetic_features(n: int, seed: int, first_id: int = 1) -> tuple[pd.DataFrame, np.ndarray]:
    """(feature frame with account_id, churn probability of each row)."""
    rng = np.random.default_rng(seed)
    tier = rng.choice(3, size=n, p=[0.5, 0.35, 0.15])
    frame = pd.DataFrame({
        "account_id": np.arange(first_id, first_id + n, dtype=np.int64),
        "tenure_days": rng.integers(10, 900, n).astype(np.float64),
        "seats": rng.integers(1, 40, n).astype(np.float64),
        "active_users_4w": rng.poisson(5, n).astype(np.float64),
        "activity_trend_4w_12w": rng.normal(0, 1, n),
        "invoices": rng.integers(0, 24, n).astype(np.float64),
        "downgrades": rng.binomial(2, 0.15, n).astype(np.float64),
        "plan_free": (tier == 0).astype(np.float64), "plan_pro": (tier == 1).astype(np.float64),
        "plan_tier": tier.astype(np.float64),
    })
    logit = (-1.2 - 1.6 * frame["activity_trend_4w_12w"] + 1.2 * frame["downgrades"]
             - 0.0015 * (frame["tenure_days"] - 450) + 0.6 * frame["plan_free"])
    return frame, 1 / (1 + np.exp(-logit.to_numpy()))


def write_feature_folder(folder: Path, n: int = 400, n_score: int = 60, seed: int = 7,
                         label: np.ndarray | None = None) -> Path:
    """A complete feature folder in `folder` (created); `label` overrides the drawn labels."""
    folder.mkdir(parents=True, exist_ok=True)
    train, p = synthetic_features(n, seed)
    drawn = (np.random.default_rng(seed + 1).random(n) < p).astype(np.int8)
    train.insert(1, "label", drawn if label is None else np.asarray(label, dtype=np.int8))
    score, _ = synthetic_features(n_score, seed + 2, first_id=n + 1)
    score.insert(1, "mrr_usd", np.round(score["seats"] * 12.0, 2))
    train.to_parquet(folder / "train.parquet", index=False)
    score.to_parquet(folder / "score.parquet", index=False)
    meta = {"cutoff": "2026-06-30", "horizon_days": 60, "score_cutoff": "2026-11-30",
            "feature_names": list(FEATURES),
            "feature_descriptions": {f: f.replace("_", " ") for f in FEATURES},
            "workspace": "synthetic", "source": "DuckDB SQL analytics/sql/churn_features.sql",
            "sql_sha256": "0" * 64, "n_train": n, "positives": int(train["label"].sum()), "n_score": n_score,
            "created_at": "2026-12-01T21:00:00+00:00", "dataset": "workspace_churn_2026-06-30_60d"}
    (folder / "features.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return folder
