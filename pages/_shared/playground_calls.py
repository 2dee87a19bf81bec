"""Playground calls: one timed prediction, top labels, batch predictions of several models, timed LLM streams.

No torch here (predictors and LLMs are passed in), so the Playground page imports this module freely.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.errors import ConfigError, RunFolderError
from models.serving.explain import ProbabilityModel

MAX_BATCH_ROWS = 5_000
"""Most rows one Playground batch predicts (a bigger file belongs in `python -m models predict`)."""


def timed_calls(method: str) -> int:
    """Single-text calls to time per Playground prediction: 3, or 1 for zero-shot (an LLM call per label)."""
    return 1 if method == "zero_shot" else 3


def run_folder(run_id: str, recorded_runs_dir: str | None = None) -> Path:
    """The folder of run `run_id`: under the current runs folder, else under the one its config recorded.

    Raises RunFolderError when neither holds it (moved or deleted after it was ingested).
    """
    from models.modeling.registry import runs_dir

    candidates = [runs_dir() / run_id] + ([Path(recorded_runs_dir) / run_id] if recorded_runs_dir else [])
    for folder in candidates:
        if (folder / "config.json").is_file():
            return folder
    raise RunFolderError(f"run folder {run_id} not found in {', '.join(str(c.parent) for c in candidates)}; "
                         f"it was moved or deleted - train it again on the Fine-tune page")


@dataclass(frozen=True)
class TimedPrediction:
    """One model's answer to one text."""

    label: str
    """Most likely label."""
    probabilities: pd.DataFrame
    """Columns label, probability (0-1): every label, most likely first."""
    latency_ms: float
    """Wall time of the fastest of `calls` single-text predict_proba calls (perf_counter)."""
    calls: int
    """How many identical calls were timed (the fastest is the least disturbed by other work)."""


def predict_one(model: ProbabilityModel, text: str, calls: int = 3) -> TimedPrediction:
    """Predict one text, timing `calls` identical single-text calls and keeping the fastest.

    Raises ConfigError for an empty text or calls < 1.
    """
    if not text.strip():
        raise ConfigError("type a text to classify; it is empty")
    if calls < 1:
        raise ConfigError(f"calls must be at least 1, got {calls}")
    timings_ms = []
    for _ in range(calls):
        start = time.perf_counter()
        probs = np.asarray(model.predict_proba([text]))[0]  # [num_labels]
        timings_ms.append((time.perf_counter() - start) * 1000.0)
    latency_ms = min(timings_ms)
    frame = pd.DataFrame({"label": list(model.label_names), "probability": probs.astype(float)})
    frame = frame.sort_values(["probability", "label"], ascending=[False, True],
                              kind="stable").reset_index(drop=True)
    return TimedPrediction(label=str(frame.loc[0, "label"]), probabilities=frame,
                           latency_ms=latency_ms, calls=calls)


def batch_texts(frame: pd.DataFrame, text_column: str, max_rows: int = MAX_BATCH_ROWS) -> list[str]:
    """The text column of an uploaded table as strings (missing values become '').

    Raises ConfigError for an unknown column, an empty table or more than `max_rows` rows.
    """
    if text_column not in frame.columns:
        raise ConfigError(f"column {text_column!r} not found; "
                          f"columns are: {', '.join(map(str, frame.columns))}")
    if frame.empty:
        raise ConfigError("the uploaded table has no rows")
    if len(frame) > max_rows:
        raise ConfigError(f"the file has {len(frame):,} rows; the Playground predicts at most {max_rows:,}. "
                          f"Split it, or run `python -m models predict` on the whole file")
    return frame[text_column].fillna("").astype(str).tolist()


def predict_batch(models: Mapping[str, ProbabilityModel],
                  texts: Sequence[str]) -> tuple[pd.DataFrame, dict[str, float]]:
    """(table, seconds per model): column text, then '<name> label' and '<name> confidence' per model.

    Each model sees the whole list in one predict_proba call (its own batching).
    """
    table = pd.DataFrame({"text": list(texts)})
    seconds: dict[str, float] = {}
    for name, model in models.items():
        start = time.perf_counter()
        probs = np.asarray(model.predict_proba(list(texts)))  # [n, num_labels]
        seconds[name] = time.perf_counter() - start
        labels = np.asarray(model.label_names, dtype=object)
        table[f"{name} label"] = labels[probs.argmax(axis=1)] if len(texts) else []
        table[f"{name} confidence"] = probs.max(axis=1) if len(texts) else []
    return table, seconds


# ---------------------------------------------------------------- LLM streams


