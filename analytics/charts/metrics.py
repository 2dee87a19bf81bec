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
    SEQUENTIAL,
    SERIES,
    TEMPLATE,
    usd_hover,
    usd_linear_ticks,
)
from analytics.compute.metrics.report import MetricsReport
from analytics.compute.metrics.schema import FUNNEL_STEPS

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
    return _layout(fig, "Active users", "users")


def stickiness_chart(frame: pd.DataFrame) -> go.Figure:
    """DAU / MAU per day."""
    fig = go.Figure(go.Scatter(x=frame["day"], y=frame["stickiness"], name="DAU / MAU", mode="lines",
                               line={"color": SERIES["stickiness"], "width": 3}))
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


def retention_heatmap(frame: pd.DataFrame) -> go.Figure:
    """Cohort x months-since-sign-up heatmap of retention (frame from metrics.retention)."""
    grid = frame.pivot(index="cohort_month", columns="months_since_signup", values="retention")
    sizes = frame.groupby("cohort_month")["cohort_users"].first()
    rows = [f"{pd.Timestamp(m):%Y-%m} ({sizes[m]:,})" for m in grid.index]
    readable = grid.shape[1] <= 12  # cell labels only while they stay legible on a projector
    text = grid.map(lambda v: "" if pd.isna(v) else f"{v:.0%}")
    fig = go.Figure(go.Heatmap(
        z=grid.to_numpy(), x=[int(c) for c in grid.columns], y=rows, text=text.to_numpy(),
        texttemplate="%{text}" if readable else None, colorscale=SEQUENTIAL, zmin=0, zmax=1,
        colorbar={"tickformat": ".0%"}, hovertemplate="cohort %{y}<br>month %{x}: %{z:.1%}<extra></extra>",
    ))
    fig = _layout(fig, "Monthly retention by sign-up cohort (users in cohort)", "sign-up month")
    fig.update_layout(height=max(420, 28 * len(rows) + 120), hovermode="closest")
    fig.update_yaxes(autorange="reversed", tickformat=None, rangemode="normal")
    fig.update_xaxes(title_text="months since sign-up", dtick=1 if readable else 3)
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
