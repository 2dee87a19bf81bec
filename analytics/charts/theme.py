"""One look for every chart (Market, Metrics, Compare, Fine-tune runs, Playground, the memo).

Readable on a projector: large fonts, a white background, few strong colours, one colour per recurring
series, and dollar ticks and hovers written by the app's one money formatter (analytics.money).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import plotly.graph_objects as go

from analytics.money import format_count, format_ms, format_percent, format_usd

BLUE, ORANGE, GREEN, RED, GREY = "#1f5fbf", "#e8730c", "#2a9d55", "#c8332b", "#8a94a6"
"""The five strong colours every chart draws with."""
PALETTE = (BLUE, ORANGE, GREEN, RED, "#7b4fbf", "#0f8f8f", "#b5651d", "#d6336c")
"""Colours for many series of one kind (candidates, methods), in order."""
SEQUENTIAL = "Blues"
"""Colour scale of heatmaps and shares (0 white, 1 dark blue)."""

TEXT, GRID, AXIS_LINE = "#1b1f24", "#e6e9ef", "#c9ced8"
"""Text, gridline and axis-line colours."""
FONT_FAMILY = "Inter, Segoe UI, Helvetica, Arial, sans-serif"
"""The app's font first, then common fallbacks."""
FONT_SIZE = 18
"""Body text of a full-width chart, in px."""
COMPACT_FONT_SIZE = 16
"""Body text of charts drawn two per row (Metrics), in px."""
TITLE_SIZE = FONT_SIZE + 4
"""Chart titles, in px."""

SERIES = {
    # Market
    "tam": GREY, "sam": BLUE, "som_top_down": ORANGE, "som_bottom_up": GREEN,
    "low_input": ORANGE, "high_input": BLUE, "competitors": BLUE, "us": ORANGE,
    # Metrics
    "mau": BLUE, "wau": ORANGE, "dau": GREEN, "stickiness": BLUE,
    "mrr": GREY, "new": GREEN, "expansion": BLUE, "contraction": ORANGE, "churned": RED,
    "nrr_12m": GREEN, "nrr_1m": BLUE, "logo_churn": RED, "revenue_churn": ORANGE,
    # Compare
    "frontier": BLUE, "dominated": GREY, "break_even": RED, "your_volume": GREEN,
    "best_points": ORANGE, "small_model": BLUE, "big_model": RED,
    # Runs and Playground
    "loss": BLUE, "accuracy": GREEN, "macro_f1": ORANGE, "top_label": BLUE, "other_label": GREY,
}
"""The colour of each series that appears on more than one chart or page, by name."""

FUNNEL_COLOURS = (BLUE, ORANGE, GREEN, RED)
"""Funnel steps, top to bottom."""

_AXIS = {"gridcolor": GRID, "zerolinecolor": AXIS_LINE, "linecolor": AXIS_LINE, "automargin": True,
         "title": {"standoff": 12}}

TEMPLATE = go.layout.Template(
    layout=go.Layout(
        font={"size": FONT_SIZE, "family": FONT_FAMILY, "color": TEXT},
        title={"font": {"size": TITLE_SIZE}, "x": 0.0, "xanchor": "left", "y": 0.98, "yanchor": "top"},
        colorway=[BLUE, ORANGE, GREEN, RED, GREY],
        paper_bgcolor="white",
        plot_bgcolor="white",
        xaxis=_AXIS,
        yaxis=_AXIS,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0.0},
        margin={"l": 20, "r": 20, "t": 100, "b": 20},
        hoverlabel={"font": {"size": FONT_SIZE - 2}},
    )
)
"""Layout defaults of every figure: `fig.update_layout(template=TEMPLATE, ...)`."""


def usd_hover(values: Iterable[float | None]) -> list[str]:
    """Dollar texts for `customdata` / `text` (Plotly's own number formats cannot follow our money rules)."""
    return [format_usd(v) for v in values]


