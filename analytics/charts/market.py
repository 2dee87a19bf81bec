"""Plotly figures for the Market page (DataFrame -> go.Figure), readable on a projector."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go

from analytics.charts.theme import (
    FONT_SIZE,
    GREY,
    SERIES,
    TEMPLATE,
    TEXT,
    usd_hover,
    usd_linear_ticks,
    usd_log_ticks,
)
from analytics.compute.market.view import MarketView
from analytics.money import format_count, format_percent, format_usd


def _format_value(name: str, value: float) -> str:
    if name == "reachable_accounts":
        return format_count(value)
    if name in ("acv_multiplier", "adoption_multiplier", "growth_multiplier"):
        return f"×{value:.2f}"
    return format_percent(value)


def tornado(sens: pd.DataFrame, title: str = "What moves SOM most") -> go.Figure:
    """Horizontal bars from SOM at the base case to SOM at each assumption's low and high value.

    `sens` is `analytics.compute.market.sensitivity.sensitivity(...)`: the largest swing is drawn on top.
    Each label says the range tried and where it comes from (data, typed, assumed); the hover gives the
    source in full.
    """
    fig = go.Figure()
    if sens.empty:
        return fig.update_layout(template=TEMPLATE, title=title)
    base = float(sens["som_base_usd"].iloc[0])
    kinds = sens["range_kind"] if "range_kind" in sens else pd.Series("assumed", index=sens.index)
    sources = sens["range_source"] if "range_source" in sens else pd.Series("", index=sens.index)
    # Two-line axis labels: the assumption, then the input range tried and its kind ("4.0% – 6.0% · data").
    labels = [
        f"<b>{r.label}</b><br><span style='font-size:{FONT_SIZE - 4}px'>"
        f"{_format_value(r.assumption, r.low_value)} – {_format_value(r.assumption, r.high_value)}"
        f" · {kind}</span>"
        for r, kind in zip(sens.itertuples(), kinds, strict=True)
    ]
    for column, value_column, name, series in (("som_low_usd", "low_value", "Low input", "low_input"),
                                               ("som_high_usd", "high_value", "High input", "high_input")):
        hover = [f"{r.label} {_format_value(r.assumption, getattr(r, value_column))}: SOM "
                 f"{format_usd(getattr(r, column))}<br>range: {_wrap(source)}"
                 for r, source in zip(sens.itertuples(), sources, strict=True)]
        fig.add_bar(
            y=labels, x=sens[column] - base, base=base, orientation="h", name=name,
            marker_color=SERIES[series],
            # Inside the bar when it fits (white), else just outside it.
            text=usd_hover(sens[column]), textposition="auto", cliponaxis=False,
            insidetextanchor="middle", insidetextfont={"color": "white"}, outsidetextfont={"color": TEXT},
            hovertext=hover, hovertemplate="%{hovertext}<extra>" + name + "</extra>",
        )
    swings = sens[["som_low_usd", "som_high_usd"]]
    low, high = float(swings.min().min()), float(swings.max().max())
    pad = (high - low) * 0.25 or base * 0.1 or 1.0  # room for value labels of short bars
    ticks = [low, base, high]
    fig.add_vline(x=base, line_color=GREY, line_dash="dot")
    fig.update_layout(
        template=TEMPLATE, title=f"{title} (base {format_usd(base)})", barmode="overlay", bargap=0.35,
        height=120 + 70 * len(sens), showlegend=True,
        xaxis={"range": [low - pad, high + pad], "autorange": False, "tickvals": ticks,
               "ticktext": usd_hover(ticks)},
        yaxis={"autorange": "reversed", "automargin": True},
    )
    return fig


def _wrap(text: str, width: int = 48) -> str:
    """`text` broken into hover lines of about `width` characters."""
    lines, line = [], ""
    for word in str(text).split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "<br>".join([*lines, line]) if line else "<br>".join(lines)


def projection(proj: pd.DataFrame, title: str = "Market over the next years") -> go.Figure:
    """TAM, SAM and SOM (top-down and bottom-up) per year, on a log axis so SOM stays visible next to TAM."""
    fig = go.Figure()
    series = (("tam_usd", "TAM", "tam", "solid"), ("sam_usd", "SAM", "sam", "solid"),
              ("som_usd", "SOM top-down", "som_top_down", "solid"),
              ("som_bottom_up_usd", "SOM bottom-up", "som_bottom_up", "dash"))
    for column, name, colour, dash in series:
        fig.add_scatter(
            x=proj["year"], y=proj[column], name=name, mode="lines+markers",
            line={"color": SERIES[colour], "width": 4, "dash": dash}, marker={"size": 10},
            customdata=usd_hover(proj[column]),
            hovertemplate="Year %{x}: %{customdata}<extra>" + name + "</extra>",
        )
    values = proj[[c for c, *_ in series]].to_numpy().ravel()
    positive = values[values > 0]
    layout: dict = {"template": TEMPLATE, "title": title, "height": 480,
                    "xaxis": {"title": "Year from today", "dtick": 1}}
    if positive.size:
        ticks = usd_log_ticks(float(positive.min()) / 1.5, float(positive.max()) * 1.5, fine_decades=4)
        layout["yaxis"] = {"type": "log", "title": "USD a year (log scale)", **ticks}
    return fig.update_layout(**layout)


PLOT_AREA_PX = (680.0, 380.0)
"""Plot area (width, height in px) the competitor labels are placed for: the chart at full width in a
1280 px wide window with the sidebar open (the narrowest the page is shown on a projector); wider windows
only add room."""
LABEL_POSITIONS = ("top center", "bottom center", "middle right", "middle left", "top right", "top left",
                   "bottom right", "bottom left")
"""Where a competitor's label may go around its bubble, in order of preference."""
LABEL_MARGIN_PX = 4.0
"""Free space kept around every label (against other labels and bubbles)."""
_CHAR_WIDTH = 0.58
"""Average glyph width of the chart font, in font sizes (labels are measured without a browser)."""


