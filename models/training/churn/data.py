"""A churn feature folder read and checked, and its seeded stratified split.

The folder is the analytics side's (analytics.compute.churn), one per request:
    train.parquet   account_id, label (0/1: cancelled within the horizon after the cut-off), features
    score.parquet   account_id, mrr_usd, the same features: every account active on the data's last day
    features.json   cutoff, horizon_days, score_cutoff, feature_names, dataset, sql_sha256, counts...
Everything is checked before any model is fitted; every refusal is one FeatureFolderError that says what
to change. The split is by account (one row each): test_share of train.parquet held out, stratified by label.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from models.errors import DataValidationError
from models.training.churn.config import ChurnConfig

FILES = ("train.parquet", "score.parquet", "features.json")
"""What a feature folder must hold."""
REQUIRED_META = ("cutoff", "horizon_days", "feature_names", "dataset")
"""features.json keys the run folders copy."""
LABEL_NAMES = ("stayed", "churned")
"""Class names of label 0 and 1, as predictions.parquet writes them."""


class FeatureFolderError(DataValidationError):
    """A churn feature folder is missing, malformed, or cannot train a model (one class, too few
    positives, non-numeric columns)."""


@dataclass(frozen=True)
class ChurnData:
    """A checked feature folder: features as float64 matrices, labels as int64."""

    folder: Path
    """The feature folder."""
    meta: dict[str, Any]
    """features.json."""
    feature_names: tuple[str, ...]
    """Feature columns in features.json's order (train.parquet and score.parquet hold them all)."""
    account_ids: np.ndarray
    """train.parquet's account ids, int64 [n]."""
    x: np.ndarray
    """train.parquet's features, float64 [n, features]."""
    y: np.ndarray
    """Labels, int64 [n]: 1 = cancelled within the horizon."""
    score_ids: np.ndarray
    """score.parquet's account ids, int64 [m]."""
    score_x: np.ndarray
    """score.parquet's features, float64 [m, features]."""
    score_mrr_usd: np.ndarray
    """score.parquet's MRR in USD, float64 [m]."""
    features_sha256: str
    """SHA-256 over train.parquet's and score.parquet's bytes: which exact rows the models saw."""

    @property
    def positives(self) -> int:
        """Churned accounts in train.parquet."""
        return int(self.y.sum())


@dataclass(frozen=True)
class ChurnSplit:
    """Row indices into ChurnData: the held-out test accounts and the training part."""

    train: np.ndarray
    """Training part (75% by default), sorted."""
    test: np.ndarray
    """Held-out test accounts (25% by default), sorted."""


def read_feature_folder(folder: Path | str, config: ChurnConfig) -> ChurnData:
    """Read and check `folder`; raises FeatureFolderError with what to change."""
    folder = Path(folder)
    _check_files(folder)
    meta = _read_meta(folder / "features.json")
    names = tuple(str(n) for n in meta["feature_names"])
    train = _read_parquet(folder / "train.parquet")
    score = _read_parquet(folder / "score.parquet")
    _check_columns(train, "train.parquet", ("account_id", "label", *names))
    _check_columns(score, "score.parquet", ("account_id", "mrr_usd", *names))
    y = _labels(train["label"], config.min_positives)
    data = ChurnData(
        folder=folder, meta=meta, feature_names=names,
        account_ids=_ids(train["account_id"], "train.parquet"), x=_features(train, names, "train.parquet"),
        y=y, score_ids=_ids(score["account_id"], "score.parquet"),
        score_x=_features(score, names, "score.parquet"),
        score_mrr_usd=_numbers(score["mrr_usd"], "score.parquet", "mrr_usd"),
        features_sha256=_sha256(folder / "train.parquet", folder / "score.parquet"))
    return data


def split_accounts(data: ChurnData, config: ChurnConfig) -> ChurnSplit:
    """Seeded split of train.parquet's accounts, stratified by label: config.test_share held out."""
    rows = np.arange(len(data.y))
    train, test = train_test_split(rows, test_size=config.test_share, stratify=data.y,
                                   random_state=config.seed)
    return ChurnSplit(train=np.sort(train), test=np.sort(test))


