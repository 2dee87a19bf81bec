"""Run labels for pickers: 'banking77 · full MiniLM-L6-v2 · 85.2% · 12:41', one wording for the Fine-tune
results picker and the Playground's model picker.

No model code: a label is built from a runs row (analytics.ingest.runs.list_runs or playground_runs).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone

import pandas as pd

from analytics.money import format_number, format_percent

METHOD_WORDS: dict[str, str] = {
    "classic": "classic",
    "linear_probe": "probe",
    "full": "full",
    "lora": "LoRA",
    "zero_shot": "zero-shot",
    "sft": "SFT",
    "sft_lora": "SFT-LoRA",
}
"""How each training method is written in a label."""

MODEL_PREFIXES = ("all-",)
"""Prefixes dropped from model names in labels (all-MiniLM-L6-v2 reads MiniLM-L6-v2), after any hub owner
('sentence-transformers/') or folder."""


def model_words(method: str, model: object) -> str:
    """'full MiniLM-L6-v2', 'classic TF-IDF', 'probe MiniLM-L6-v2': the method and its model, short."""
    method_text = METHOD_WORDS.get(str(method), str(method).replace("_", " "))
    if method == "classic" or not isinstance(model, str) or not model:
        return f"{method_text} TF-IDF" if method == "classic" else method_text
    short = model.rstrip("/").rsplit("/", 1)[-1]
    for prefix in MODEL_PREFIXES:
        if short.startswith(prefix):
            short = short[len(prefix):]
    return f"{method_text} {short}"


def finished_words(finished_at: object, now: datetime | None = None) -> str:
    """'12:41' for a run that finished today (UTC, as stored), 'Nov 30 12:41' before; '' when unknown."""
    if finished_at is None or (isinstance(finished_at, float) and math.isnan(finished_at)):
        return ""
    try:
        stamp = pd.Timestamp(finished_at)
    except (TypeError, ValueError):
        return ""
    if pd.isna(stamp):
        return ""
    stamp = stamp.tz_localize(timezone.utc) if stamp.tzinfo is None else stamp.tz_convert(timezone.utc)
    today = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).date()
    return stamp.strftime("%H:%M") if stamp.date() == today else stamp.strftime("%b %d %H:%M")


def dataset_words(dataset: object) -> str:
    """A catalog dataset's name as is; an uploaded file by its file name, not its full path."""
    text = str(dataset)
    return text.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] if "/" in text or "\\" in text else text


def run_label(row: Mapping[str, object], with_dataset: bool = True, now: datetime | None = None) -> str:
    """'banking77 · full MiniLM-L6-v2 · 85.2% · 12:41' (test accuracy; a reply-drafting run's ROUGE-L
    instead, 'ROUGE-L 42.1', when the row has `rouge_l`; the state when the run did not succeed, e.g.
    'failed'); without the dataset when a picker is already for one dataset."""
    accuracy = row.get("accuracy")
    rouge_l = row.get("rouge_l")
    state = row.get("state", "succeeded")
    measured = isinstance(accuracy, (int, float)) and math.isfinite(float(accuracy))
    replies = isinstance(rouge_l, (int, float)) and math.isfinite(float(rouge_l))  # a generation run
    if state not in (None, "succeeded") and not (measured or replies):
        score = str(state)
    elif replies and not measured:
        score = f"ROUGE-L {format_number(100.0 * float(rouge_l), 3)}"  # type: ignore[arg-type]
    else:
        score = format_percent(float(accuracy), 1, fixed=True) if measured else "no accuracy"  # type: ignore
    parts = ([dataset_words(row.get("dataset"))] if with_dataset else []) + [
        model_words(str(row.get("method")), row.get("model")), score,
        finished_words(row.get("finished_at"), now)]
    return " · ".join(p for p in parts if p)


def run_labels(rows: Sequence[Mapping[str, object]], with_dataset: bool = True,
               now: datetime | None = None) -> list[str]:
    """`run_label` of every row; labels that would read the same get their run id appended, so a picker
    never shows two identical entries."""
    labels = [run_label(r, with_dataset, now) for r in rows]
    seen: dict[str, int] = {}
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
    return [f"{label} · {r.get('run_id')}" if seen[label] > 1 else label
            for label, r in zip(labels, rows, strict=True)]