@dataclass(frozen=True)
class GenerationStats:
    """Speed of one streamed generation."""

    time_to_first_token_ms: float
    """From the click (TimedStream's `started_at`, else the stream's start) to the first text piece: model
    loading or one-time preparation, prompt processing and the first token - what the user waited."""
    total_s: float
    """From the click to the stream's end."""
    new_tokens: int
    """Tokens in the generated text (re-tokenized without special tokens)."""
    preparation_s: float = 0.0
    """Part of the wait spent before the stream started: loading the model, or converting it once."""

    @property
    def tokens_per_s(self) -> float:
        """Generated tokens per second after the first one (decode speed); NaN for fewer than 2 tokens."""
        decode_s = self.total_s - self.time_to_first_token_ms / 1000.0
        return (self.new_tokens - 1) / decode_s if self.new_tokens > 1 and decode_s > 0 else float("nan")


class TimedStream:
    """Wrap a text-piece iterator (models.modeling.causal_lm.generate_stream): pass pieces through, time
    them, keep the text.

        clicked = time.perf_counter()      # before loading the model: the wait is measured from the click
        model, tokenizer = load(...)
        stream = TimedStream(generate_stream(model, tokenizer, prompt), started_at=clicked)
        st.write_stream(stream)          # or: "".join(stream)
        stats = stream.stats(tokenizer)
    """

    def __init__(self, pieces: Iterator[str], started_at: float | None = None) -> None:
        """`started_at`: time.perf_counter() of the click, when loading the model came first; the stream's
        own start otherwise."""
        self._pieces = pieces
        self._clicked = started_at
        self._start: float | None = None
        self._first: float | None = None
        self._end: float | None = None
        self._text: list[str] = []

    def __iter__(self) -> Iterator[str]:
        self._start = time.perf_counter()
        for piece in self._pieces:
            if self._first is None and piece:
                self._first = time.perf_counter()
            self._text.append(piece)
            yield piece
        self._end = time.perf_counter()

    @property
    def text(self) -> str:
        """Everything streamed so far."""
        return "".join(self._text)

    def stats(self, tokenizer: Any) -> GenerationStats:
        """Timings of the finished stream; ConfigError if it was not consumed to the end."""
        if self._start is None or self._end is None:
            raise ConfigError("the stream has not finished; iterate over it to the end first")
        first = self._first if self._first is not None else self._end
        origin = self._clicked if self._clicked is not None and self._clicked <= self._start else self._start
        tokens = len(tokenizer(self.text, add_special_tokens=False)["input_ids"]) if self.text else 0
        return GenerationStats(time_to_first_token_ms=(first - origin) * 1000.0,
                               total_s=self._end - origin, new_tokens=tokens,
                               preparation_s=self._start - origin)


def fill_template(template: str, text: str, labels: Sequence[str] = ()) -> str:
    """A prompt template (models.modeling.causal_lm.PROMPT_TEMPLATES) filled with the text and
    comma-separated labels."""
    return template.replace("{labels}", ", ".join(labels) or "(no labels given)").replace("{text}", text)


# ---------------------------------------------------------------- drafting replies (sft runs)


def generation_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The playground_runs rows of finished reply-drafting runs (sft, sft_lora), newest first."""
    from models.core.config import SFT_METHODS

    return runs[runs["method"].isin(SFT_METHODS)].reset_index(drop=True)


def classifier_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The playground_runs rows of text classifiers a predictor can load: the training methods but the
    reply-drafting ones (endpoint runs live at their endpoint, churn runs score accounts, not texts)."""
    from models.core.config import METHODS, SFT_METHODS

    classifiers = [m for m in METHODS if m not in SFT_METHODS]
    return runs[runs["method"].isin(classifiers)].reset_index(drop=True)


def draft_messages(request: str, system_prompt: str | None) -> list[tuple[str, str]]:
    """The conversation both models answer: the run's system prompt (when its config has one) and the request.

    Raises ConfigError for an empty request.
    """
    if not request.strip():
        raise ConfigError("type a customer message to answer; it is empty")
    system = [("system", system_prompt)] if system_prompt and system_prompt.strip() else []
    return [*system, ("user", request)]


def prompt_tokenizer(base_tokenizer: Any, tuned_tokenizer: Any) -> Any:
    """The tokenizer the base model answers with: the fine-tuned run's (its chat template, the one the run
    trained with) when both have the same vocabulary and end token, as a fine-tune of that base does, so both
    models read the very same prompt ids; the base model's own otherwise."""
    same = (len(base_tokenizer) == len(tuned_tokenizer)
            and base_tokenizer.eos_token == tuned_tokenizer.eos_token
            and base_tokenizer.get_vocab() == tuned_tokenizer.get_vocab())
    return tuned_tokenizer if same else base_tokenizer


@dataclass(frozen=True)
class ReplyStats:
    """Speed of one streamed reply, measured here (model loading not counted)."""

    prompt_tokens: int
    """Tokens of the chat-templated prompt the model read."""
    reply_tokens: int
    """Tokens of the reply, end-of-sequence token excluded."""
    prefill_tokens_per_s: float
    """Prompt tokens over the time to the first reply token."""
    decode_tokens_per_s: float
    """Reply tokens after the first over the time they took (0 for a reply of at most one token)."""
    seconds: float
    """Wall seconds of the whole reply, prompt included."""
    device: str
    """Where it ran, as the cost model names hardware ('CPU x2', or the GPU's name)."""


