"""A causal LM as a classifier (methods full and lora): a tiny random Llama with SmolLM2's tokenizer gets a
sequence-classification head; right-padded batches pool each row's own last token, runs train, save, reload
through the predictor and predict the same, and the merged LoRA model reproduces the adapter's outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from models.core.config import TrainConfig
from models.core.runs import read_events, run_status
from models.data.types import DataSplits
from models.modeling.loading import load_sequence_classifier, load_tokenizer, safetensors_spec
from models.modeling.registry import resolve_model
from models.modeling.tokenize import encode_texts, pad_batch, pad_token_id
from models.serving.predictors import load_predictor
from models.training.head_init import head_features
from models.training.train import train

TEXTS = ["my card has not arrived yet", "hi", "why was I charged twice for the same coffee this morning?",
         "top up failed"]


def llm_config(tmp_path: Path, model: Path, **changes) -> TrainConfig:
    values = dict(method="full", model=str(model), dataset="sentiment_labelled_sentences", epochs=1,
                  batch_size=16, eval_batch_size=32, max_length=32, learning_rate=1e-3,
                  runs_dir=str(tmp_path / "runs"), num_threads=1, log_every_steps=2, seed=0,
                  early_stopping_patience=0)
    values.update(changes)
    return TrainConfig(**values)


def saved_probs(run_dir: Path) -> np.ndarray:
    frame = pd.read_parquet(run_dir / "predictions.parquet")
    return np.array([list(row) for row in frame["probs"]], dtype=np.float64)


@pytest.fixture(scope="module")
def classifier(tiny_lm_dir: Path) -> tuple[torch.nn.Module, object]:
    spec = resolve_model(str(tiny_lm_dir))
    tokenizer = load_tokenizer(spec)
    model = load_sequence_classifier(spec, ["refund", "card_lost", "other"])
    return model.eval(), tokenizer


def test_a_causal_lm_gets_a_classification_head_and_the_pad_id(classifier, tiny_lm_dir: Path) -> None:
    model, tokenizer = classifier
    assert resolve_model(str(tiny_lm_dir)).family == "causal_lm"
    assert type(model).__name__ == "LlamaForSequenceClassification"
    assert model.config.pad_token_id == pad_token_id(tokenizer) == tokenizer.pad_token_id is not None
    assert model.config.id2label == {0: "refund", 1: "card_lost", 2: "other"}
    assert next(model.parameters()).dtype == torch.float32


def test_right_padding_pools_each_rows_own_last_token(classifier) -> None:
    model, tokenizer = classifier
    encoded = encode_texts(tokenizer, TEXTS, [0, 1, 2, 0], max_length=32)
    assert len(set(encoded.lengths.tolist())) == len(TEXTS)  # every row is padded but the longest
    batch = pad_batch(encoded, np.arange(len(TEXTS)), pad_token_id(tokenizer))
    with torch.inference_mode():
        padded = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        alone = torch.cat([model(input_ids=torch.as_tensor(ids)[None]).logits for ids in encoded.token_ids])
        hidden = model.model(input_ids=torch.as_tensor(encoded.token_ids[1])[None]).last_hidden_state
        last_token_logits = model.score(hidden[0, -1])
    torch.testing.assert_close(padded, alone, atol=1e-5, rtol=1e-4)
    # the pooled token is the last real one, not the first pad (which a missing pad id would give)
    torch.testing.assert_close(alone[1], last_token_logits, atol=1e-6, rtol=1e-5)
    # LP-FT's features for the same rows are those last tokens' hidden states
    features = head_features(model, encoded, batch_size=4, pad_id=pad_token_id(tokenizer),
                             device=torch.device("cpu"))
    np.testing.assert_allclose(features[1], hidden[0, -1].numpy(), atol=1e-5)


def test_a_gguf_spec_loads_from_its_converted_folder(tiny_lm_dir: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from models.modeling import causal_lm

    spec = dataclasses.replace(resolve_model(str(tiny_lm_dir)), location="/nowhere", gguf_file="model.gguf")
    monkeypatch.setattr(causal_lm, "ensure_converted", lambda s: tiny_lm_dir if s is spec else None)
    converted = safetensors_spec(spec)
    assert converted.location == str(tiny_lm_dir) and converted.gguf_file is None
    assert safetensors_spec(converted) is converted


@pytest.mark.parametrize("method", ["full", "lora"])
def test_a_run_trains_saves_and_predicts_the_same_after_reload(tmp_path: Path, tiny_lm_dir: Path,
                                                              sentences: DataSplits, method: str) -> None:
    changes = {"learning_rate": 5e-3} if method == "lora" else {"head_init": "probe", "classic_c": 1.0}
    config = llm_config(tmp_path, tiny_lm_dir, method=method, max_steps=4, run_name=method, **changes)
    result = train(config, sentences)
    run_dir = result.run_dir
    assert run_status(run_dir)["state"] == "succeeded" and result.extra["steps"] == 4
    events = read_events(run_dir)
    start = next(e for e in events if e.kind == "start")
    assert start.extra["lean_forward"] is False
    losses = [e.loss for e in events if e.kind == "step"]
    assert len(losses) == 2 and all(np.isfinite(losses))

    before = load_file(tiny_lm_dir / "model.safetensors")
    after = load_file(run_dir / "model" / "model.safetensors")
    assert not any("lora" in k for k in after)  # merged: plain transformers loads it
    assert "score.weight" in after and "lm_head.weight" not in after
    layer = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(before[layer], after[layer])  # the body trained (LoRA: its merged update)
    assert torch.equal(before["model.embed_tokens.weight"], after["model.embed_tokens.weight"])  # frozen
    if method == "full":
        assert result.extra["head_init"]["features"] == 16
    else:
        total = sum(v.numel() for v in after.values())
        assert 0 < start.extra["trainable_parameters"] < total / 20

    predictor = load_predictor(run_dir, device="cpu")
    assert predictor.label_names == sentences.label_names
    np.testing.assert_allclose(predictor.predict_proba(list(sentences.test.texts)), saved_probs(run_dir),
                               atol=1e-5)


def test_the_merged_lora_model_reproduces_the_adapter(tmp_path: Path, tiny_lm_dir: Path,
                                                       sentences: DataSplits) -> None:
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification

    config = llm_config(tmp_path, tiny_lm_dir, method="lora", max_steps=3, learning_rate=2e-2,
                        run_name="merge")
    run_dir = train(config, sentences).run_dir
    adapter_config = (run_dir / "adapter" / "adapter_config.json").read_text()
    for module in ('"q_proj"', '"k_proj"', '"v_proj"', '"o_proj"', '"score"'):
        assert module in adapter_config, module

    spec = resolve_model(str(tiny_lm_dir))
    tokenizer = load_tokenizer(spec)
    base = load_sequence_classifier(spec, sentences.label_names)  # a random head: the adapter saved its own
    adapted = PeftModel.from_pretrained(base, str(run_dir / "adapter")).eval()
    merged = AutoModelForSequenceClassification.from_pretrained(run_dir / "model").eval()
    encoded = encode_texts(tokenizer, list(sentences.test.texts[:8]), [0] * 8, max_length=32)
    batch = pad_batch(encoded, np.arange(8), pad_token_id(tokenizer))
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    with torch.inference_mode():
        adapter_logits, merged_logits = adapted(**inputs).logits, merged(**inputs).logits
    torch.testing.assert_close(merged_logits, adapter_logits, atol=1e-5, rtol=1e-4)
    trained = load_file(run_dir / "adapter" / "adapter_model.safetensors")
    lora_b = [v for k, v in trained.items() if "lora_B" in k]
    assert lora_b and all(v.abs().sum() > 0 for v in lora_b)  # the adapters moved: merging is not a no-op
