"""Batched greedy generation with a KV cache, timed: what the generation evaluation and the Playground run.

One decoding loop serves both: prompts (chat messages) go through the tokenizer's chat template with the
generation prompt, rows are LEFT padded (so every row's next token sits in the last column) and the model
is called once over the whole prompt (prefill, only the last position's logits) and then once per new
token with `past_key_values` (decode). Prefill tokens/s is real prompt tokens over the time to the batch's
first token; decode tokens/s is tokens produced by the decode steps over the time those steps took. A row
stops at its end-of-sequence token; the batch stops when every row has stopped or `max_new_tokens` is hit.
Token counts never include padding or the end-of-sequence token.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from models.errors import ConfigError, InsufficientMemoryError

log = logging.getLogger(__name__)

Messages = Sequence[tuple[str, str]]
"""One conversation as (role, content) pairs; roles system | user | assistant."""


@dataclass(frozen=True)
class GenerationResult:
    """Replies to a list of prompts, in the prompts' order, with token counts and measured speed."""

    replies: tuple[str, ...]
    """Generated text per prompt, special tokens stripped, surrounding whitespace removed."""
    prompt_tokens: tuple[int, ...]
    """Chat-templated prompt length per prompt (tokens, no padding)."""
    reply_tokens: tuple[int, ...]
    """Generated tokens per prompt, without padding and without the end-of-sequence token."""
    latency_s: tuple[float, ...]
    """Per prompt: wall seconds of the batch it was generated in (prefill + decode)."""
    prefill_tokens_per_s: float
    """Real prompt tokens over the summed time to each batch's first token."""
    decode_tokens_per_s: float
    """Tokens produced by decode steps (after the first) over the summed decode time; 0 when none."""
    seconds: float
    """Wall seconds of the whole call (tokenising, every batch, decoding text)."""
    device: str
    """Device the model ran on, e.g. 'cpu' or 'cuda:0'."""


@dataclass(frozen=True)
class StreamStats:
    """Last item of `stream_reply`: how long the reply took and how fast it was generated."""

    reply: str
    """The whole reply (special tokens stripped)."""
    prompt_tokens: int
    """Chat-templated prompt length (tokens)."""
    reply_tokens: int
    """Generated tokens without the end-of-sequence token."""
    prefill_tokens_per_s: float
    """Prompt tokens over the time to the first token."""
    decode_tokens_per_s: float
    """Tokens after the first over the time they took; 0 when the reply has at most one token."""
    seconds: float
    """Wall seconds from the first forward pass to the last token."""
    device: str
    """Device the model ran on."""


def prompt_ids(tokenizer: Any, messages: Messages) -> list[int]:
    """Token ids of `messages` in the tokenizer's chat template, ending with the assistant's generation
    prompt (models.modeling.chat_template.prompt_ids). Raises ConfigError when the tokenizer has no chat
    template."""
    from models.modeling.chat_template import prompt_ids as templated_ids

    if not getattr(tokenizer, "chat_template", None):
        raise ConfigError("the tokenizer has no chat template; give it one first "
                          "(models.modeling.chat_template.ensure_chat_template)")
    return templated_ids(tokenizer, messages)


def stop_strings(tokenizer: Any) -> tuple[str, ...]:
    """Text that ends a reply although no end-of-sequence token was generated: the ChatML fallback
    template's end marker, which is plain text to a tokenizer that had no template of its own."""
    from models.modeling.chat_template import FALLBACK_STOP, FALLBACK_TEMPLATE

    return (FALLBACK_STOP,) if getattr(tokenizer, "chat_template", None) == FALLBACK_TEMPLATE else ()


def stop_token_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    """End-of-sequence ids: the tokenizer's and every id in the model's generation config."""
    ids: set[int] = set()
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for value in (tokenizer.eos_token_id, configured):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(int(v) for v in value)
    if not ids:
        raise ConfigError("neither the tokenizer nor the model's generation config has an end-of-sequence "
                          "token; set tokenizer.eos_token")
    return frozenset(ids)


