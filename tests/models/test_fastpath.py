"""The lean BERT forward (models/modeling/lean_bert.py): same logits and gradients as transformers, same
state_dict keys, fused inference modules, int8 on top, the CPU dropout sampler, and the training options
around it."""

from __future__ import annotations

import math
import sys

import pytest
import torch
import torch.nn.functional as F
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    DistilBertConfig,
    DistilBertForSequenceClassification,
)

from models.core.config import TrainConfig
from models.errors import ConfigError
from models.modeling import lean_bert as fastpath
from models.training.setup import freeze_embeddings


def tiny_bert(dropout: float = 0.0, hidden_act: str = "gelu", seed: int = 0) -> BertForSequenceClassification:
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=120, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64, num_labels=5, hidden_act=hidden_act,
                        hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    return BertForSequenceClassification(config)


def batch(padded: bool = True) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(5, 120, (4, 11), generator=generator)
    mask = torch.ones_like(ids)
    if padded:
        mask[1, 7:] = 0
        mask[3, 3:] = 0
    return {"input_ids": ids, "attention_mask": mask}


@pytest.mark.parametrize("hidden_act", ["gelu", "gelu_new"])
@pytest.mark.parametrize("padded", [True, False])
def test_eval_logits_equal_transformers(hidden_act: str, padded: bool) -> None:
    hf = tiny_bert(dropout=0.1, hidden_act=hidden_act).eval()
    fast = fastpath.FastSequenceClassifier(hf).eval()
    with torch.no_grad():
        expected = hf(**batch(padded)).logits
        got = fast(**batch(padded)).logits
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_token_type_ids_are_used() -> None:
    hf = tiny_bert().eval()
    fast = fastpath.FastSequenceClassifier(hf).eval()
    inputs = batch() | {"token_type_ids": (torch.arange(11) > 5).long().expand(4, 11)}
    with torch.no_grad():
        torch.testing.assert_close(fast(**inputs).logits, hf(**inputs).logits, atol=1e-5, rtol=1e-5)


def test_gradients_equal_transformers_without_dropout() -> None:
    """The [CLS]-only last layer skips work, not gradient: every parameter gets the same gradient."""
    hf, twin = tiny_bert(), tiny_bert()
    fast = fastpath.FastSequenceClassifier(twin).train()
    hf.train()
    labels = torch.tensor([0, 3, 1, 4])
    F.cross_entropy(hf(**batch()).logits, labels).backward()
    F.cross_entropy(fast(**batch()).logits, labels).backward()
    theirs = dict(hf.named_parameters())
    for name, param in fast.named_parameters():
        if theirs[name].grad is None:
            assert param.grad is None or not param.grad.any(), name
            continue
        torch.testing.assert_close(param.grad, theirs[name].grad, atol=1e-5, rtol=1e-4, msg=name)


def test_state_dict_keys_match_so_checkpoints_load_either_way() -> None:
    hf = tiny_bert()
    fast = fastpath.FastSequenceClassifier(tiny_bert(seed=3))
    assert list(fast.state_dict()) == list(hf.state_dict())
    fast.load_state_dict(hf.state_dict())
    hf.eval()
    fast.eval()
    with torch.no_grad():
        torch.testing.assert_close(fast(**batch()).logits, hf(**batch()).logits, atol=1e-5, rtol=1e-5)
    assert fastpath.unwrap(fast) is fast.hf_model and fastpath.unwrap(hf) is hf


