"""Fake endpoint run folders and serving records written exactly as issue 13's contract says
(/tmp/b13/contract.md: "Endpoint run folder" and "Serving record"), so analytics and page tests need no
endpoint, no server and no models: config.json, environment.json, eval.json, predictions.parquet and
status.json (last) of an endpoint run; serving.json with load-test levels for a trained run."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

RUN_ID = "20261201-120000-endpoint-gpt-4o-mini"
DATASET = "banking77"
BASE_URL = "https://api.openai.com/v1"
PROMPT_TOKENS, COMPLETION_TOKENS = 420.0, 6.0
"""Mean tokens per request in the fake eval.json: $/1k by hand at gpt-4o-mini's $0.15 / $0.60 per 1M is
(420 x 0.15 + 6 x 0.60) / 1e6 x 1000 = $0.0666."""
CORRECT = (True, True, False, True, True, False, True, True)
"""Per-example correctness of the fake predictions (text ids t0..t7): 6 of 8."""


def make_endpoint_run(runs_dir: Path, run_id: str = RUN_ID, *, model: str = "gpt-4o-mini",
                      base_url: str = BASE_URL, price: dict | None = None, state: str = "succeeded",
                      prompt_tokens: float | None = PROMPT_TOKENS, dataset: str = DATASET,
                      latency_p50_ms: float | None = 310.0, correct: tuple[bool, ...] = CORRECT,
                      unparseable: int = 1) -> Path:
    """An endpoint run folder as models.serving.endpoint writes it; status.json last."""
    run_dir = Path(runs_dir) / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    config = {"method": "endpoint", "model": model, "dataset": dataset, "task": "classification",
              "endpoint": {"base_url": base_url, "api_key_env": "OPENAI_API_KEY", "shots": 0,
                           "limit": len(correct), "budget_usd": 1.0, "concurrency": 4, "temperature": 0,
                           "max_tokens": 16, "structured": True},
              "seed": 0}
    if price is not None:
        config["price"] = price
    (run_dir / "config.json").write_text(json.dumps(config))
    (run_dir / "environment.json").write_text(json.dumps({"hardware": "CPU x2", "python": "3.11"}))
    n = len(correct)
    accuracy = sum(correct) / n
    evaluation = {"method": "endpoint", "accuracy": accuracy, "accuracy_ci95": [0.4, 0.93], "macro_f1": 0.7,
                  "n_test_scored": n, "n_test_total": 3080, "unparseable": unparseable,
                  "latency_p50_ms": latency_p50_ms,
                  "latency_p95_ms": None if latency_p50_ms is None else latency_p50_ms * 2,
                  "prompt_tokens_mean": prompt_tokens, "completion_tokens_mean": COMPLETION_TOKENS,
                  "cost_usd": 0.0005, "cost_per_1k_requests_usd": 0.0666, "requests_sent": n, "cache_hits": 0,
                  "measured_at": "2026-12-01T12:05:00+00:00", "label_names": ["a", "b"]}
    if state == "succeeded":
        (run_dir / "eval.json").write_text(json.dumps(evaluation))
    predictions = pd.DataFrame({
        "text_id": [f"t{i}" for i in range(n)], "true_label": "a",
        "pred_label": ["a" if c else "b" for c in correct],
        "confidence": [1.0] * n, "correct": list(correct), "probs": [[] for _ in range(n)],
        "answer": ["a" if c else "b" for c in correct], "parsed": [True] * n, "latency_ms": [300.0] * n,
        "prompt_tokens": [420] * n, "completion_tokens": [6] * n, "cached": [False] * n,
    })
    predictions.to_parquet(run_dir / "predictions.parquet")
    status = {"state": state, "finished_at": "2026-12-01T12:05:00+00:00"}
    if state != "succeeded":
        status["reason"] = "budget reached"
    (run_dir / "status.json").write_text(json.dumps(status))
    return run_dir


def level(concurrency: int, requests_per_s: float, p50_ms: float, *, errors: int = 0,
          requests: int = 200) -> dict:
    """One concurrency level of a serving record."""
    return {"concurrency": concurrency, "requests": requests, "errors": errors,
            "error_rate": errors / requests,
            "p50_ms": p50_ms, "p95_ms": p50_ms * 1.5, "p99_ms": p50_ms * 2, "requests_per_s": requests_per_s,
            "tokens_per_s": requests_per_s * 3, "prompt_tokens_mean": 12.0, "completion_tokens_mean": 3.0}


def write_serving(run_dir: Path, records: list[dict]) -> Path:
    """<run_dir>/serving.json with `records` (a list, newest last, as loadtest keeps it)."""
    path = Path(run_dir) / "serving.json"
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"records": records}))
    return path


def record(measured_at: str, levels: list[dict], *, hardware: str = "CPU x2",
           server: str = "litserve") -> dict:
    """One load test's record."""
    return {"measured_at": measured_at, "base_url": "http://127.0.0.1:8000/v1", "model": "run",
            "server": server, "hardware": hardware, "threads": 2, "continuous_batching": None,
            "max_batch_size": 16, "duration_s": 10.0, "levels": levels}