def validation_split(y: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit, validation) row indices of a training part with labels `y`, stratified, seeded."""
    rows = np.arange(len(y))
    fit, validation = train_test_split(rows, test_size=share, stratify=y, random_state=seed)
    return np.sort(fit), np.sort(validation)


def _check_files(folder: Path) -> None:
    if not folder.is_dir():
        raise FeatureFolderError(f"feature folder {folder} does not exist; build the churn features first "
                                 "(Churn page, or analytics.compute.churn) and pass the folder they were "
                                 "written to")
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing:
        raise FeatureFolderError(f"feature folder {folder} lacks {', '.join(missing)}; it must hold "
                                 f"{', '.join(FILES)} (written together by the churn feature build)")


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise FeatureFolderError(f"cannot read {path}: {e}; rebuild the churn features") from e
    if not isinstance(meta, dict):
        raise FeatureFolderError(f"{path} must hold a JSON object; rebuild the churn features")
    missing = [k for k in REQUIRED_META if k not in meta]
    if missing:
        raise FeatureFolderError(f"{path} lacks {', '.join(missing)}; rebuild the churn features")
    names = meta["feature_names"]
    if not isinstance(names, list) or not names or len(set(map(str, names))) != len(names):
        raise FeatureFolderError(f"{path}: feature_names must be a non-empty list of distinct column names")
    if {"account_id", "label", "mrr_usd"} & set(map(str, names)):
        raise FeatureFolderError(f"{path}: feature_names must not list account_id, label or mrr_usd (an id, "
                                 "the answer and a score-only column are not features)")
    return meta


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as e:  # noqa: BLE001 - pyarrow raises several types for a torn or foreign file
        raise FeatureFolderError(f"cannot read {path}: {e}; rebuild the churn features") from e


def _check_columns(frame: pd.DataFrame, file: str, needed: tuple[str, ...]) -> None:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise FeatureFolderError(f"{file} lacks columns {', '.join(missing[:10])} (features.json names "
                                 f"them); it has: {', '.join(map(str, frame.columns[:20]))}")


def _labels(column: pd.Series, min_positives: int) -> np.ndarray:
    if not pd.api.types.is_numeric_dtype(column) or column.isna().any() or not column.isin([0, 1]).all():
        seen = ", ".join(map(repr, pd.unique(column.dropna())[:5]))
        raise FeatureFolderError(f"train.parquet's label must be 0 (stayed) or 1 (churned) on every row; "
                                 f"found {seen}{' and missing values' if column.isna().any() else ''}")
    y = column.to_numpy(dtype=np.int64)
    positives, negatives = int(y.sum()), int(len(y) - y.sum())
    if positives == 0 or negatives == 0:
        only = "churned" if negatives == 0 else "stayed"
        raise FeatureFolderError(f"every one of the {len(y)} accounts {only} (the label has one class); "
                                 "pick a cut-off with both churned and retained accounts after it, or a "
                                 "longer horizon")
    if min(positives, negatives) < min_positives:
        which = "churned" if positives < negatives else "stayed"
        raise FeatureFolderError(
            f"only {min(positives, negatives)} of {len(y)} accounts {which}; at least {min_positives} are "
            f"needed (the test share keeps about a quarter of them); pick an earlier cut-off or a longer "
            "horizon, or import more accounts")
    return y


def _ids(column: pd.Series, file: str) -> np.ndarray:
    if not pd.api.types.is_integer_dtype(column) or column.duplicated().any():
        raise FeatureFolderError(f"{file}: account_id must be whole numbers, one row per account")
    return column.to_numpy(dtype=np.int64)


def _features(frame: pd.DataFrame, names: tuple[str, ...], file: str) -> np.ndarray:
    bad = [n for n in names if not (pd.api.types.is_numeric_dtype(frame[n])
                                    or pd.api.types.is_bool_dtype(frame[n]))]
    if bad:
        kinds = ", ".join(f"{n} ({frame[n].dtype})" for n in bad[:5])
        raise FeatureFolderError(f"{file}: feature columns must be numeric; {kinds} are not - one-hot "
                                 "encode categories (as plan_<name> 0/1 columns) in the feature SQL")
    x = frame[list(names)].to_numpy(dtype=np.float64)
    if not np.isfinite(x).all():
        counts = (~np.isfinite(x)).sum(axis=0)
        worst = ", ".join(f"{names[i]} ({int(counts[i])} rows)" for i in np.flatnonzero(counts)[:5])
        raise FeatureFolderError(f"{file}: features must be finite numbers; missing or infinite values in "
                                 f"{worst} - fill them in the feature SQL (coalesce to 0)")
    return x


def _numbers(column: pd.Series, file: str, name: str) -> np.ndarray:
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        raise FeatureFolderError(f"{file}: {name} must be a number on every row")
    return values


def _sha256(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def base_rate(y: np.ndarray) -> float:
    """Share of label 1 in `y` (NaN for no rows)."""
    return float(y.mean()) if len(y) else math.nan