def test_frozen_inference_module_matches_and_quantizes() -> None:
    hf = tiny_bert().eval()
    frozen = fastpath.FastSequenceClassifier(hf).freeze_for_inference()
    assert not frozen.training and not any(p.requires_grad for p in frozen.parameters())
    assert (
        len(frozen.fused) == 3 and frozen.fused[0].out_features == 96 and frozen.fused[-1].out_features == 64
    )
    with torch.no_grad():
        expected = hf(**batch()).logits
        torch.testing.assert_close(frozen(**batch()).logits, expected, atol=1e-5, rtol=1e-5)
        from models.serving.predictors import apply_precision

        int8 = apply_precision(frozen, "int8")
        quantized = int8(**batch()).logits
    assert type(int8.fused[0]).__name__ == "Linear" and int8.fused[0].__module__.startswith("torch.ao")
    assert (quantized - expected).abs().max() < 0.2  # int8 moves logits a little, not a lot
    assert not torch.equal(quantized, expected)


def test_supports_only_what_it_reproduces() -> None:
    assert fastpath.supports(tiny_bert())
    distil = DistilBertForSequenceClassification(
        DistilBertConfig(vocab_size=50, dim=16, n_layers=1, n_heads=2, hidden_dim=32, num_labels=3)
    )
    assert not fastpath.supports(distil)
    assert fastpath.accelerate(distil) is distil
    assert not fastpath.supports(tiny_bert(hidden_act="relu"))
    multi = tiny_bert()
    multi.config.problem_type = "multi_label_classification"
    assert not fastpath.supports(multi)
    with pytest.raises(ValueError, match="BertForSequenceClassification"):
        fastpath.FastSequenceClassifier(distil)


def test_attention_dropout_override_only_in_training() -> None:
    hf = tiny_bert(dropout=0.1)
    assert fastpath.FastSequenceClassifier(hf).attention_dropout == pytest.approx(0.1)
    fast = fastpath.FastSequenceClassifier(hf, attention_dropout=0.0)
    assert fast.attention_dropout == 0.0 and fast.hidden_dropout == pytest.approx(0.1)


def test_dropout_keeps_the_right_fraction_and_the_mean() -> None:
    torch.manual_seed(0)
    x = torch.ones(1_000_003)
    for p in (0.1, 0.5):
        y = fastpath.dropout(x, p, True)
        kept = float((y != 0).float().mean())
        assert kept == pytest.approx(1 - p, abs=2e-3)
        assert float(y.mean()) == pytest.approx(1.0, abs=5e-3)
        assert float(y[y != 0][0]) == pytest.approx(1 / (1 - round(p * 65536) / 65536))
    lanes = (fastpath.dropout(torch.ones(400_000), 0.25, True) != 0).view(-1, 4).float().mean(0)
    assert torch.allclose(lanes, torch.full((4,), 0.75), atol=5e-3)  # every 16-bit slice of a word is fair


def test_dropout_is_seeded_and_off_in_eval() -> None:
    x = torch.randn(3, 50)
    torch.manual_seed(5)
    first = fastpath.dropout(x, 0.1, True)
    torch.manual_seed(5)
    assert torch.equal(fastpath.dropout(x, 0.1, True), first)
    assert fastpath.dropout(x, 0.1, False) is x and fastpath.dropout(x, 0.0, True) is x
    assert not torch.equal(first, x)
    g = torch.ones(6, requires_grad=True)
    fastpath.dropout(g, 0.5, True).sum().backward()
    assert set(g.grad.tolist()) <= {0.0, 2.0}


def test_freeze_embeddings_freezes_the_block_only() -> None:
    model = tiny_bert()
    freeze_embeddings(model)
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen and all(n.startswith("bert.embeddings.") for n in frozen)
    assert "bert.embeddings.word_embeddings.weight" in frozen and "bert.embeddings.LayerNorm.weight" in frozen


@pytest.mark.parametrize("bad", [-0.1, 1.0, math.nan])
def test_attention_dropout_is_validated(bad: float) -> None:
    with pytest.raises(ConfigError, match="attention_dropout"):
        TrainConfig(attention_dropout=bad)
    assert TrainConfig(attention_dropout=None).attention_dropout is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_tune_cpu_allocator_applies_on_glibc() -> None:
    assert fastpath.tune_cpu_allocator() is True
    assert fastpath.tune_cpu_allocator() is True  # idempotent
