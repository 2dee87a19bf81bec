"""Churn features at a cut-off day (analytics/sql/churn_features.sql) and the feature folder models train on.

A feature folder (the churn contract; read by models.training.churn):

- train.parquet: one row per account eligible at the cut-off: account_id (int64), label (int8: cancelled in
  (cut-off, cut-off + horizon]), then the numeric feature columns (float64, `feature_names` order; the plan
  one-hot encoded as plan_<name> 0/1 columns next to plan_tier);
- score.parquet: the same feature columns at the data's last day for every account active then, account_id
  and mrr_usd (its MRR that day), no label;
- features.json: cut-off, horizon, score day, feature names and descriptions, the workspace, the SQL file and
  its SHA-256, counts, the creation time and the dataset name runs are filed under.

It is written to a temporary folder next to the target and renamed once complete, so a reader never sees a
half-written folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from analytics.db import Workspace, read_sql
from analytics.errors import AnalyticsError

log = logging.getLogger(__name__)

FEATURES_SQL = "churn_features"
"""analytics/sql/churn_features.sql: the one query every feature comes from."""
HORIZONS_DAYS = (30, 60, 90)
"""Horizons the Churn page offers, in days."""
MAX_HORIZON_DAYS = 365
"""Longest horizon accepted, in days."""
DAYS_PER_MONTH = 30.4375
"""Mean days of a calendar month (365.25 / 12): converts a horizon into months."""
DEFAULT_FEATURE_ROOT = "churn-features"
"""Feature folders live in <jobs dir>/churn-features/ (data/jobs/churn-features by default: beside the jobs
that train on them, ignored by git; the queue skips folders without a job.json)."""
BASE_FEATURES: dict[str, str] = {
    "plan_tier": "tier of the plan at the cut-off (plans.tier: 0 free ... 3 enterprise)",
    "tenure_days": "days from the account's sign-up day to the cut-off day",
    "seats": "users of the account signed up on or before the cut-off",
    "sessions_4w": "sessions in the 28 days ending on the cut-off day",
    "sessions_12w": "sessions in the 84 days ending on the cut-off day",
    "sessions_trend": "sessions per week over the last 4 weeks minus over the last 12 weeks",
    "active_users_4w": "users with a session in the last 4 weeks",
    "active_users_12w": "users with a session in the last 12 weeks",
    "active_users_share_4w": ("share of the last 12 weeks' active users still active in the last 4 "
                              "(0 if none)"),
    "days_since_last_session": "days from the last session (else the sign-up day) to the cut-off day's end",
    "invoices": "invoices of amount > 0 up to the cut-off",
    "invoiced_usd": "dollars invoiced up to the cut-off",
    "current_mrr_usd": "MRR at the cut-off: the latest invoice in the 31 days before the cut-off day's end",
    "upgrades": "upgrade events up to the cut-off",
    "downgrades": "downgrade events up to the cut-off",
}
"""Feature columns of churn_features.sql (besides account_id, label and the plan name) and what they mean."""
_PLAN_SLUG = re.compile(r"[^a-z0-9]+")


class ChurnInputError(AnalyticsError, ValueError):
    """A churn request the data cannot answer (no later data, no account yet, a horizon past the data, one
    class only); the message says what to change."""


@dataclass(frozen=True)
class ChurnRequest:
    """Which churn question to train on."""

    cutoff: date
    """Cut-off day: features see events up to its end; the label looks at the days after it."""
    horizon_days: int = 90
    """Label window: a cancel within this many days after the cut-off means churned."""

    def __post_init__(self) -> None:
        if not isinstance(self.cutoff, date) or isinstance(self.cutoff, datetime):
            raise ChurnInputError(f"cutoff must be a date (YYYY-MM-DD), got {self.cutoff!r}")
        if (not isinstance(self.horizon_days, int) or isinstance(self.horizon_days, bool)
                or not 1 <= self.horizon_days <= MAX_HORIZON_DAYS):
            raise ChurnInputError(f"horizon_days must be a whole number of days from 1 to {MAX_HORIZON_DAYS} "
                                  f"(the page offers {', '.join(map(str, HORIZONS_DAYS))}), "
                                  f"got {self.horizon_days!r}")

    @property
    def dataset(self) -> str:
        """Name runs trained on this request are filed under: workspace_churn_<cutoff>_<horizon>d."""
        return f"workspace_churn_{self.cutoff.isoformat()}_{self.horizon_days}d"


@dataclass(frozen=True)
class ChurnSpan:
    """What the workspace's data allows: its first account and its last day."""

    first_signup: date | None
    """Sign-up day of the first account (None without accounts)."""
    last_day: date | None
    """Day of the newest event: the score day (None without events)."""
    accounts: int
    """Accounts in the workspace."""

    def default_cutoff(self, horizon_days: int) -> date | None:
        """The latest cut-off whose label is fully known: the last day minus the horizon."""
        return None if self.last_day is None else self.last_day - timedelta(days=horizon_days)


