"""Figures and small tables for training runs (Fine-tune page): DataFrame or eval.json parts -> go.Figure.

Confusion matrices of many classes (BANKING77 has 77) are unreadable whole, so `confusion_heatmap` keeps the
classes most involved in mistakes and `confused_pairs` lists the largest off-diagonal cells.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analytics.charts.theme import BLUE, SEQUENTIAL, SERIES, TEMPLATE

BAR_HEIGHT_PX = 22
"""Height per class in horizontal bar charts."""


def _figure(title: str, height: int = 380) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(template=TEMPLATE, title=title, height=height, margin={"t": 70})
    return fig


def loss_curve(points: pd.DataFrame) -> go.Figure:
    """Training loss by optimizer step; `points` has columns step, loss (one row per logged window)."""
    fig = _figure("Training loss")
    fig.add_scatter(x=points["step"], y=points["loss"], mode="lines+markers", line={"color": SERIES["loss"]},
                    name="loss")
    fig.update_xaxes(title="step")
    fig.update_yaxes(title="cross-entropy")
    return fig


def epoch_curves(epochs: pd.DataFrame) -> go.Figure:
    """Validation accuracy (and macro-F1 when present) per epoch; `epochs` has epoch, val_accuracy and
    optionally val_macro_f1."""
    fig = _figure("Validation per epoch")
    fig.add_scatter(x=epochs["epoch"], y=epochs["val_accuracy"], mode="lines+markers", name="accuracy",
                    line={"color": SERIES["accuracy"]})
    if "val_macro_f1" in epochs and epochs["val_macro_f1"].notna().any():
        fig.add_scatter(x=epochs["epoch"], y=epochs["val_macro_f1"], mode="lines+markers", name="macro-F1",
                        line={"color": SERIES["macro_f1"]})
    fig.update_xaxes(title="epoch", dtick=1)
    fig.update_yaxes(title="validation", range=[0, 1.02], tickformat=".0%")
    return fig


def validation_loss_curves(epochs: pd.DataFrame) -> go.Figure:
    """Validation loss and perplexity (exp of the loss, right axis) per epoch, for runs that report no
    accuracy (SFT); `epochs` has epoch, val_loss."""
    points = epochs[epochs["val_loss"].notna()]
    fig = _figure("Validation per epoch")
    fig.add_scatter(x=points["epoch"], y=points["val_loss"], mode="lines+markers", name="val. loss",
                    line={"color": SERIES["loss"]})
    fig.add_scatter(x=points["epoch"], y=np.exp(points["val_loss"].astype(float).clip(upper=50)),
                    mode="lines+markers", name="perplexity", yaxis="y2", line={"color": SERIES["accuracy"]},
                    hovertemplate="epoch %{x}: perplexity %{y:.2f}<extra></extra>")
    fig.update_xaxes(title="epoch", dtick=1)
    fig.update_yaxes(title="cross-entropy", tickformat=".2f")
    fig.update_layout(yaxis2={"title": "perplexity", "overlaying": "y", "side": "right", "showgrid": False,
                              "tickformat": ".2f"})
    return fig


def per_class_frame(evaluation: dict[str, Any]) -> pd.DataFrame:
    """eval.json's per_class list as a table (label, precision, recall, f1, support), lowest F1 first."""
    rows = evaluation.get("per_class") or []
    frame = pd.DataFrame(rows, columns=["label", "precision", "recall", "f1", "support"])
    return frame.sort_values(["f1", "label"], kind="stable").reset_index(drop=True)


def per_class_f1(per_class: pd.DataFrame) -> go.Figure:
    """Horizontal bars of F1 per class, worst at the top, sized to stay readable for 77 classes."""
    ordered = per_class.sort_values(["f1", "label"], ascending=[False, True], kind="stable")
    fig = _figure("F1 per class (worst at the top)", height=max(300, 90 + BAR_HEIGHT_PX * len(ordered)))
    fig.add_bar(x=ordered["f1"], y=ordered["label"].astype(str), orientation="h",
                marker={"color": BLUE}, customdata=ordered[["support"]],
                hovertemplate="%{y}: F1 %{x:.2f} (%{customdata[0]} test examples)<extra></extra>")
    fig.update_xaxes(title="F1", range=[0, 1], tickformat=".0%")
    fig.update_yaxes(type="category", tickfont={"size": 12})
    return fig


def confused_pairs(matrix: Sequence[Sequence[int]], labels: Sequence[str], limit: int = 15) -> pd.DataFrame:
    """The largest off-diagonal cells: true_label, predicted_label, count, share_of_true (share of that true
    class)."""
    cm = np.asarray(matrix, dtype=np.int64)
    totals = cm.sum(axis=1)
    off = cm.copy()
    np.fill_diagonal(off, 0)
    rows, cols = np.nonzero(off)
    frame = pd.DataFrame({
        "true_label": [str(labels[i]) for i in rows], "predicted_label": [str(labels[j]) for j in cols],
        "count": off[rows, cols], "share_of_true": off[rows, cols] / np.maximum(totals[rows], 1),
    })
    frame = frame.sort_values(["count", "true_label", "predicted_label"], ascending=[False, True, True])
    return frame.head(limit).reset_index(drop=True)


def confused_classes(matrix: Sequence[Sequence[int]], top_n: int) -> list[int]:
    """Indices of the `top_n` classes with the most mistakes (as true or predicted class), most first."""
    cm = np.asarray(matrix, dtype=np.int64)
    off = cm - np.diag(np.diag(cm))
    involvement = off.sum(axis=0) + off.sum(axis=1)
    order = sorted(range(len(cm)), key=lambda i: (-involvement[i], i))
    return order[:top_n]


def confusion_heatmap(matrix: Sequence[Sequence[int]], labels: Sequence[str], top_n: int = 20) -> go.Figure:
    """Row-normalised confusion matrix (share of each true class) of the `top_n` most confused classes."""
    cm = np.asarray(matrix, dtype=np.int64)
    keep = sorted(confused_classes(cm, top_n)) if len(cm) > top_n else list(range(len(cm)))
    sub = cm[np.ix_(keep, keep)]
    share = sub / np.maximum(cm[keep].sum(axis=1, keepdims=True), 1)
    names = [str(labels[i]) for i in keep]
    title = ("Confusion matrix" if len(keep) == len(cm)
             else f"Confusion among the {len(keep)} most confused classes")
    fig = _figure(title, height=max(420, 160 + 24 * len(keep)))
    fig.add_heatmap(z=share, x=names, y=names, colorscale=SEQUENTIAL, zmin=0, zmax=1, customdata=sub,
                    hovertemplate="true %{y}<br>predicted %{x}<br>%{customdata} (%{z:.0%})<extra></extra>",
                    colorbar={"title": "share", "tickformat": ".0%"})
    fig.update_xaxes(title="predicted", tickangle=-45, tickfont={"size": 11}, type="category")
    fig.update_yaxes(title="true", autorange="reversed", tickfont={"size": 11}, type="category")
    return fig
