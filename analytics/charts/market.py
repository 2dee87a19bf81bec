"""Plotly figures for the Market page (DataFrame -> go.Figure), readable on a projector."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go

from analytics.compute.market import MarketView, format_usd

BLUE, ORANGE, GREEN, GREY, RED = "#1f5fbf", "#e8730c", "#2a9d55", "#8a94a6", "#c8332b"
FONT_SIZE = 18

TEMPLATE = go.layout.Template(
    layout=go.Layout(
        font={"size": FONT_SIZE, "family": "Inter, Segoe UI, Helvetica, Arial, sans-serif", "color": "#1b1f24"},
        title={"font": {"size": FONT_SIZE + 4}, "x": 0.0, "xanchor": "left", "y": 0.98, "yanchor": "top"},
        colorway=[BLUE, ORANGE, GREEN, RED, GREY],
        paper_bgcolor="white",
        plot_bgcolor="white",
        xaxis={"gridcolor": "#e6e9ef", "zerolinecolor": "#c9ced8", "linecolor": "#c9ced8", "automargin": True,
               "title": {"standoff": 12}},
        yaxis={"gridcolor": "#e6e9ef", "zerolinecolor": "#c9ced8", "linecolor": "#c9ced8", "automargin": True,
               "title": {"standoff": 12}},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0.0},
        margin={"l": 20, "r": 20, "t": 100, "b": 20},
        hoverlabel={"font": {"size": FONT_SIZE - 2}},
    )
)
"""Large fonts, white background, few strong colours."""


def _usd_ticks(low: float, high: float) -> tuple[list[float], list[str]]:
    """Tick values 1-2-5 x 10^k between low and high (log axes), labelled $4.49B style."""
    values = []
    for exponent in range(int(math.floor(math.log10(max(low, 1.0)))), int(math.ceil(math.log10(max(high, 1.0)))) + 1):
        values += [m * 10.0**exponent for m in (1, 2, 5) if low <= m * 10.0**exponent <= high]
    return values, [re.sub(r"\.0+(?=[KMBT]$)", "", format_usd(v)) for v in values]  # $20B, not $20.00B


def _format_value(name: str, value: float) -> str:
    if name == "reachable_accounts":
        return f"{value:,.0f}"
    if name in ("acv_multiplier", "adoption_multiplier", "growth_multiplier"):
        return f"×{value:.2f}"
    return f"{value:.1%}"


def tornado(sens: pd.DataFrame, title: str = "What moves SOM most") -> go.Figure:
    """Horizontal bars from SOM at the base case to SOM at each assumption's low and high value.

    `sens` is `analytics.compute.market.sensitivity(...)`: the largest swing is drawn on top.
    """
    fig = go.Figure()
    if sens.empty:
        return fig.update_layout(template=TEMPLATE, title=title)
    base = float(sens["som_base_usd"].iloc[0])
    # Two-line axis labels: the assumption, then the input range tried (e.g. "4.0% – 6.0%").
    labels = [
        f"<b>{r.label}</b><br><span style='font-size:{FONT_SIZE - 4}px'>"
        f"{_format_value(r.assumption, r.low_value)} – {_format_value(r.assumption, r.high_value)}</span>"
        for r in sens.itertuples()
    ]
    for column, name, color in (("som_low_usd", "Low input", ORANGE), ("som_high_usd", "High input", BLUE)):
        fig.add_bar(
            y=labels, x=sens[column] - base, base=base, orientation="h", name=name, marker_color=color,
            # Inside the bar when it fits (white), else just outside it.
            text=[format_usd(v) for v in sens[column]], textposition="auto", cliponaxis=False,
            insidetextanchor="middle", insidetextfont={"color": "white"}, outsidetextfont={"color": "#1b1f24"},
            hovertemplate="SOM %{text}<extra>" + name + "</extra>",
        )
    low, high = float(sens[["som_low_usd", "som_high_usd"]].min().min()), float(sens[["som_low_usd", "som_high_usd"]].max().max())
    pad = (high - low) * 0.2 or base * 0.1 or 1.0  # room for value labels of short bars
    ticks = [low, base, high]
    fig.add_vline(x=base, line_color=GREY, line_dash="dot")
    fig.update_layout(
        template=TEMPLATE, title=f"{title} (base {format_usd(base)})", barmode="overlay", bargap=0.35,
        height=120 + 70 * len(sens), showlegend=True,
        xaxis={"range": [low - pad, high + pad], "autorange": False, "tickvals": ticks, "ticktext": [format_usd(t) for t in ticks]},
        yaxis={"autorange": "reversed", "automargin": True},
    )
    return fig


def projection(proj: pd.DataFrame, title: str = "Market over the next years") -> go.Figure:
    """TAM, SAM and SOM (top-down and bottom-up) per year, on a log axis so SOM stays visible next to TAM."""
    fig = go.Figure()
    series = (("tam_usd", "TAM", GREY, "solid"), ("sam_usd", "SAM", BLUE, "solid"),
              ("som_usd", "SOM top-down", ORANGE, "solid"), ("som_bottom_up_usd", "SOM bottom-up", GREEN, "dash"))
    for column, name, color, dash in series:
        fig.add_scatter(
            x=proj["year"], y=proj[column], name=name, mode="lines+markers",
            line={"color": color, "width": 4, "dash": dash}, marker={"size": 10},
            customdata=[format_usd(v) for v in proj[column]], hovertemplate="Year %{x}: %{customdata}<extra>" + name + "</extra>",
        )
    values = proj[[c for c, *_ in series]].to_numpy().ravel()
    positive = values[values > 0]
    layout: dict = {"template": TEMPLATE, "title": title, "height": 480,
                    "xaxis": {"title": "Year from today", "dtick": 1}}
    if positive.size:
        tickvals, ticktext = _usd_ticks(float(positive.min()) / 1.5, float(positive.max()) * 1.5)
        layout["yaxis"] = {"type": "log", "tickvals": tickvals, "ticktext": ticktext, "title": "USD a year (log scale)"}
    return fig.update_layout(**layout)


def positioning(comp: pd.DataFrame, title: str = "Price vs capability (bubble = funding)") -> go.Figure:
    """Price per seat (x) against capability score (y); bubble area ~ funding; our product in orange."""
    fig = go.Figure()
    funding = comp["funding_usd_m"].fillna(0.0).astype(float)
    sizes = funding if float(funding.max() or 0.0) > 0 else pd.Series(1.0, index=comp.index)
    sizeref = 2.0 * float(sizes.max()) / (70.0**2)
    for is_us, name, color in ((False, "Competitors", BLUE), (True, "Us", ORANGE)):
        part = comp[comp["is_us"] == is_us]
        if part.empty:
            continue
        hover = [
            f"{r.name}<br>${r.price_per_seat_usd:,.0f}/seat · capability {r.capability_score:.2f}"
            + (f"<br>funding ${r.funding_usd_m:,.0f}M" if pd.notna(r.funding_usd_m) else "")
            for r in part.itertuples()
        ]
        fig.add_scatter(
            x=part["price_per_seat_usd"], y=part["capability_score"], mode="markers+text", name=name,
            text=part["name"], textposition="top center", textfont={"size": FONT_SIZE - 2},
            marker={"size": sizes[part.index].clip(lower=float(sizes.max()) * 0.02), "sizemode": "area",
                    "sizeref": sizeref, "sizemin": 8, "color": color, "opacity": 0.75,
                    "line": {"width": 3 if is_us else 1, "color": "#1b1f24" if is_us else "white"}},
            hovertext=hover, hoverinfo="text",
        )
    caps = comp["capability_score"].astype(float)
    span = float(caps.max() - caps.min()) or 1.0
    return fig.update_layout(
        template=TEMPLATE, title=title, height=560,
        xaxis={"title": "Price per seat per month (USD)", "tickprefix": "$"},
        # Headroom above the top bubble for its label.
        yaxis={"title": "Capability score", "range": [float(caps.min()) - 0.12 * span, float(caps.max()) + 0.22 * span]},
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
    year = view.sensitivity_year
    return MarketFigures(
        tornado_top_down=tornado(view.sensitivity_top_down, f"Top-down SOM, year {year}"),
        tornado_bottom_up=tornado(view.sensitivity_bottom_up, f"Bottom-up SOM, year {year}"),
        projection=projection(view.projection),
    )
