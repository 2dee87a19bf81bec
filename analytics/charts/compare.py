"""Plotly figures for the Compare page and the decision memo (DataFrame -> go.Figure).

Cost axes are logarithmic (candidates differ by orders of magnitude); accuracy always carries its 95%
interval; dominated candidates are drawn in grey, never dropped; estimates are labelled as such in the title.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analytics.charts.theme import (
    GREY,
    PALETTE,
    SEQUENTIAL,
    SERIES,
    TEMPLATE,
    count_log_ticks,
    log_ticks,
    ms_log_ticks,
    percent_ticks,
    usd_hover,
    usd_linear_ticks,
    usd_log_ticks,
)
from analytics.compute.compare.cascade import Cascade, cascade_operating_points
from analytics.compute.compare.leaderboard import Leaderboard, short_name
from analytics.compute.compare.recommend import break_even_points, total_cost_curves
from analytics.compute.compare.replies import ReplyLeaderboard, reply_break_even
from analytics.compute.compare.replies import quality_text as reply_quality_text
from analytics.money import format_count, format_ms, format_percent, format_usd, usd_per_requests_unit

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


def unit_costs(board: Leaderboard, per_1k: pd.Series | Sequence[float]) -> tuple[list[float], str]:
    """Costs per 1k requests in the leaderboard's unit (per 1k, or per 1M when per 1k is below a cent) and
    that unit's label ('per 1M requests'), so the charts read like the table."""
    requests, label = board.unit
    return [float(v) / 1000.0 * requests for v in per_1k], label


def _hover(frame: pd.DataFrame, requests: int, unit: str) -> list[str]:
    return [f"<b>{r.candidate}</b><br>accuracy {format_percent(r.accuracy, fixed=True)} (95% CI "
            f"{format_percent(r.accuracy_ci_low, fixed=True)}-"
            f"{format_percent(r.accuracy_ci_high, fixed=True)})"
            f"<br>{format_usd(r.cost_per_1k_usd / 1000.0 * requests)} {unit}<br>"
            f"p50 {'not measured' if math.isnan(r.p50_ms) else format_ms(r.p50_ms)}<br>{r.hardware}"
            for r in frame.itertuples()]


LABEL_PAD_DECADES = 0.5
"""Room left and right of the outermost points on a log axis, so their labels stay inside the plot."""


def _log_range(values: Sequence[float], right_extra: float = 0.0) -> list[float]:
    """A log axis range (in log10 units) around `values` with room for point labels on both sides
    (`right_extra` more decades on the right, for labels drawn right of the rightmost point)."""
    logs = [math.log10(v) for v in values if v > 0 and math.isfinite(v)]
    low, high = min(logs), max(logs)
    pad = max(LABEL_PAD_DECADES, 0.2 * (high - low))
    return [low - pad, high + pad + right_extra * max(1.0, high - low)]


def _frontier_positions(count: int) -> list[str]:
    """Labels of frontier points (sorted by cost) below and right of each point: the staircase leaves a
    point to the right at its own height and rises at the next point, so nothing of it runs below-right of
    a point; the last, most accurate point is labelled above-left, where the plot has room."""
    return ["bottom right"] * (count - 1) + ["top left"] if count else []


def _side_positions(values: Sequence[float], axis_range: Sequence[float], vertical: str = "top") -> list[str]:
    """'top right' for points in the left half of a log axis, 'top left' in the right half: the label
    starts beside the marker, so it never crosses the point's vertical error bar, and it grows towards the
    middle of the plot, not out of it. `vertical` 'bottom' puts a second series' labels below its points,
    so they do not collide with the first's."""
    middle = (axis_range[0] + axis_range[1]) / 2
    return [f"{vertical} right" if math.log10(v) <= middle else f"{vertical} left" for v in values]