def usd_log_ticks(low: float, high: float, fine_decades: int = 3) -> dict[str, object]:
    """Ticks of a logarithmic dollar axis from `low` to `high` (both > 0): 1-2-5 steps while the axis spans
    at most `fine_decades` decades (a tall y axis has room for 4, a cost x axis for 3), powers of ten when
    wider, every other power of ten beyond six decades. Labels $0.01, $20, $10k.

    Returns keyword arguments for `fig.update_xaxes` / `update_yaxes` (tickvals, ticktext, minor).
    """
    return log_ticks(low, high, format_usd, fine_decades)


def log_ticks(low: float, high: float, label: Callable[[float], str],
              fine_decades: int = 3) -> dict[str, object]:
    """Ticks of any logarithmic axis (dollars, requests, milliseconds), as `usd_log_ticks`, each labelled by
    `label` (an analytics.money formatter): Plotly's own log ticks read '100µ' and '2k' (SI prefixes), ours
    read $0.0001, 2,000 requests, 12 ms.

    Returns keyword arguments for `fig.update_xaxes` / `update_yaxes` (tickvals, ticktext, minor).
    """
    first = math.floor(math.log10(max(low, 1e-12)))
    last = math.ceil(math.log10(max(high, 1e-12)))
    span = last - first
    mantissas = (1, 2, 5) if span <= fine_decades else (1,)
    step = 1 if span <= 6 else 2
    values = [m * 10.0**e for e in range(first, last + 1, step) for m in mantissas]
    return {"tickvals": values, "ticktext": [label(v) for v in values], "minor": {"showgrid": False}}


def count_log_ticks(low: float, high: float, fine_decades: int = 2) -> dict[str, object]:
    """A logarithmic axis of counts (requests per month) labelled 1, 100, 10k, 1M
    (analytics.money.format_count, compact)."""
    return log_ticks(low, high, lambda v: format_count(v, compact=True), fine_decades)


def ms_log_ticks(low: float, high: float, fine_decades: int = 2) -> dict[str, object]:
    """A logarithmic latency axis in milliseconds labelled 5 ms, 20 ms, 1 s (analytics.money.format_ms)."""
    return log_ticks(low, high, format_ms, fine_decades)


def percent_ticks(low: float, high: float, count: int = 5) -> dict[str, object]:
    """About `count` round ticks of a linear axis of shares (0.85 = 85%) covering `low`..`high`, each label
    distinct: the step is 1, 2, 2.5 or 5 x 10^k and the labels carry as many decimals as the step needs
    (79%, 80%, 81% or 80.5%, 81.0%), never the '80%, 80%, 81%' Plotly's '.0%' writes on a narrow range.

    Returns keyword arguments for `fig.update_xaxes` / `update_yaxes` (tickvals, ticktext, range).
    """
    low, high = min(low, high), max(low, high)
    if not (math.isfinite(low) and math.isfinite(high)):
        return {"tickformat": ".0%"}
    if high - low < 1e-4:
        low, high = low - 0.005, high + 0.005
    raw = (high - low) / max(count, 1)
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start, stop = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    values = [round(i * step, 12) for i in range(start, stop + 1)]
    decimals = max(0, -math.floor(math.log10(step * 100) + 1e-9))
    if any(round(v * 100, decimals) != round(v * 100, decimals + 1) for v in values):
        decimals += 1  # a 2.5 step: 82.5%
    texts = [format_percent(v, digits=decimals, fixed=True) for v in values]
    return {"tickvals": values, "ticktext": texts, "range": [values[0], values[-1]]}


def usd_linear_ticks(low: float, high: float, count: int = 5) -> dict[str, object]:
    """About `count` round ticks (1, 2, 2.5 or 5 x 10^k apart) of a linear dollar axis covering `low`..`high`,
    zero included when the range crosses it; negative amounts read -$2k.

    Returns keyword arguments for `fig.update_xaxes` / `update_yaxes` (tickvals, ticktext; only a '$' prefix
    when there is no range).
    """
    low, high = min(low, high), max(low, high)
    if not (math.isfinite(low) and math.isfinite(high)) or high == low:
        return {"tickprefix": "$"}  # one value or none: Plotly's own ticks
    raw = (high - low) / max(count, 1)
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start, stop = math.floor(low / step), math.ceil(high / step)
    values = [round(i * step, 12) for i in range(start, stop + 1)]
    return {"tickvals": values, "ticktext": usd_hover(values)}
