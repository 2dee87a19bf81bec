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
from analytics.money import format_usd


def _format_value(name: str, value: float) -> str:
    if name == "reachable_accounts":
        return f"{value:,.0f}"
    if name in ("acv_multiplier", "adoption_multiplier", "growth_multiplier"):
        return f"×{value:.2f}"
    return f"{value:.1%}"


def tornado(sens: pd.DataFrame, title: str = "What moves SOM most") -> go.Figure:
    """Horizontal bars from SOM at the base case to SOM at each assumption's low and high value.

    `sens` is `analytics.compute.market.sensitivity.sensitivity(...)`: the largest swing is drawn on top.
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
    for column, name, series in (("som_low_usd", "Low input", "low_input"),
                                 ("som_high_usd", "High input", "high_input")):
        fig.add_bar(
            y=labels, x=sens[column] - base, base=base, orientation="h", name=name,
            marker_color=SERIES[series],
            # Inside the bar when it fits (white), else just outside it.
            text=usd_hover(sens[column]), textposition="auto", cliponaxis=False,
            insidetextanchor="middle", insidetextfont={"color": "white"}, outsidetextfont={"color": TEXT},
            hovertemplate="SOM %{text}<extra>" + name + "</extra>",
        )
    swings = sens[["som_low_usd", "som_high_usd"]]
    low, high = float(swings.min().min()), float(swings.max().max())
    pad = (high - low) * 0.2 or base * 0.1 or 1.0  # room for value labels of short bars
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


def positioning(comp: pd.DataFrame, title: str = "Price vs capability (bubble = funding)") -> go.Figure:
    """Price per seat (x) against capability score (y); bubble area ~ funding; our product in orange."""
    fig = go.Figure()
    funding = comp["funding_usd_m"].fillna(0.0).astype(float)
    sizes = funding if float(funding.max() or 0.0) > 0 else pd.Series(1.0, index=comp.index)
    sizeref = 2.0 * float(sizes.max()) / (70.0**2)
    for is_us, name, colour in ((False, "Competitors", SERIES["competitors"]), (True, "Us", SERIES["us"])):
        part = comp[comp["is_us"] == is_us]
        if part.empty:
            continue
        hover = [
            f"{r.name}<br>{format_usd(r.price_per_seat_usd)}/seat · capability {r.capability_score:.2f}"
            + (f"<br>funding {format_usd(r.funding_usd_m * 1e6)}" if pd.notna(r.funding_usd_m) else "")
            for r in part.itertuples()
        ]
        fig.add_scatter(
            x=part["price_per_seat_usd"], y=part["capability_score"], mode="markers+text", name=name,
            text=part["name"], textposition="top center", textfont={"size": FONT_SIZE - 2},
            marker={"size": sizes[part.index].clip(lower=float(sizes.max()) * 0.02), "sizemode": "area",
                    "sizeref": sizeref, "sizemin": 8, "color": colour, "opacity": 0.75,
                    "line": {"width": 3 if is_us else 1, "color": TEXT if is_us else "white"}},
            hovertext=hover, hoverinfo="text",
        )
    caps = comp["capability_score"].astype(float)
    span = float(caps.max() - caps.min()) or 1.0
    prices = comp["price_per_seat_usd"].astype(float)
    return fig.update_layout(
        template=TEMPLATE, title=title, height=560,
        xaxis={"title": "Price per seat per month (USD)",
               **usd_linear_ticks(float(prices.min()), float(prices.max()))},
        # Headroom above the top bubble for its label.
        yaxis={"title": "Capability score",
               "range": [float(caps.min()) - 0.12 * span, float(caps.max()) + 0.22 * span]},
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