def _accuracy_axis(frames: Sequence[pd.DataFrame]) -> dict[str, object]:
    """Accuracy ticks covering every point's 95% interval, room above for labels, labels never repeated."""
    lows = [float(f["accuracy_ci_low"].fillna(f["accuracy"]).min()) for f in frames if len(f)]
    highs = [float(f["accuracy_ci_high"].fillna(f["accuracy"]).max()) for f in frames if len(f)]
    low, high = min(lows), max(highs)
    span = max(high - low, 0.02)
    return percent_ticks(max(0.0, low - 0.08 * span), min(1.0, high + 0.15 * span))


def pareto_chart(board: Leaderboard) -> go.Figure:
    """Cost per request (log, in the leaderboard's unit) against accuracy with 95% CI bars; frontier in
    colour, dominated in grey; every label inside the plot and beside, not across, its error bar."""
    priced = board.priced
    if priced.empty:
        return empty_figure("No candidate has a cost yet: see the flags above the chart")
    requests, unit = board.unit
    fig = _figure(f"Cost against accuracy at {format_percent(board.settings.utilisation)} utilisation",
                  f"$ {unit} (log)", "test accuracy", log_x=True)
    frontier = priced[priced["on_frontier"]].sort_values("cost_per_1k_usd")
    dominated = priced[~priced["on_frontier"]]
    all_x, _ = unit_costs(board, priced["cost_per_1k_usd"])
    frontier_x, _ = unit_costs(board, frontier["cost_per_1k_usd"])
    # a dominated point right of the last frontier point is labelled to its right: leave room for it
    rightmost_dominated = len(dominated) and max(all_x) > max(frontier_x)
    x_range = _log_range(all_x, right_extra=0.3 if rightmost_dominated else 0.0)
    if len(dominated):
        x, _ = unit_costs(board, dominated["cost_per_1k_usd"])
        fig.add_trace(go.Scatter(
            x=x, y=dominated["accuracy"], mode="markers+text",
            name="dominated (cheaper and as accurate exists)", error_y=_error_y(dominated),
            marker={"color": SERIES["dominated"], "size": 12, "opacity": 0.6},
            hovertext=_hover(dominated, requests, unit), hoverinfo="text",
            text=[_label(c) for c in dominated["candidate"]],
            textposition=["bottom right"] * len(x),
            textfont={"size": 13, "color": SERIES["dominated"]}, cliponaxis=False))
    colour = SERIES["frontier"]
    x, _ = unit_costs(board, frontier["cost_per_1k_usd"])
    fig.add_trace(go.Scatter(
        x=x, y=frontier["accuracy"], mode="lines+markers+text", name="frontier",
        line={"color": colour, "shape": "hv", "width": 2}, marker={"color": colour, "size": 14},
        error_y=_error_y(frontier) | {"color": colour}, text=[_label(c) for c in frontier["candidate"]],
        textposition=_frontier_positions(len(x)), textfont={"size": 14}, cliponaxis=False,
        hovertext=_hover(frontier, requests, unit), hoverinfo="text"))
    fig.update_yaxes(**_accuracy_axis([priced]))
    ticks = usd_log_ticks(10 ** x_range[0], 10 ** x_range[1])
    fig.update_xaxes(**ticks, range=x_range)
    return fig


def _short(name: str, limit: int = 34) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _label(name: str, limit: int = 34) -> str:
    """A point label: leaderboard.short_name (shortened to `limit` characters)."""
    return short_name(name, limit)


