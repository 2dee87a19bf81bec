"""A lean forward pass for BERT-family sequence classifiers (all-MiniLM-L6-v2, BERT, MiniLM, ...).

Same weights, same maths as transformers' BertForSequenceClassification, less work:

- the last encoder layer computes only the [CLS] row: the classifier reads nothing else, so the last
  layer's query projection, attention output, feed-forward block and their gradients are skipped for
  every other token (keys and values still see all tokens): most of one layer in six for MiniLM;
- query, key and value come from one fused matrix multiply (one larger GEMM beats three small ones on CPU);
- a batch without padding calls scaled-dot-product attention without a mask (its fastest kernel);
- dropout masks on CPU come from 16-bit slices of 64-bit random words (four masks per draw of torch's
  generator): the same keep probability to 1/65536, about 3.5x cheaper than `F.dropout` there;
- for inference, `freeze_for_inference()` stores the fused projections as real `nn.Linear` modules, so
  dynamic int8 quantisation and bf16 apply to them like to any layer.

Dropout sits where Hugging Face puts it (embeddings, attention probabilities, both residual branches,
before the classifier), with the model's probabilities unless `attention_dropout` overrides the one on
attention probabilities (training only; on CPU it forces the slow unfused attention kernel); in eval mode
the logits equal transformers' to float rounding (tests/models/test_fastpath.py checks logits and
gradients).

`FastSequenceClassifier` registers the original `bert` and `classifier` modules under their own names,
so its state_dict keys equal the Hugging Face model's: checkpoints and best weights load into either.
Models it cannot mirror exactly (other architectures, relative positions, decoders, unknown
activations, LoRA wrappers) keep the transformers forward: `supports()` says which.
"""

from __future__ import annotations

import ctypes
import logging
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

log = logging.getLogger(__name__)

_ACTIVATIONS = {"gelu": "none", "gelu_new": "tanh", "gelu_pytorch_tanh": "tanh"}
"""hidden_act -> F.gelu's `approximate` argument."""


def supports(model: nn.Module) -> bool:
    """True if `model` is a plain BertForSequenceClassification this module reproduces exactly."""
    config = getattr(model, "config", None)
    if type(model).__name__ != "BertForSequenceClassification" or config is None:
        return False
    if getattr(config, "is_decoder", False) or getattr(config, "add_cross_attention", False):
        return False
    if getattr(config, "position_embedding_type", "absolute") not in (None, "absolute"):
        return False
    if config.hidden_act not in _ACTIVATIONS or getattr(model.bert, "pooler", None) is None:
        return False
    problem = getattr(config, "problem_type", None)
    return problem in (None, "single_label_classification")


@dataclass
class Output:
    """What callers read from a classifier's output."""

    logits: torch.Tensor