@dataclass(frozen=True)
class ChurnFeatures:
    """Train and score sets of one request, as written to a feature folder."""

    request: ChurnRequest
    """Cut-off and horizon of the train set."""
    score_cutoff: date
    """The data's last day: the score set's cut-off."""
    train: pd.DataFrame
    """account_id, label, then `feature_names`."""
    score: pd.DataFrame
    """account_id, `feature_names`, mrr_usd."""
    feature_names: tuple[str, ...]
    """Numeric feature columns in order."""
    feature_descriptions: dict[str, str]
    """Feature name -> what it means."""

    @property
    def positives(self) -> int:
        """Accounts of the train set that churned within the horizon."""
        return int(self.train["label"].sum())


def churn_span(ws: Workspace) -> ChurnSpan:
    """First sign-up day, last event day and number of accounts of the workspace's sample tables."""
    first, accounts = ws.rows("select min(signup_date), count(*) from accounts")[0]
    last = ws.scalar("select max(event_time)::date from events")
    return ChurnSpan(first_signup=first, last_day=last, accounts=int(accounts))


def check_request(span: ChurnSpan, request: ChurnRequest) -> date:
    """Refuse a request the data cannot answer; returns the data's last day (the score day).

    Raises:
        ChurnInputError: no events or accounts; a cut-off with no later data; a horizon running past the
            data's last day; a cut-off before the first account signed up.
    """
    if span.last_day is None or span.first_signup is None:
        raise ChurnInputError("the workspace has no accounts or events yet: churn needs the accounts, "
                              "users and events tables (the sample data has them)")
    cutoff, horizon, last = request.cutoff, request.horizon_days, span.last_day
    latest, label_end = last - timedelta(days=horizon), cutoff + timedelta(days=horizon)
    if cutoff >= last:
        raise ChurnInputError(
            f"cut-off {cutoff} leaves no later data: the events end on {last}, so whether an account cancels "
            f"afterwards is unknowable. Pick a cut-off on or before {latest} (the last day minus the "
            f"{horizon}-day horizon)")
    if label_end > last:
        raise ChurnInputError(
            f"the {horizon}-day horizon after cut-off {cutoff} runs to {label_end}, past the data's"
            f" last day {last}: cancels after {last} are not known yet, so the label would be "
            f"incomplete. Pick a cut-off on or before {latest}, or a shorter horizon")
    if cutoff < span.first_signup:
        raise ChurnInputError(
            f"no account exists on cut-off {cutoff}: the first account signed up on {span.first_signup}. "
            f"Pick a later cut-off (a few months after it, so accounts have activity to learn from)")
    return last


def feature_frame(ws: Workspace, cutoff: date, horizon_days: int) -> pd.DataFrame:
    """Rows of churn_features.sql at `cutoff`: account_id, label, plan, then BASE_FEATURES (float64)."""
    return ws.query(FEATURES_SQL, cutoff=cutoff, horizon_days=int(horizon_days))


def plan_columns(ws: Workspace) -> dict[str, str]:
    """Plan name -> its one-hot column (plan_<name>, lowercase letters, digits and underscores), by tier."""
    names = [row[0] for row in ws.rows("select plan from plans order by tier, plan")]
    columns: dict[str, str] = {}
    for name in names:
        column = "plan_" + (_PLAN_SLUG.sub("_", str(name).lower()).strip("_") or "unnamed")
        while column in columns.values() or column in BASE_FEATURES:
            column += "_"
        columns[name] = column
    return columns


def encode(frame: pd.DataFrame, plans: dict[str, str]) -> pd.DataFrame:
    """`frame` (from feature_frame) with the plan name replaced by its 0/1 columns (float64), placed first
    among the features; an unknown plan has all zeros."""
    out = frame.drop(columns=["plan"]).copy()
    keys = [c for c in ("account_id", "label") if c in out]
    onehot = pd.DataFrame({column: (frame["plan"] == name).astype("float64")
                           for name, column in plans.items()}, index=frame.index)
    return pd.concat([out[keys], onehot, out.drop(columns=keys)], axis=1)


