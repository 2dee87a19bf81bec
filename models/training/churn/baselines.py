"""The scikit-learn baselines of the churn model: logistic regression and histogram gradient boosting.

    logreg  StandardScaler -> LogisticRegression (L2, C = logreg_c, lbfgs). class_weight None by default:
            the plain likelihood keeps the scores calibrated probabilities, which expected churn and MRR at
            risk add up; 'balanced' is a config switch for a recall-first threshold at 0.5.
    gbm     HistGradientBoostingClassifier on raw features (trees need no scaling), early stopping off so
            every account of the training part is fitted and the result depends on the seed only.
Each is fitted on the training part and saved as model/pipeline.joblib.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from models.training.churn.config import ChurnConfig

PIPELINE_FILE = "pipeline.joblib"


def build_baseline(model: str, config: ChurnConfig) -> Any:
    """An unfitted estimator for `model` ('logreg' or 'gbm') with predict_proba."""
    if model == "logreg":
        weight = None if config.logreg_class_weight == "none" else "balanced"
        return Pipeline([("scale", StandardScaler()),
                         ("logreg", LogisticRegression(C=config.logreg_c, class_weight=weight, max_iter=2000,
                                                       random_state=config.seed))])
    return HistGradientBoostingClassifier(max_iter=config.gbm_max_iter,
                                          learning_rate=config.gbm_learning_rate,
                                          max_leaf_nodes=config.gbm_max_leaf_nodes,
                                          min_samples_leaf=config.gbm_min_samples_leaf, early_stopping=False,
                                          random_state=config.seed)


def fit_baseline(model: str, config: ChurnConfig, x: np.ndarray, y: np.ndarray) -> Any:
    """`build_baseline(model)` fitted on features `x` [n, features] and labels `y` [n]."""
    estimator = build_baseline(model, config)
    estimator.fit(x, y)
    return estimator


def churn_probabilities(estimator: Any, x: np.ndarray) -> np.ndarray:
    """P(churn) of each row, float64 [n] (column of class 1)."""
    classes = list(estimator.classes_)
    return estimator.predict_proba(x)[:, classes.index(1)].astype(np.float64)


def save_baseline(estimator: Any, model_dir: Path) -> None:
    """model_dir/pipeline.joblib."""
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(estimator, model_dir / PIPELINE_FILE)
