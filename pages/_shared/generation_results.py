"""Results of a finished SFT run for the Fine-tune page: the headline scores with 95% CIs, the best and worst
replies next to their references as display tables, and the commands that take the exported model. No
Streamlit, no torch: eval.json's flat figures and analytics.compute.generation.reply_examples' rows go in
(the fine-tuned-vs-base table itself is analytics.compute.generation.generation_summary's).

Every figure is written by analytics.money. ROUGE-L is shown in points (F-measure x 100), as papers and
leaderboards write it; intent match and placeholder use as percentages.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from analytics.money import MISSING, format_count, format_number, format_percent

MODEL_DIR = "model"
"""The merged model folder inside a run folder (safetensors, tokenizer, chat template, README.md)."""
REPLY_COLUMNS = ("id", "intent", "prompt", "reference", "reply", "base_reply", "rouge_l", "base_rouge_l",
                 "intent_match", "base_intent_match", "reply_tokens", "placeholders")
"""Columns of the best/worst tables (those a run folder has; base_* only when the base was compared)."""


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(float(value))


def rouge_points(value: Any) -> str:
    """ROUGE-L F-measure (0..1) in points: 0.4213 -> '42.1'; '–' when unknown."""
    return format_number(100.0 * float(value), 3) if _finite(value) else MISSING


def rouge_change(value: Any, base: Any) -> str | None:
    """'+12.3 points' (fine-tuned minus base), None when either is unknown."""
    if not (_finite(value) and _finite(base)):
        return None
    delta = 100.0 * (float(value) - float(base))
    sign = "+" if delta > 0 else ("-" if delta < 0 else "")
    return f"{sign}{format_number(abs(delta), 3)} points"


def _with_ci(text: str, low: str, high: str) -> str:
    return text if MISSING in (low, high) or text == MISSING else f"{text} (95% CI {low} – {high})"


def rouge_with_ci(evaluation: Mapping[str, Any], prefix: str = "") -> str:
    """'42.1 (95% CI 39.8 – 44.5)' for `prefix`='' (fine-tuned) or 'base_'."""
    return _with_ci(rouge_points(evaluation.get(f"{prefix}rouge_l")),
                    rouge_points(evaluation.get(f"{prefix}rouge_l_ci_low")),
                    rouge_points(evaluation.get(f"{prefix}rouge_l_ci_high")))


def share(value: Any) -> str:
    """A 0..1 share as '88.5%' (one decimal, fixed); '–' when unknown."""
    return format_percent(float(value), 1, fixed=True) if _finite(value) else MISSING


def intent_with_ci(evaluation: Mapping[str, Any], prefix: str = "") -> str:
    """'91.0% (95% CI 87.0% – 94.5%)'; '–' when the data has no intents."""
    return _with_ci(share(evaluation.get(f"{prefix}intent_match")),
                    share(evaluation.get(f"{prefix}intent_match_ci_low")),
                    share(evaluation.get(f"{prefix}intent_match_ci_high")))


def has_base(evaluation: Mapping[str, Any]) -> bool:
    """True when the run also generated with the untrained base model (compare_base)."""
    return any(_finite(evaluation.get(k))
               for k in ("base_rouge_l", "base_intent_match", "base_mean_reply_tokens"))


def judged_words(evaluation: Mapping[str, Any]) -> str:
    """'200 of 451 test requests' (eval_limit caps the judged ones), or the count alone."""
    scored, total = evaluation.get("n_test_scored"), evaluation.get("n_test_total")
    if _finite(scored) and _finite(total) and int(total) != int(scored):
        return f"{format_count(scored)} of {format_count(total)} test requests"
    return f"{format_count(scored)} test requests" if _finite(scored) else MISSING


def perplexity(evaluation: Mapping[str, Any]) -> str:
    """Validation perplexity (eval.json's, else exp(val_loss)); '–' when unknown."""
    value = evaluation.get("perplexity")
    if not _finite(value) and _finite(evaluation.get("val_loss")) and float(evaluation["val_loss"]) < 50:
        value = math.exp(float(evaluation["val_loss"]))
    return format_number(value, 3) if _finite(value) else MISSING


def split_examples(picked: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(best, worst) display tables from rows with a 'side' column ('best' / 'worst') and a 'rank', as
    analytics.compute.generation.reply_examples returns them."""
    if picked is None or picked.empty or "side" not in picked:
        empty = _display(pd.DataFrame(columns=list(REPLY_COLUMNS)))
        return empty, empty
    ordered = picked.sort_values("rank", kind="stable") if "rank" in picked else picked
    return (_display(ordered[ordered["side"] == "best"]), _display(ordered[ordered["side"] == "worst"]))


def _display(rows: pd.DataFrame) -> pd.DataFrame:
    """Scores first (they fit at any width), then the texts: request, reference, the two replies."""
    out = pd.DataFrame({"ROUGE-L": [rouge_points(v) for v in rows.get("rouge_l", [])]})
    based = "base_reply" in rows and rows["base_reply"].notna().any()
    if based and "base_rouge_l" in rows:
        out["base ROUGE-L"] = [rouge_points(v) for v in rows["base_rouge_l"]]
    if "intent_match" in rows and rows["intent_match"].notna().any():
        out["intent match"] = ["yes" if v is True or v == 1 else ("no" if v is False or v == 0 else MISSING)
                               for v in rows["intent_match"]]
        out["intent"] = rows.get("intent", pd.Series([""] * len(rows))).fillna("").astype(str).tolist()
    for name, column in (("request", "prompt"), ("reference", "reference"), ("fine-tuned reply", "reply")):
        out[name] = rows[column].fillna("").astype(str).tolist() if column in rows else [""] * len(rows)
    if based:
        out["base reply"] = rows["base_reply"].fillna("").astype(str).tolist()
    return out.reset_index(drop=True)


def export_commands(model_dir: Path | str) -> list[tuple[str, str]]:
    """(tool, command) that take the merged model folder as it is."""
    folder = str(model_dir)
    return [
        ("transformers serve (OpenAI-compatible server)", f"transformers serve {folder}"),
        ("vLLM", f"vllm serve {folder}"),
        ("llama.cpp (convert to GGUF, then llama-server)",
         f"python convert_hf_to_gguf.py {folder} --outfile model.gguf"),
    ]
