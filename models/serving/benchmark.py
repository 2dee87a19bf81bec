"""Latency and throughput of any predictor, the optimum-benchmark way.

Warm up, then time until BOTH a minimum number of calls and a minimum duration are reached: single
requests (one text per call; p50/p95/p99 in ms) and whole-list batches (samples/s). Used by
`python -m models bench`, by the post-run record (models.serving.benchmark_record) and by bench/infer.py.
"""

from __future__ import annotations

import math
import resource
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from models.errors import ConfigError


@dataclass(frozen=True)
class _Timing:
    seconds: list[float]
    iterations: int


def _time_until(fn: Any, min_iterations: int, min_seconds: float) -> _Timing:
    """Call fn(i) until at least min_iterations calls AND min_seconds have passed; per-call seconds."""
    seconds: list[float] = []
    begin = time.perf_counter()
    i = 0
    while i < min_iterations or time.perf_counter() - begin < min_seconds:
        start = time.perf_counter()
        fn(i)
        seconds.append(time.perf_counter() - start)
        i += 1
    return _Timing(seconds, i)


def peak_memory() -> dict[str, Any]:
    """Process peak RSS in bytes (getrusage) and, on CUDA, torch's max allocated bytes."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    info: dict[str, Any] = {"peak_rss_bytes": int(peak if sys.platform == "darwin" else peak * 1024)}
    if torch.cuda.is_available():
        info["cuda_max_allocated_bytes"] = int(torch.cuda.max_memory_allocated())
    return info


def benchmark(predictor: Any, texts: Sequence[str], *, warmup: int = 10, min_iterations: int = 10,
              min_seconds: float = 5.0, batch_passes: int = 2,
              batch_warmup_texts: int = 256) -> dict[str, Any]:
    """Latency and throughput the optimum-benchmark way: warm up, then time until BOTH a minimum number
    of iterations and a minimum duration are reached.

    Single request: one text per call, cycling through `texts`; reports p50/p95/p99 in ms.
    Batch: the whole `texts` list per call (`batch_passes` minimum, `min_seconds` minimum); samples/s.
    `predictor` is anything with predict_proba(list[str]) (ours, or a wrapped transformers pipeline).
    """
    if not texts:
        raise ConfigError("benchmark needs at least one text")
    texts = list(texts)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    for i in range(warmup):
        predictor.predict_proba([texts[i % len(texts)]])
    single = _time_until(lambda i: predictor.predict_proba([texts[i % len(texts)]]), min_iterations,
                         min_seconds)
    predictor.predict_proba(texts[:batch_warmup_texts])
    batch = _time_until(lambda i: predictor.predict_proba(texts), batch_passes, min_seconds)
    latency_ms = np.asarray(single.seconds) * 1000.0
    total_s = float(np.sum(batch.seconds))
    return {
        "latency_p50_ms": float(np.percentile(latency_ms, 50)),
        "latency_p95_ms": float(np.percentile(latency_ms, 95)),
        "latency_p99_ms": float(np.percentile(latency_ms, 99)),
        "latency_mean_ms": float(latency_ms.mean()),
        "single_iterations": single.iterations,
        "throughput_samples_per_s": len(texts) * batch.iterations / total_s if total_s > 0 else math.nan,
        "batch_passes": batch.iterations,
        "batch_texts": len(texts),
        "torch_threads": torch.get_num_threads(),
        **peak_memory(),
    }
