"""Cached reads and the writes of the Roadmap page (analytics.compute.roadmap and its charts, imported
lazily)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import streamlit as st

from pages._shared.workspace import changed, workspace

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from analytics.compute.roadmap.budget import LinkedBudget, Totals
    from analytics.compute.roadmap.plan import Plan
    from analytics.compute.roadmap.schedule import CriticalPath, TodayPosition


@dataclass(frozen=True)
class RoadmapSection:
    """Everything the page shows for the workspace's plan on one day."""

    plan: Plan
    """The plan as stored."""
    stages: pd.DataFrame
    """schedule.stage_table: one row per stage with its status and whether it is critical."""
    risks: pd.DataFrame
    """schedule.risk_table: highest score first."""
    milestones: pd.DataFrame
    """schedule.milestone_table: by due date."""
    critical: CriticalPath
    """The longest chain of dependent stages."""
    position: TodayPosition
    """Where today falls."""
    linked: LinkedBudget
    """Linked budget lines priced now, with provenance."""
    totals: Totals
    """Budget and headcount totals."""
    gantt: go.Figure
    """Stages over time with today's line, the critical path and milestones."""
    risk_matrix: go.Figure
    """Likelihood x impact grid."""


@st.cache_resource(max_entries=16, show_spinner="Loading the roadmap...")
def section(gen: int, today: date) -> RoadmapSection:
    """The plan, its tables, totals and figures (shared read-only: figures are slow to unpickle)."""
    from analytics.charts import roadmap as charts
    from analytics.compute.roadmap import budget, schedule
    from analytics.compute.roadmap.plan import load_plan

    ws = workspace()
    plan = load_plan(ws)
    stages = schedule.stage_table(plan, today)
    risks = schedule.risk_table(plan)
    linked = budget.linked_budget(ws, plan)
    return RoadmapSection(
        plan=plan, stages=stages, risks=risks, milestones=schedule.milestone_table(plan, today),
        critical=schedule.critical_path(plan), position=schedule.today_position(plan, today), linked=linked,
        totals=budget.totals(plan, linked), gantt=charts.gantt_chart(stages, plan, today),
        risk_matrix=charts.risk_matrix_chart(risks))


@st.cache_data(show_spinner=False)
def run_options(gen: int) -> list[tuple[str, str]]:
    """(run_id, 'run_id · method model on dataset') of the succeeded runs, newest first."""
    from analytics.compute.roadmap.budget import run_choices

    return run_choices(workspace())


@st.cache_data(show_spinner=False)
def evaluation_sets(gen: int) -> list[str]:
    """Compare's evaluation sets (datasets with a run or an API candidate)."""
    from analytics.compute.compare.candidates import evaluation_sets as sets

    return [str(d) for d in sets(workspace())["dataset"]]


@st.cache_data(show_spinner=False)
def candidate_options(gen: int, dataset: str, requests_per_month: float) -> list[tuple[str, str]]:
    """(leaderboard key, candidate name) of the priced candidates on `dataset`."""
    from analytics.compute.roadmap.budget import candidate_choices

    return candidate_choices(workspace(), dataset, requests_per_month)


def save(plan: Plan) -> None:
    """Validate and write `plan` (raises RoadmapInputError, nothing saved), then refresh every page."""
    from analytics.compute.roadmap.store import save_plan

    save_plan(workspace(), plan)
    changed()


def seed_sample() -> int:
    """Write the sample roadmap (when the workspace has no stage of its own); returns the stages written."""
    from analytics.ingest.sample_roadmap import seed_sample_roadmap

    with workspace().transaction() as tx:
        written = seed_sample_roadmap(tx)
    changed()
    return written