def latency_chart(board: Leaderboard) -> go.Figure:
    """Single-request p50 latency (log) against accuracy; hosted APIs have no measured latency and are
    listed."""
    measured = board.table[np.isfinite(board.table["p50_ms"].astype(float))]
    if measured.empty:
        return empty_figure("No run has a latency measurement (inference.json) yet")
    missing = board.table[~np.isfinite(board.table["p50_ms"].astype(float))]
    requests, unit = board.unit
    fig = _figure("Latency against accuracy", "single-request latency (log): dot p50, bar to p95",
                  "test accuracy", log_x=True)
    x_range = _log_range([*measured["p50_ms"], *measured["p95_ms"].dropna()])
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
                marker={"color": SERIES[series], "size": 13}, text=[_label(c) for c in part["candidate"]],
                textposition=_side_positions(part["p50_ms"], x_range, "top" if on_frontier else "bottom"),
                textfont={"size": 13},
                cliponaxis=False, hovertext=_hover(part, requests, unit), hoverinfo="text",
                error_x={"type": "data", "symmetric": False, "array": part["p95_ms"] - part["p50_ms"],
                         "arrayminus": np.zeros(len(part)), "thickness": 1, "width": 0}))
    fig.update_yaxes(**_accuracy_axis([measured]))
    fig.update_xaxes(**ms_log_ticks(10 ** x_range[0], 10 ** x_range[1]), range=x_range)
    return fig


VOLUME_DECADES = 3
"""The total-cost chart spans this many decades of monthly volume either side of the user's volume."""


def total_cost_chart(board: Leaderboard) -> go.Figure:
    """Total cost over the horizon against monthly volume (log-log) around the user's volume, break-even
    volumes marked; each line named in the legend below the plot (lines of near-equal cost would hide
    labels drawn on them)."""
    volume = board.settings.requests_per_month
    grid = np.logspace(max(0.0, math.log10(volume) - VOLUME_DECADES), math.log10(volume) + VOLUME_DECADES, 61)
    curves = total_cost_curves(board, grid)
    if curves.empty:
        return empty_figure("No candidate has a cost yet: see the flags above the chart")
    months = board.settings.months
    fig = _figure(f"{months}-month total cost against volume", "requests per month (log)",
                  f"{months}-month total with training (log)", log_x=True, log_y=True)
    colour = 0
    for name, part in curves.groupby("candidate", sort=False):
        frontier = bool(part["on_frontier"].iloc[0])
        line_colour = PALETTE[colour % len(PALETTE)] if frontier else GREY
        colour += int(frontier)
        fig.add_trace(go.Scatter(
            x=part["requests_per_month"], y=part["total_usd"].clip(lower=FLOOR_USD), mode="lines",
            name=_label(name, 40), customdata=list(zip([format_count(v) for v in part["requests_per_month"]],
                                                       usd_hover(part["total_usd"]), strict=True)),
            line={"color": line_colour, "width": 3 if frontier else 1.5,
                  "dash": "solid" if frontier else "dot"}, opacity=1.0 if frontier else 0.6,
            hovertemplate=f"<b>{name}</b><br>%{{customdata[0]}} requests/month<br>%{{customdata[1]}}"
                          f"<extra></extra>"))
    points = break_even_points(board)
    low, high = curves["requests_per_month"].min(), curves["requests_per_month"].max()
    points = points[(points["requests_per_month"] >= low) & (points["requests_per_month"] <= high)]
    if len(points):
        fig.add_trace(go.Scatter(
            x=points["requests_per_month"], y=points["total_usd"].clip(lower=FLOOR_USD), mode="markers",
            name="break-even", marker={"symbol": "x", "size": 14, "color": SERIES["break_even"]},
            hovertext=[f"{r.a} = {r.b}<br>at {format_count(r.requests_per_month)} requests/month<br>"
                       f"{format_usd(r.total_usd)} each" for r in points.itertuples()],
            hoverinfo="text"))
    fig.add_vline(x=volume, line={"color": SERIES["your_volume"], "dash": "dash"})
    fig.add_annotation(x=math.log10(volume), y=1.0, xref="x", yref="paper", yanchor="bottom", showarrow=False,
                       text=f"your volume: {format_count(volume, compact=True)}",
                       font={"size": 14, "color": SERIES["your_volume"]})
    totals = curves["total_usd"].clip(lower=FLOOR_USD)
    fig.update_yaxes(**usd_log_ticks(totals.min(), totals.max(), fine_decades=2))
    fig.update_xaxes(**count_log_ticks(low, high))
    fig.update_layout(height=560, legend={"orientation": "h", "yanchor": "top", "y": -0.2, "x": 0})
    return fig


