"""Linear probe: a frozen encoder's mean-pooled, L2-normalised embeddings + logistic regression.

Needs one forward pass over the data and no gradients, so it costs a small fraction of a fine-tune.
The model (embedding function, head file, model/base.json) is models.modeling.embeddings.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from models.core.config import TrainConfig
from models.core.outputs import finish_classifier_run, write_label_names
from models.core.runs import RunResult, RunWriter
from models.data.types import DataSplits
from models.modeling.embeddings import embed_texts, head_proba, load_frozen_encoder, save_head

log = logging.getLogger(__name__)


def train_linear_probe(config: TrainConfig, data: DataSplits, writer: RunWriter) -> RunResult:
    """Embed train and test with the frozen `config.model`, fit logistic regression (C = classic_c).

    Writes model/ (head.joblib, base.json, labels.json), eval.json, predictions.parquet, status.json.
    Raises ModelNotFoundError / DeviceError from the registry and device checks.
    """
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    start = time.monotonic()
    encoder, tokenizer = load_frozen_encoder(config.model, config.device)
    writer.event(stage="encoder_loaded", model=config.model, load_s=round(time.monotonic() - start, 3))
    embed_start = time.monotonic()
    train_x = embed_texts(encoder, tokenizer, data.train.texts, batch_size=config.eval_batch_size,
                          max_length=config.max_length)
    embed_s = time.monotonic() - embed_start
    samples_per_s = len(data.train) / max(embed_s, 1e-9)
    writer.event(stage="embedded", split="train", n=len(data.train), samples_per_s=round(samples_per_s, 2))
    head = LogisticRegression(C=config.classic_c, max_iter=2000, random_state=config.seed)
    head.fit(train_x, np.asarray(data.train.labels))
    train_seconds = time.monotonic() - start
    extra: dict[str, Any] = {"embed_samples_per_s": round(samples_per_s, 2),
                             "embedding_dim": int(train_x.shape[1])}
    writer.event(stage="trained", train_seconds=round(train_seconds, 3))
    model_dir = writer.run_dir / "model"
    save_head(head, model_dir, {"model": config.model, "max_length": config.max_length,
                                "pooling": "mean", "normalize": True})
    write_label_names(model_dir, data.label_names)
    test_x = embed_texts(encoder, tokenizer, data.test.texts, batch_size=config.eval_batch_size,
                         max_length=config.max_length)
    probs = head_proba(head, test_x, data.num_labels)
    return finish_classifier_run(writer, config, data, data.test, probs, model_name=config.model,
                                 train_seconds=train_seconds, extra=extra)
