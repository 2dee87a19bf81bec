"""Playground figures: probability bars of one prediction (DataFrame -> go.Figure)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from analytics.charts.theme import SERIES, TEMPLATE

TOP_LABELS = 5
"""Labels shown per model; the rest are summed into 'other labels'."""
BAR_HEIGHT_PX = 34


def top_probabilities(probabilities: pd.DataFrame, top_n: int = TOP_LABELS) -> pd.DataFrame:
    """The `top_n` most likely labels (label, probability), plus one 'other labels (n)' row holding the
    rest."""
    ordered = probabilities.sort_values("probability", ascending=False, kind="stable")
    top = ordered.head(top_n).reset_index(drop=True)
    rest = ordered.iloc[top_n:]
    if len(rest):
        other = pd.DataFrame({"label": [f"other labels ({len(rest)})"],
                              "probability": [float(rest["probability"].sum())]})
        top = pd.concat([top, other], ignore_index=True)
    return top


def probability_bars(probabilities: pd.DataFrame, title: str = "", top_n: int = TOP_LABELS) -> go.Figure:
    """Horizontal bars of the `top_n` most likely labels (most likely on top, highlighted), values as
    percentages."""
    shown = top_probabilities(probabilities, top_n)
    colours = [SERIES["top_label"] if i == 0 else SERIES["other_label"] for i in range(len(shown))]
    fig = go.Figure()
    fig.add_bar(x=shown["probability"], y=shown["label"].astype(str), orientation="h",
                marker={"color": colours},
                text=[f"{p:.1%}" for p in shown["probability"]], textposition="outside", cliponaxis=False,
                hovertemplate="%{y}: %{x:.2%}<extra></extra>")
    fig.update_layout(template=TEMPLATE, title=title or None, height=90 + BAR_HEIGHT_PX * len(shown),
                      margin={"t": 40 if title else 10, "l": 10, "r": 50, "b": 10}, showlegend=False,
                      font={"size": 14})
    fig.update_xaxes(range=[0, 1.15], tickformat=".0%", showgrid=False, showticklabels=False)
    fig.update_yaxes(type="category", autorange="reversed")
    return fig