def cascade_chart(result: Cascade) -> go.Figure:
    """Accuracy and cost of the cascade over every threshold, with the best operating points marked."""
    curve = result.curve
    requests, unit = usd_per_requests_unit([c / 1000.0 for c in curve["cost_per_1k_usd"]])
    scale = requests / 1000.0
    fig = _figure(f"Cascade: {_label(result.small, 28)} first, {_label(result.big, 28)} when unsure "
                  f"({format_count(result.n_examples)} test texts)", f"$ {unit}", "accuracy")
    fig.add_trace(go.Scatter(
        x=curve["cost_per_1k_usd"] * scale, y=curve["accuracy"], mode="lines+markers", name="threshold sweep",
        line={"color": GREY}, marker={"size": 5, "color": curve["threshold"], "colorscale": SEQUENTIAL,
                                       "showscale": True, "colorbar": {"title": "threshold"}},
        customdata=list(zip([f"{t:.3f}" for t in curve["threshold"]],
                            [format_percent(d, digits=0) for d in curve["deferred_share"]],
                            [format_percent(a, fixed=True) for a in curve["accuracy"]],
                            usd_hover(curve["cost_per_1k_usd"] * scale), strict=True)),
        hovertemplate="threshold %{customdata[0]}<br>deferred %{customdata[1]}<br>accuracy %{customdata[2]}"
                      f"<br>%{{customdata[3]}} {unit}<extra></extra>"))
    best = cascade_operating_points(result)
    accuracies = [*curve["accuracy"], result.small_alone[0], result.big_alone[0]]
    costs = [c * scale for c in (*curve["cost_per_1k_usd"], result.small_alone[1], result.big_alone[1])]
    fig.add_trace(go.Scatter(
        x=best["cost_per_1k_usd"] * scale, y=best["accuracy"], mode="markers+text",
        name="best operating points",
        marker={"size": 14, "color": SERIES["best_points"], "symbol": "star"},
        text=_spaced_labels(best["cost_per_1k_usd"] * scale, best["accuracy"],
                            [f"t={t:.2f}" for t in best["threshold"]],
                            x_span=max(costs) - min(costs), y_span=max(accuracies) - min(accuracies)),
        textposition="bottom right", textfont={"size": 13},
        hovertext=[f"threshold {t:.3f}" for t in best["threshold"]], hoverinfo="text"))
    for (acc, cost), label, series in ((result.small_alone, "small alone", "small_model"),
                                       (result.big_alone, "big alone", "big_model")):
        fig.add_trace(go.Scatter(x=[cost * scale], y=[acc], mode="markers+text", name=label, text=[label],
                                 textposition="top center",
                                 customdata=[[format_usd(cost * scale), format_percent(acc, fixed=True)]],
                                 hovertemplate=f"{label}<br>accuracy %{{customdata[1]}}<br>"
                                               f"%{{customdata[0]}} {unit}<extra></extra>",
                                 marker={"size": 16, "color": SERIES[series], "symbol": "diamond"}))
    fig.update_yaxes(**percent_ticks(min(accuracies), max(accuracies)))
    fig.update_xaxes(**usd_linear_ticks(min(costs), max(costs)))
    return fig


