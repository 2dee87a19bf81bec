"""Cached calls of the Experiments page (analytics.compute.experiments and its charts, imported lazily)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import streamlit as st

from pages._shared.workspace import workspace

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from analytics.compute.experiments.analysis import AnalysisPlan, ExperimentResult
    from analytics.compute.experiments.design import DesignInput, SampleSize, Traffic
    from analytics.compute.experiments.source import ExperimentMapping, Source


@dataclass(frozen=True)
class AnalysisSection:
    """What the Analysis tab shows for one source and plan."""

    result: ExperimentResult
    """Per-variant conversion, lifts, p-value, checks and the verdict."""
    conversion: go.Figure
    """Conversion per variant with 95% CI bars."""
    daily: go.Figure
    """Units assigned per day."""


@dataclass(frozen=True)
class DesignSection:
    """What the Design tab shows for one set of inputs."""

    size: SampleSize
    """Units per variant and in all."""
    curve: go.Figure
    """Units per variant against the minimum detectable effect."""


@st.cache_data(show_spinner=False)
def experiments(gen: int) -> pd.DataFrame:
    """The experiments stored in the workspace, newest first."""
    from analytics.compute.experiments.catalog import list_experiments
    return list_experiments(workspace())


@st.cache_data(show_spinner=False)
def stored_plan(gen: int, experiment: str) -> tuple[AnalysisPlan, DesignInput]:
    """The analysis plan and design inputs recorded for `experiment`."""
    from analytics.compute.experiments.catalog import stored_plan as plan_of
    plan, design, _ = plan_of(workspace(), experiment)
    return plan, design


@st.cache_data(show_spinner=False)
def span(gen: int, source: Source) -> tuple[date, date] | None:
    """First and last assignment day of the source."""
    from analytics.compute.experiments.source import assignment_span
    return assignment_span(workspace(), source)


@st.cache_data(show_spinner=False)
def sample_traffic(gen: int, event_type: str, days: int) -> Traffic:
    """Daily units into the step from the events table."""
    from analytics.compute.experiments.design import sample_traffic as traffic
    return traffic(workspace(), event_type, days)


@st.cache_data(show_spinner=False)
def mapped_traffic(gen: int, mapping: ExperimentMapping) -> Traffic:
    """Daily units assigned in a mapped experiment table of the user's."""
    from analytics.compute.experiments.design import mapped_traffic as traffic
    return traffic(workspace(), mapping)


@st.cache_resource(max_entries=32, show_spinner=False)
def design(inputs: DesignInput) -> DesignSection:
    """Sample size and its curve for one design (shared read-only; errors are not cached)."""
    from analytics.charts.experiments import sample_size_curve
    from analytics.compute.experiments.design import sample_size
    size = sample_size(inputs)
    return DesignSection(size=size, curve=sample_size_curve(size))


@st.cache_resource(max_entries=32, show_spinner="Analysing the experiment...")
def analysis(gen: int, source: Source, plan: AnalysisPlan) -> AnalysisSection:
    """Result and figures for one source and plan (shared read-only; errors are not cached)."""
    from analytics.charts.experiments import conversion_chart, daily_units_chart
    from analytics.compute.experiments.analysis import analyse
    result = analyse(workspace(), source, plan)
    return AnalysisSection(result=result, conversion=conversion_chart(result),
                           daily=daily_units_chart(result))
