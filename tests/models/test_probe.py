"""Linear probe: embeddings are order-preserving and normalised; a tiny-encoder run writes every file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from models.core.config import TrainConfig
from models.core.runs import RunWriter, run_status
from models.data.types import DataSplits

TEXTS = ["short", "a much longer text with many more tokens than the others here", "mid length text",
         "card not arrived", "x"]


def test_embeddings_keep_input_order_and_unit_norm(tiny_encoder_dir: Path) -> None:
    from models.modeling.embeddings import embed_texts, load_frozen_encoder

    encoder, tokenizer = load_frozen_encoder(str(tiny_encoder_dir), "cpu")
    batched = embed_texts(encoder, tokenizer, TEXTS, batch_size=2, max_length=32)
    one_by_one = np.concatenate(
        [embed_texts(encoder, tokenizer, [t], batch_size=1, max_length=32) for t in TEXTS]
    )
    assert batched.shape == (5, 32)
    assert np.allclose(batched, one_by_one, atol=1e-5)  # padding and sorting change nothing
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(batched[0], batched[1])


def test_packed_batch_equals_one_text_at_a_time(tiny_encoder_dir: Path) -> None:
    """A server-sized batch goes through one packed forward pass; each text's embedding is the one it
    gets alone (positions restart per text, attention stays inside it)."""
    from models.modeling.embeddings import can_pack, embed_texts, load_frozen_encoder
    from models.modeling.tokenize import tokenize_all

    encoder, tokenizer = load_frozen_encoder(str(tiny_encoder_dir), "cpu")
    token_ids = tokenize_all(tokenizer, TEXTS, 32)
    assert can_pack(encoder, token_ids, batch_size=8)
    assert not can_pack(encoder, token_ids, batch_size=2)  # more texts than one batch: sorted, padded
    assert not can_pack(encoder, token_ids[:1], batch_size=8)
    packed = embed_texts(encoder, tokenizer, TEXTS, batch_size=8, max_length=32)
    alone = np.concatenate([embed_texts(encoder, tokenizer, [t], batch_size=1, max_length=32) for t in TEXTS])
    assert np.allclose(packed, alone, atol=1e-5)
    assert not np.allclose(packed[0], packed[3])
    encoder.config.model_type = "roberta"  # positions offset by the padding index: stays on the padded path
    try:
        assert not can_pack(encoder, token_ids, batch_size=8)
    finally:
        encoder.config.model_type = "bert"


def test_linear_probe_run_on_tiny_encoder(tiny_encoder_dir: Path, tmp_path: Path,
                                          small_sentiment: Callable[..., DataSplits]) -> None:
    from models.training.probe import train_linear_probe

    data = small_sentiment()
    config = TrainConfig(method="linear_probe", model=str(tiny_encoder_dir), runs_dir=str(tmp_path),
                         run_name="probe", max_length=32, eval_batch_size=16)
    result = train_linear_probe(config, data, RunWriter.create(config))
    run = result.run_dir
    for name in ("config.json", "eval.json", "predictions.parquet", "status.json", "model/head.joblib",
                 "model/base.json", "model/labels.json"):
        assert (run / name).is_file(), name
    assert run_status(run)["state"] == "succeeded"
    assert json.loads((run / "model/base.json").read_text())["model"] == str(tiny_encoder_dir)
    frame = pd.read_parquet(run / "predictions.parquet")
    assert len(frame) == 40
    probs = np.stack(frame["probs"].to_list())
    assert probs.shape == (40, 2) and np.allclose(probs.sum(axis=1), 1.0)
    assert result.extra["embedding_dim"] == 32
    assert 0.0 <= result.metrics["accuracy"] <= 1.0
