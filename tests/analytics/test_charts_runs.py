"""analytics/charts_runs.py: confused pairs and classes by hand, figure shapes."""

from __future__ import annotations

import pandas as pd

from analytics.charts import runs as charts_runs

MATRIX = [[5, 3, 0], [1, 4, 0], [0, 2, 6]]
LABELS = ["a", "b", "c"]


def test_confused_pairs_largest_first() -> None:
    pairs = charts_runs.confused_pairs(MATRIX, LABELS)
    assert pairs[["true_label", "predicted_label"]].values.tolist() == [["a", "b"], ["c", "b"], ["b", "a"]]
    assert pairs["count"].tolist() == [3, 2, 1]
    assert pairs["share_of_true"].round(4).tolist() == [0.375, 0.25, 0.2]


def test_confused_classes_counts_both_directions() -> None:
    # mistakes involving a: 3 + 1 = 4, b: 3 + 1 + 2 = 6, c: 2
    assert charts_runs.confused_classes(MATRIX, 2) == [1, 0]


def test_heatmap_keeps_the_most_confused_classes_row_normalised() -> None:
    fig = charts_runs.confusion_heatmap(MATRIX, LABELS, top_n=2)
    heat = fig.data[0]
    assert list(heat.x) == ["a", "b"]
    assert [round(v, 3) for v in heat.z[0]] == [0.625, 0.375]  # shares of all 8 true a's
    assert "2 most confused" in fig.layout.title.text


def test_per_class_frame_and_bars() -> None:
    evaluation = {"per_class": [{"label": "x", "precision": 1, "recall": 0.5, "f1": 0.67, "support": 2},
                                {"label": "y", "precision": 0.5, "recall": 1, "f1": 0.5, "support": 1}]}
    frame = charts_runs.per_class_frame(evaluation)
    assert frame["label"].tolist() == ["y", "x"]
    fig = charts_runs.per_class_f1(frame)
    assert list(fig.data[0].y) == ["x", "y"]  # plotly draws the last category at the top: worst on top


def test_curves() -> None:
    loss = charts_runs.loss_curve(pd.DataFrame({"step": [10, 20], "loss": [2.0, 1.5]}))
    assert list(loss.data[0].y) == [2.0, 1.5]
    epochs = charts_runs.epoch_curves(pd.DataFrame({"epoch": [1, 2], "val_accuracy": [0.5, 0.7]}))
    assert len(epochs.data) == 1