class FastSequenceClassifier(nn.Module):
    """Wraps a BertForSequenceClassification; forward(input_ids, attention_mask) -> Output(logits).

    `attention_dropout`: dropout on attention probabilities while training; None keeps the model's.
    """

    def __init__(self, model: nn.Module, attention_dropout: float | None = None) -> None:
        if not supports(model):
            raise ValueError(f"{type(model).__name__} is not a plain BertForSequenceClassification")
        super().__init__()
        self.bert = model.bert
        self.classifier = model.classifier
        config = model.config
        self.classifier_dropout = model.dropout.p
        self.heads = config.num_attention_heads
        self.approximate = _ACTIVATIONS[config.hidden_act]
        self.hidden_dropout = config.hidden_dropout_prob
        self.attention_dropout = (config.attention_probs_dropout_prob if attention_dropout is None
                                  else attention_dropout)
        self.fused: nn.ModuleList | None = None
        object.__setattr__(self, "hf_model", model)  # not a submodule: keeps state_dict keys identical

    @property
    def config(self) -> Any:
        return self.hf_model.config

    @property
    def device(self) -> torch.device:
        return self.classifier.weight.device

    @torch.no_grad()
    def freeze_for_inference(self) -> FastSequenceClassifier:
        """Eval mode with the fused projections stored as nn.Linear modules (for serving; not for training).

        Adds `fused.*` keys to state_dict, so save the Hugging Face model (`unwrap`), not this wrapper.
        """
        layers = self.bert.encoder.layer
        fused = []
        for number, layer in enumerate(layers):
            a = layer.attention.self
            parts = (a.key, a.value) if number == len(layers) - 1 else (a.query, a.key, a.value)
            linear = nn.Linear(a.query.in_features, sum(p.out_features for p in parts),
                               device=a.query.weight.device, dtype=a.query.weight.dtype)
            linear.weight.copy_(torch.cat([p.weight for p in parts]))
            linear.bias.copy_(torch.cat([p.bias for p in parts]))
            fused.append(linear)
        self.fused = nn.ModuleList(fused)
        return self.eval().requires_grad_(False)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None) -> Output:
        x = self._embed(input_ids, token_type_ids)
        mask = None
        # the all-ones test reads the tensor back: free on CPU, a device sync per step on a GPU (keep the
        # mask there)
        if attention_mask is not None and (attention_mask.device.type != "cpu"
                                           or not bool(attention_mask.all())):
            mask = attention_mask[:, None, None, :].bool()  # [B, 1, 1, L]: True = attend
        layers = self.bert.encoder.layer
        for number, layer in enumerate(layers):
            x = self._layer(number, layer, x, mask, cls_only=number == len(layers) - 1)
        pooled = torch.tanh(self.bert.pooler.dense(x[:, 0]))
        return Output(logits=self.classifier(dropout(pooled, self.classifier_dropout, self.training)))

    def _embed(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None) -> torch.Tensor:
        e = self.bert.embeddings
        length = input_ids.shape[1]
        if token_type_ids is None or (token_type_ids.device.type == "cpu" and not bool(token_type_ids.any())):
            # single-segment input: one shared row (tested on CPU only: on a GPU the test would be a
            # device sync)
            x = e.word_embeddings(input_ids) + (e.position_embeddings.weight[:length]
                                                + e.token_type_embeddings.weight[0])
        else:
            x = (e.word_embeddings(input_ids) + e.token_type_embeddings(token_type_ids)
                 + e.position_embeddings.weight[:length])
        x = F.layer_norm(x, x.shape[-1:], e.LayerNorm.weight, e.LayerNorm.bias, e.LayerNorm.eps)
        return dropout(x, self.hidden_dropout, self.training)

    def _project(self, number: int, layer: nn.Module, hidden_states: torch.Tensor,
                 cls_only: bool) -> tuple[torch.Tensor, ...]:
        """(queries, keys, values); queries of the [CLS] row only when `cls_only`."""
        a = layer.attention.self
        hidden = hidden_states.shape[-1]
        if self.fused is not None:
            if cls_only:
                return (a.query(hidden_states[:, :1]),
                        *self.fused[number](hidden_states).split(hidden, dim=-1))
            return self.fused[number](hidden_states).split(hidden, dim=-1)
        if cls_only:
            kv = F.linear(hidden_states, torch.cat((a.key.weight, a.value.weight)),
                          torch.cat((a.key.bias, a.value.bias)))
            return (a.query(hidden_states[:, :1]), *kv.split(hidden, dim=-1))
        qkv = F.linear(hidden_states, torch.cat((a.query.weight, a.key.weight, a.value.weight)),
                       torch.cat((a.query.bias, a.key.bias, a.value.bias)))
        return qkv.split(hidden, dim=-1)

    def _layer(self, number: int, layer: nn.Module, hidden_states: torch.Tensor,
               mask: torch.Tensor | None, *, cls_only: bool) -> torch.Tensor:
        batch, length, hidden = hidden_states.shape
        head_dim = hidden // self.heads
        residual = hidden_states[:, :1] if cls_only else hidden_states
        rows = residual.shape[1]
        q, k, v = self._project(number, layer, hidden_states, cls_only)
        q = q.view(batch, rows, self.heads, head_dim).transpose(1, 2)
        k = k.view(batch, length, self.heads, head_dim).transpose(1, 2)
        v = v.view(batch, length, self.heads, head_dim).transpose(1, 2)
        p = self.attention_dropout if self.training else 0.0
        context = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        context = context.transpose(1, 2).reshape(batch, rows, hidden)
        out = layer.attention.output
        h = dropout(out.dense(context), self.hidden_dropout, self.training) + residual
        h = F.layer_norm(h, (hidden,), out.LayerNorm.weight, out.LayerNorm.bias, out.LayerNorm.eps)
        ff = F.gelu(layer.intermediate.dense(h), approximate=self.approximate)
        ff_out = layer.output
        y = dropout(ff_out.dense(ff), self.hidden_dropout, self.training) + h
        return F.layer_norm(y, (hidden,), ff_out.LayerNorm.weight, ff_out.LayerNorm.bias,
                            ff_out.LayerNorm.eps)


