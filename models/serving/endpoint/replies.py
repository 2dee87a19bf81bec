"""The generation task of evaluate-endpoint: an endpoint writes the replies, judged like our sft runs.

The requests are the test conversations of a generation dataset (bitext_customer_support), sent as they are
(their prompt messages); `limit` picks a seeded subset stratified by intent, like an sft run's eval_limit.
The replies are scored by models.core.judge exactly as `evaluate_generations` scores a fine-tuned model's
(ROUGE-L against the reference, intent match by the IntentJudge trained on the TRAIN split's references,
placeholders, bootstrap CIs), and land in generations.parquet with an sft run's columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from models.errors import ConfigError


@dataclass(frozen=True)
class EndpointReplies:
    """The endpoint's replies in the shape the judge reads (models.serving.generation.GenerationResult's
    fields it uses), so the judge scores them as it scores our own."""

    replies: tuple[str, ...]
    """Reply text per request."""
    reply_tokens: tuple[int, ...]
    """Completion tokens per reply (`usage`; a word count where the endpoint reported none)."""
    latency_s: tuple[float, ...]
    """Client-measured seconds per request."""
    decode_tokens_per_s: float
    """Completion tokens over request seconds (prefill included: the client cannot separate them)."""


def load_chat(config: Any) -> Any:
    """The dataset's conversations (models.data.chat.load_chat_data) split as an sft run splits them."""
    from models.data.catalog import get_entry
    from models.data.chat import load_chat_data

    entry = get_entry(config.dataset)
    if "generation" not in entry.tasks:
        raise ConfigError(f"{entry.name} has no reference replies; the generation task needs "
                          "bitext_customer_support (or use task classification)")
    return load_chat_data(SimpleNamespace(dataset=entry.name, seed=config.seed, pii_scrub=False,
                                          train_examples_per_class=None, system_prompt=None))


def test_requests(data: Any, limit: int | None, seed: int) -> tuple[Any, ...]:
    """The judged test conversations: all, or `limit` stratified by intent (seeded)."""
    from models.data.chat import stratified_subset

    return stratified_subset(data.test, limit, seed)


def request_messages(example: Any) -> list[dict[str, str]]:
    """The chat messages sent for one conversation: every message but the reference reply."""
    return [{"role": role, "content": content} for role, content in example.prompt_messages]


def judge_replies(data: Any, examples: Sequence[Any], answers: Sequence[Any], seed: int) -> tuple[Any, dict]:
    """(generations.parquet frame, reply metrics) for the answered `examples`; `answers` are the
    CachedResponse of each, in order."""
    import pandas as pd

    from models.core.judge import _base_columns, _fit_judge, _judge_accuracy, _judge_replies, _model_metrics

    replies = tuple(a.answer for a in answers)
    tokens = tuple(int(a.completion_tokens) if a.completion_tokens is not None else len(a.answer.split())
                   for a in answers)
    latency = tuple(a.latency_ms / 1000.0 for a in answers)
    result = EndpointReplies(replies, tokens, latency,
                             float(sum(tokens) / sum(latency)) if sum(latency) > 0 else 0.0)
    judge = _fit_judge(data.train, seed)
    scored = _judge_replies(result, examples, judge)  # type: ignore[arg-type]
    frame = pd.DataFrame({
        "id": [ex.id for ex in examples],
        "intent": pd.array([ex.intent for ex in examples], dtype="string"),
        "prompt": [ex.request for ex in examples],
        "reference": [ex.reference for ex in examples],
        "reply": scored["reply"],
        "prompt_tokens": pd.array([a.prompt_tokens for a in answers], dtype="Int64"),
    })
    for column in ("reply_tokens", "latency_s", "rouge_l", "intent_pred", "intent_match", "placeholders"):
        frame[column] = scored[column]
    for column, values in _base_columns(None, len(frame)).items():
        frame[column] = values
    metrics: dict[str, Any] = {"task": "generation", **_model_metrics(scored, result, seed)}  # type: ignore
    prompt = [a.prompt_tokens for a in answers if a.prompt_tokens is not None]
    metrics.update(mean_prompt_tokens=float(np.mean(prompt)) if prompt else None,
                   mean_reference_tokens=None, prefill_tokens_per_s=None,
                   intent_judge_accuracy=_judge_accuracy(judge, examples))
    return frame, metrics
