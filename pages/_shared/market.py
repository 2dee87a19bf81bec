"""Cached calls of the Market page (analytics.compute.market and its charts, imported lazily so other pages
do not pay for them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import streamlit as st

from pages._shared.workspace import workspace

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from analytics.charts.market import MarketFigures
    from analytics.compute.market.competitors import CompetitorMapping
    from analytics.compute.market.ranges import InputRanges
    from analytics.compute.market.segments import SegmentMapping
    from analytics.compute.market.sizing import MarketAssumptions
    from analytics.compute.market.view import MarketView


@dataclass(frozen=True)
class SizingSection:
    """The sizing part of the page for one set of inputs."""

    view: MarketView
    """Every number: top-down, bottom-up, sensitivities and the projection."""
    figures: MarketFigures
    """The tornado charts and the projection chart built from `view`."""


@dataclass(frozen=True)
class CompetitorSection:
    """The Competitors tab for one mapping and choice of our product."""

    table: pd.DataFrame
    """One row per product (name, price, capability, funding, launch year, is_us)."""
    figure: go.Figure
    """Price against capability, bubble area by funding."""


@st.cache_data(show_spinner=False)
def segments(gen: int, mapping: SegmentMapping | None = None) -> pd.DataFrame:
    """analytics.compute.market.segments.load_segments for a SegmentMapping (None = the sample table)."""
    from analytics.compute.market.segments import load_segments
    return load_segments(workspace(), mapping)


@st.cache_data(show_spinner=False)
def competitor_positioning(gen: int, mapping: CompetitorMapping | None = None,
                           our_name: str | None = None) -> pd.DataFrame:
    """analytics.compute.market.competitors.competitor_positioning for a CompetitorMapping (None = the
    sample table)."""
    from analytics.compute.market.competitors import competitor_positioning as positioning
    return positioning(workspace(), mapping, our_name)


@st.cache_data(show_spinner=False, max_entries=64)
def default_ranges(gen: int, mapping: SegmentMapping, assumptions: MarketAssumptions) -> InputRanges:
    """Each input's tornado range from the data's spread, else assumed ±20 %
    (analytics.compute.market.ranges.default_ranges)."""
    from analytics.compute.market.ranges import default_ranges as defaults
    return defaults(segments(gen, mapping), assumptions)


@st.cache_resource(max_entries=64, show_spinner=False)
def sizing(gen: int, mapping: SegmentMapping, assumptions: MarketAssumptions, year: int,
           ranges: InputRanges | None = None) -> SizingSection:
    """Numbers and figures for one set of inputs, cards and tornados at `year`. Built once and shared
    read-only: Plotly figures are slow to build (about 0.1 s each) and cache_data would rebuild them when
    unpickling."""
    from analytics.charts import market as charts_market
    from analytics.compute.market.view import market_view
    view = market_view(segments(gen, mapping), assumptions, year, ranges=ranges)
    return SizingSection(view=view, figures=charts_market.market_figures(view))


@st.cache_resource(max_entries=16, show_spinner=False)
def competitors(gen: int, mapping: CompetitorMapping, our_name: str | None) -> CompetitorSection:
    """The competitor table and its positioning figure, shared read-only."""
    from analytics.charts import market as charts_market
    frame = competitor_positioning(gen, mapping, our_name)
    return CompetitorSection(table=frame, figure=charts_market.positioning(frame))