class ReplyStream:
    """Pass the text pieces of models.serving.generation.stream_reply through (to st.write_stream) and keep
    its final StreamStats record.

        stream = ReplyStream(stream_reply(model, tokenizer, messages, max_new_tokens=256), "CPU x2")
        st.write_stream(stream)
        stream.text, stream.stats
    """

    def __init__(self, items: Iterator[Any], device: str) -> None:
        self._items = items
        self._device = device
        self._text: list[str] = []
        self._stats: ReplyStats | None = None

    def __iter__(self) -> Iterator[str]:
        for item in self._items:
            if isinstance(item, str):
                self._text.append(item)
                yield item
            else:
                self._stats = ReplyStats(
                    prompt_tokens=int(item.prompt_tokens), reply_tokens=int(item.reply_tokens),
                    prefill_tokens_per_s=float(item.prefill_tokens_per_s),
                    decode_tokens_per_s=float(item.decode_tokens_per_s), seconds=float(item.seconds),
                    device=self._device)

    @property
    def text(self) -> str:
        """Everything streamed so far, surrounding whitespace removed."""
        return "".join(self._text).strip()

    @property
    def stats(self) -> ReplyStats:
        """The final record; ConfigError when the stream has not ended."""
        if self._stats is None:
            raise ConfigError("the reply stream has not finished; iterate over it to the end first")
        return self._stats


@dataclass(frozen=True)
class ReplyCost:
    """What one reply costs at an hourly hardware price, or why it is unknown."""

    per_reply_usd: float | None
    """Dollars for this one reply; None without a price."""
    basis: str
    """Formula and sources (price, date, measured seconds, utilisation), or why it is unknown."""

    @property
    def per_1k_usd(self) -> float | None:
        """Dollars per 1,000 such replies."""
        return None if self.per_reply_usd is None else self.per_reply_usd * 1000.0


def reply_cost(stats: ReplyStats, price: Mapping[str, Any] | None, utilisation: float = 1.0) -> ReplyCost:
    """Cost of one reply = hourly price / 3600 x its measured seconds / utilisation (the classifiers' serving
    cost, analytics.compute.costs.cost_per_1k_requests_usd, at 1 / seconds replies per second).

    Raises CostInputError for a bad utilisation or price.
    """
    from analytics.compute import costs
    from analytics.compute.compare.pricing import price_basis
    from analytics.money import format_duration, format_percent

    if price is None:
        return ReplyCost(None, "unknown: choose a hardware price")
    hourly = price.get("hourly_usd")
    if hourly is None or pd.isna(hourly):
        return ReplyCost(None, f"unknown: {price.get('label', 'this price')} has no hourly price")
    if not stats.seconds > 0:
        return ReplyCost(None, "unknown: the reply took no measurable time")
    per_1k = costs.cost_per_1k_requests_usd(1.0 / stats.seconds, float(hourly), utilisation)
    return ReplyCost(per_1k / 1000.0,
                     f"{price_basis(price)} x {format_duration(stats.seconds)} for this reply (one request "
                     f"at a time, streamed on {stats.device}) / {format_percent(utilisation, 0)} utilisation")


def draft_labels(rows: Sequence[Mapping[str, Any]], evaluations: Sequence[Mapping[str, Any] | None]
                 ) -> list[str]:
    """Picker labels of reply-drafting runs, as every run picker words them (analytics.compute.run_labels:
    'bitext_customer_support · SFT-LoRA SmolLM2-135M-Instruct · ROUGE-L 42.1 · 12:41'), the ROUGE-L read
    from each run's eval.json."""
    from analytics.compute.run_labels import run_labels

    return run_labels([dict(row, rouge_l=(evaluation or {}).get("rouge_l"))
                       for row, evaluation in zip(rows, evaluations, strict=True)])


REPLY_UNITS = {1_000: "per 1k replies", 1_000_000: "per 1M replies"}
"""How a reply's cost is quoted, by the number of replies analytics.money.usd_per_requests_unit picks."""


def reply_cost_words(cost: ReplyCost) -> tuple[str, str]:
    """(headline, note) of a reply's cost: '$0.12 per 1k replies' (per 1M replies when 1k cost under a
    cent), and '$0.00012 a reply' (or 'under $0.0001 a reply': never a string of zeros); 'unknown' and the
    reason without a price."""
    from analytics.money import format_usd, usd_per_requests_unit

    if cost.per_reply_usd is None:
        return "unknown", cost.basis
    replies, _ = usd_per_requests_unit([cost.per_reply_usd])
    one = (f"{format_usd(cost.per_reply_usd)} a reply" if cost.per_reply_usd >= 1e-4
           else "under $0.0001 a reply")
    return f"{format_usd(cost.per_reply_usd * replies)} {REPLY_UNITS[replies]}", one
