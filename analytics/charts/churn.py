"""Chart builders for the Churn page: ChurnResults (analytics.compute.churn.results) -> plotly Figures.

Drawn two per row with the app's theme (analytics.charts.theme); shares and dollars written by
analytics.money, 95% intervals as error bars.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go

from analytics.charts.theme import (
    BLUE,
    COMPACT_FONT_SIZE,
    GREY,
    ORANGE,
    PALETTE,
    TEMPLATE,
    TEXT,
    percent_ticks,
    usd_linear_ticks,
)
from analytics.compute.churn.results import ChurnResults
from analytics.money import format_count, format_number, format_percent, format_usd

METRICS = (("roc_auc", "ROC-AUC", BLUE), ("pr_auc", "PR-AUC", ORANGE))
"""The two ranking metrics side by side (column prefix, legend name, colour)."""


def _layout(fig: go.Figure, title: str, height: int = 420) -> go.Figure:
    fig.update_layout(
        template=TEMPLATE,
        title={"text": title, "font": {"size": COMPACT_FONT_SIZE + 4}},
        font={"size": COMPACT_FONT_SIZE},
        height=height,
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
        legend={"orientation": "h", "yanchor": "top", "y": -0.14, "xanchor": "left", "x": 0.0},
        hoverlabel={"font": {"size": COMPACT_FONT_SIZE - 2}},
    )
    return fig


def _wrap(label: str) -> str:
    """'Logistic regression' -> 'Logistic<br>regression': category labels on two lines, never rotated."""
    return label.replace(" ", "<br>", 1)


def models_chart(models: pd.DataFrame) -> go.Figure:
    """ROC-AUC and PR-AUC of each model with their 95% bootstrap intervals (models from churn_models), and
    the test set's churn rate: what PR-AUC is for a model that ranks at random (ROC-AUC: 50%). Each value
    is written above its interval."""
    fig = go.Figure()
    labels = [_wrap(str(label)) for label in models["label"]]
    for i, (column, name, colour) in enumerate(METRICS):
        value = models[column].astype(float)
        low, high = models[f"{column}_ci_low"].astype(float), models[f"{column}_ci_high"].astype(float)
        texts = [format_percent(v, fixed=True) for v in value]
        hover = [f"{label}: {name} {t} (95% CI {format_percent(lo)} to {format_percent(hi)})"
                 for label, t, lo, hi in zip(models["label"], texts, low, high, strict=True)]
        fig.add_trace(go.Bar(
            x=labels, y=value, name=name, marker_color=colour, offsetgroup=str(i),
            error_y={"type": "data", "symmetric": False, "array": (high - value).clip(lower=0),
                     "arrayminus": (value - low).clip(lower=0), "color": TEXT, "thickness": 1.5},
            hovertext=hover, hoverinfo="text"))
        fig.add_trace(go.Bar(  # the value written just above the interval's top, same offset as its bar
            x=labels, y=high.fillna(value), offsetgroup=str(i), marker={"color": "rgba(0,0,0,0)"},
            text=texts, textposition="outside", cliponaxis=False, showlegend=False, hoverinfo="skip",
            base=0, textfont={"size": COMPACT_FONT_SIZE - 2, "color": TEXT}, name=f"{name} value"))
    lines = [(0.5, GREY, "random ranking: ROC-AUC 50%")]
    base = models["base_rate"].dropna()
    if len(base):
        rate = float(base.iloc[0])
        lines.append((rate, ORANGE, f"churn rate {format_percent(rate)}: PR-AUC of a random ranking"))
    for y, colour, name in lines:  # full-width reference lines, named in the legend
        style = {"color": colour, "dash": "dot", "width": 2}
        fig.add_hline(y=y, line=style)
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", line=style, name=name, hoverinfo="skip"))
    fig = _layout(fig, "Models on the held-out test accounts (95% CI)", height=460)
    fig.update_layout(barmode="group", bargap=0.35, legend={"y": -0.18})
    fig.update_yaxes(**(percent_ticks(0, 1) | {"range": [0, 1.12]}))
    return fig


def calibration_chart(calibration: pd.DataFrame) -> go.Figure:
    """Mean score against the observed churn rate per bin of each model (a calibrated model lies on the
    diagonal); marker size grows with the bin's accounts."""
    fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated",
                               line={"color": GREY, "dash": "dot", "width": 2}, hoverinfo="skip"))
    for i, (label, part) in enumerate(calibration.groupby("label", sort=False)):
        points = zip(part["predicted"], part["observed"], part["n"], strict=True)
        hover = [f"{label}: mean score {format_percent(p)}, churned {format_percent(o)} of "
                 f"{format_count(n)} accounts" for p, o, n in points]
        sizes = [8 + min(16, (n or 0) ** 0.5) for n in part["n"]]
        fig.add_trace(go.Scatter(x=part["predicted"], y=part["observed"], mode="lines+markers",
                                 name=str(label), line={"color": PALETTE[i % len(PALETTE)], "width": 3},
                                 marker={"size": sizes}, hovertext=hover, hoverinfo="text"))
    fig = _layout(fig, "Calibration: predicted vs observed churn", height=460)
    fig.update_layout(legend={"orientation": "v", "x": 0.02, "xanchor": "left", "y": 0.98, "yanchor": "top",
                              "bgcolor": "rgba(255,255,255,0.85)"})
    top = max(0.1, float(pd.concat([calibration["predicted"], calibration["observed"]]).max())
              if len(calibration) else 1.0)
    top = min(1.0, top * 1.1)
    fig.update_xaxes(title_text="mean score in the bin", **percent_ticks(0, top))
    fig.update_yaxes(title_text="churned in the bin", **percent_ticks(0, top))
    return fig


