"""Classic baseline: TF-IDF (word 1-2 grams + character 2-5 grams) and logistic regression.

Trains in seconds on a CPU; the floor every transformer method has to beat. The fitted scikit-learn
pipeline is saved with joblib (a pickle): it is only ever loaded back from our own run folders.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import joblib
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from models.core.config import TrainConfig
from models.core.outputs import finish_classifier_run, write_label_names
from models.core.runs import RunResult, RunWriter, atomic_path
from models.data.types import DataSplits

log = logging.getLogger(__name__)

PIPELINE_FILE = "pipeline.joblib"


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


def train_classic(config: TrainConfig, data: DataSplits, writer: RunWriter) -> RunResult:
    """Fit TF-IDF + logistic regression on the train split and evaluate on the test split.

    Writes model/ (pipeline.joblib, labels.json), eval.json, predictions.parquet, events and status.json.
    """
    writer.event(stage="train_start", method="classic", n_train=len(data.train))
    start = time.monotonic()
    pipeline = build_pipeline(config.classic_c, config.seed)
    pipeline.fit(list(data.train.texts), np.asarray(data.train.labels))
    train_seconds = time.monotonic() - start
    extra: dict[str, float | int] = {"n_features": int(len(pipeline.named_steps["logreg"].coef_[0]))}
    if len(data.validation):
        val_probs = predict_proba_aligned(pipeline, list(data.validation.texts), data.num_labels)
        val_acc = float(np.mean(val_probs.argmax(1) == np.asarray(data.validation.labels)))
        extra["validation_accuracy"] = round(val_acc, 6)
    writer.event(stage="trained", train_seconds=round(train_seconds, 3), **extra)
    model_dir = writer.run_dir / "model"
    save_pipeline(pipeline, model_dir)
    write_label_names(model_dir, data.label_names)
    probs = predict_proba_aligned(pipeline, list(data.test.texts), data.num_labels)
    return finish_classifier_run(
        writer, config, data, data.test, probs, model_name="tfidf", train_seconds=train_seconds, extra=extra
    )
