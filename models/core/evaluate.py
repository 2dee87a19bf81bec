"""Classification metrics with confidence intervals, and the per-example predictions table.

Confidence intervals (95%):
    accuracy  Wilson score interval (closed form; good coverage even near 0 or 1 and for small n).
    macro F1  percentile bootstrap: `n_bootstrap` resamples of the test examples with replacement
              (numpy Generator seeded with `seed`), the 2.5th and 97.5th percentiles of macro F1.
Macro F1 averages over the classes present in y_true or y_pred (scikit-learn's default), in the
point estimate and in every resample alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    confusion_matrix,
    f1_score,
    log_loss,
    precision_recall_fscore_support,
    roc_auc_score,
)

from analytics.compute.stats import wilson_interval
from models.errors import EvaluationError

"""Two-sided 95% standard-normal quantile."""
ECE_BINS = 15
CI_METHOD = ("accuracy: Wilson score interval; macro_f1: percentile bootstrap over test examples "
             "({n} resamples, seed {seed})")


def _check_inputs(y_true: Sequence[int], probs: np.ndarray, label_names: Sequence[str]) -> tuple[np.ndarray,
                                                                                                 np.ndarray]:
    y = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(probs, dtype=np.float64)
    k = len(label_names)
    if p.ndim != 2 or p.shape != (len(y), k):
        raise EvaluationError(f"probs must have shape (n_examples, n_labels) = ({len(y)}, {k}), "
                              f"got {p.shape}")
    if len(y) == 0:
        raise EvaluationError("no examples to evaluate; the test split is empty")
    if y.min() < 0 or y.max() >= k:
        raise EvaluationError(f"y_true holds label index {int(y.max())} but only {k} label names exist")
    if not np.isfinite(p).all() or (p < 0).any():
        raise EvaluationError("probs must be finite and non-negative (apply softmax to logits first)")
    sums = p.sum(axis=1, keepdims=True)
    if np.abs(sums - 1).max() > 1e-3:
        raise EvaluationError("each row of probs must sum to 1 "
                              f"(got sums up to {float(np.abs(sums - 1).max()):.3g} away); "
                              "apply softmax to logits first")
    return y, p / sums


def macro_f1_batch(y_true: np.ndarray, y_pred: np.ndarray, num_labels: int) -> np.ndarray:
    """Macro F1 of each row of (batch, n) label arrays, over classes present in that row's y_true or
    y_pred."""
    batch = y_true.shape[0]
    offsets = (np.arange(batch) * num_labels)[:, None]
    size = batch * num_labels
    true_count = np.bincount((offsets + y_true).ravel(), minlength=size).reshape(batch, num_labels)
    pred_count = np.bincount((offsets + y_pred).ravel(), minlength=size).reshape(batch, num_labels)
    hits = (offsets + y_true)[y_true == y_pred]
    tp = np.bincount(hits, minlength=size).reshape(batch, num_labels)
    denominator = true_count + pred_count
    present = denominator > 0
    f1 = np.divide(2 * tp, denominator, out=np.zeros(denominator.shape), where=present)
    return f1.sum(axis=1) / np.maximum(present.sum(axis=1), 1)


def bootstrap_macro_f1_ci(y_true: np.ndarray, y_pred: np.ndarray, num_labels: int, *, seed: int = 0,
                          n_bootstrap: int = 1000, chunk: int = 250) -> tuple[float, float]:
    """95% percentile-bootstrap interval of macro F1 (vectorised, in chunks to bound memory)."""
    rng = np.random.default_rng(seed)
    n = len(y_true)
    scores = []
    for start in range(0, n_bootstrap, chunk):
        rows = min(chunk, n_bootstrap - start)
        sample = rng.integers(0, n, size=(rows, n))
        scores.append(macro_f1_batch(y_true[sample], y_pred[sample], num_labels))
    values = np.concatenate(scores)
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def expected_calibration_error(y_true: np.ndarray, probs: np.ndarray, n_bins: int = ECE_BINS) -> tuple[
        float, list[dict[str, float]]]:
    """ECE over `n_bins` equal-width confidence bins (lo, hi]; also the non-empty bins for a reliability
    plot."""
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y_true).astype(np.float64)
    bins = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)
    ece = 0.0
    table = []
    for b in range(n_bins):
        members = bins == b
        count = int(members.sum())
        if count == 0:
            continue
        accuracy, mean_confidence = float(correct[members].mean()), float(confidence[members].mean())
        ece += count / len(y_true) * abs(accuracy - mean_confidence)
        table.append({"lo": b / n_bins, "hi": (b + 1) / n_bins, "count": count, "accuracy": accuracy,
                      "confidence": mean_confidence})
    return float(ece), table


def _roc_auc(y_true: np.ndarray, probs: np.ndarray, label_names: Sequence[str]) -> tuple[float | None, str]:
    k = len(label_names)
    missing = [label_names[i] for i in range(k) if not (y_true == i).any()]
    if missing:
        return None, f"not defined: classes {missing[:5]} are absent from the test labels"
    if k == 2:
        return float(roc_auc_score(y_true, probs[:, 1])), "binary"
    return (float(roc_auc_score(y_true, probs, multi_class="ovr", average="macro", labels=list(range(k)))),
            "macro one-vs-rest")


def evaluate_predictions(y_true: Sequence[int], probs: np.ndarray, label_names: Sequence[str], *,
                         seed: int = 0, n_bootstrap: int = 1000) -> dict[str, Any]:
    """All metrics for predicted class probabilities `probs` (n_examples, n_labels) against `y_true`.

    Returns a JSON-serialisable dict: n, accuracy, accuracy_ci95, macro_f1, macro_f1_ci95, weighted_f1,
    per_class, confusion_matrix (rows = true, columns = predicted, order = label_names), roc_auc
    (+ roc_auc_note), log_loss, ece, calibration_bins, ci_method. Raises EvaluationError for mismatched
    inputs.
    """
    y, p = _check_inputs(y_true, probs, label_names)
    k = len(label_names)
    pred = p.argmax(axis=1)
    n = len(y)
    correct = int((pred == y).sum())
    labels = list(range(k))
    precision, recall, f1, support = precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    roc_auc, roc_note = _roc_auc(y, p, label_names)
    ece, calibration_bins = expected_calibration_error(y, p)
    return {
        "n": n,
        "accuracy": correct / n,
        "accuracy_ci95": list(wilson_interval(correct, n)),
        "macro_f1": float(f1_score(y, pred, average="macro", zero_division=0)),
        "macro_f1_ci95": list(bootstrap_macro_f1_ci(y, pred, k, seed=seed, n_bootstrap=n_bootstrap)),
        "weighted_f1": float(f1_score(y, pred, average="weighted", labels=labels, zero_division=0)),
        "per_class": [{"label": str(name), "precision": float(precision[i]), "recall": float(recall[i]),
                       "f1": float(f1[i]), "support": int(support[i])} for i, name in enumerate(label_names)],
        "confusion_matrix": confusion_matrix(y, pred, labels=labels).tolist(),
        "roc_auc": roc_auc,
        "roc_auc_note": roc_note,
        "log_loss": float(log_loss(y, p, labels=labels)),
        "ece": ece,
        "calibration_bins": calibration_bins,
        "ci_method": CI_METHOD.format(n=n_bootstrap, seed=seed),
        "label_names": [str(name) for name in label_names],
    }


def predictions_frame(ids: Sequence[str], y_true: Sequence[int], probs: np.ndarray,
                      label_names: Sequence[str]) -> pd.DataFrame:
    """Per-example table: text_id, true_label, pred_label (names), confidence, correct, probs (list[float]).

    Raises EvaluationError when lengths or shapes disagree.
    """
    y, p = _check_inputs(y_true, probs, label_names)
    if len(ids) != len(y):
        raise EvaluationError(f"got {len(ids)} ids for {len(y)} examples")
    pred = p.argmax(axis=1)
    names = np.asarray([str(n) for n in label_names], dtype=object)
    return pd.DataFrame({
        "text_id": [str(i) for i in ids],
        "true_label": names[y],
        "pred_label": names[pred],
        "confidence": p.max(axis=1),
        "correct": pred == y,
        "probs": [row.tolist() for row in p],
    })
