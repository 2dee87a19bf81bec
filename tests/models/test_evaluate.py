"""Metrics against hand-computed values; Wilson and bootstrap intervals; ECE; predictions table."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest

from models.core.evaluate import (
    evaluate_predictions,
    expected_calibration_error,
    macro_f1_batch,
    predictions_frame,
)
from models.errors import EvaluationError


def one_hot_probs(pred: list[int], num_classes: int, confidence: float = 0.8) -> np.ndarray:
    probs = np.full((len(pred), num_classes), (1 - confidence) / (num_classes - 1))
    probs[np.arange(len(pred)), pred] = confidence
    return probs


def test_small_example_by_hand() -> None:
    # true: a a a b b c ; pred: a a b b c c  -> 4 of 6 correct
    y_true = [0, 0, 0, 1, 1, 2]
    pred = [0, 0, 1, 1, 2, 2]
    metrics = evaluate_predictions(y_true, one_hot_probs(pred, 3), ["a", "b", "c"], n_bootstrap=200)
    assert metrics["n"] == 6
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    # a: P=2/2 R=2/3 F1=0.8 ; b: P=1/2 R=1/2 F1=0.5 ; c: P=1/2 R=1/1 F1=2/3
    f1 = [0.8, 0.5, 2 / 3]
    assert metrics["macro_f1"] == pytest.approx(sum(f1) / 3)
    assert metrics["weighted_f1"] == pytest.approx((3 * 0.8 + 2 * 0.5 + 1 * 2 / 3) / 6)
    assert metrics["per_class"][0] == {"label": "a", "precision": 1.0, "recall": pytest.approx(2 / 3),
                                       "f1": pytest.approx(0.8), "support": 3}
    assert metrics["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert metrics["log_loss"] == pytest.approx(-(4 * math.log(0.8) + 2 * math.log(0.1)) / 6)
    # all confidences 0.8, accuracy 2/3 -> ECE = |2/3 - 0.8|
    assert metrics["ece"] == pytest.approx(0.8 - 4 / 6)
    lo, hi = metrics["macro_f1_ci95"]
    assert 0.0 <= lo <= hi <= 1.0
    assert "Wilson" in metrics["ci_method"] and "bootstrap" in metrics["ci_method"]
    json.dumps(metrics)


def test_perfect_predictions() -> None:
    y = [0, 1, 2, 0, 1, 2, 0, 1, 2]
    probs = np.eye(3)[y]
    metrics = evaluate_predictions(y, probs, ["x", "y", "z"], n_bootstrap=100)
    assert metrics["accuracy"] == 1.0 and metrics["macro_f1"] == 1.0 and metrics["weighted_f1"] == 1.0
    assert metrics["macro_f1_ci95"] == [1.0, 1.0]
    assert metrics["roc_auc"] == 1.0 and metrics["roc_auc_note"] == "macro one-vs-rest"
    assert metrics["ece"] == pytest.approx(0.0)
    assert metrics["log_loss"] == pytest.approx(0.0, abs=1e-9)


def test_binary_roc_auc_and_absent_class() -> None:
    y = [0, 0, 1, 1]
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.45, 0.55], [0.2, 0.8]])
    metrics = evaluate_predictions(y, probs, ["neg", "pos"], n_bootstrap=50)
    assert metrics["roc_auc"] == pytest.approx(0.75)  # pairs (pos > neg): 3 of 4
    assert metrics["roc_auc_note"] == "binary"
    absent = evaluate_predictions([0, 1, 0, 1], np.full((4, 3), 1 / 3), ["a", "b", "c"], n_bootstrap=10)
    assert absent["roc_auc"] is None and "'c'" in absent["roc_auc_note"]


def test_ece_known_case() -> None:
    y = np.array([0, 0, 0, 0])
    probs = np.array([[0.95, 0.05], [0.95, 0.05], [0.55, 0.45], [0.45, 0.55]])
    # bins (14/15, 1]: two at 0.95, both right -> |1 - 0.95| ; (8/15, 9/15]: 0.55 x2 (one right, one wrong)
    ece, table = expected_calibration_error(y, probs, n_bins=15)
    assert ece == pytest.approx(0.5 * 0.05 + 0.5 * abs(0.5 - 0.55))
    assert [row["count"] for row in table] == [2, 2]


def test_bootstrap_batch_matches_sklearn() -> None:
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 7, size=(4, 60))
    y_pred = np.where(rng.random((4, 60)) < 0.6, y_true, rng.integers(0, 7, size=(4, 60)))
    ours = macro_f1_batch(y_true, y_pred, 7)
    expected = [f1_score(t, p, average="macro") for t, p in zip(y_true, y_pred, strict=True)]
    assert ours == pytest.approx(expected)


def test_bootstrap_is_seeded_and_fast_at_banking77_size() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 77, 3080)
    pred = np.where(rng.random(3080) < 0.9, y, rng.integers(0, 77, 3080))
    probs = np.full((3080, 77), 0.1 / 76)
    probs[np.arange(3080), pred] = 0.9
    names = [f"c{i}" for i in range(77)]
    start = time.perf_counter()
    first = evaluate_predictions(y, probs, names, seed=3)
    elapsed_s = time.perf_counter() - start
    assert first["macro_f1_ci95"] == evaluate_predictions(y, probs, names, seed=3)["macro_f1_ci95"]
    lo, hi = first["macro_f1_ci95"]
    assert lo < first["macro_f1"] < hi and hi - lo < 0.05
    assert elapsed_s < 5.0  # about 0.7 s on one core; generous for a shared CI machine


def test_bad_inputs() -> None:
    with pytest.raises(EvaluationError, match="shape"):
        evaluate_predictions([0, 1], np.ones((2, 3)) / 3, ["a", "b"])
    with pytest.raises(EvaluationError, match="label index 5"):
        evaluate_predictions([0, 5], np.ones((2, 2)) / 2, ["a", "b"])
    with pytest.raises(EvaluationError, match="sum to 1"):
        evaluate_predictions([0, 1], np.array([[2.0, 3.0], [1.0, 1.0]]), ["a", "b"])


def test_predictions_frame() -> None:
    frame = predictions_frame(["t1", "t2"], [0, 1], np.array([[0.7, 0.3], [0.6, 0.4]]), ["neg", "pos"])
    assert list(frame.columns) == ["text_id", "true_label", "pred_label", "confidence", "correct", "probs"]
    assert frame["pred_label"].tolist() == ["neg", "neg"]
    assert frame["correct"].tolist() == [True, False]
    assert frame["confidence"].tolist() == pytest.approx([0.7, 0.6])
    assert frame["probs"].iloc[1] == pytest.approx([0.6, 0.4])
    with pytest.raises(EvaluationError, match="ids"):
        predictions_frame(["t1"], [0, 1], np.array([[0.7, 0.3], [0.6, 0.4]]), ["neg", "pos"])