@dataclass(frozen=True)
class _Stopper:
    """Where a reply ends: an end-of-sequence id, or (fallback template) a stop string in the text."""

    tokenizer: Any
    ids: frozenset[int]
    strings: tuple[str, ...]

    @classmethod
    def of(cls, model: Any, tokenizer: Any) -> _Stopper:
        return cls(tokenizer, stop_token_ids(model, tokenizer), stop_strings(tokenizer))

    @property
    def pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return int(pad) if pad is not None else min(self.ids)

    def ends_with_string(self, tokens: list[int]) -> bool:
        """True when the reply so far contains a stop string (checks its last 16 tokens only)."""
        if not self.strings:
            return False
        tail = self.tokenizer.decode(tokens[-16:], skip_special_tokens=False)
        return any(stop in tail for stop in self.strings)

    def trim(self, tokens: list[int]) -> list[int]:
        """`tokens` up to (without) the first stop string, in whole tokens so counts stay exact."""
        if not self.strings:
            return tokens
        text = self.tokenizer.decode(tokens, skip_special_tokens=False)
        cut = min((text.index(stop) for stop in self.strings if stop in text), default=None)
        if cut is None:
            return tokens
        kept = list(tokens)
        while kept and not text[:cut].startswith(self.tokenizer.decode(kept, skip_special_tokens=False)):
            kept.pop()
        return kept

    def shown(self, text: str) -> str:
        """What of `text` may be streamed: cut at a stop string, holding back a possible stop's start."""
        for stop in self.strings:
            if stop in text:
                text = text[:text.index(stop)]
            for size in range(len(stop) - 1, 0, -1):
                if text.endswith(stop[:size]):
                    return text[:-size]
        return text


