"""Plotly figures for the Compare page and the decision memo (DataFrame -> go.Figure).

Cost axes are logarithmic (candidates differ by orders of magnitude); accuracy always carries its 95%
interval; dominated candidates are drawn in grey, never dropped; estimates are labelled as such in the title.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analytics.charts.theme import (
    GREY,
    PALETTE,
    SEQUENTIAL,
    SERIES,
    TEMPLATE,
    usd_hover,
    usd_linear_ticks,
    usd_log_ticks,
)
from analytics.compute.compare.cascade import Cascade, cascade_operating_points
from analytics.compute.compare.leaderboard import Leaderboard
from analytics.compute.compare.recommend import break_even_points, total_cost_curves
from analytics.money import format_usd

FLOOR_USD = 1e-4
"""Smallest total drawn on a log axis (a free candidate would otherwise vanish)."""


def _figure(title: str, x_title: str, y_title: str, *, log_x: bool = False, log_y: bool = False) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(template=TEMPLATE, title=title, height=520, xaxis_title=x_title, yaxis_title=y_title,
                      legend={"orientation": "h", "yanchor": "top", "y": -0.18, "x": 0})
    if log_x:
        fig.update_xaxes(type="log")
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def empty_figure(message: str) -> go.Figure:
    """A blank chart that says why it is blank."""
    fig = _figure("", "", "")
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font={"size": 18})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def _error_y(frame: pd.DataFrame) -> dict[str, object]:
    acc = frame["accuracy"].astype(float)
    return {"type": "data", "symmetric": False,
            "array": (frame["accuracy_ci_high"].astype(float) - acc).clip(lower=0),
            "arrayminus": (acc - frame["accuracy_ci_low"].astype(float)).clip(lower=0),
            "thickness": 1.5, "width": 4}


def _hover(frame: pd.DataFrame) -> list[str]:
    return [f"<b>{r.candidate}</b><br>accuracy {r.accuracy:.1%} (95% CI {r.accuracy_ci_low:.1%}-"
            f"{r.accuracy_ci_high:.1%})<br>{format_usd(r.cost_per_1k_usd)} per 1k requests<br>"
            f"p50 {'n/a' if math.isnan(r.p50_ms) else f'{r.p50_ms:.1f} ms'}<br>{r.hardware}"
            for r in frame.itertuples()]


def pareto_chart(board: Leaderboard) -> go.Figure:
    """Cost per 1k requests (log) against accuracy with 95% CI bars; frontier in colour, dominated in grey."""
    priced = board.priced
    if priced.empty:
        return empty_figure("No candidate has a cost yet: see the flags above the chart")
    fig = _figure(f"Cost against accuracy at {board.settings.utilisation:.0%} utilisation",
                  "$ per 1,000 requests (log)", "test accuracy", log_x=True)
    frontier = priced[priced["on_frontier"]].sort_values("cost_per_1k_usd")
    dominated = priced[~priced["on_frontier"]]
    if len(dominated):
        fig.add_trace(go.Scatter(
            x=dominated["cost_per_1k_usd"], y=dominated["accuracy"], mode="markers+text",
            name="dominated (cheaper and as accurate exists)", error_y=_error_y(dominated),
            marker={"color": SERIES["dominated"], "size": 12, "opacity": 0.6}, hovertext=_hover(dominated),
            hoverinfo="text", text=[_label(c, 26) for c in dominated["candidate"]],
            textposition="bottom center", textfont={"size": 12, "color": SERIES["dominated"]},
            cliponaxis=False))
    colour = SERIES["frontier"]
    fig.add_trace(go.Scatter(
        x=frontier["cost_per_1k_usd"], y=frontier["accuracy"], mode="lines+markers+text", name="frontier",
        line={"color": colour, "shape": "hv", "width": 2}, marker={"color": colour, "size": 14},
        error_y=_error_y(frontier) | {"color": colour}, text=[_label(c) for c in frontier["candidate"]],
        textposition=_positions(len(frontier)), cliponaxis=False, hovertext=_hover(frontier),
        hoverinfo="text"))
    fig.update_yaxes(tickformat=".0%")
    fig.update_xaxes(**usd_log_ticks(priced["cost_per_1k_usd"].min(), priced["cost_per_1k_usd"].max()))
    return fig


def _short(name: str, limit: int = 34) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _positions(count: int) -> list[str]:
    """Label positions for points sorted left to right: the end labels lean inwards so none is cut off."""
    if count == 1:
        return ["top center"]
    return ["top right"] + ["top center"] * (count - 2) + ["top left"]


def _label(name: str, limit: int = 30) -> str:
    """A point label: the candidate without its run-id suffix, shortened
    ('linear probe · all-MiniLM-L6-v2' -> 'probe · MiniLM-L6')."""
    base = name.rsplit(" [", 1)[0]
    for long, short in (("TF-IDF + logistic regression", "TF-IDF"), ("linear probe", "probe"),
                        ("all-MiniLM-L6-v2", "MiniLM-L6"), ("SmolLM2-135M-Instruct", "SmolLM2-135M")):
        base = base.replace(long, short)
    return _short(base, limit)


def latency_chart(board: Leaderboard) -> go.Figure:
    """Single-request p50 latency (log) against accuracy; hosted APIs have no measured latency and are
    listed."""
    measured = board.table[np.isfinite(board.table["p50_ms"].astype(float))]
    if measured.empty:
        return empty_figure("No run has a latency measurement (inference.json) yet")
    missing = board.table[~np.isfinite(board.table["p50_ms"].astype(float))]
    fig = _figure("Latency against accuracy", "single-request latency, ms (log): dot p50, bar to p95",
                  "test accuracy", log_x=True)
    if len(missing):
        fig.add_annotation(text=f"not measured: {', '.join(_label(c, 28) for c in missing['candidate'])}",
                           x=1, y=1.02, xref="paper", yref="paper", xanchor="right", yanchor="bottom",
                           showarrow=False, font={"size": 13, "color": GREY})
    for on_frontier, series, name in ((False, "dominated", "dominated on cost"),
                                      (True, "frontier", "on the cost frontier")):
        part = measured[measured["on_frontier"] == on_frontier]
        if len(part):
            fig.add_trace(go.Scatter(
                x=part["p50_ms"], y=part["accuracy"], mode="markers+text", name=name, error_y=_error_y(part),
                marker={"color": SERIES[series], "size": 13}, text=[_label(c, 26) for c in part["candidate"]],
                textposition="top center", cliponaxis=False, hovertext=_hover(part), hoverinfo="text",
                error_x={"type": "data", "symmetric": False, "array": part["p95_ms"] - part["p50_ms"],
                         "arrayminus": np.zeros(len(part)), "thickness": 1, "width": 0}))
    fig.update_yaxes(tickformat=".0%")
    return fig


def total_cost_chart(board: Leaderboard) -> go.Figure:
    """Total cost over the horizon against monthly volume (log-log), break-even volumes marked."""
    curves = total_cost_curves(board)
    if curves.empty:
        return empty_figure("No candidate has a cost yet: see the flags above the chart")
    months = board.settings.months
    fig = _figure(f"{months}-month total cost (training + running) against volume",
                  "requests per month (log)", f"{months}-month total, $ (log)", log_x=True, log_y=True)
    for i, (name, part) in enumerate(curves.groupby("candidate", sort=False)):
        frontier = bool(part["on_frontier"].iloc[0])
        fig.add_trace(go.Scatter(
            x=part["requests_per_month"], y=part["total_usd"].clip(lower=FLOOR_USD), mode="lines",
            name=_label(name, 40), customdata=usd_hover(part["total_usd"]),
            line={"color": PALETTE[i % len(PALETTE)] if frontier else GREY, "width": 3 if frontier else 1.5,
                  "dash": "solid" if frontier else "dot"},
            hovertemplate=f"<b>{name}</b><br>%{{x:,.0f}} requests/month<br>%{{customdata}}<extra></extra>"))
    points = break_even_points(board)
    low, high = curves["requests_per_month"].min(), curves["requests_per_month"].max()
    points = points[(points["requests_per_month"] >= low) & (points["requests_per_month"] <= high)]
    if len(points):
        fig.add_trace(go.Scatter(
            x=points["requests_per_month"], y=points["total_usd"].clip(lower=FLOOR_USD), mode="markers",
            name="break-even", marker={"symbol": "x", "size": 14, "color": SERIES["break_even"]},
            hovertext=[f"{r.a} = {r.b}<br>at {r.requests_per_month:,.0f} requests/month"
                       for r in points.itertuples()],
            hoverinfo="text"))
    fig.add_vline(x=board.settings.requests_per_month, line={"color": SERIES["your_volume"], "dash": "dash"},
                  annotation_text="your volume", annotation_position="top left")
    totals = curves["total_usd"].clip(lower=FLOOR_USD)
    fig.update_yaxes(**usd_log_ticks(totals.min(), totals.max()))
    return fig


def cascade_chart(result: Cascade) -> go.Figure:
    """Accuracy and cost of the cascade over every threshold, with the best operating points marked."""
    curve = result.curve
    fig = _figure(f"Cascade: {_short(result.small, 30)} first, {_short(result.big, 30)} when unsure "
                  f"({result.n_examples} test texts)", "$ per 1,000 requests", "accuracy")
    fig.add_trace(go.Scatter(
        x=curve["cost_per_1k_usd"], y=curve["accuracy"], mode="lines+markers", name="threshold sweep",
        line={"color": GREY}, marker={"size": 5, "color": curve["threshold"], "colorscale": SEQUENTIAL,
                                       "showscale": True, "colorbar": {"title": "threshold"}},
        customdata=list(zip(curve["threshold"], curve["deferred_share"], usd_hover(curve["cost_per_1k_usd"]),
                            strict=True)),
        hovertemplate="threshold %{customdata[0]:.3f}<br>deferred %{customdata[1]:.0%}<br>accuracy %{y:.1%}"
                      "<br>%{customdata[2]} per 1k<extra></extra>"))
    best = cascade_operating_points(result)
    fig.add_trace(go.Scatter(
        x=best["cost_per_1k_usd"], y=best["accuracy"], mode="markers+text", name="best operating points",
        marker={"size": 14, "color": SERIES["best_points"], "symbol": "star"},
        text=[f"t={t:.2f}" for t in best["threshold"]], textposition="bottom right", hoverinfo="skip"))
    for (acc, cost), label, series in ((result.small_alone, "small alone", "small_model"),
                                       (result.big_alone, "big alone", "big_model")):
        fig.add_trace(go.Scatter(x=[cost], y=[acc], mode="markers+text", name=label, text=[label],
                                 textposition="top center", customdata=[format_usd(cost)],
                                 hovertemplate=f"{label}<br>accuracy %{{y:.1%}}<br>%{{customdata}} per 1k"
                                               "<extra></extra>",
                                 marker={"size": 16, "color": SERIES[series], "symbol": "diamond"}))
    fig.update_yaxes(tickformat=".0%")
    costs = [*curve["cost_per_1k_usd"], result.small_alone[1], result.big_alone[1]]
    fig.update_xaxes(**usd_linear_ticks(min(costs), max(costs)))
    return fig


def learning_curve_chart(curve: pd.DataFrame, cost_per_label_usd: float) -> go.Figure:
    """Accuracy against labelled examples per class (log), one line per method and model, labelling $ on
    hover and as text."""
    if curve.empty:
        return empty_figure("No runs on stratified subsets yet: train with 'examples per class' set "
                            "(the quick demo adds a few)")
    fig = _figure(f"Learning curve (labels at {format_usd(cost_per_label_usd)} each)",
                  "labelled examples per class (log)", "test accuracy", log_x=True)
    for i, (series, part) in enumerate(curve.groupby("series", sort=True)):
        part = part.sort_values("examples_per_class")
        labelling = usd_hover(part["labelling_usd"])
        fig.add_trace(go.Scatter(
            x=part["examples_per_class"], y=part["accuracy"], mode="lines+markers+text", name=series,
            line={"color": PALETTE[i % len(PALETTE)], "width": 2}, error_y=_error_y(part),
            text=labelling, textposition="bottom right",
            customdata=list(zip(part["labels"], labelling, strict=True)),
            hovertemplate=f"<b>{series}</b><br>%{{x:.0f}} per class = %{{customdata[0]:,.0f}} labels"
                          "<br>labelling %{customdata[1]}<br>accuracy %{y:.1%}<extra></extra>"))
    fig.update_yaxes(tickformat=".0%")
    return fig


def projection_chart(projection: pd.DataFrame) -> go.Figure:
    """Estimated $/1k on each catalog GPU next to the measured figure (estimates, labelled)."""
    if projection.empty:
        return empty_figure("No transformer run with a parameter count and token count to project")
    fig = _figure("ESTIMATE: $ per 1k requests on other hardware (compute or bandwidth bound)",
                  "$ per 1,000 requests (log)", "", log_x=True)
    for i, (name, part) in enumerate(projection.groupby("candidate", sort=False)):
        fig.add_trace(go.Bar(y=part["gpu"], x=part["cost_per_1k_usd"], orientation="h", name=_short(name),
                             marker={"color": PALETTE[i % len(PALETTE)], "opacity": 0.75},
                             hovertext=[f"{format_usd(cost)} per 1k<br>{basis}" for cost, basis
                                        in zip(part["cost_per_1k_usd"], part["basis"], strict=True)],
                             hoverinfo="text"))
    costs = projection["cost_per_1k_usd"][projection["cost_per_1k_usd"] > 0]
    if len(costs):
        fig.update_xaxes(**usd_log_ticks(costs.min(), costs.max()))
    bars = projection["gpu"].nunique() * max(1, projection["candidate"].nunique())
    fig.update_layout(barmode="group", height=max(420, 28 * bars))
    return fig