def _spaced_labels(x: Sequence[float], y: Sequence[float], labels: Sequence[str], *, x_span: float,
                   y_span: float, min_gap: float = 0.12) -> list[str]:
    """`labels`, blanked where a point sits closer than `min_gap` of the x axis's span (and twice that of
    the y axis's) to a point already labelled, or repeats a label already shown: clustered points keep one
    label, the rest are named in their hover."""
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    x_span, y_span = x_span or 1.0, y_span or 1.0
    shown: list[int] = []
    out = []
    for i, label in enumerate(labels):
        near = any(abs(xs[i] - xs[j]) / x_span < min_gap and abs(ys[i] - ys[j]) / y_span < min_gap * 2
                   for j in shown)
        if near or label in (labels[j] for j in shown):
            out.append("")
            continue
        shown.append(i)
        out.append(label)
    return out


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
            text=[f"\u2002{t}" for t in labelling], textposition="middle right", cliponaxis=False,
            customdata=list(zip([format_count(v) for v in part["examples_per_class"]],
                                [format_count(v) for v in part["labels"]], labelling,
                                [format_percent(a, fixed=True) for a in part["accuracy"]], strict=True)),
            hovertemplate=f"<b>{series}</b><br>%{{customdata[0]}} per class = %{{customdata[1]}} labels"
                          "<br>labelling %{customdata[2]}<br>accuracy %{customdata[3]}<extra></extra>"))
    fig.update_yaxes(**_accuracy_axis([curve]))
    x_range = _log_range(curve["examples_per_class"].astype(float))
    fig.update_xaxes(**log_ticks(10 ** x_range[0], 10 ** x_range[1], format_count, fine_decades=2),
                     range=x_range)
    return fig


def projection_chart(projection: pd.DataFrame) -> go.Figure:
    """Estimated $/1k on each catalog GPU next to the measured figure (estimates, labelled)."""
    if projection.empty:
        return empty_figure("No transformer run with a parameter count and token count to project")
    requests, unit = usd_per_requests_unit(projection["cost_per_1k_usd"] / 1000.0)
    scale = requests / 1000.0
    fig = _figure(f"ESTIMATE: $ {unit} on other hardware", f"$ {unit} (log)", "", log_x=True)
    for i, (name, part) in enumerate(projection.groupby("candidate", sort=False)):
        fig.add_trace(go.Bar(y=part["gpu"], x=part["cost_per_1k_usd"] * scale, orientation="h",
                             name=_label(name, 40),
                             marker={"color": PALETTE[i % len(PALETTE)], "opacity": 0.75},
                             hovertext=[f"{format_usd(cost * scale)} {unit}<br>{basis}" for cost, basis
                                        in zip(part["cost_per_1k_usd"], part["basis"], strict=True)],
                             hoverinfo="text"))
    costs = projection["cost_per_1k_usd"][projection["cost_per_1k_usd"] > 0] * scale
    if len(costs):
        fig.update_xaxes(**usd_log_ticks(costs.min(), costs.max()))
    bars = projection["gpu"].nunique() * max(1, projection["candidate"].nunique())
    fig.update_layout(barmode="group", height=max(420, 28 * bars))
    return fig


# ------------------------------------------------------------------------------------------ reply leaderboard


def _reply_quality(board: ReplyLeaderboard, values: pd.Series | Sequence[float]) -> list[float]:
    """Quality values as drawn: ROUGE-L in points (0-100), intent match as a share (percent ticks)."""
    scale = 100.0 if board.settings.quality == "rouge_l" else 1.0
    return [float(v) * scale for v in values]


def _reply_hover(board: ReplyLeaderboard, frame: pd.DataFrame, requests: int, unit: str) -> list[str]:
    return [f"<b>{r.candidate}</b><br>{board.quality_name} "
            f"{reply_quality_text(r._asdict(), board.settings.quality)}<br>"
            f"{format_usd(r.cost_per_1k_usd / 1000.0 * requests)} {unit}<br>{r.hardware}"
            for r in frame.itertuples()]


