"""Hand-inserted runs and predictions for the Compare tests (no training needed)."""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd

BASE_RUN = {
    "job_id": None, "dataset": "banking77", "state": "succeeded", "started_at": datetime(2026, 3, 1, 9, 0),
    "finished_at": datetime(2026, 3, 1, 10, 0), "device": "cpu",
    "accuracy_ci_low": None, "accuracy_ci_high": None,
    "macro_f1": None, "macro_f1_ci_low": None, "macro_f1_ci_high": None, "samples_per_s": None,
    "peak_memory_bytes": None, "error": None, "environment_json": "{}",
    "ingested_at": datetime(2026, 3, 1, 10, 1),
    "p50_ms": None, "p95_ms": None, "throughput_per_s": None, "inference_hardware": None,
    "inference_measured_at": None, "model_params": None, "tokens_per_request": None,
    "api_input_tokens": None, "api_output_tokens": None, "api_tokenizer": None,
    "inference_load_average": None, "inference_cpu_count": None,
}


def insert_run(ws, run_id: str, *, method: str, model: str, accuracy: float, n_test: int,
               train_seconds: float, hardware: str = "CPU x2", throughput_per_s: float | None = None,
               p50_ms: float | None = None, per_class: int | None = None, labels: int = 4,
               finished: datetime | None = None, **extra) -> None:
    """One succeeded run row (as analytics.ingest.runs would ingest it) with its inference figures."""
    config = {"method": method, "model": model, "dataset": "banking77",
              "train_examples_per_class": per_class}
    evaluation = {"accuracy": accuracy, "label_names": [f"l{i}" for i in range(labels)],
                  "n_test_total": n_test}
    row = {**BASE_RUN, "run_id": run_id, "method": method, "model": model, "accuracy": accuracy,
           "n_test": n_test, "train_seconds": train_seconds, "hardware": hardware,
           "config_json": json.dumps(config), "eval_json": json.dumps(evaluation)}
    if finished is not None:
        row["finished_at"] = finished
    if throughput_per_s is not None:
        row.update(throughput_per_s=throughput_per_s, p50_ms=p50_ms or 1.0, p95_ms=(p50_ms or 1.0) * 2,
                   inference_hardware=hardware, inference_measured_at=datetime(2026, 3, 1, 10, 0))
    row.update(extra)
    frame = pd.DataFrame([row])
    with ws.transaction() as tx:
        tx.insert_frame("runs", frame)


def insert_predictions(ws, run_id: str, confidence: list[float], correct: list[bool]) -> None:
    frame = pd.DataFrame({
        "run_id": run_id, "text_id": [f"t{i}" for i in range(len(correct))], "true_label": "a",
        "pred_label": ["a" if c else "b" for c in correct], "confidence": confidence, "correct": correct,
    })
    with ws.transaction() as tx:
        tx.insert_frame("run_predictions", frame)


def price_id(ws, name: str) -> int:
    return int(ws.scalar("select price_id from prices where name = ? order by price_id limit 1", [name]))
