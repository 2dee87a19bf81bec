"""Linear probe: a frozen encoder's mean-pooled, L2-normalised embeddings + logistic regression.

Needs one forward pass over the data and no gradients, so it costs a small fraction of a fine-tune.
The head is saved with joblib (our own run folders only); model/base.json names the encoder so that
inference can rebuild the same embedding function.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from models.core.config import TrainConfig
from models.core.outputs import finish_classifier_run, write_label_names
from models.core.runs import RunResult, RunWriter, atomic_path, write_json_atomic
from models.data.types import DataSplits
from models.modeling.batching import (
    iter_padded_batches,
    mean_pool,
    pad_token_id,
    resolve_device,
    tokenize_all,
)

log = logging.getLogger(__name__)

HEAD_FILE = "head.joblib"
BASE_FILE = "base.json"


@torch.inference_mode()
def embed_texts(
    encoder: Any,
    tokenizer: Any,
    texts: Sequence[str],
    *,
    batch_size: int = 128,
    max_length: int = 128,
    progress: Any | None = None,
) -> np.ndarray:
    """Mean-pooled, L2-normalised embeddings, float32 [len(texts), hidden], in input order.

    `progress`, if given, is called with the number of texts finished after each batch.
    """
    device = next(encoder.parameters()).device
    token_ids = tokenize_all(tokenizer, texts, max_length)
    out: np.ndarray | None = None
    for idx, batch in iter_padded_batches(token_ids, batch_size, pad_token_id(tokenizer), device):
        hidden = encoder(**batch).last_hidden_state  # [B, T, H]
        pooled = torch.nn.functional.normalize(mean_pool(hidden, batch["attention_mask"]).float(), dim=-1)
        if out is None:
            out = np.empty((len(texts), pooled.shape[-1]), dtype=np.float32)
        out[idx] = pooled.cpu().numpy()
        if progress is not None:
            progress(len(idx))
    if out is None:
        return np.zeros((0, 0), dtype=np.float32)
    return out


def load_frozen_encoder(model: str, device_name: str = "auto") -> tuple[Any, Any]:
    """(encoder in eval mode on the chosen device, tokenizer) for a registry name or folder."""
    from models.modeling.registry import load_encoder, load_tokenizer, resolve_model

    spec = resolve_model(model)
    encoder = load_encoder(spec).to(resolve_device(device_name)).eval()
    return encoder, load_tokenizer(spec)


def save_head(head: LogisticRegression, model_dir: Path, base: dict[str, Any]) -> None:
    """Save the fitted head and the encoder reference (base.json) atomically."""
    model_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(model_dir / HEAD_FILE) as tmp:
        joblib.dump(head, tmp)
    write_json_atomic(model_dir / BASE_FILE, base)


def head_proba(head: LogisticRegression, embeddings: np.ndarray, num_labels: int) -> np.ndarray:
    """Probabilities [n, num_labels]; classes missing from training get 0."""
    probs = np.zeros((len(embeddings), num_labels), dtype=np.float64)
    probs[:, head.classes_.astype(int)] = head.predict_proba(embeddings)
    return probs


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
    extra: dict[str, Any] = {"embed_samples_per_s": round(samples_per_s, 2), "embedding_dim": int(train_x.shape[1])}
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
