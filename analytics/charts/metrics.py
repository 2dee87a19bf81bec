"""Chart builders for the Metrics page: DataFrame (from analytics.compute.metrics) -> plotly Figure.

Drawn two per row with the app's theme (analytics.charts.theme): large fonts, few colours, direct labels,
dollar ticks and hovers by the one money formatter.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analytics.charts.theme import (
    COMPACT_FONT_SIZE,
    FUNNEL_COLOURS,
    GREY,
    SEQUENTIAL,
    SERIES,
    TEMPLATE,
    TEXT,
    usd_hover,
    usd_linear_ticks,
)
from analytics.compute.metrics.report import MetricsReport
from analytics.compute.metrics.schema import FUNNEL_STEPS
from analytics.money import format_count, format_percent

MOVEMENTS = (("new_mrr_usd", "New", "new"), ("expansion_mrr_usd", "Expansion", "expansion"),
             ("contraction_mrr_usd", "Contraction", "contraction"), ("churned_mrr_usd", "Churned", "churned"))
"""MRR movements (column, legend name, series colour): new and expansion up, contraction and churned down."""


def _layout(fig: go.Figure, title: str, y_title: str, *, percent: bool = False) -> go.Figure:
    fig.update_layout(
        template=TEMPLATE,
        title={"text": title, "font": {"size": COMPACT_FONT_SIZE + 4}},
        font={"size": COMPACT_FONT_SIZE},
        height=440,
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
        legend={"orientation": "h", "yanchor": "top", "y": -0.12, "xanchor": "left", "x": 0.0},
        hoverlabel={"font": {"size": COMPACT_FONT_SIZE - 2}},
        hovermode="x unified",
    )
    fig.update_yaxes(title_text=y_title, tickformat=".0%" if percent else None, rangemode="tozero")
    return fig


def active_users_chart(frame: pd.DataFrame) -> go.Figure:
    """DAU, WAU and MAU lines per day (frame from metrics.active_users)."""
    fig = go.Figure()
    for column, name in (("mau", "MAU (28 days)"), ("wau", "WAU (7 days)"), ("dau", "DAU")):
        fig.add_trace(go.Scatter(x=frame["day"], y=frame[column], name=name, mode="lines",
                                 line={"color": SERIES[column], "width": 3}))
    _mark_warm_up(fig, frame)
    return _layout(fig, "Active users", "users")


def _mark_warm_up(fig: go.Figure, frame: pd.DataFrame) -> None:
    """Shade the days whose 28-day window is still filling (no MAU or stickiness there)."""
    if "window_full" not in frame or frame.empty or bool(frame["window_full"].all()):
        return
    warm = frame.loc[~frame["window_full"].astype(bool), "day"]
    fig.add_vrect(x0=warm.min(), x1=warm.max(), fillcolor=GREY, opacity=0.15, line_width=0,
                  annotation_text="28-day window filling", annotation_position="top left",
                  annotation_font={"size": COMPACT_FONT_SIZE - 2, "color": TEXT})


def stickiness_chart(frame: pd.DataFrame) -> go.Figure:
    """DAU / MAU per day, from the first day with a full 28-day window (earlier days shaded, no line)."""
    fig = go.Figure(go.Scatter(x=frame["day"], y=frame["stickiness"], name="DAU / MAU", mode="lines",
                               line={"color": SERIES["stickiness"], "width": 3}))
    _mark_warm_up(fig, frame)
    return _layout(fig, "Stickiness (DAU / MAU)", "share", percent=True)


def funnel_chart(frame: pd.DataFrame) -> go.Figure:
    """Activation and conversion funnel (frame from metrics.funnel)."""
    labels = [FUNNEL_STEPS.get(step, step) for step in frame["step"]]
    fig = go.Figure(go.Funnel(
        y=labels, x=frame["users"], texttemplate="%{value:,}<br>%{percentInitial:.0%}", textposition="inside",
        marker={"color": list(FUNNEL_COLOURS[: len(frame)])},
        textfont={"size": COMPACT_FONT_SIZE, "color": "white"},
        hovertemplate="%{y}: %{value:,}<br>%{percentInitial:.1%} of sign-ups<br>"
                      "%{percentPrevious:.1%} of the step before<extra></extra>",
    ))
    fig = _layout(fig, "Activation and conversion funnel", "")
    fig.update_layout(hovermode="closest")
    return fig


HEATMAP_PLOT_WIDTH_PX = 560.0
"""Width of the retention heatmap's cells area: the chart at full width in a 1280 px window with the sidebar
open, less the cohort labels and the colour bar (wider windows only make cells wider)."""
HEATMAP_ROW_PX = 26
"""Height of one cohort row; the figure grows with the number of cohorts."""
MIN_CELL_FONT_PX = 12
"""Smallest cell label: below it the labels are hidden (the values stay in the hover)."""
CELL_TEXT = "100%"
"""The widest cell label, which every label must fit."""


def heatmap_cell_font(columns: int, rows: int, plot_width_px: float = HEATMAP_PLOT_WIDTH_PX,
                      row_px: float = HEATMAP_ROW_PX) -> int | None:
    """Font size in px of the heatmap's cell labels, or None when a label at MIN_CELL_FONT_PX would not fit
    its cell (then the cells carry no text and the hover gives the value).

    The size is the largest up to COMPACT_FONT_SIZE - 2 at which CELL_TEXT fits the cell's width (about
    0.6 font sizes per glyph) and height (1.4 font sizes per line), so a filter that leaves few or many
    cohorts never shrinks labels to unreadable pixels.
    """
    if columns < 1 or rows < 1:
        return None
    cell_width = plot_width_px / columns
    fits = min(COMPACT_FONT_SIZE - 2, cell_width / (0.6 * len(CELL_TEXT)), row_px / 1.4)
    return int(fits) if fits >= MIN_CELL_FONT_PX else None


def retention_heatmap(frame: pd.DataFrame) -> go.Figure:
    """Cohort x months-since-sign-up heatmap of retention (frame from metrics.retention), drawn at full
    width: one HEATMAP_ROW_PX row per cohort, cell labels only while they stay legible (heatmap_cell_font)."""
    grid = frame.pivot(index="cohort_month", columns="months_since_signup", values="retention")
    sizes = frame.groupby("cohort_month")["cohort_users"].first()
    rows = [f"{pd.Timestamp(m):%Y-%m} ({format_count(sizes[m])})" for m in grid.index]
    font = heatmap_cell_font(grid.shape[1], len(rows))
    text = grid.map(lambda v: "" if pd.isna(v) else format_percent(v, 0))
    fig = go.Figure(go.Heatmap(
        z=grid.to_numpy(), x=[int(c) for c in grid.columns], y=rows, text=text.to_numpy(),
        texttemplate="%{text}" if font else None, textfont={"size": font or MIN_CELL_FONT_PX},
        colorscale=SEQUENTIAL, zmin=0, zmax=1, xgap=1, ygap=1,
        colorbar={"tickformat": ".0%", "thickness": 16},
        hovertemplate="cohort %{y}<br>month %{x}: %{z:.1%}<extra></extra>",
    ))
    fig = _layout(fig, "Monthly retention by sign-up cohort", "sign-up month (users)")
    fig.update_layout(height=max(360, HEATMAP_ROW_PX * len(rows) + 150), hovermode="closest",
                      margin={"l": 60, "r": 20, "t": 60, "b": 60})
    fig.update_yaxes(autorange="reversed", tickformat=None, rangemode="normal")
    fig.update_xaxes(title_text="months since sign-up", dtick=1 if grid.shape[1] <= 12 else 3)
    return fig


def _usd_bar(months: pd.Series, amounts_usd: pd.Series, name: str, series: str) -> go.Bar:
    """One bar trace with its dollar amounts in the hover ('New : $1.2k')."""
    return go.Bar(x=months, y=amounts_usd, name=name, marker_color=SERIES[series],
                  customdata=usd_hover(amounts_usd),
                  hovertemplate="%{customdata}<extra>" + name + "</extra>")


def mrr_chart(frame: pd.DataFrame) -> go.Figure:
    """MRR per month (top) over its movements as stacked bars (bottom: new and expansion up, contraction
    and churned down), each panel on its own scale."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.55, 0.45], vertical_spacing=0.06)
    fig.add_trace(_usd_bar(frame["month"], frame["mrr_usd"], "MRR", "mrr"), row=1, col=1)
    for column, name, series in MOVEMENTS:
        fig.add_trace(_usd_bar(frame["month"], frame[column], name, series), row=2, col=1)
    fig = _layout(fig, "MRR and its movements", "")
    fig.update_layout(barmode="relative", height=520)
    fig.update_yaxes(rangemode="normal")
    mrr = frame["mrr_usd"].astype(float)
    fig.update_yaxes(title_text="MRR", row=1, col=1, **usd_linear_ticks(min(0.0, mrr.min()), mrr.max()))
    moves = frame[[column for column, _, _ in MOVEMENTS]].astype(float)
    down, up = moves.clip(upper=0).sum(axis=1), moves.clip(lower=0).sum(axis=1)  # stacked bar ends
    fig.update_yaxes(title_text="change", row=2, col=1,
                     **usd_linear_ticks(min(0.0, down.min()), max(0.0, up.max()), count=4))
    return fig


