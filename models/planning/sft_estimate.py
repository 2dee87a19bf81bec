"""How long an sft / sft_lora run will take, before launch: training, validation and judging, from rates.

The rates are figures measured on this project's reference machine (2 CPU cores; see each field), not
guesses: a run's wall time is tokens over tokens per second for each phase. On a GPU the CPU rates do not
apply; the estimate then says it has no measured GPU rate instead of inventing one.

    train       epochs x training tokens / train tokens/s (LoRA trains faster: no gradient for the frozen
                weights, no optimizer state for them)
    validate    validations x validation tokens / forward tokens/s
    judge       requests x (1 + base) x reply tokens / batched decode tokens/s, plus prompt tokens / prefill
    fixed       job start, model load, checkpoints, merge and export
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from models.core.config import SFT_METHODS, TrainConfig
from models.errors import ConfigError
from models.planning.estimate import planned_steps


@dataclass(frozen=True)
class SftRates:
    """Measured rates of SmolLM2-135M on 2 shared CPU cores (the reference machine, 2026-12-01); see the docs
    of each field."""

    train_tokens_per_s_full: float = 100.0
    """sft, all weights: training tokens per second (bench/sft.py: 98 tokens/s of training steps, 160 Bitext
    conversations, load 5; bench/sft_step.py 'allocator' variant 113 at 4 x 192)."""
    train_tokens_per_s_lora: float = 115.0
    """sft_lora, LoRA r=8 on q/k/v/o: two 1,026-conversation Bitext runs, 116 and 114 tokens/s (load 6-17)."""
    forward_tokens_per_s: float = 280.0
    """Validation: forward-only tokens per second (226 Bitext conversations in 154 s, batches of 16)."""
    decode_tokens_per_s: float = 33.5
    """Judging: generated tokens per second over a batch of 16 with the KV cache (two runs: 33.7 and 33.5)."""
    prefill_tokens_per_s: float = 350.0
    """Judging: prompt tokens per second of the first forward pass of each batch (367 and 331)."""
    fixed_s: float = 180.0
    """Job start, model loads (twice with the base model), tokenizing, the intent judge's fit (about 140 s on
    Bitext's 3,837 training replies), merge, export and checkpoints."""
    reference_params: int = 134_515_008
    """Parameters of the model the rates were measured on; other sizes scale the rates by the ratio."""


@dataclass(frozen=True)
class SftDataStats:
    """What the estimate needs to know about the conversations (models.planning.sft_estimate.data_stats)."""

    n_train: int
    """Training conversations (after the per-intent cap)."""
    n_validation: int
    """Validation conversations."""
    n_judged: int
    """Test requests that will be answered and scored (eval_limit applied)."""
    mean_tokens: float
    """Mean tokens per conversation under the chat template (cut at max_length)."""
    mean_prompt_tokens: float
    """Mean prompt tokens (system, request, assistant header)."""
    mean_reply_tokens: float
    """Mean reference-reply tokens (capped by max_new_tokens): how much the judge generates per request."""


@dataclass(frozen=True)
class SftEstimate:
    """Expected wall time of an sft run, by phase, and how it was computed."""

    steps: int
    train_s: float
    validate_s: float
    judge_s: float
    fixed_s: float
    formula: str
    """The arithmetic, in words, for the page's 'how is this computed' line."""
    note: str
    """What the estimate assumes (CPU subset, no GPU rate...)."""

    @property
    def total_s(self) -> float:
        """Every phase together."""
        return self.train_s + self.validate_s + self.judge_s + self.fixed_s


def data_stats(data: Any, config: TrainConfig, count_tokens: Callable[[Sequence[tuple[str, str]]], int],
               sample: int = 200) -> SftDataStats:
    """Token statistics of a ChatSplits from a seeded sample of at most `sample` training conversations.

    `count_tokens(messages)` is the chat-templated length (models.modeling.chat_template.count_tokens).
    """
    import random

    train = list(data.train)
    if not train:
        raise ConfigError("the training split is empty: nothing to estimate")
    picked = random.Random(config.seed).sample(train, min(sample, len(train)))
    whole = [min(count_tokens(e.messages), config.max_length) for e in picked]
    prompts = [count_tokens(e.prompt_messages) for e in picked]
    replies = [min(max(w - p, 1), config.max_new_tokens) for w, p in zip(whole, prompts, strict=True)]
    n_test = len(data.test)
    judged = min(n_test, config.eval_limit) if config.eval_limit else n_test
    return SftDataStats(len(train), len(data.validation), judged, sum(whole) / len(whole),
                        sum(prompts) / len(prompts), sum(replies) / len(replies))


def sft_estimate(config: TrainConfig, stats: SftDataStats, *, device: str = "cpu", params: int | None = None,
                 rates: SftRates = SftRates()) -> SftEstimate:
    """Wall time of `config` on `stats` (no early stopping: an upper bound). Raises ConfigError for a
    classifier method."""
    if config.method not in SFT_METHODS:
        raise ConfigError(f"sft_estimate covers {', '.join(SFT_METHODS)}, not {config.method!r}")
    scale = (params or rates.reference_params) / rates.reference_params
    steps = planned_steps(stats.n_train, config.batch_size, config.epochs, config.max_steps)
    epochs_run = min(config.epochs, math.ceil(steps / max(1, math.ceil(stats.n_train / config.batch_size))))
    train_rate = (rates.train_tokens_per_s_lora if config.method == "sft_lora"
                  else rates.train_tokens_per_s_full) / scale
    tokens = steps * config.batch_size * stats.mean_tokens
    validations = epochs_run if config.validate_every_epoch else 1
    val_tokens = validations * stats.n_validation * stats.mean_tokens
    answers = stats.n_judged * (2 if config.compare_base else 1)
    judge_s = answers * (stats.mean_reply_tokens / (rates.decode_tokens_per_s / scale)
                         + stats.mean_prompt_tokens / (rates.prefill_tokens_per_s / scale))
    train_s, validate_s = tokens / train_rate, val_tokens / (rates.forward_tokens_per_s / scale)
    formula = (f"{steps:,} steps x {config.batch_size} x {stats.mean_tokens:,.0f} tokens at "
               f"{train_rate:,.0f} tokens/s + {validations} x {stats.n_validation:,} validation "
               f"conversations at "
               f"{rates.forward_tokens_per_s / scale:,.0f} tokens/s + {answers:,} replies of about "
               f"{stats.mean_reply_tokens:,.0f} tokens at {rates.decode_tokens_per_s / scale:,.0f} tokens/s "
               f"+ {rates.fixed_s:,.0f} s start and export")
    gpu = device not in ("cpu", "auto")
    note = ("rates measured on 2 CPU cores; no GPU rate has been measured here, so on a GPU expect far less"
            if gpu else "rates measured on 2 CPU cores (SmolLM2-135M); a CPU run trains on a subset: "
            f"{stats.n_train:,} conversations, {stats.n_judged:,} requests judged")
    return SftEstimate(steps, train_s, validate_s, judge_s, rates.fixed_s, formula, note)
