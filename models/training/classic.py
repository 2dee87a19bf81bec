"""Classic baseline: TF-IDF (word 1-2 grams + character 2-5 grams) and logistic regression.

Trains in seconds on a CPU; the floor every transformer method has to beat. The model itself (build,
predict, save, load) is models.modeling.tfidf.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from models.core.config import TrainConfig
from models.core.outputs import finish_classifier_run, write_label_names
from models.core.runs import RunResult, RunWriter
from models.data.types import DataSplits
from models.modeling.tfidf import build_pipeline, predict_proba_aligned, save_pipeline

log = logging.getLogger(__name__)


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