def build_features(ws: Workspace, request: ChurnRequest) -> ChurnFeatures:
    """Train features at the request's cut-off and score features at the data's last day.

    Raises:
        ChurnInputError: the request cannot be answered (see `check_request`), no account is eligible at
            the cut-off, the label has one class only, or no account is active on the last day.
        QueryError: DuckDB failed.
    """
    last_day = check_request(churn_span(ws), request)
    plans = plan_columns(ws)
    train = encode(feature_frame(ws, request.cutoff, request.horizon_days), plans)
    names = tuple(c for c in train.columns if c not in ("account_id", "label"))
    _check_label(train, request)
    score = encode(feature_frame(ws, last_day, 1), plans).drop(columns=["label"])
    if score.empty:
        raise ChurnInputError(f"no account is active on {last_day} (the data's last day), so there is "
                              f"nothing to score; every account has cancelled")
    score["mrr_usd"] = score["current_mrr_usd"]
    descriptions = {**{column: f"1 when the plan at the cut-off is {name}, else 0"
                       for name, column in plans.items()}, **BASE_FEATURES}
    return ChurnFeatures(request=request, score_cutoff=last_day, train=train.reset_index(drop=True),
                         score=score.reset_index(drop=True), feature_names=names,
                         feature_descriptions={n: descriptions[n] for n in names})


def _check_label(train: pd.DataFrame, request: ChurnRequest) -> None:
    cutoff, horizon = request.cutoff, request.horizon_days
    if train.empty:
        raise ChurnInputError(f"no account is eligible at cut-off {cutoff}: none had signed up and not "
                              f"cancelled by then. Pick a later cut-off")
    positives = int(train["label"].sum())
    if positives == 0 or positives == len(train):
        what = "cancelled" if positives == 0 else "stayed"
        raise ChurnInputError(
            f"no eligible account {what} within {horizon} days after cut-off {cutoff} ({len(train):,} "
            f"accounts, {positives:,} churned): a model needs both churned and retained accounts. Pick an "
            f"earlier cut-off or a longer horizon")


def default_feature_root() -> Path:
    """Where the Churn page writes feature folders: <jobs dir>/churn-features (settings().jobs_dir)."""
    from analytics.settings import settings

    return settings().jobs_dir / DEFAULT_FEATURE_ROOT


def features_manifest(features: ChurnFeatures, workspace_path: Path | str) -> dict[str, Any]:
    """features.json of a feature folder (the churn contract)."""
    sql_text = read_sql(FEATURES_SQL)
    return {
        "cutoff": features.request.cutoff.isoformat(),
        "horizon_days": features.request.horizon_days,
        "score_cutoff": features.score_cutoff.isoformat(),
        "feature_names": list(features.feature_names),
        "feature_descriptions": dict(features.feature_descriptions),
        "workspace": str(workspace_path),
        "source": f"DuckDB SQL analytics/sql/{FEATURES_SQL}.sql",
        "sql_sha256": hashlib.sha256(sql_text.encode("utf-8")).hexdigest(),
        "n_train": len(features.train),
        "positives": features.positives,
        "n_score": len(features.score),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dataset": features.request.dataset,
    }


def write_feature_folder(features: ChurnFeatures, target: Path | str, workspace_path: Path | str) -> Path:
    """Write train.parquet, score.parquet and features.json into the new folder `target`, atomically: a
    temporary sibling folder is filled, then renamed to `target`. Returns `target`.

    Raises:
        ChurnInputError: `target` exists already (nothing is overwritten).
        AnalyticsError: the folder cannot be written (disk full, permissions); nothing is left behind.
    """
    target = Path(target)
    if target.exists():
        raise ChurnInputError(f"{target} exists already; feature folders are never overwritten: pick a new "
                              f"folder name")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        features.train.to_parquet(tmp / "train.parquet", index=False)
        features.score.to_parquet(tmp / "score.parquet", index=False)
        manifest = features_manifest(features, workspace_path)
        (tmp / "features.json").write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
        os.rename(tmp, target)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise AnalyticsError(f"cannot write the feature folder {target}: {e}") from e
    log.info("wrote churn features %s: %d train accounts (%d churned), %d to score", target,
             len(features.train), features.positives, len(features.score))
    return target


def new_folder_path(root: Path | str, request: ChurnRequest) -> Path:
    """A folder name not taken yet under `root`: <dataset>-<UTC time>[-n]."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    target = Path(root) / f"{request.dataset}-{stamp}"
    suffix = 1
    while target.exists():
        suffix += 1
        target = Path(root) / f"{request.dataset}-{stamp}-{suffix}"
    return target


def new_feature_folder(ws: Workspace, request: ChurnRequest, root: Path | str | None = None) -> Path:
    """Build the features of `request` and write them to a new folder <root>/<dataset>-<UTC time>
    (root: `default_feature_root()` when None). Validates before writing anything.

    Raises:
        ChurnInputError: the request cannot be answered (see `build_features`).
        AnalyticsError: the folder cannot be written.
    """
    features = build_features(ws, request)
    target = new_folder_path(default_feature_root() if root is None else root, request)
    return write_feature_folder(features, target, ws.path)


def feature_description(name: str) -> str:
    """What a feature column means (plan_<name> columns included)."""
    if name in BASE_FEATURES:
        return BASE_FEATURES[name]
    if name.startswith("plan_"):
        return f"1 when the plan at the cut-off is {name.removeprefix('plan_')}, else 0"
    return name