def reply_frontier_chart(board: ReplyLeaderboard) -> go.Figure:
    """$ per reply (log, in the board's unit) against the chosen quality with 95% CI bars for the measured
    candidates (frontier in colour, dominated in grey); hosted APIs, priced but not judged, as open markers
    on the floor of the plot, each saying 'quality not measured'."""
    measured = board.measured
    priced = board.priced
    apis = priced[(priced["kind"] == "api") & ~np.isfinite(priced["quality"].astype(float))]
    if measured.empty and apis.empty:
        return empty_figure("No reply candidate has a cost yet: see the flags above the chart")
    requests, unit = board.unit
    rouge = board.settings.quality == "rouge_l"
    fig = _figure(f"Cost per reply against {board.quality_name}", f"$ {unit} (log)",
                  f"{board.quality_name} (points)" if rouge else board.quality_name, log_x=True)
    scale = requests / 1000.0
    all_x = [float(v) * scale for v in board.priced["cost_per_1k_usd"]]
    x_range = _log_range(all_x)
    lows = _reply_quality(board, measured["quality_ci_low"].fillna(measured["quality"]))
    highs = _reply_quality(board, measured["quality_ci_high"].fillna(measured["quality"]))
    if lows:
        span = max(max(highs) - min(lows), 5.0 if rouge else 0.05)
        floor, top = max(0.0, min(lows) - 0.12 * span), max(highs) + 0.15 * span
    else:
        floor, top = 0.0, (100.0 if rouge else 1.0)
    frontier_rows = measured[measured["on_frontier"]].sort_values("cost_per_1k_usd")
    parts = ((measured[~measured["on_frontier"]], "dominated", SERIES["dominated"], 12),
             (frontier_rows, "frontier", SERIES["frontier"], 14))
    for part, name, colour, size in parts:
        if part.empty:
            continue
        y = _reply_quality(board, part["quality"])
        high = _reply_quality(board, part["quality_ci_high"].fillna(part["quality"]))
        low = _reply_quality(board, part["quality_ci_low"].fillna(part["quality"]))
        err_hi = [h - v for h, v in zip(high, y, strict=True)]
        err_lo = [v - lo for lo, v in zip(low, y, strict=True)]
        frontier = name == "frontier"
        fig.add_trace(go.Scatter(
            x=[float(v) * scale for v in part["cost_per_1k_usd"]], y=y,
            mode="lines+markers+text" if frontier else "markers+text", name=name,
            line={"color": colour, "shape": "hv", "width": 2} if frontier else None,
            marker={"color": colour, "size": size},
            error_y={"type": "data", "symmetric": False, "array": err_hi, "arrayminus": err_lo,
                     "thickness": 1.5, "width": 4, "color": colour},
            text=[_label(c) for c in part["candidate"]],
            textposition=_frontier_positions(len(part)) if frontier else ["bottom right"] * len(part),
            textfont={"size": 14 if frontier else 13}, cliponaxis=False,
            hovertext=_reply_hover(board, part, requests, unit), hoverinfo="text"))
    if len(apis):
        fig.add_trace(go.Scatter(
            x=[float(v) * scale for v in apis["cost_per_1k_usd"]], y=[floor] * len(apis), mode="markers",
            name="hosted API: priced, quality not measured",
            marker={"symbol": "diamond-open", "size": 13, "color": SERIES["big_model"]},
            hovertext=[f"<b>{r.candidate}</b><br>{board.quality_name} not measured<br>"
                       f"{format_usd(r.cost_per_1k_usd / 1000.0 * requests)} {unit}"
                       for r in apis.itertuples()], hoverinfo="text", cliponaxis=False))
    if rouge:
        fig.update_yaxes(range=[floor - 2, top])
    else:
        fig.update_yaxes(**percent_ticks(max(0.0, floor - 0.02), min(1.0, top)))
    fig.update_xaxes(**usd_log_ticks(10 ** x_range[0], 10 ** x_range[1]), range=x_range)
    return fig


