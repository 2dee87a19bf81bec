"""A fake sft / sft_lora run folder written exactly as issue 12's run-folder contract says, so analytics and
page tests need no real training: config.json, environment.json, events.jsonl, data.json, eval.json,
generations.parquet and status.json (written last)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

DATASET = "bitext_customer_support"
MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"

REQUESTS = (
    ("test-00001", "cancel_order", "I want to cancel order 123", "I can help you cancel your order.",
     "I can help you cancel your order.", "Sure."),
    ("test-00002", "cancel_order", "cancel my purchase please", "I can help you cancel your purchase now.",
     "I can help cancel it.", "What is a purchase?"),
    ("test-00003", "track_order", "where is my package", "You can track your package in {{Order Section}}.",
     "Track your package in {{Order Section}}.", "I do not know."),
    ("test-00004", "track_order", "track order 42", "Let me help you track order 42.",
     "Please cancel the order.", "Order 42 is an order."),
    ("test-00005", "refund", "I need a refund", "I understand you need a refund; here is how.",
     "I understand you need a refund.", "Refunds are nice."),
    ("test-00006", "refund", "money back for my order", "You can request your money back here.",
     "You can request your money back.", "Back."),
)
"""(id, intent, request, reference, fine-tuned reply, base reply): six judged test requests."""

ROUGE = (1.0, 0.62, 0.8, 0.2, 0.78, 0.9)
BASE_ROUGE = (0.1, 0.0, 0.0, 0.3, 0.2, 0.15)
PROMPT_TOKENS = (40, 38, 36, 34, 37, 39)
REPLY_TOKENS = (9, 7, 10, 6, 9, 8)
BASE_REPLY_TOKENS = (2, 5, 5, 6, 4, 2)
FINE_MATCH = (True, True, True, False, True, True)
BASE_MATCH = (False, False, False, False, True, False)

EVAL = {
    "task": "generation", "method": "sft_lora", "n_test_scored": 6, "n_test_total": 451, "val_loss": 1.25,
    "perplexity": 3.49, "rouge_l": 0.7167, "rouge_l_ci_low": 0.45, "rouge_l_ci_high": 0.9,
    "intent_match": 5 / 6, "intent_match_ci_low": 0.5, "intent_match_ci_high": 1.0,
    "mean_prompt_tokens": 200.0, "mean_reply_tokens": 80.0, "mean_reference_tokens": 120.0,
    "placeholder_rate": 1 / 6, "prefill_tokens_per_s": 1000.0, "decode_tokens_per_s": 20.0,
    "generation_seconds": 31.5, "generation_device": "cpu",
    "base_rouge_l": 0.125, "base_rouge_l_ci_low": 0.05, "base_rouge_l_ci_high": 0.21,
    "base_intent_match": 1 / 6, "base_intent_match_ci_low": 0.0, "base_intent_match_ci_high": 0.5,
    "base_mean_reply_tokens": 40.0, "base_placeholder_rate": 0.0, "base_decode_tokens_per_s": 25.0,
}
"""eval.json of the fake run. The token figures are round so that $ per 1k replies is easy by hand:
fine-tuned 200 / 1000 + 80 / 20 = 4.2 s of machine time a reply, base 200 / 1000 + 40 / 25 = 1.8 s."""


RUN_ID = "20261201-101500-sft_lora-smollm2"


def make_sft_run(runs_dir: Path, run_id: str = RUN_ID, *, method: str = "sft_lora",
                 model: str = MODEL, dataset: str = DATASET, hardware: str = "CPU x2",
                 train_seconds: float = 1800.0, base: bool = True, evaluation: dict | None = None,
                 finished_at: str = "2026-12-01T11:00:00+00:00", state: str = "succeeded",
                 write_generations: bool = True) -> Path:
    """Write a finished generation run folder under `runs_dir`; returns it. `base=False` leaves out every
    base_* figure and column (a run trained with compare_base off)."""
    run_dir = Path(runs_dir) / run_id
    run_dir.mkdir(parents=True)
    config = {"method": method, "model": model, "dataset": dataset, "text_column": "instruction",
              "response_column": "response", "label_column": "intent", "data_format": "prompt_response",
              "max_new_tokens": 256, "compare_base": base, "packing": False, "eval_limit": 6,
              "train_examples_per_class": None, "seed": 42}
    _write(run_dir / "config.json", config)
    _write(run_dir / "environment.json", {"hardware": hardware, "cpu_count": 2, "torch": "2.13.0",
                                          "recorded_at": "2026-12-01T10:15:00+00:00"})
    events = [
        {"time": "2026-12-01T10:15:01+00:00", "kind": "start", "device": "cpu"},
        {"time": "2026-12-01T10:20:00+00:00", "kind": "step", "step": 10, "epoch": 0.5, "loss": 2.0,
         "lr": 1e-4, "tokens_per_s": 180.0, "samples_per_s": 0.9, "eta_s": 300},
        {"time": "2026-12-01T10:40:00+00:00", "kind": "step", "step": 20, "epoch": 0.9, "loss": 1.5,
         "lr": 5e-5, "tokens_per_s": 190.0, "samples_per_s": 1.1, "eta_s": 10},
        {"time": "2026-12-01T10:45:00+00:00", "kind": "epoch", "epoch": 1, "step": 20, "val_loss": 1.25,
         "val_perplexity": 3.49, "improved": True},
        {"time": "2026-12-01T10:59:00+00:00", "stage": "evaluated"},
    ]
    (run_dir / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    _write(run_dir / "data.json", {"name": dataset, "task": "generation",
                                   "rows": {"train": 1000, "validation": 100, "test": 451},
                                   "intents": ["cancel_order", "refund", "track_order"],
                                   "meta": {"licence": "CDLA-Sharing-1.0"}})
    values = dict(EVAL if evaluation is None else evaluation, method=method)
    if not base:
        values = {k: v for k, v in values.items() if not k.startswith("base_")}
    _write(run_dir / "eval.json", values)
    if write_generations:
        generations_frame(base=base).to_parquet(run_dir / "generations.parquet", index=False)
    _write(run_dir / "status.json", {"state": state, "finished_at": finished_at,
                                     "train_seconds": train_seconds, "device": "cpu"})
    return run_dir


def generations_frame(*, base: bool = True) -> pd.DataFrame:
    """generations.parquet's rows for REQUESTS (base columns null when `base` is False)."""
    frame = pd.DataFrame({
        "id": [r[0] for r in REQUESTS], "intent": [r[1] for r in REQUESTS],
        "prompt": [r[2] for r in REQUESTS],
        "reference": [r[3] for r in REQUESTS], "reply": [r[4] for r in REQUESTS],
        "prompt_tokens": list(PROMPT_TOKENS), "reply_tokens": list(REPLY_TOKENS),
        "latency_s": [1.5] * 6, "rouge_l": list(ROUGE),
        "intent_pred": [r[1] if ok else "cancel_order" for r, ok in zip(REQUESTS, FINE_MATCH, strict=True)],
        "intent_match": list(FINE_MATCH), "placeholders": [0, 0, 1, 0, 0, 0],
    })
    if base:
        frame["base_reply"] = [r[5] for r in REQUESTS]
        frame["base_reply_tokens"] = list(BASE_REPLY_TOKENS)
        frame["base_latency_s"] = [0.8] * 6
        frame["base_rouge_l"] = list(BASE_ROUGE)
        frame["base_intent_pred"] = [r[1] if ok else "refund" for r, ok in zip(REQUESTS, BASE_MATCH,
                                                                                 strict=True)]
        frame["base_intent_match"] = list(BASE_MATCH)
    else:  # the dtypes models.core.judge writes for a run without base replies
        for column in ("base_reply", "base_intent_pred"):
            frame[column] = pd.array([None] * 6, dtype="string")
        frame["base_reply_tokens"] = pd.array([None] * 6, dtype="Int64")
        for column in ("base_latency_s", "base_rouge_l"):
            frame[column] = pd.Series([None] * 6, dtype="float64")
        frame["base_intent_match"] = pd.array([None] * 6, dtype="boolean")
    frame["intent"] = frame["intent"].astype("string")
    frame["intent_pred"] = frame["intent_pred"].astype("string")
    frame["intent_match"] = frame["intent_match"].astype("boolean")
    return frame


def _write(path: Path, value: dict) -> None:
    path.write_text(json.dumps(value, indent=2), encoding="utf-8")
