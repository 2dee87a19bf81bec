"""Our served classifier: concurrency 16 against sequential single requests to the same LitServe server.

    python bench/serve.py                          # trains a small MiniLM linear_probe run in a temp folder
    python bench/serve.py --run data/runs/<id>     # serve an existing classifier run instead
    python bench/serve.py --requests 64 --duration 10 --train-examples 300   # quicker

The run: all-MiniLM-L6-v2 + logistic-regression head (method linear_probe) trained on a seeded subset of
BANKING77's train split (same encoder forward pass per request as a fine-tuned MiniLM). The server:
`python -m models serve` in a child process (models.serving.server.launch.serve_run: LitServe, dynamic
batching up to --max-batch-size requests, waiting at most --batch-timeout-ms for a batch to fill). The
client: the official openai client from this process (models.serving.server.loadtest), BANKING77 test
texts as the last user message; first one thread sending one request at a time, then 16 threads; each
phase bounded by --requests and --duration, after one untimed warm-up request.

The server and the client share this machine's cores, as a founder's test on one box would. The ratio is
measured in one run against one server; the load average before and after says how busy the machine was.
The record is also appended to the run's serving.json.
Last line: speedup_batched_vs_sequential=<x> p50_ms=<a> p95_ms=<b>
(x = requests/s at concurrency 16 / requests/s one at a time; a, b: latency at concurrency 16, ms).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def train_small_run(runs_dir: Path, train_examples: int, seed: int) -> Path:
    """A MiniLM linear_probe run on a seeded BANKING77 train subset (test: 200 texts)."""
    from models.core.config import TrainConfig
    from models.data.catalog import load_dataset
    from models.training.train import train

    data = load_dataset("banking77", seed=seed)
    rng = random.Random(seed)
    train_rows = sorted(rng.sample(range(len(data.train)), min(train_examples, len(data.train))))
    data = replace(data, train=data.train.subset(train_rows),
                   validation=data.validation.subset(range(min(100, len(data.validation)))),
                   test=data.test.subset(range(min(200, len(data.test)))))
    config = TrainConfig(method="linear_probe", model="all-MiniLM-L6-v2", dataset="banking77",
                         runs_dir=str(runs_dir), run_name="bench-serve", seed=seed, max_length=64)
    result = train(config, data)
    if result.state != "succeeded":
        raise SystemExit(f"training the bench run failed: {result.state}")
    return Path(result.run_dir)


def request_texts(limit: int) -> list[str]:
    from models.data.catalog import load_dataset

    return list(load_dataset("banking77").test.texts)[:limit]


def server_stats(url: str, api_key: str | None) -> dict[str, int]:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    request = urllib.request.Request(f"{url}/v1/stats", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
        return json.loads(response.read())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", help="an existing classifier run folder (default: train a small one)")
    parser.add_argument("--train-examples", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=400, help="requests per phase (upper bound)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per phase (upper bound)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-batch-size", type=int, default=16)
    parser.add_argument("--batch-timeout-ms", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=None,
                        help="server torch threads (default: the number of CPU cores)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from models.core.runs import environment_info
    from models.serving.server.launch import serve_run
    from models.serving.server.loadtest import ServingRecord, make_client, run_level, write_serving_record

    load_before = os.getloadavg()
    threads = args.threads or os.cpu_count() or 1
    tmp = tempfile.TemporaryDirectory(prefix="bench-serve-")
    if args.run:
        run_dir = Path(args.run)
    else:
        began = time.perf_counter()
        run_dir = train_small_run(Path(tmp.name), args.train_examples, args.seed)
        print(f"trained {run_dir.name} (linear_probe, MiniLM, {args.train_examples} train texts) in "
              f"{time.perf_counter() - began:.0f} s")
    texts = request_texts(max(args.requests, 64))
    with serve_run(run_dir, port=0, threads=threads, max_batch_size=args.max_batch_size,
                   batch_timeout_ms=args.batch_timeout_ms, log_dir=Path(tmp.name),
                   startup_timeout_s=900) as server:
        client = make_client(server.base_url, server.api_key, 60.0)
        client.chat.completions.create(model=server.model, messages=[{"role": "user", "content": texts[0]}])
        before = server_stats(server.url, server.api_key)
        sequential = run_level(client, server.model, texts, 1, args.duration, args.requests, None)
        middle = server_stats(server.url, server.api_key)
        batched = run_level(client, server.model, texts, args.concurrency, args.duration, args.requests, None)
        after = server_stats(server.url, server.api_key)
        client.close()
    load_after = os.getloadavg()
    record = ServingRecord(measured_at=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
                           base_url=server.base_url, model=server.model, server="litserve",
                           hardware=environment_info()["hardware"], threads=threads, continuous_batching=None,
                           max_batch_size=args.max_batch_size, duration_s=args.duration,
                           levels=(sequential, batched), max_requests=args.requests)
    if args.run:
        write_serving_record(run_dir, record)
    for name, level, start, end in (("sequential", sequential, before, middle),
                                    (f"concurrency {args.concurrency}", batched, middle, after)):
        batches = max(end["batches"] - start["batches"], 1)
        print(f"{name:>16}: {level.requests} requests, {level.errors} errors, {level.requests_per_s:.1f} "
              f"requests/s, p50 {level.p50_ms:.1f} ms, p95 {level.p95_ms:.1f} ms, p99 {level.p99_ms:.1f} ms; "
              f"server: {(end['requests'] - start['requests']) / batches:.1f} requests per batch, "
              f"largest batch so far {end['max_batch_seen']}")
    print(f"server threads {threads}, max batch size {args.max_batch_size}, batch timeout "
          f"{args.batch_timeout_ms:g} ms; {environment_info()['hardware']}; load average "
          f"{load_before[0]:.2f} before, {load_after[0]:.2f} after")
    tmp.cleanup()
    speedup = batched.requests_per_s / sequential.requests_per_s if sequential.requests_per_s else 0.0
    print(f"speedup_batched_vs_sequential={speedup:.2f} p50_ms={batched.p50_ms:.1f} "
          f"p95_ms={batched.p95_ms:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