def churn_chart(frame: pd.DataFrame) -> go.Figure:
    """NRR (1 and 12 months, top) over logo and revenue churn (bottom) per month, each on its own scale."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.5, 0.5], vertical_spacing=0.06)
    for row, column, name, dash in ((1, "nrr_12m", "NRR, 12 months", "solid"),
                                    (1, "nrr_1m", "NRR, 1 month", "dot"),
                                    (2, "logo_churn", "Logo churn", "solid"),
                                    (2, "revenue_churn", "Revenue churn", "dash")):
        fig.add_trace(go.Scatter(x=frame["month"], y=frame[column], name=name, mode="lines+markers",
                                 line={"color": SERIES[column], "width": 3, "dash": dash}), row=row, col=1)
    fig = _layout(fig, "Net revenue retention and churn", "", percent=True)
    fig.update_layout(height=520)
    fig.update_yaxes(title_text="NRR", rangemode="normal", row=1, col=1)
    fig.update_yaxes(title_text="churn", row=2, col=1)
    return fig


@dataclass(frozen=True)
class MetricsFigures:
    """Every figure of the Metrics page for one report."""

    active_users: go.Figure
    """DAU, WAU and MAU per day."""
    stickiness: go.Figure
    """DAU / MAU per day."""
    funnel: go.Figure
    """Sign-up to paid funnel."""
    retention: go.Figure
    """Monthly retention by sign-up cohort."""
    mrr: go.Figure
    """MRR over its movements."""
    churn: go.Figure
    """NRR over logo and revenue churn."""


def metrics_figures(report: MetricsReport) -> MetricsFigures:
    """Every figure of the Metrics page for one report."""
    return MetricsFigures(
        active_users=active_users_chart(report.active_users),
        stickiness=stickiness_chart(report.active_users),
        funnel=funnel_chart(report.funnel),
        retention=retention_heatmap(report.retention),
        mrr=mrr_chart(report.revenue),
        churn=churn_chart(report.revenue),
    )
