"""eval.json of a churn model: ranking, calibration and the features that drive the score, on test accounts.

    roc_auc, pr_auc   sklearn.metrics roc_auc_score and average_precision_score (PR-AUC as average
                      precision), each with a 95% percentile-bootstrap interval: n_bootstrap resamples of
                      the test accounts with replacement (numpy Generator seeded with the config's seed);
                      a resample holding one class only is drawn again (it has no ROC-AUC). The resamples
                      are scored by `fast_roc_auc` / `fast_average_precision`, the same formulas in plain
                      numpy (tests check them equal to sklearn's): sklearn's input validation costs ~20 ms
                      a call on a busy machine, 40 s for 2 x 1000 resamples of three models.
    brier             sklearn.metrics.brier_score_loss (mean squared error of the probability).
    calibration       sklearn.calibration.calibration_curve with quantile bins; each bin's count beside it.
    importance        sklearn.inspection.permutation_importance, scoring roc_auc, on the test accounts.
    accuracy          at the 0.5 threshold, with its 95% Wilson interval (analytics.compute.stats).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import rankdata
from sklearn.calibration import calibration_curve
from sklearn.inspection import permutation_importance
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from analytics.compute.stats import wilson_interval
from models.errors import EvaluationError
from models.training.churn.config import ChurnConfig

THRESHOLD = 0.5
"""Score above which an account is predicted to churn (accuracy; predictions.parquet's argmax agrees)."""
CI_METHOD = ("roc_auc, pr_auc: percentile bootstrap over test accounts ({n} resamples, seed {seed}); "
             "accuracy: Wilson score interval")


def fast_roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC-AUC of 0/1 labels `y` and scores `p` as the Mann-Whitney statistic (ties count one half), as
    roc_auc_score; both classes must be present."""
    ranks = rankdata(p)  # average ranks of tied scores
    positives = y == 1
    n1 = int(positives.sum())
    n0 = len(y) - n1
    return float((ranks[positives].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def fast_average_precision(y: np.ndarray, p: np.ndarray) -> float:
    """Average precision (sum over distinct thresholds of recall step x precision), as
    average_precision_score; at least one positive."""
    order = np.argsort(-p, kind="mergesort")
    scores, hits = p[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]  # end of each group of tied scores
    tp = np.cumsum(hits)[last]
    precision = tp / (last + 1)
    recall_steps = np.diff(np.r_[0, tp]) / tp[-1]
    return float((recall_steps * precision).sum())


def bootstrap_interval(y: np.ndarray, p: np.ndarray, metric: Any, *, seed: int,
                       n_resamples: int) -> tuple[float, float]:
    """95% percentile-bootstrap interval of `metric(y, p)` over resamples of the rows with replacement.

    Resamples with a single class are redrawn (at most 10 x n_resamples draws in all). Raises
    EvaluationError when `y` lacks either class.
    """
    if len(np.unique(y)) < 2:
        raise EvaluationError("the test accounts hold one class only; a ROC-AUC needs churned and "
                              "retained accounts in the test share")
    rng = np.random.default_rng(seed)
    values: list[float] = []
    draws = 0
    while len(values) < n_resamples and draws < 10 * n_resamples:
        rows = rng.integers(0, len(y), size=len(y))
        draws += 1
        sample = y[rows]
        if sample.min() != sample.max():
            values.append(float(metric(sample, p[rows])))
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def calibration_table(y: np.ndarray, p: np.ndarray, n_bins: int) -> list[dict[str, Any]]:
    """[{"bin", "predicted", "observed", "n"}] of the non-empty quantile bins, lowest scores first."""
    observed, predicted = calibration_curve(y, p, n_bins=n_bins, strategy="quantile")
    # calibration_curve gives no counts: the same quantile edges and searchsorted as its own binning
    edges = np.percentile(p, np.linspace(0, 100, n_bins + 1))
    ids = np.searchsorted(edges[1:-1], p)
    counts = np.bincount(ids, minlength=n_bins)
    filled = np.flatnonzero(counts)
    if len(filled) != len(observed):  # never expected; a table whose rows disagree would mislead
        raise EvaluationError(f"calibration bins disagree ({len(filled)} counted, {len(observed)} from "
                              "calibration_curve); lower calibration_bins")
    return [{"bin": int(b), "predicted": float(predicted[i]), "observed": float(observed[i]),
             "n": int(counts[b])} for i, b in enumerate(filled)]


def importance_table(estimator: Any, x: np.ndarray, y: np.ndarray, names: tuple[str, ...],
                     config: ChurnConfig) -> list[dict[str, Any]]:
    """[{"feature", "mean", "std"}]: ROC-AUC drop when one feature is shuffled, largest first."""
    result = permutation_importance(estimator, x, y, scoring="roc_auc", n_repeats=config.permutation_repeats,
                                    random_state=config.seed, n_jobs=1)
    order = np.argsort(-result.importances_mean, kind="stable")
    return [{"feature": names[i], "mean": float(result.importances_mean[i]),
             "std": float(result.importances_std[i])} for i in order]


def churn_metrics(y: np.ndarray, p: np.ndarray, config: ChurnConfig) -> dict[str, Any]:
    """Every eval.json figure that depends only on the test labels `y` (0/1) and scores `p` (P(churn))."""
    n, positives = len(y), int(y.sum())
    correct = int(((p > THRESHOLD).astype(np.int64) == y).sum())
    auc_low, auc_high = bootstrap_interval(y, p, fast_roc_auc, seed=config.seed,
                                           n_resamples=config.n_bootstrap)
    pr_low, pr_high = bootstrap_interval(y, p, fast_average_precision, seed=config.seed + 1,
                                         n_resamples=config.n_bootstrap)
    acc_low, acc_high = wilson_interval(correct, n)
    return {
        "task": "tabular", "n": n, "n_test": n, "n_test_scored": n, "positives_test": positives,
        "base_rate": positives / n,
        "roc_auc": float(roc_auc_score(y, p)), "roc_auc_ci_low": auc_low, "roc_auc_ci_high": auc_high,
        "pr_auc": float(average_precision_score(y, p)), "pr_auc_ci_low": pr_low, "pr_auc_ci_high": pr_high,
        "brier": float(brier_score_loss(y, p)),
        "calibration": calibration_table(y, p, config.calibration_bins), "calibration_strategy": "quantile",
        "accuracy": correct / n, "accuracy_ci_low": acc_low, "accuracy_ci_high": acc_high,
        "threshold": THRESHOLD, "ci_method": CI_METHOD.format(n=config.n_bootstrap, seed=config.seed),
    }