def _label_box(x: float, y: float, radius: float, text: str, font_px: float,
               position: str) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) in px (y down) of `text` placed at `position` around a bubble."""
    width, height = _CHAR_WIDTH * font_px * len(text), 1.25 * font_px
    vertical, horizontal = position.split()
    gap = radius + 3
    if vertical == "top":
        bottom = y - (gap if horizontal == "center" else 0.7 * gap)
        top = bottom - height
    elif vertical == "bottom":
        top = y + (gap if horizontal == "center" else 0.7 * gap)
        bottom = top + height
    else:
        top, bottom = y - height / 2, y + height / 2
    if horizontal == "center":
        left = x - width / 2
    elif horizontal == "right":
        left = x + (gap if vertical == "middle" else 0.7 * gap)
    else:
        left = x - (gap if vertical == "middle" else 0.7 * gap) - width
    return left, top, left + width, bottom


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Area shared by two (left, top, right, bottom) boxes."""
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def label_positions(x_px: list[float], y_px: list[float], radii_px: list[float], texts: list[str],
                    font_px: float, area_px: tuple[float, float] = PLOT_AREA_PX,
                    first: int | None = None) -> list[str | None]:
    """A text position for each bubble's label such that no label covers another label, another bubble or
    leaves the plot area; None where no position fits (that label is left to the hover).

    Bubbles are given in px (y down). Labels are placed greedily: `first` (our product) first, then from
    the largest bubble down; each takes the first position of LABEL_POSITIONS that is free.
    """
    count = len(texts)
    bubbles = [(x - r, y - r, x + r, y + r) for x, y, r in zip(x_px, y_px, radii_px, strict=True)]
    order = sorted(range(count), key=lambda i: (i != first, -radii_px[i], i))
    placed: list[tuple[float, float, float, float]] = []
    positions: list[str | None] = [None] * count
    width, height = area_px
    for i in order:
        for position in LABEL_POSITIONS:
            box = _label_box(x_px[i], y_px[i], radii_px[i], texts[i], font_px, position)
            inside = box[0] >= 0 and box[1] >= 0 and box[2] <= width and box[3] <= height
            # A margin around each label: the glyph widths are estimates, and touching labels read as one.
            padded = (box[0] - LABEL_MARGIN_PX, box[1] - LABEL_MARGIN_PX, box[2] + LABEL_MARGIN_PX,
                      box[3] + LABEL_MARGIN_PX)
            free = all(_overlap(padded, other) == 0 for other in placed) and all(
                _overlap(padded, bubbles[j]) == 0 for j in range(count) if j != i)
            if inside and free:
                positions[i] = position
                placed.append(box)
                break
    return positions


