"""Cached calls of the Metrics page (analytics.compute.metrics and its charts, imported lazily)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import streamlit as st

from pages._shared.workspace import workspace

if TYPE_CHECKING:
    from analytics.charts.metrics import MetricsFigures
    from analytics.compute.metrics.report import MetricsReport
    from analytics.compute.metrics.schema import EventMapping, MetricFilters
    from analytics.compute.metrics.source import SegmentOptions


@dataclass(frozen=True)
class MetricsSection:
    """Everything the page shows for one event source and filter set."""

    report: MetricsReport
    """KPIs and the active-user, funnel, retention and revenue tables."""
    figures: MetricsFigures
    """The page's six charts built from `report`."""


@st.cache_data(show_spinner=False)
def options(gen: int) -> SegmentOptions:
    """Values of the region, industry, company size and plan filters (sample accounts and plans)."""
    from analytics.compute.metrics.source import segment_options
    return segment_options(workspace())


@st.cache_data(show_spinner=False)
def span(gen: int, mapping: EventMapping | None = None) -> tuple[date, date] | None:
    """(first day, last day) of the event source (None = sample events), or None without events."""
    from analytics.compute.metrics.source import data_span
    return data_span(workspace(), mapping)


@st.cache_data(show_spinner=False, max_entries=32)
def column_values(gen: int, table: str, column: str, limit: int = 50) -> list[str]:
    """The most common values of `table.column` as text (for mapping widgets)."""
    from analytics.compute.metrics.source import distinct_values
    return distinct_values(workspace(), table, column, limit)


@st.cache_resource(max_entries=32, show_spinner="Computing metrics...")
def section(gen: int, filters: MetricFilters, mapping: EventMapping | None = None) -> MetricsSection:
    """Report and figures for one source and filter set, shared read-only (Plotly figures are slow to build
    and cache_data would rebuild them when unpickling). Errors are not cached."""
    from analytics.charts import metrics as metrics_charts
    from analytics.compute.metrics.report import compute_report
    report = compute_report(workspace(), filters, mapping)
    return MetricsSection(report=report, figures=metrics_charts.metrics_figures(report))