def _left_padded(rows: Sequence[Sequence[int]], pad_id: int,
                 device: torch.device) -> tuple[torch.Tensor, ...]:
    """(input_ids, attention_mask, position_ids), each [batch, longest]; padding on the left."""
    width = max(len(row) for row in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        input_ids[i, width - len(row):] = torch.tensor(row, dtype=torch.long)
        mask[i, width - len(row):] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    return input_ids.to(device), mask.to(device), positions.to(device)


Picker = Callable[[torch.Tensor], torch.Tensor]
"""Next-token choice from last-position logits [batch, vocab] -> ids [batch]."""


def greedy(logits: torch.Tensor) -> torch.Tensor:
    """The most likely token per row."""
    return logits.argmax(dim=-1)


def sampler(temperature: float, top_p: float = 0.95, seed: int = 0) -> Picker:
    """Temperature + nucleus sampling, seeded; temperature 0 is greedy."""
    if temperature <= 0:
        return greedy
    generator = torch.Generator().manual_seed(seed)

    def pick(logits: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(logits.float() / temperature, dim=-1).cpu()
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        outside = sorted_probs.cumsum(-1) - sorted_probs > top_p  # keep the smallest set reaching top_p
        sorted_probs[outside] = 0.0
        chosen = torch.multinomial(sorted_probs, 1, generator=generator)
        return order.gather(-1, chosen).squeeze(-1).to(logits.device)

    return pick


def _decode_steps(model: Any, rows: Sequence[Sequence[int]], pad_id: int, max_new_tokens: int,
                  pick: Picker) -> Iterator[list[int]]:
    """Yield each step's next token per row (first yield: after the prefill). The caller stops early by
    closing the generator; finished rows keep being computed (their tokens are ignored)."""
    input_ids, mask, positions = _left_padded(rows, pad_id, model.device)
    with torch.inference_mode():
        out = model(input_ids=input_ids, attention_mask=mask, position_ids=positions, use_cache=True,
                    logits_to_keep=1)
        for step in range(max_new_tokens):
            chosen = pick(out.logits[:, -1, :])
            yield chosen.tolist()  # .tolist() waits for the device: the timing around a yield is real
            if step == max_new_tokens - 1:
                return
            mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=1)
            positions = positions[:, -1:] + 1
            out = model(input_ids=chosen[:, None], attention_mask=mask, position_ids=positions,
                        cache=out.cache, use_cache=True)


@dataclass
class _BatchOutput:
    tokens: list[list[int]]
    prefill_s: float
    decode_s: float
    decode_tokens: int


def _generate_batch(model: Any, rows: Sequence[Sequence[int]], stopper: _Stopper, max_new_tokens: int,
                    pick: Picker) -> _BatchOutput:
    """Generate for one left-padded batch; tokens per row exclude the stop token / stop string."""
    tokens: list[list[int]] = [[] for _ in rows]
    done = [False] * len(rows)
    start = time.perf_counter()
    first_token_at = start
    decode_tokens = 0
    steps = _decode_steps(model, rows, stopper.pad_id, max_new_tokens, pick)
    try:
        for step, chosen in enumerate(steps):
            if step == 0:
                first_token_at = time.perf_counter()
            for i, token in enumerate(chosen):
                if done[i]:
                    continue
                done[i] = token in stopper.ids
                if not done[i]:
                    tokens[i].append(token)
                    decode_tokens += int(step > 0)
                    done[i] = stopper.ends_with_string(tokens[i])
            if all(done):
                break
    finally:
        steps.close()
    end = time.perf_counter()
    trimmed = [stopper.trim(row) for row in tokens]
    decode_tokens -= sum(len(row) - len(kept) for row, kept in zip(tokens, trimmed, strict=True))
    return _BatchOutput(trimmed, first_token_at - start, end - first_token_at, max(decode_tokens, 0))


def _is_oom(error: BaseException) -> bool:
    return isinstance(error, torch.OutOfMemoryError) or "out of memory" in str(error).lower()


def _generate_batch_or_halve(model: Any, rows: Sequence[Sequence[int]], stopper: _Stopper,
                             max_new_tokens: int, pick: Picker) -> list[_BatchOutput]:
    """One batch; on out-of-memory, the two halves one after the other (down to a single row)."""
    try:
        return [_generate_batch(model, rows, stopper, max_new_tokens, pick)]
    except (torch.OutOfMemoryError, RuntimeError) as e:
        if not _is_oom(e):
            raise
        if len(rows) == 1:
            raise InsufficientMemoryError(
                f"generation ran out of memory for one prompt of {len(rows[0])} tokens with "
                f"max_new_tokens={max_new_tokens}; lower max_new_tokens or the context length") from e
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        half = len(rows) // 2
        log.warning("generation ran out of memory at batch %d; retrying as %d + %d", len(rows), half,
                    len(rows) - half)
        return (_generate_batch_or_halve(model, rows[:half], stopper, max_new_tokens, pick)
                + _generate_batch_or_halve(model, rows[half:], stopper, max_new_tokens, pick))


def _check_arguments(prompts: Sequence[Messages], max_new_tokens: int, batch_size: int) -> None:
    if max_new_tokens < 1:
        raise ConfigError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
    empty = [i for i, prompt in enumerate(prompts) if not prompt]
    if empty:
        raise ConfigError(f"{len(empty)} prompt(s) have no messages (first at index {empty[0]}); "
                          "every prompt needs at least a user message")


def generate_replies(model: Any, tokenizer: Any, prompts: Sequence[Messages], *, max_new_tokens: int = 256,
                     batch_size: int = 16, pick: Picker = greedy) -> GenerationResult:
    """Replies to every prompt (greedy unless `pick` says otherwise), in the prompts' order.

    prompts: conversations as (role, content) pairs, without the reply; each is chat-templated with the
    generation prompt. Prompts are sorted by length and generated `batch_size` at a time with left
    padding and the KV cache; a batch that runs out of memory is split in two. max_new_tokens caps each
    reply (the end-of-sequence token counts towards it, as in transformers' generate). Raises ConfigError
    for bad arguments, InsufficientMemoryError when one prompt alone does not fit.
    """
    _check_arguments(prompts, max_new_tokens, batch_size)
    start = time.perf_counter()
    stopper = _Stopper.of(model, tokenizer)
    rows = [prompt_ids(tokenizer, prompt) for prompt in prompts]
    order = sorted(range(len(rows)), key=lambda i: (len(rows[i]), i))
    tokens: list[list[int]] = [[] for _ in rows]
    latency = [0.0] * len(rows)
    prefill_s = decode_s = 0.0
    decode_tokens = 0
    for begin in range(0, len(order), batch_size):
        chunk = order[begin:begin + batch_size]
        done_so_far = 0
        for part in _generate_batch_or_halve(model, [rows[i] for i in chunk], stopper, max_new_tokens, pick):
            members = chunk[done_so_far:done_so_far + len(part.tokens)]
            done_so_far += len(part.tokens)
            for i, generated in zip(members, part.tokens, strict=True):
                tokens[i] = generated
                latency[i] = part.prefill_s + part.decode_s
            prefill_s += part.prefill_s
            decode_s += part.decode_s
            decode_tokens += part.decode_tokens
    replies = tuple(tokenizer.decode(t, skip_special_tokens=True).strip() for t in tokens)
    prompt_tokens = sum(len(row) for row in rows)
    return GenerationResult(
        replies=replies, prompt_tokens=tuple(len(row) for row in rows),
        reply_tokens=tuple(len(t) for t in tokens), latency_s=tuple(latency),
        prefill_tokens_per_s=prompt_tokens / prefill_s if prefill_s > 0 else 0.0,
        decode_tokens_per_s=decode_tokens / decode_s if decode_s > 0 else 0.0,
        seconds=time.perf_counter() - start, device=str(model.device))


def stream_reply(model: Any, tokenizer: Any, messages: Messages, *, max_new_tokens: int = 256,
                 temperature: float = 0.0, seed: int = 0) -> Iterator[str | StreamStats]:
    """Yield the reply's text piece by piece, then one StreamStats (the Playground's side-by-side).

    Greedy at temperature 0, else temperature + top-p 0.95 sampling (seeded). Text pieces are the
    difference between successive decodes of all tokens so far, so multi-byte characters arrive whole.
    Raises ConfigError for bad arguments or a tokenizer without chat template.
    """
    _check_arguments([messages], max_new_tokens, 1)
    stopper = _Stopper.of(model, tokenizer)
    row = prompt_ids(tokenizer, messages)
    start = time.perf_counter()
    tokens: list[int] = []
    shown = ""
    first_token_at = start
    steps = _decode_steps(model, [row], stopper.pad_id, max_new_tokens, sampler(temperature, seed=seed))
    try:
        for step, (token,) in enumerate(steps):
            if step == 0:
                first_token_at = time.perf_counter()
            if token in stopper.ids:
                break
            tokens.append(token)
            text = stopper.shown(tokenizer.decode(tokens, skip_special_tokens=True))
            if len(text) > len(shown) and text.startswith(shown) and not text.endswith("\ufffd"):
                yield text[len(shown):]
                shown = text
            if stopper.ends_with_string(tokens):
                break
    finally:
        steps.close()
    end = time.perf_counter()
    tokens = stopper.trim(tokens)
    decode_s = end - first_token_at
    after_first = max(len(tokens) - 1, 0)
    yield StreamStats(
        reply=tokenizer.decode(tokens, skip_special_tokens=True).strip(), prompt_tokens=len(row),
        reply_tokens=len(tokens),
        prefill_tokens_per_s=len(row) / (first_token_at - start) if first_token_at > start else 0.0,
        decode_tokens_per_s=after_first / decode_s if decode_s > 0 and after_first else 0.0,
        seconds=end - start, device=str(model.device))