def dropout(values: torch.Tensor, rate: float, training: bool) -> torch.Tensor:
    """Inverted dropout; on CPU with masks cut from 64-bit random words (same distribution as F.dropout).

    Each element is kept when its 16-bit slice is at least round(rate * 65536) (as signed: minus 32768):
    keep probability 1 - round(rate * 65536) / 65536, and kept values are scaled by its inverse, so the
    expectation is exactly `values`. Uses torch's default generator: seeds and saved RNG states apply.
    """
    if not training or rate <= 0.0:
        return values
    if values.device.type != "cpu" or rate >= 1.0:
        return F.dropout(values, rate, True)
    dropped = round(rate * 65536)
    if dropped == 0:
        return values
    n = values.numel()
    words = torch.randint(-(2**63), 2**63 - 1, ((n + 3) // 4,), dtype=torch.int64)
    keep = words.view(torch.int16)[:n].view(values.shape) >= dropped - 32768
    return values * (keep * (65536 / (65536 - dropped))).to(values.dtype)


def accelerate(model: nn.Module, attention_dropout: float | None = None) -> nn.Module:
    """`model` behind the lean forward when supported, else `model` unchanged."""
    if supports(model):
        log.debug("lean BERT forward for %s", type(model).__name__)
        return FastSequenceClassifier(model, attention_dropout)
    log.debug("transformers forward for %s (no lean path)", type(model).__name__)
    return model


def unwrap(model: nn.Module) -> nn.Module:
    """The Hugging Face model inside a FastSequenceClassifier (or `model` itself)."""
    return model.hf_model if isinstance(model, FastSequenceClassifier) else model


def tune_cpu_allocator() -> bool:
    """Keep freed activation buffers in glibc's heap instead of returning them to the kernel.

    glibc serves blocks above its mmap threshold (128 KiB, adapting up to 32 MiB) with fresh mmap
    pages that the kernel must zero on first touch, every training step; raising the mmap and trim
    thresholds makes the allocator reuse them (about 8% of a CPU step for MiniLM, and no page-fault
    system time). Process-wide and permanent; a no-op off glibc. Returns True when applied.
    """
    global _ALLOCATOR_TUNED
    if _ALLOCATOR_TUNED:
        return True
    try:
        libc = ctypes.CDLL("libc.so.6")
        mmap_ok = (bool(libc.mallopt(_M_MMAP_THRESHOLD, 256 << 20))
                   or bool(libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)))
        ok = mmap_ok and bool(libc.mallopt(_M_TRIM_THRESHOLD, 512 << 20))
    except (OSError, AttributeError):  # not Linux/glibc
        return False
    _ALLOCATOR_TUNED = ok
    log.debug("glibc allocator thresholds %s", "raised" if ok else "unchanged (mallopt refused)")
    return ok


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
"""mallopt parameter numbers from glibc's malloc.h."""
_ALLOCATOR_TUNED = False
