"""Chart builders for the Metrics page: DataFrame (from analytics.compute.metrics) -> plotly Figure.

Projector-friendly: large fonts, few colours, direct labels, no gridline clutter.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analytics.compute.metrics import FUNNEL_STEPS, MetricsReport

FONT_SIZE = 16
BLUE, ORANGE, GREEN, RED, GREY = "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#7f7f7f"


def _layout(fig: go.Figure, title: str, y_title: str, *, percent: bool = False) -> go.Figure:
    fig.update_layout(
        title={"text": title, "font": {"size": FONT_SIZE + 4}},
        font={"size": FONT_SIZE},
        template="plotly_white",
        height=440,
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
        legend={"orientation": "h", "yanchor": "top", "y": -0.12, "xanchor": "left", "x": 0.0},
        hovermode="x unified",
    )
    fig.update_yaxes(title_text=y_title, tickformat=".0%" if percent else None, rangemode="tozero")
    return fig


def active_users_chart(frame: pd.DataFrame) -> go.Figure:
    """DAU, WAU and MAU lines per day (frame from metrics.active_users)."""
    fig = go.Figure()
    for column, name, color in (("mau", "MAU (28 days)", BLUE), ("wau", "WAU (7 days)", ORANGE),
                                ("dau", "DAU", GREEN)):
        fig.add_trace(go.Scatter(x=frame["day"], y=frame[column], name=name, mode="lines",
                                 line={"color": color, "width": 3}))
    return _layout(fig, "Active users", "users")


def stickiness_chart(frame: pd.DataFrame) -> go.Figure:
    """DAU / MAU per day."""
    fig = go.Figure(go.Scatter(x=frame["day"], y=frame["stickiness"], name="DAU / MAU", mode="lines",
                               line={"color": BLUE, "width": 3}))
    return _layout(fig, "Stickiness (DAU / MAU)", "share", percent=True)


def funnel_chart(frame: pd.DataFrame) -> go.Figure:
    """Activation and conversion funnel (frame from metrics.funnel)."""
    labels = [FUNNEL_STEPS.get(step, step) for step in frame["step"]]
    fig = go.Figure(go.Funnel(
        y=labels, x=frame["users"], texttemplate="%{value:,}<br>%{percentInitial:.0%}", textposition="inside",
        marker={"color": [BLUE, ORANGE, GREEN, RED][: len(frame)]}, textfont={"size": FONT_SIZE, "color": "white"},
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
        texttemplate="%{text}" if readable else None, colorscale="Blues", zmin=0, zmax=1,
        colorbar={"tickformat": ".0%"}, hovertemplate="cohort %{y}<br>month %{x}: %{z:.1%}<extra></extra>",
    ))
    fig = _layout(fig, "Monthly retention by sign-up cohort (users in cohort)", "sign-up month")
    fig.update_layout(height=max(420, 28 * len(rows) + 120), hovermode="closest")
    fig.update_yaxes(autorange="reversed", tickformat=None, rangemode="normal")
    fig.update_xaxes(title_text="months since sign-up", dtick=1 if readable else 3)
    return fig


def mrr_chart(frame: pd.DataFrame) -> go.Figure:
    """MRR per month (top) over its movements as stacked bars (bottom: new and expansion up, contraction
    and churned down), each panel on its own scale."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.55, 0.45], vertical_spacing=0.06)
    fig.add_trace(go.Bar(x=frame["month"], y=frame["mrr_usd"], name="MRR", marker_color=GREY), row=1, col=1)
    for column, name, color in (("new_mrr_usd", "New", GREEN), ("expansion_mrr_usd", "Expansion", BLUE),
                                ("contraction_mrr_usd", "Contraction", ORANGE),
                                ("churned_mrr_usd", "Churned", RED)):
        fig.add_trace(go.Bar(x=frame["month"], y=frame[column], name=name, marker_color=color), row=2, col=1)
    fig = _layout(fig, "MRR and its movements", "")
    fig.update_layout(barmode="relative", height=520)
    fig.update_yaxes(tickprefix="$", rangemode="normal")
    fig.update_yaxes(title_text="MRR", row=1, col=1)
    fig.update_yaxes(title_text="change", row=2, col=1)
    return fig


def churn_chart(frame: pd.DataFrame) -> go.Figure:
    """NRR (1 and 12 months, top) over logo and revenue churn (bottom) per month, each on its own scale."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.5, 0.5], vertical_spacing=0.06)
    for row, column, name, color, dash in ((1, "nrr_12m", "NRR, 12 months", GREEN, "solid"),
                                           (1, "nrr_1m", "NRR, 1 month", BLUE, "dot"),
                                           (2, "logo_churn", "Logo churn", RED, "solid"),
                                           (2, "revenue_churn", "Revenue churn", ORANGE, "dash")):
        fig.add_trace(go.Scatter(x=frame["month"], y=frame[column], name=name, mode="lines+markers",
                                 line={"color": color, "width": 3, "dash": dash}), row=row, col=1)
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
