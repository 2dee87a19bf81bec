"""Chart builders for the Experiments page: ExperimentResult / SampleSize -> plotly Figure, in the app's theme
(analytics.charts.theme): conversion per variant with 95% CI bars, units assigned per day, and how the
sample size grows as the minimum detectable effect shrinks.
"""

from __future__ import annotations

from dataclasses import replace

import plotly.graph_objects as go

from analytics.charts.theme import BLUE, COMPACT_FONT_SIZE, GREY, ORANGE, TEMPLATE, TEXT, percent_ticks
from analytics.compute.experiments.analysis import ExperimentResult
from analytics.compute.experiments.design import SampleSize, sample_size
from analytics.compute.experiments.errors import ExperimentInputError
from analytics.money import format_count, format_percent, format_points

ROLE_COLOURS = {"control": GREY, "treatment": BLUE}
"""Control in grey (today's experience), treatment in blue."""


def _layout(fig: go.Figure, title: str, y_title: str, x_title: str = "") -> go.Figure:
    fig.update_layout(
        template=TEMPLATE, title={"text": title, "font": {"size": COMPACT_FONT_SIZE + 4}},
        font={"size": COMPACT_FONT_SIZE}, height=420, margin={"l": 60, "r": 20, "t": 60, "b": 50},
        showlegend=False, hoverlabel={"font": {"size": COMPACT_FONT_SIZE - 2}},
    )
    fig.update_yaxes(title_text=y_title)
    fig.update_xaxes(title_text=x_title)
    return fig


def conversion_chart(result: ExperimentResult) -> go.Figure:
    """One bar per variant (control, treatment) at its conversion rate, with its 95% Wilson CI as error bars
    and the rate, CI and units written on the bar."""
    frame = result.variants
    labels = [v if v == role else f"{v} ({role})" for v, role in zip(frame["variant"], frame["role"],
                                                                       strict=True)]
    texts = [format_percent(r) for r in frame["rate"]]
    hovers = [f"{label}<br>{format_percent(r)} of {format_count(n)} units converted<br>95% CI "
              f"{format_percent(lo)} to {format_percent(hi)}"
              for label, r, n, lo, hi in zip(labels, frame["rate"], frame["units"], frame["ci_low"],
                                             frame["ci_high"], strict=True)]
    fig = go.Figure(go.Bar(
        x=labels, y=frame["rate"], text=texts, textposition="inside", insidetextanchor="middle",
        textfont={"size": COMPACT_FONT_SIZE + 2, "color": "white"},
        marker={"color": [ROLE_COLOURS[r] for r in frame["role"]]},
        error_y={"type": "data", "symmetric": False, "array": frame["ci_high"] - frame["rate"],
                 "arrayminus": frame["rate"] - frame["ci_low"], "color": TEXT, "thickness": 2,
                 "width": 14},
        hovertext=hovers, hoverinfo="text", name="conversion",
    ))
    top = float(frame["ci_high"].max())
    _layout(fig, "Conversion per variant (bars: 95% CI)", "converted")
    fig.update_yaxes(**percent_ticks(0.0, min(1.0, top * 1.1)))
    return fig


def daily_units_chart(result: ExperimentResult) -> go.Figure:
    """Units assigned per day over the experiment (both variants together)."""
    frame = result.daily_units
    fig = go.Figure(go.Bar(x=frame["day"], y=frame["units"], marker={"color": ORANGE}, name="units",
                           hovertext=[f"{d:%Y-%m-%d}: {format_count(u)} units" for d, u in
                                      zip(frame["day"], frame["units"], strict=True)], hoverinfo="text"))
    _layout(fig, "Units assigned per day", "units")
    fig.update_yaxes(rangemode="tozero")
    return fig


def sample_size_curve(size: SampleSize, points: int = 12) -> go.Figure:
    """Units per variant (statsmodels) for effects from half to twice the chosen MDE, the chosen one marked:
    a smaller effect costs quadratically more units."""
    design = size.design
    xs, ys = [], []
    for i in range(points):
        factor = 0.5 + 1.5 * i / (points - 1)
        try:
            other = sample_size(replace(design, mde=design.mde * factor))
        except ExperimentInputError:
            continue  # the target rate would leave 0..1 or the sample is unreachable
        xs.append(other.design.mde_absolute)
        ys.append(other.per_variant)
    fig = go.Figure(go.Scatter(
        x=xs, y=ys, mode="lines+markers", line={"color": BLUE, "width": 3}, name="units per variant",
        hovertext=[f"{format_points(x)}: {format_count(y)} units per variant"
                   for x, y in zip(xs, ys, strict=True)], hoverinfo="text"))
    fig.add_trace(go.Scatter(
        x=[design.mde_absolute], y=[size.per_variant], mode="markers+text", name="your design",
        marker={"color": ORANGE, "size": 14}, text=[f"{format_count(size.per_variant)} per variant"],
        textposition="top right", textfont={"size": COMPACT_FONT_SIZE}, hoverinfo="skip"))
    _layout(fig, "Units per variant by minimum detectable effect", "units per variant",
            "minimum detectable effect (share points)")
    ticks = percent_ticks(min(xs + [design.mde_absolute]), max(xs + [design.mde_absolute]))
    ticks.pop("range", None)
    fig.update_xaxes(**ticks)
    fig.update_yaxes(rangemode="tozero", tickformat=",")
    return fig