def positioning(comp: pd.DataFrame, title: str = "Price vs capability (bubble = funding)") -> go.Figure:
    """Price per seat (x) against capability score (y); bubble area ~ funding; our product in orange.

    Labels go where they cover no other label or bubble (label_positions, for the plot area of a 1280 px
    window); a label that fits nowhere is left out and its product named in the hover only.
    """
    fig = go.Figure()
    funding = comp["funding_usd_m"].fillna(0.0).astype(float)
    sizes = funding if float(funding.max() or 0.0) > 0 else pd.Series(1.0, index=comp.index)
    max_diameter = 70.0
    sizeref = 2.0 * float(sizes.max()) / (max_diameter**2)
    marker_sizes = sizes.clip(lower=float(sizes.max()) * 0.02)
    font_px = FONT_SIZE - 2
    caps = comp["capability_score"].astype(float)
    span = float(caps.max() - caps.min()) or 1.0
    y_range = [float(caps.min()) - 0.12 * span, float(caps.max()) + 0.22 * span]
    prices = comp["price_per_seat_usd"].astype(float)
    x_span = float(prices.max() - prices.min()) or 1.0
    x_range = [float(prices.min()) - 0.1 * x_span, float(prices.max()) + 0.1 * x_span]
    # Bubbles in px of the assumed plot area (Plotly: area mode diameter = sqrt(size / sizeref), min 8).
    width, height = PLOT_AREA_PX
    x_px = ((prices - x_range[0]) / (x_range[1] - x_range[0]) * width).tolist()
    y_px = ((y_range[1] - caps) / (y_range[1] - y_range[0]) * height).tolist()
    radii = [max((float(s) / sizeref) ** 0.5, 8.0) / 2 for s in marker_sizes]
    us = [i for i, flag in enumerate(comp["is_us"].tolist()) if flag]
    spots = pd.Series(label_positions(x_px, y_px, radii, comp["name"].astype(str).tolist(), font_px,
                                      first=us[0] if us else None), index=comp.index)
    for is_us, name, colour in ((False, "Competitors", SERIES["competitors"]), (True, "Us", SERIES["us"])):
        part = comp[comp["is_us"] == is_us]
        if part.empty:
            continue
        hover = [
            f"{r.name}<br>{format_usd(r.price_per_seat_usd)}/seat · capability {r.capability_score:.2f}"
            + (f"<br>funding {format_usd(r.funding_usd_m * 1e6)}" if pd.notna(r.funding_usd_m) else "")
            for r in part.itertuples()
        ]
        shown = spots[part.index]
        fig.add_scatter(
            x=part["price_per_seat_usd"], y=part["capability_score"], mode="markers+text", name=name,
            text=[label if spot else "" for label, spot in zip(part["name"], shown, strict=True)],
            textposition=[spot or "top center" for spot in shown], textfont={"size": font_px},
            marker={"size": marker_sizes[part.index], "sizemode": "area",
                    "sizeref": sizeref, "sizemin": 8, "color": colour, "opacity": 0.75,
                    "line": {"width": 3 if is_us else 1, "color": TEXT if is_us else "white"}},
            hovertext=hover, hoverinfo="text", cliponaxis=False,
        )
    return fig.update_layout(
        template=TEMPLATE, title=title, height=560,
        xaxis={"title": "Price per seat per month (USD)", "range": x_range,
               **usd_linear_ticks(float(prices.min()), float(prices.max()))},
        yaxis={"title": "Capability score", "range": y_range},
    )


@dataclass(frozen=True)
class MarketFigures:
    """The Market page's sizing figures for one MarketView."""

    tornado_top_down: go.Figure
    """What moves top-down SOM most, in the sensitivity year."""
    tornado_bottom_up: go.Figure
    """What moves bottom-up SOM most, in the sensitivity year."""
    projection: go.Figure
    """TAM, SAM and both SOMs per year (log axis)."""


def market_figures(view: MarketView) -> MarketFigures:
    """The page's sizing figures: both tornados and the projection."""
    year = view.year
    return MarketFigures(
        tornado_top_down=tornado(view.sensitivity_top_down, f"Top-down SOM, year {year}"),
        tornado_bottom_up=tornado(view.sensitivity_bottom_up, f"Bottom-up SOM, year {year}"),
        projection=projection(view.projection),
    )
