"""A generation run's results for the Fine-tune page: scores with 95% intervals, the fine-tuned model next to
the untrained base model on the same test prompts, and the best and worst replies next to their references.

Everything is read from the workspace (run_generation_eval, run_generations; migration 008), so nothing is
generated again. ROUGE-L is shown in points (F-measure x 100, as papers and the issue's goals quote it),
intent match and placeholder use as shares, lengths in tokens of the run's own tokenizer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from analytics.db import Workspace
from analytics.errors import RunNotFoundError
from analytics.money import MISSING, format_count, format_number, format_percent

METRIC_COLUMNS = ("metric", "key", "fine_tuned", "fine_tuned_ci_low", "fine_tuned_ci_high", "base",
                  "base_ci_low", "base_ci_high", "difference")
TABLE_COLUMNS = ("metric", "fine-tuned", "base model", "difference")
EXAMPLE_COLUMNS = ("side", "rank", "id", "intent", "prompt", "reference", "reply", "rouge_l", "intent_pred",
                   "intent_match", "placeholders", "reply_tokens", "base_reply", "base_rouge_l",
                   "base_intent_match")


@dataclass(frozen=True)
class GenerationSummary:
    """`generation_summary()`'s result: one generation run's judged scores."""

    run_id: str
    """The run."""
    method: str
    """sft or sft_lora."""
    model: str
    """The base model fine-tuned (registry name or path)."""
    dataset: str
    """The evaluation set."""
    hardware: str | None
    """Hardware the run trained and generated on (environment.json)."""
    finished_at: Any
    """When the run finished (naive UTC)."""
    n_scored: int | None
    """Test requests generated and judged."""
    n_total: int | None
    """Test requests in the split (more than n_scored when eval_limit capped them)."""
    val_loss: float
    """Validation loss (assistant tokens only), NaN when not recorded."""
    perplexity: float
    """exp(validation loss)."""
    has_base: bool
    """The run also generated with the untrained base model (compare_base)."""
    has_intents: bool
    """The data had intents, so intent match was judged."""
    metrics: pd.DataFrame
    """METRIC_COLUMNS, one row per metric (ROUGE-L, intent match, reply length, placeholders, decode speed,
    prompt length); values in their natural units (ROUGE-L 0-1, shares 0-1, tokens, tokens/s), NaN when
    not measured."""
    table: pd.DataFrame
    """TABLE_COLUMNS: the same as text for the page ('42.1 (95% CI 38.0-46.3)'), via analytics.money."""
    basis: str
    """Provenance: how many test requests, of which set, which run, when, on what, how the intervals were
    computed."""


_METRICS = (
    # (label, eval key, base key, kind)
    ("ROUGE-L (points)", "rouge_l", "base_rouge_l", "points"),
    ("intent match", "intent_match", "base_intent_match", "share"),
    ("mean reply length (tokens)", "mean_reply_tokens", "base_mean_reply_tokens", "tokens"),
    ("replies with a {{placeholder}}", "placeholder_rate", "base_placeholder_rate", "share"),
    ("decode speed (tokens/s)", "decode_tokens_per_s", "base_decode_tokens_per_s", "rate"),
    ("mean prompt length (tokens)", "mean_prompt_tokens", "mean_prompt_tokens", "tokens"),
)


def generation_summary(ws: Workspace, run_id: str) -> GenerationSummary:
    """The scores of generation run `run_id` with 95% intervals, fine-tuned and base side by side.

    Raises RunNotFoundError when the run is not in the workspace or is not a generation run with an
    evaluation (a failed run has none).
    """
    found = ws.query("generation_summary", run_id=run_id)
    if found.empty:
        raise RunNotFoundError(f"no evaluated generation run {run_id!r} in the workspace; pick a succeeded "
                               f"sft or sft_lora run from the runs list")
    row = found.iloc[0].to_dict()
    has_base = _known(row.get("base_rouge_l"))
    rows = []
    for label, key, base_key, _kind in _METRICS:
        value, base = _value(row.get(key)), _value(row.get(base_key)) if has_base else math.nan
        low, high = _value(row.get(f"{key}_ci_low")), _value(row.get(f"{key}_ci_high"))
        base_low = _value(row.get(f"{base_key}_ci_low")) if has_base else math.nan
        base_high = _value(row.get(f"{base_key}_ci_high")) if has_base else math.nan
        rows.append({"metric": label, "key": key, "fine_tuned": value, "fine_tuned_ci_low": low,
                     "fine_tuned_ci_high": high, "base": base, "base_ci_low": base_low,
                     "base_ci_high": base_high,
                     "difference": math.nan if key == "mean_prompt_tokens" else value - base})
    metrics = pd.DataFrame(rows, columns=list(METRIC_COLUMNS))
    kinds = {key: kind for _, key, _, kind in _METRICS}
    table = pd.DataFrame({
        "metric": metrics["metric"],
        "fine-tuned": [_shown(r.fine_tuned, r.fine_tuned_ci_low, r.fine_tuned_ci_high, kinds[r.key])
                       for r in metrics.itertuples()],
        "base model": [_shown(r.base, r.base_ci_low, r.base_ci_high, kinds[r.key]) if has_base
                       else "not generated" for r in metrics.itertuples()],
        "difference": [_difference(r.difference, kinds[r.key]) for r in metrics.itertuples()],
    }, columns=list(TABLE_COLUMNS))
    n_scored = _whole(row.get("n_test_scored"))
    n_total = _whole(row.get("n_test_total"))
    subset = (f" (a seeded, intent-stratified {format_count(n_scored)} of {format_count(n_total)})"
              if n_scored is not None and n_total is not None and n_total > n_scored else "")
    basis = (f"measured on {format_count(n_scored)} held-out test requests{subset} of {row['dataset']}, run "
             f"{run_id}, {_day(row.get('finished_at'))}, on {row.get('hardware') or 'unrecorded hardware'}; "
             f"greedy decoding; 95% intervals by bootstrap over the test requests; "
             f"{'the base model answered the same prompts' if has_base else 'no base-model replies'}; "
             f"tokens counted with {row.get('tokenizer') or 'the model tokenizer'}")
    return GenerationSummary(
        run_id=run_id, method=str(row["method"]), model=str(row["model"]), dataset=str(row["dataset"]),
        hardware=row.get("hardware") if isinstance(row.get("hardware"), str) else None,
        finished_at=row.get("finished_at"), n_scored=n_scored, n_total=n_total,
        val_loss=_value(row.get("val_loss")), perplexity=_value(row.get("perplexity")), has_base=has_base,
        has_intents=_known(row.get("intent_match")), metrics=metrics, table=table, basis=basis)


def reply_examples(ws: Workspace, run_id: str, n: int = 5) -> pd.DataFrame:
    """The `n` best and `n` worst replies of run `run_id` by ROUGE-L, each next to its request and reference
    (and the base model's reply when it was generated): EXAMPLE_COLUMNS, best first by rank, then worst.
    A reply appears once when the run judged fewer than 2 x n requests. Empty for an unknown run."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n (replies per side) must be a whole number of at least 1, got {n!r}")
    frame = ws.query("generation_examples", run_id=run_id, n=n)
    order = {"best": 0, "worst": 1}
    frame = frame.sort_values(["side", "rank"], key=lambda s: s.map(order) if s.name == "side" else s)
    return frame[list(EXAMPLE_COLUMNS)].reset_index(drop=True)


def _shown(value: float, low: float, high: float, kind: str) -> str:
    if not math.isfinite(value):
        return "not measured"
    text = _format(value, kind)
    if math.isfinite(low) and math.isfinite(high):
        text += f" (95% CI {_format(low, kind)}-{_format(high, kind)})"
    return text


def _format(value: float, kind: str) -> str:
    if kind == "points":
        return f"{value * 100:.1f}"
    if kind == "share":
        return format_percent(value, fixed=True)
    return format_number(value)


def _difference(value: float, kind: str) -> str:
    if not math.isfinite(value):
        return MISSING
    if kind in ("points", "share"):
        return f"{value * 100:+.1f} points"
    sign = "+" if value > 0 else ""
    return f"{sign}{format_number(value)}"


def _value(value: object) -> float:
    return float(value) if _known(value) else math.nan


def _known(value: object) -> bool:
    try:
        return value is not None and math.isfinite(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _whole(value: object) -> int | None:
    return int(value) if _known(value) else None  # type: ignore[arg-type]


def _day(value: object) -> str:
    try:
        return pd.Timestamp(value).strftime("%Y-%m-%d") if value is not None else "undated"
    except (ValueError, TypeError):
        return "undated"
