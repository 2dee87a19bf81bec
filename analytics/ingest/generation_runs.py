"""Generation runs (sft, sft_lora): the rows their run folders add to the workspace (migration 008).

A generation run's folder (issue 12 contract) holds eval.json with flat reply metrics (task="generation") and
generations.parquet with one row per judged test request. `analytics.ingest.runs` reads the folder and
inserts these rows in the same transaction as the runs row, so a run is in the workspace whole or not at all.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from analytics.errors import RunIngestError
from analytics.ingest.run_files import read_parquet_columns

GENERATION_METHODS = ("sft", "sft_lora")
"""Training methods whose runs are judged on generated replies (models.core.config.METHODS)."""
GENERATIONS_FILE = "generations.parquet"

EVAL_COLUMNS = (
    "run_id", "n_test_scored", "n_test_total", "val_loss", "perplexity", "rouge_l", "rouge_l_ci_low",
    "rouge_l_ci_high", "intent_match", "intent_match_ci_low", "intent_match_ci_high", "mean_prompt_tokens",
    "mean_reply_tokens", "mean_reference_tokens", "placeholder_rate", "prefill_tokens_per_s",
    "decode_tokens_per_s", "generation_seconds", "generation_device", "tokenizer", "base_rouge_l",
    "base_rouge_l_ci_low", "base_rouge_l_ci_high", "base_intent_match", "base_intent_match_ci_low",
    "base_intent_match_ci_high", "base_mean_reply_tokens", "base_placeholder_rate",
    "base_decode_tokens_per_s",
)
"""run_generation_eval's columns, in order."""
_WHOLE = ("n_test_scored", "n_test_total")
_TEXT = ("generation_device", "tokenizer")

GENERATION_COLUMNS = (
    "run_id", "id", "intent", "prompt", "reference", "reply", "prompt_tokens", "reply_tokens", "latency_s",
    "rouge_l", "intent_pred", "intent_match", "placeholders", "base_reply", "base_reply_tokens",
    "base_latency_s", "base_rouge_l", "base_intent_pred", "base_intent_match",
)
"""run_generations' columns, in order (generations.parquet's plus run_id)."""
REQUIRED_GENERATION_COLUMNS = ("id", "prompt", "reference", "reply")
_INT_COLUMNS = ("prompt_tokens", "reply_tokens", "placeholders", "base_reply_tokens")
_FLOAT_COLUMNS = ("latency_s", "rouge_l", "base_latency_s", "base_rouge_l")
_TEXT_COLUMNS = ("intent", "intent_pred", "base_reply", "base_intent_pred")
_BOOL_COLUMNS = ("intent_match", "base_intent_match")


def is_generation(config: dict[str, Any], evaluation: dict[str, Any]) -> bool:
    """True for a run judged on replies: eval.json says task 'generation', or the method is sft/sft_lora."""
    return evaluation.get("task") == "generation" or str(config.get("method")) in GENERATION_METHODS


def eval_row(run_id: str, config: dict[str, Any], evaluation: dict[str, Any]) -> pd.DataFrame:
    """run_generation_eval's row for a run from its eval.json (empty when the run has no evaluation, e.g. a
    failed run). Missing or non-finite figures are NULL; the tokenizer is the run's model's, which counted the
    chat-templated prompt and reply tokens."""
    if not evaluation:
        return pd.DataFrame(columns=list(EVAL_COLUMNS))
    row: dict[str, Any] = {"run_id": run_id}
    for column in EVAL_COLUMNS[1:]:
        value = evaluation.get(column)
        if column in _WHOLE:
            row[column] = value if isinstance(value, int) and not isinstance(value, bool) else None
        elif column in _TEXT:
            row[column] = str(value) if isinstance(value, str) and value else None
        else:
            row[column] = _number(value)
    row["tokenizer"] = row["tokenizer"] or f"{config.get('model', 'the model')} tokenizer (chat template)"
    for metric in ("rouge_l", "intent_match", "placeholder_rate", "base_rouge_l", "base_intent_match",
                   "base_placeholder_rate"):
        value = row[metric]
        if value is not None and not 0 <= value <= 1:
            raise RunIngestError(f"eval.json of run {run_id}: {metric} = {value} is not a share between 0 "
                                 f"and 1")
    return pd.DataFrame([row], columns=list(EVAL_COLUMNS))


def generation_rows(run_dir: Path, *, required: bool) -> pd.DataFrame:
    """run_generations' rows from generations.parquet (one per judged test request).

    Raises RunIngestError when the file is required (a succeeded run) and missing, unreadable, or lacks
    id / prompt / reference / reply; optional columns a writer left out are NULL.
    """
    path = run_dir / GENERATIONS_FILE
    if not path.is_file():
        if required:
            raise RunIngestError(f"{path} is missing; a succeeded generation run stores every judged reply "
                                 f"there, so the run folder is incomplete")
        return pd.DataFrame(columns=list(GENERATION_COLUMNS))
    frame = read_parquet_columns(path, REQUIRED_GENERATION_COLUMNS)
    if frame["id"].astype(str).duplicated().any():
        raise RunIngestError(f"{path} repeats some ids; each judged test request must appear once")
    out = pd.DataFrame({"run_id": run_dir.name, "id": frame["id"].astype(str)}, index=frame.index)
    for column in ("prompt", "reference", "reply"):
        out[column] = frame[column].fillna("").astype(str)
    for column in _TEXT_COLUMNS:
        out[column] = _texts(frame[column]) if column in frame else None
    for column in _INT_COLUMNS:
        out[column] = pd.array(pd.to_numeric(frame[column], errors="coerce").round(), dtype="Int64") \
            if column in frame else pd.array([None] * len(frame), dtype="Int64")
    for column in _FLOAT_COLUMNS:
        out[column] = pd.to_numeric(frame[column], errors="coerce").astype(float) if column in frame \
            else math.nan
    for column in _BOOL_COLUMNS:
        out[column] = pd.array([_flag(v) for v in frame[column]], dtype="boolean") if column in frame \
            else pd.array([None] * len(frame), dtype="boolean")
    return out[list(GENERATION_COLUMNS)].reset_index(drop=True)


def _texts(values: pd.Series) -> list[str | None]:
    return [None if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else str(v)
            for v in values]


def _flag(value: Any) -> bool | None:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return bool(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)
