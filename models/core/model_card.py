"""The model card (README.md) written into an exported reply model's folder.

Hugging Face's model-card layout: YAML front matter (licence, base model, datasets, tags) then what the model
is, the data it learned from (with its licence), the measured scores with their 95% intervals, the hardware
and settings, and how to serve the folder as it is. Everything comes from the run; nothing is typed by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from models.core.config import TrainConfig
from models.core.runs import atomic_path, environment_info

CARD_FILE = "README.md"


def _pct(value: Any) -> str:
    return "not measured" if value is None else f"{100 * float(value):.1f}%"


def _interval(metrics: dict[str, Any], key: str) -> str:
    low, high = metrics.get(f"{key}_ci_low"), metrics.get(f"{key}_ci_high")
    if metrics.get(key) is None or low is None or high is None:
        return _pct(metrics.get(key))
    return f"{_pct(metrics[key])} (95% CI {_pct(low)} to {_pct(high)})"


def card_text(config: TrainConfig, data: Any, metrics: dict[str, Any], extra: dict[str, Any], spec: Any,
              run_id: str) -> str:
    """The card's Markdown for a finished sft / sft_lora run."""
    meta = getattr(data, "meta", {}) or {}
    licence = meta.get("licence") or "unknown"
    base_licence = getattr(spec, "licence", "unknown")
    how = (f"LoRA adapters (rank {config.lora_r}, alpha {config.lora_alpha}) on the attention projections, "
           "merged into the weights" if config.method == "sft_lora" else "every weight trained")
    front = {"license": base_licence, "base_model": getattr(spec, "name", config.model),
             "tags": ["strategy-lab", "sft", "customer-support"], "datasets": [data.name]}
    lines = ["---", *(f"{k}: {json.dumps(v)}" for k, v in front.items()), "---", "",
             f"# {run_id}", "",
             f"A reply writer fine-tuned from **{front['base_model']}** by Strategy Lab "
             f"(method `{config.method}`: {how}). It answers a customer's request in the style of the "
             "reference replies it learned from; the assistant-only loss never trained it on the requests.",
             "", "## Data", "",
             f"- Dataset: {data.name} ({len(data.train):,} training, {len(data.validation):,} validation, "
             f"{len(data.test):,} test conversations; split seed {config.seed}, stratified by intent).",
             f"- Data licence: {licence}. Base model licence: {base_licence}.",
             f"- PII masking before training: {'on' if config.pii_scrub else 'off'}.", "",
             "## Scores on held-out requests", "",
             f"Greedy replies to {metrics.get('n_test_scored', '?')} test requests "
             f"(of {metrics.get('n_test_total', '?')}), judged against the reference replies.", "",
             "| score | fine-tuned | base model, same prompt |", "|---|---|---|",
             f"| ROUGE-L F1 | {_interval(metrics, 'rouge_l')} | {_interval(metrics, 'base_rouge_l')} |",
             f"| intent match | {_interval(metrics, 'intent_match')} | "
             f"{_interval(metrics, 'base_intent_match')} |",
             f"| validation perplexity (reply tokens) | {_number(metrics.get('perplexity'))} | |", "",
             "Intent match: a TF-IDF + logistic-regression classifier trained on the training split's "
             "reference replies labels each generated reply; the score is the share labelled with the "
             "request's intent.",
             "", "## How it was made", "",
             f"- {extra.get('steps', '?')} optimizer steps, batch {extra.get('batch_size', '?')}, "
             f"learning rate {config.learning_rate}, max length {config.max_length} tokens, "
             f"{config.epochs} epoch(s), "
             f"packing {'on' if config.packing else 'off'}.",
             f"- Hardware: {_hardware(extra)}; training time {_number(extra.get('train_seconds'))} s.",
             f"- Run folder `{run_id}`: config.json holds every setting, events.jsonl the curves, "
             "generations.parquet every judged reply.", "",
             "## Serve it", "",
             "The folder is a plain transformers model (safetensors, tokenizer with its chat template, "
             "generation_config.json):", "",
             "- `transformers serve` or `vllm serve <this folder>` (OpenAI-compatible endpoint);",
             "- llama.cpp: `python convert_hf_to_gguf.py <this folder>`;",
             "- Python: `AutoModelForCausalLM.from_pretrained(<this folder>)`, prompt through "
             "`tokenizer.apply_chat_template(..., add_generation_prompt=True)`.", ""]
    return "\n".join(lines)


def _number(value: Any) -> str:
    return "not measured" if value is None else f"{float(value):,.2f}"


def _hardware(extra: dict[str, Any]) -> str:
    facts = environment_info()
    if str(extra.get("device", "cpu")).startswith("cuda"):
        return f"{facts['hardware']} ({extra.get('mixed_precision', 'no')} mixed precision)"
    return f"{facts['hardware']} ({facts.get('processor') or facts.get('platform', '')})"


def write_model_card(model_dir: Path, config: TrainConfig, data: Any, metrics: dict[str, Any],
                     extra: dict[str, Any], spec: Any) -> Path:
    """Write model_dir/README.md atomically; returns its path."""
    path = Path(model_dir) / CARD_FILE
    with atomic_path(path) as tmp:
        tmp.write_text(card_text(config, data, metrics, extra, spec, Path(model_dir).parent.name),
                       encoding="utf-8")
    return path
