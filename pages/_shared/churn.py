"""Cached calls and the training adapter of the Churn page (analytics.compute.churn, its charts, and
models.jobs.churn, all imported lazily; no torch: the job's own process trains)."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from pages._shared.workspace import workspace

if TYPE_CHECKING:
    from analytics.charts.churn import ChurnFigures
    from analytics.compute.churn.features import ChurnSpan
    from analytics.compute.churn.results import ChurnResults
    from models.jobs.queue import JobInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChurnSection:
    """Results and figures of one feature set."""

    results: ChurnResults
    """Models, calibration, importance, at-risk accounts and expected churn."""
    figures: ChurnFigures
    """The page's charts built from `results`."""


@dataclass(frozen=True)
class Queued:
    """What the Train button started."""

    job: JobInfo
    """The queued churn job (models.jobs.churn)."""
    folder: Path
    """The feature folder it trains on."""
    n_train: int
    """Accounts in the train set."""
    positives: int
    """Of which churned within the horizon."""
    n_score: int
    """Accounts to score (active on the data's last day)."""


@st.cache_data(show_spinner=False)
def span(gen: int) -> ChurnSpan:
    """First sign-up, last event day and accounts of the workspace (analytics.compute.churn.features)."""
    from analytics.compute.churn.features import churn_span

    return churn_span(workspace())


def refusal(gen: int, cutoff: date, horizon_days: int) -> str | None:
    """Why the data cannot answer this cut-off and horizon (no later data, no account yet, a horizon past
    the data), or None when it can."""
    from analytics.compute.churn.features import ChurnInputError, ChurnRequest, check_request

    try:
        check_request(span(gen), ChurnRequest(cutoff=cutoff, horizon_days=horizon_days))
    except ChurnInputError as e:
        return str(e)
    return None


@st.cache_data(show_spinner=False)
def datasets(gen: int) -> list[str]:
    """Feature sets with trained churn models, newest first."""
    from analytics.compute.churn.results import churn_datasets

    return churn_datasets(workspace())


@st.cache_resource(max_entries=8, show_spinner="Reading the churn models...")
def section(gen: int, dataset: str | None) -> ChurnSection | None:
    """Results and figures of `dataset` (None: the newest), shared read-only; None without churn runs."""
    from analytics.charts.churn import churn_figures
    from analytics.compute.churn.features import feature_description
    from analytics.compute.churn.results import churn_results

    results = churn_results(workspace(), dataset)
    if results is None:
        return None
    names = results.importance["feature"].tolist()
    return ChurnSection(results=results,
                        figures=churn_figures(results, {n: feature_description(n) for n in names}))


def min_class_accounts() -> int:
    """Fewest churned (and stayed) accounts the models train on: ChurnConfig's min_positives default."""
    from models.training.churn.config import ChurnConfig

    return ChurnConfig.__dataclass_fields__["min_positives"].default  # type: ignore[return-value]


def start_training(cutoff: date, horizon_days: int) -> Queued:
    """Build the features of (cutoff, horizon), refuse them before writing anything when the models could
    not train on them, write the feature folder, and queue the churn job on it. A folder whose job was
    refused is removed again.

    Raises:
        AnalyticsError: the request is refused (ChurnInputError, with what to change) or cannot be written.
        StratLabModelError: models.jobs.churn refused the folder or the job.
    """
    from analytics.compute.churn.features import (
        ChurnInputError,
        ChurnRequest,
        build_features,
        default_feature_root,
        new_folder_path,
        write_feature_folder,
    )
    from models.jobs.churn import submit_churn
    from pages._shared.runs import runs_dir

    ws = workspace()
    request = ChurnRequest(cutoff=cutoff, horizon_days=horizon_days)
    features = build_features(ws, request)
    needed, churned = min_class_accounts(), features.positives
    stayed = len(features.train) - churned
    if churned < needed or stayed < needed:
        raise ChurnInputError(
            f"{churned:,} of {len(features.train):,} accounts churned within {horizon_days} days after "
            f"{cutoff}; the models need at least {needed} churned and {needed} retained accounts to hold out "
            f"a test share. Pick an earlier cut-off or a longer horizon, or use more data")
    folder = write_feature_folder(features, new_folder_path(default_feature_root(), request), ws.path)
    try:
        job = submit_churn(folder, runs_dir())
    except Exception:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return Queued(job=job, folder=folder, n_train=len(features.train), positives=churned,
                  n_score=len(features.score))


def churn_jobs(limit: int = 3) -> list[JobInfo]:
    """The newest churn jobs (queued, running or finished), newest first; [] when the queue is unreadable."""
    from models.jobs import queue

    try:
        return [j for j in queue.list_jobs() if j.kind == "churn"][:limit]
    except Exception:  # noqa: BLE001 - a broken job folder must not break the page
        log.exception("listing churn jobs failed")
        return []
