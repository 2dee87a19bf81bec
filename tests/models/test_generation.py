"""Batched greedy generation (models.serving.generation) on the tiny random Llama with SmolLM2's tokenizer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from models.errors import ConfigError
from models.serving.generation import (
    StreamStats,
    _Stopper,
    generate_replies,
    prompt_ids,
    stream_reply,
)

PROMPTS = [
    [("user", "hi")],
    [("system", "You answer support tickets."), ("user", "my parcel arrived broken, I want a refund now")],
    [("user", "how do I change the shipping address of order 1234?")],
]


@pytest.fixture(scope="module")
def lm(tiny_lm_dir: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(tiny_lm_dir), dtype=torch.float32).eval()
    return model, AutoTokenizer.from_pretrained(str(tiny_lm_dir))


def _hf_greedy(model: Any, tokenizer: Any, messages: list[tuple[str, str]], max_new_tokens: int) -> list[int]:
    """transformers' own greedy generate for one unpadded prompt: the reference token ids."""
    ids = torch.tensor([prompt_ids(tokenizer, messages)])
    out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                         do_sample=False, pad_token_id=tokenizer.pad_token_id)
    return out[0, ids.shape[1]:].tolist()


def test_left_padded_batch_gives_the_unbatched_greedy_replies(lm: tuple[Any, Any]) -> None:
    model, tokenizer = lm
    lengths = {len(prompt_ids(tokenizer, p)) for p in PROMPTS}
    assert len(lengths) == len(PROMPTS), "the prompts must differ in length so the batch is padded"
    batched = generate_replies(model, tokenizer, PROMPTS, max_new_tokens=12, batch_size=3)
    alone = generate_replies(model, tokenizer, PROMPTS, max_new_tokens=12, batch_size=1)
    assert batched.replies == alone.replies
    assert batched.reply_tokens == alone.reply_tokens
    expected = [_hf_greedy(model, tokenizer, p, 12) for p in PROMPTS]
    assert list(batched.replies) == [tokenizer.decode(t, skip_special_tokens=True).strip() for t in expected]


def test_counts_order_and_speed(lm: tuple[Any, Any]) -> None:
    model, tokenizer = lm
    result = generate_replies(model, tokenizer, PROMPTS, max_new_tokens=7, batch_size=2)
    assert result.prompt_tokens == tuple(len(prompt_ids(tokenizer, p)) for p in PROMPTS)
    # a random model that never says eos fills the cap; the eos id never counts
    stops = _Stopper.of(model, tokenizer).ids
    for messages, count in zip(PROMPTS, result.reply_tokens, strict=True):
        reference = _hf_greedy(model, tokenizer, messages, 7)
        expected = reference.index(next(t for t in reference if t in stops)) if stops & set(reference) else 7
        assert count == expected
    assert len(result.latency_s) == 3 and all(s > 0 for s in result.latency_s)
    # sorted by length (29, 31 and 45 tokens): prompts 1 and 0 share the first batch and its latency
    assert result.prompt_tokens[1] < result.prompt_tokens[0] < result.prompt_tokens[2]
    assert result.latency_s[0] == result.latency_s[1] != result.latency_s[2]
    assert result.prefill_tokens_per_s > 0 and result.decode_tokens_per_s > 0
    assert result.seconds >= max(result.latency_s)
    assert result.device == "cpu"


def test_stops_at_an_end_token_and_does_not_count_it(lm: tuple[Any, Any]) -> None:
    model, tokenizer = lm
    reference = _hf_greedy(model, tokenizer, PROMPTS[1], 10)
    stop = reference[4]
    first = reference.index(stop)  # the reply ends before the first occurrence
    saved = model.generation_config.eos_token_id
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, stop]
    try:
        result = generate_replies(model, tokenizer, PROMPTS, max_new_tokens=10, batch_size=3)
    finally:
        model.generation_config.eos_token_id = saved
    assert result.reply_tokens[1] == first
    assert result.replies[1] == tokenizer.decode(reference[:first], skip_special_tokens=True).strip()


def test_stream_reply_streams_the_greedy_reply_then_its_stats(lm: tuple[Any, Any]) -> None:
    model, tokenizer = lm
    items = list(stream_reply(model, tokenizer, PROMPTS[2], max_new_tokens=9))
    *pieces, stats = items
    assert isinstance(stats, StreamStats) and all(isinstance(p, str) for p in pieces)
    batch = generate_replies(model, tokenizer, [PROMPTS[2]], max_new_tokens=9)
    assert "".join(pieces).strip() == stats.reply == batch.replies[0]
    assert stats.reply_tokens == batch.reply_tokens[0]
    assert stats.prompt_tokens == batch.prompt_tokens[0]
    assert stats.prefill_tokens_per_s > 0 and stats.seconds > 0


def test_stop_string_of_the_fallback_template(lm: tuple[Any, Any]) -> None:
    _, tokenizer = lm
    stopper = _Stopper(tokenizer, frozenset({tokenizer.eos_token_id}), ("STOP",))
    tokens = tokenizer("Sure, here it is.STOP and more", add_special_tokens=False)["input_ids"]
    kept = stopper.trim(tokens)
    assert tokenizer.decode(kept) == "Sure, here it is."
    assert stopper.ends_with_string(tokens) and not stopper.ends_with_string(kept)
    assert stopper.shown("Sure, here it isST") == "Sure, here it is"  # a possible marker is held back
    assert stopper.shown("Sure.STOP more") == "Sure."


class _SmallMemory(torch.nn.Module):
    """Wraps a model and runs out of memory on any batch of more than one row."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.inner = model
        self.generation_config = model.generation_config

    @property
    def device(self) -> torch.device:
        return self.inner.device

    def forward(self, input_ids: torch.Tensor, **kwargs: Any) -> Any:
        if input_ids.shape[0] > 1:
            raise torch.OutOfMemoryError("CUDA out of memory (test)")
        return self.inner(input_ids=input_ids, **kwargs)


def test_out_of_memory_halves_the_batch(lm: tuple[Any, Any]) -> None:
    model, tokenizer = lm
    expected = generate_replies(model, tokenizer, PROMPTS, max_new_tokens=5, batch_size=1)
    halved = generate_replies(_SmallMemory(model), tokenizer, PROMPTS, max_new_tokens=5, batch_size=3)
    assert halved.replies == expected.replies


def test_bad_arguments_say_what_to_change(lm: tuple[Any, Any]) -> None:
    model, tokenizer = lm
    with pytest.raises(ConfigError, match="max_new_tokens"):
        generate_replies(model, tokenizer, PROMPTS, max_new_tokens=0)
    with pytest.raises(ConfigError, match="batch_size"):
        generate_replies(model, tokenizer, PROMPTS, batch_size=0)
    with pytest.raises(ConfigError, match="no messages"):
        generate_replies(model, tokenizer, [[]])
    saved = tokenizer.chat_template
    tokenizer.chat_template = None
    try:
        with pytest.raises(ConfigError, match="chat template"):
            generate_replies(model, tokenizer, PROMPTS)
    finally:
        tokenizer.chat_template = saved