def _apis_to_draw(board: ReplyLeaderboard) -> pd.DataFrame:
    """The APIs a total-cost chart draws: the cheapest, the cheapest one the best measured candidate costs
    less than (its break-even is the one to read), and the dearest; the rest are in the table."""
    apis = board.priced[board.priced["kind"] == "api"].sort_values("cost_per_1k_usd")
    if apis.empty:
        return apis
    keys = [apis.iloc[0]["key"], apis.iloc[-1]["key"]]
    measured = board.measured
    if len(measured):
        best = measured.sort_values(["quality", "cost_per_1k_usd"], ascending=[False, True]).iloc[0]
        cheaper = apis[apis["cost_per_1k_usd"] > best["cost_per_1k_usd"]]
        if len(cheaper):
            keys.insert(1, cheaper.iloc[0]["key"])
    return apis[apis["key"].isin(keys)]


def reply_total_cost_chart(board: ReplyLeaderboard) -> go.Figure:
    """Total cost over the horizon against monthly reply volume (log-log) for the measured candidates and
    three APIs (`_apis_to_draw`), break-even volumes against those APIs marked."""
    volume = board.settings.replies_per_month
    months = board.settings.months
    grid = np.logspace(max(0.0, math.log10(volume) - VOLUME_DECADES), math.log10(volume) + VOLUME_DECADES, 61)
    apis = _apis_to_draw(board)
    shown = pd.concat([board.measured, apis])
    if shown.empty:
        return empty_figure("No reply candidate has a cost yet: see the flags above the chart")
    fig = _figure(f"{months}-month total cost against reply volume", "replies per month (log)",
                  f"{months}-month total with training (log)", log_x=True, log_y=True)
    totals = []
    for i, r in enumerate(shown.to_dict("records")):
        training = r["training_usd"] if math.isfinite(r["training_usd"]) else 0.0
        total = training + months * r["cost_per_1k_usd"] * grid / 1000.0
        totals.append(total)
        api = r["kind"] == "api"
        fig.add_trace(go.Scatter(
            x=grid, y=np.clip(total, FLOOR_USD, None), mode="lines", name=_label(r["candidate"], 40),
            line={"color": GREY if api else PALETTE[i % len(PALETTE)], "width": 1.5 if api else 3,
                  "dash": "dot" if api else "solid"},
            customdata=list(zip([format_count(v) for v in grid], usd_hover(total), strict=True)),
            hovertemplate=f"<b>{r['candidate']}</b><br>%{{customdata[0]}} replies/month<br>"
                          f"%{{customdata[1]}}<extra></extra>"))
    points = reply_break_even(board)
    points = points[points["api"].isin(apis["candidate"]) & (points["replies_per_month"] >= grid[0])
                    & (points["replies_per_month"] <= grid[-1])]
    if len(points):
        running = months * points["self_per_1k_usd"] * points["replies_per_month"] / 1000.0
        at = points["training_usd"] + running
        fig.add_trace(go.Scatter(
            x=points["replies_per_month"], y=at.clip(lower=FLOOR_USD), mode="markers", name="break-even",
            marker={"symbol": "x", "size": 14, "color": SERIES["break_even"]},
            hovertext=list(points["sentence"]), hoverinfo="text"))
    fig.add_vline(x=volume, line={"color": SERIES["your_volume"], "dash": "dash"})
    fig.add_annotation(x=math.log10(volume), y=1.0, xref="x", yref="paper", yanchor="bottom", showarrow=False,
                       text=f"your volume: {format_count(volume, compact=True)}",
                       font={"size": 14, "color": SERIES["your_volume"]})
    every = np.clip(np.concatenate(totals), FLOOR_USD, None)
    fig.update_yaxes(**usd_log_ticks(float(every.min()), float(every.max()), fine_decades=2))
    fig.update_xaxes(**count_log_ticks(float(grid[0]), float(grid[-1])))
    fig.update_layout(height=560, legend={"orientation": "h", "yanchor": "top", "y": -0.2, "x": 0})
    return fig
