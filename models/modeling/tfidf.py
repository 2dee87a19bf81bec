"""The classic baseline's model: TF-IDF (word 1-2 grams + character 2-5 grams) and logistic regression.

Training (models.training.classic) fits it; serving (models.serving.predictors) loads it back. The fitted
scikit-learn pipeline is saved with joblib (a pickle): it is only ever loaded back from our own run folders.
"""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from models.core.runs import atomic_path

PIPELINE_FILE = "pipeline.joblib"
"""The fitted pipeline's file in a classic run's model/ folder."""


def build_pipeline(c: float, seed: int) -> Pipeline:
    """Unfitted TF-IDF + logistic-regression pipeline; `c` is the inverse L2 strength."""
    features = FeatureUnion(
        [
            ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1, lowercase=True)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)),
        ]
    )
    classifier = LogisticRegression(C=c, max_iter=2000, random_state=seed)
    return Pipeline([("tfidf", features), ("logreg", classifier)])


def predict_proba_aligned(pipeline: Pipeline, texts: list[str], num_labels: int) -> np.ndarray:
    """Probabilities [len(texts), num_labels]; columns for classes absent from training are 0."""
    raw = pipeline.predict_proba(texts)
    probs = np.zeros((len(texts), num_labels), dtype=np.float64)
    probs[:, pipeline.classes_.astype(int)] = raw
    return probs


def save_pipeline(pipeline: Pipeline, model_dir: Path) -> None:
    """joblib-dump the fitted pipeline into model_dir atomically."""
    model_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(model_dir / PIPELINE_FILE) as tmp:
        joblib.dump(pipeline, tmp)


def load_pipeline(model_dir: Path) -> Pipeline:
    """Load a pipeline saved by `save_pipeline` (our own run folders only: this unpickles)."""
    return joblib.load(Path(model_dir) / PIPELINE_FILE)
