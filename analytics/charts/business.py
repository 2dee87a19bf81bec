"""Chart builders for the Business case page: the monthly P&L with its break-even, and the tornado of inputs.

The one theme (analytics.charts.theme); dollar ticks and hovers by the one money formatter.
"""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analytics.charts.theme import GREEN, GREY, ORANGE, RED, SERIES, TEMPLATE, usd_hover, usd_linear_ticks
from analytics.compute.business.model import BusinessCase
from analytics.money import format_usd

COSTS = (
    ("serving_usd", "Serving (model)", SERIES["frontier"]),
    ("support_usd", "Support", ORANGE),
    ("other_usd", "Other variable", GREY),
    ("acquisition_usd", "Acquisition (CAC)", RED),
    ("fixed_usd", "Fixed", "#7b4fbf"),
)
"""Monthly cost stacks (column, legend name, colour), drawn below zero."""


def _layout(fig: go.Figure, title: str, height: int = 520) -> go.Figure:
    fig.update_layout(template=TEMPLATE, title={"text": title}, height=height,
                      margin={"l": 70, "r": 30, "t": 70, "b": 50}, hovermode="x unified",
                      legend={"orientation": "h", "yanchor": "top", "y": -0.2, "xanchor": "left", "x": 0.0})
    return fig


def aligned_zero(left: tuple[float, float], right: tuple[float, float],
                 pad: float = 0.05) -> tuple[tuple[float, float], tuple[float, float]]:
    """Ranges (low <= 0 <= high) for two y axes, widened so that $0 sits at the same height on both."""

    def share(low: float, high: float) -> float:  # where zero sits, 0 = bottom
        return -low / (high - low) if high > low else 0.0

    left = (left[0] * (1 + pad), left[1] * (1 + pad))
    right = (right[0] * (1 + pad), right[1] * (1 + pad))
    zero = max(share(*left), share(*right))

    def widen(low: float, high: float) -> tuple[float, float]:
        if high <= low:
            return (low - 1.0, high + 1.0)
        if share(low, high) < zero:
            return (-zero * high / (1 - zero), high) if zero < 1 else (low, 0.0)
        return (low, low * (zero - 1) / zero) if zero > 0 else (low, high)

    return widen(*left), widen(*right)


def pnl_chart(case: BusinessCase) -> go.Figure:
    """Revenue up and each cost down per month (stacked bars, left axis), the cumulative profit (line, right
    axis: it grows far beyond one month's figures), and the break-even month marked."""
    frame = case.projection
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Bar(x=frame["month"], y=frame["revenue_usd"], name="Revenue", marker_color=GREEN,
                         customdata=usd_hover(frame["revenue_usd"]),
                         hovertemplate="%{customdata}<extra>Revenue</extra>"), secondary_y=False)
    for column, name, colour in COSTS:
        if float(frame[column].abs().sum()) == 0:
            continue
        fig.add_trace(go.Bar(x=frame["month"], y=-frame[column], name=name, marker_color=colour,
                             customdata=usd_hover(frame[column]),
                             hovertemplate="%{customdata}<extra>" + name + "</extra>"), secondary_y=False)
    fig.add_trace(go.Scatter(x=frame["month"], y=frame["cumulative_usd"], name="Cumulative profit (right)",
                             mode="lines", line={"color": "#1f2933", "width": 4},
                             customdata=usd_hover(frame["cumulative_usd"]),
                             hovertemplate="%{customdata}<extra>Cumulative profit</extra>"), secondary_y=True)
    costs = frame[[c for c, _, _ in COSTS]].sum(axis=1)
    monthly = (min(0.0, float((-costs).min())), max(0.0, float(frame["revenue_usd"].max())))
    running = frame["cumulative_usd"]
    cumulative = (min(0.0, float(running.min())), max(0.0, float(running.max())))
    left, right = aligned_zero(monthly, cumulative)
    fig.update_yaxes(**usd_linear_ticks(*left), range=list(left), title_text="per month", secondary_y=False)
    fig.update_yaxes(**usd_linear_ticks(*right), range=list(right), title_text="cumulative", secondary_y=True,
                     showgrid=False)
    fig.update_xaxes(title_text="month", dtick=6 if len(frame) > 12 else 1)
    fig.update_layout(barmode="relative")
    if case.break_even_month is not None:
        fig.add_vline(x=case.break_even_month, line={"color": GREEN, "width": 2, "dash": "dash"},
                      annotation_text=f"break-even: month {case.break_even_month}",
                      annotation_position="top right")
    return _layout(fig, f"{case.inputs.months}-month P&L")


def tornado_chart(case: BusinessCase) -> go.Figure:
    """Each input 20% down and up: the horizon's cumulative profit against the base case, largest first."""
    frame = case.tornado.iloc[::-1]  # largest at the top
    base = float(frame["base_usd"].iloc[0]) if len(frame) else 0.0
    fig = go.Figure()
    for column, name, colour in (
        ("low_usd", "input -20%", ORANGE),
        ("high_usd", "input +20%", SERIES["sam"]),
    ):
        fig.add_trace(
            go.Bar(
                y=frame["label"],
                x=frame[column] - base,
                base=base,
                orientation="h",
                name=name,
                marker_color=colour,
                customdata=usd_hover(frame[column]),
                hovertemplate="%{y}: %{customdata}<extra>" + name + "</extra>",
            )
        )
    low = float(min(frame["low_usd"].min(), frame["high_usd"].min(), base)) if len(frame) else 0.0
    high = float(max(frame["low_usd"].max(), frame["high_usd"].max(), base)) if len(frame) else 0.0
    fig.update_xaxes(
        **usd_linear_ticks(low, high, count=4),
        title_text=f"cumulative profit after {case.inputs.months} months",
    )
    fig.add_vline(
        x=base,
        line={"color": "#1f2933", "width": 2},
        annotation_text=f"base {format_usd(base)}",
        annotation_position="top",
    )
    fig.update_layout(barmode="overlay", hovermode="closest")
    return _layout(fig, "What moves the result most", height=120 + 46 * max(len(frame), 1))
