"""Our own served MiniLM run through evaluate-endpoint against the same run in-process, on the same texts.

    python bench/serve_eval.py                         # trains bench/serve.py's small MiniLM run first
    python bench/serve_eval.py --run data/runs/<id> --limit 300

Served: `python -m models serve` (LitServe) on 127.0.0.1, scored by models.serving.endpoint.evaluate
(the official openai client, the classification prompt with the label names, structured output "auto",
one request at a time so its latency is a single request's, a fresh response cache so nothing is a cache
hit). In-process: models.serving.predictors.load_predictor on the same run, the same torch threads, the
same test texts (the text_ids of the endpoint run's predictions.parquet), first all at once for the labels,
then one text per call for the latency. Goal: 0 differing predictions; the HTTP overhead is the client's
p50 (eval.json latency_p50_ms: the whole round trip) minus the in-process p50 of one text.
Last line: differing_predictions=<n> n=<N> client_p50_ms=<a> inprocess_p50_ms=<b> http_overhead_p50_ms=<a-b>
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _train_small_run(runs_dir: Path, train_examples: int) -> Path:
    """bench/serve.py's run (bench/ is not a package, and on sys.path its analytics.py would shadow ours)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_serve", ROOT / "bench" / "serve.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return Path(module.train_small_run(runs_dir, train_examples, 0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", help="a classifier run trained on banking77 (default: train a small one)")
    parser.add_argument("--train-examples", type=int, default=1000)
    parser.add_argument("--limit", type=int, default=200, help="test texts scored (stratified subset)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads, server and in-process")
    parser.add_argument("--seed", type=int, default=42, help="the endpoint run's split and subset seed")
    args = parser.parse_args(argv)

    import pandas as pd
    import torch

    from models.core.runs import read_json
    from models.data.user_files import load_for_config
    from models.serving.endpoint.config import EndpointConfig
    from models.serving.endpoint.evaluate import evaluate_endpoint
    from models.serving.predictors import load_predictor
    from models.serving.server.launch import serve_run

    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="bench-serve-eval-"))
    if args.run:
        run_dir = Path(args.run)
    else:
        run_dir = _train_small_run(tmp / "runs", args.train_examples)
    dataset = read_json(run_dir / "config.json").get("dataset", "banking77")
    with serve_run(run_dir, port=0, threads=args.threads, log_dir=tmp, startup_timeout_s=900) as server:
        config = EndpointConfig(base_url=server.base_url, model=server.model, dataset=dataset,
                                limit=args.limit, concurrency=1, runs_dir=tmp / "endpoint-runs",
                                cache_dir=tmp / "cache", seed=args.seed, budget_usd=0.01)
        began = time.perf_counter()
        result = evaluate_endpoint(config, api_key=server.api_key)
        endpoint_seconds = time.perf_counter() - began
    served = pd.read_parquet(result.run_dir / "predictions.parquet")
    texts_by_id = dict(zip(*_test_columns(load_for_config(dataset, seed=args.seed)), strict=True))
    texts = [texts_by_id[i] for i in served["text_id"]]

    torch.set_num_threads(args.threads)
    predictor = load_predictor(run_dir, device="cpu")
    local = predictor.predict(texts)
    differing = int(sum(a != b for a, b in zip(served["pred_label"].tolist(), local, strict=True)))
    predictor.predict_proba(texts[:8])  # warm
    single_ms = []
    for text in texts:
        start = time.perf_counter()
        predictor.predict_proba([text])
        single_ms.append((time.perf_counter() - start) * 1000.0)
    inprocess_p50 = float(np.percentile(single_ms, 50))
    client_p50 = float(result.metrics["latency_p50_ms"])
    load_after = os.getloadavg()
    print(f"run {run_dir.name} ({read_json(run_dir / 'config.json').get('method')}), {len(texts)} {dataset} "
          f"test texts; endpoint run {result.state} in {endpoint_seconds:.0f} s: accuracy "
          f"{result.metrics.get('accuracy', float('nan')):.3f}, unparseable "
          f"{result.metrics.get('unparseable')}, "
          f"requests sent {result.extra.get('requests_sent')}, cache hits {result.extra.get('cache_hits')}")
    local_accuracy = np.mean([a == b for a, b in zip(local, served["true_label"], strict=True)])
    print(f"in-process accuracy {local_accuracy:.3f}; "
          f"client p95 {result.metrics['latency_p95_ms']:.1f} ms, in-process p95 "
          f"{np.percentile(single_ms, 95):.1f} ms; torch threads {args.threads}; load average "
          f"{load_before[0]:.2f} before, {load_after[0]:.2f} after")
    print(f"differing_predictions={differing} n={len(texts)} client_p50_ms={client_p50:.1f} "
          f"inprocess_p50_ms={inprocess_p50:.1f} http_overhead_p50_ms={client_p50 - inprocess_p50:.1f}")
    return 0


def _test_columns(data: object) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return data.test.ids, data.test.texts  # type: ignore[attr-defined]


if __name__ == "__main__":
    raise SystemExit(main())