def importance_chart(importance: pd.DataFrame, descriptions: dict[str, str] | None = None,
                     model: str = "") -> go.Figure:
    """Permutation importance of the best model: how much ROC-AUC drops when a feature is shuffled (points
    of ROC-AUC, error bar one standard deviation over the repeats), largest on top."""
    shown = importance.head(12).iloc[::-1]
    descriptions = descriptions or {}
    drop_points = shown["mean"].astype(float) * 100
    std_points = shown["std"].fillna(0).astype(float) * 100
    hover = [f"{f}: ROC-AUC drops {format_number(m)} points (± {format_number(s)})"
             + (f"<br>{descriptions[f]}" if f in descriptions else "")
             for f, m, s in zip(shown["feature"], drop_points, std_points, strict=True)]
    fig = go.Figure(go.Bar(
        x=drop_points, y=shown["feature"], orientation="h", marker_color=BLUE, name="ROC-AUC drop",
        error_x={"type": "data", "array": std_points, "color": TEXT, "thickness": 1.5},
        hovertext=hover, hoverinfo="text"))
    ends = (drop_points.clip(lower=0) + std_points).to_numpy()
    fig.add_trace(go.Scatter(x=ends, y=shown["feature"], mode="text",
                             text=[format_number(m) for m in drop_points], textposition="middle right",
                             cliponaxis=False, hoverinfo="skip",
                             textfont={"size": COMPACT_FONT_SIZE - 2}, name="value"))
    title = "What drives the score" + (f" ({model})" if model else "")
    fig = _layout(fig, title, height=max(360, 34 * len(shown) + 120))
    fig.update_layout(showlegend=False)
    right = float(max(ends.max(), 0.0)) if len(ends) else 1.0
    low = float(min(drop_points.min(), 0.0)) if len(drop_points) else 0.0
    fig.update_xaxes(title_text="ROC-AUC drop, points", tickformat=",.1f",
                     range=[low * 1.1, right * 1.25 + 0.1])
    return fig


def at_risk_chart(at_risk: pd.DataFrame) -> go.Figure:
    """The accounts with the most MRR at risk (score x MRR), largest on top."""
    shown = at_risk.head(10).iloc[::-1]
    accounts = zip(shown["account_name"], shown["account_id"], strict=True)
    names = [n if isinstance(n, str) else f"account #{a}" for n, a in accounts]
    hover = [f"{name}: {format_percent(s)} churn risk x {format_usd(m)} MRR = {format_usd(r)} at risk"
             for name, s, m, r in zip(names, shown["score"], shown["mrr_usd"], shown["mrr_at_risk_usd"],
                                      strict=True)]
    fig = go.Figure(go.Bar(x=shown["mrr_at_risk_usd"], y=names, orientation="h", marker_color=ORANGE,
                           text=[format_usd(v) for v in shown["mrr_at_risk_usd"]], textposition="outside",
                           cliponaxis=False, hovertext=hover, hoverinfo="text"))
    fig = _layout(fig, "MRR at risk, top accounts", height=max(360, 34 * len(shown) + 120))
    fig.update_layout(showlegend=False)
    top = float(shown["mrr_at_risk_usd"].max()) if len(shown) else 0.0
    fig.update_xaxes(title_text="score x MRR", range=[0, top * 1.3 or 1.0],
                     **usd_linear_ticks(0.0, top * 1.15, count=4))
    return fig


@dataclass(frozen=True)
class ChurnFigures:
    """Every figure of the Churn page for one feature set."""

    models: go.Figure
    """ROC-AUC and PR-AUC with CIs, model by model."""
    calibration: go.Figure
    """Predicted against observed churn per bin."""
    importance: go.Figure
    """Permutation importance of the best model."""
    at_risk: go.Figure
    """The accounts with the most MRR at risk."""


def churn_figures(results: ChurnResults, descriptions: dict[str, str] | None = None) -> ChurnFigures:
    """Every figure of the Churn page for `results`."""
    best = results.models.iloc[0]["label"]
    return ChurnFigures(models=models_chart(results.models),
                        calibration=calibration_chart(results.calibration),
                        importance=importance_chart(results.importance, descriptions, str(best)),
                        at_risk=at_risk_chart(results.at_risk))
