"""Latency and throughput of any predictor, the optimum-benchmark way.

Warm up, then time until BOTH a minimum number of calls and a minimum duration are reached: single
requests (one text per call; p50/p95/p99 in ms) and whole-list batches (samples/s). `benchmark` is one such
pass (`python -m models bench`, bench/infer.py); `repeated_benchmark` pins the thread count and repeats the
pair of loops R times, reporting the median of the per-repeat figures, the best repeat and the spread
across repeats (the run's inference.json, models.serving.benchmark_record).
"""

from __future__ import annotations

import math
import os
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


REPEATS = 5
"""Repeats of the single-request and batch loops in `repeated_benchmark`."""


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask; os.cpu_count() where that is unknown)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def spread(values: Sequence[float]) -> float:
    """Interquartile range / median of `values`, a fraction (0.08: the middle half of the repeats lies
    within 8% of each other, about ±4% of their median). One slow repeat (a page redraw in the browser
    beside the job) moves neither the median nor this spread; (max - min) / median flagged idle runs."""
    middle = float(np.median(values))
    q1, q3 = np.percentile(values, [25, 75])
    return float((q3 - q1) / middle) if middle > 0 else math.nan


def repeated_benchmark(predictor: Any, texts: Sequence[str], *, repeats: int = REPEATS,
                       threads: int | None = None, seconds_per_repeat: float = 0.4,
                       min_iterations_per_repeat: int = 10, warmup: int = 5,
                       batch_warmup_texts: int = 64) -> dict[str, Any]:
    """Latency and throughput that hold still: pinned threads, warm-up, then `repeats` rounds of a
    single-request loop and a batch loop (each at least `seconds_per_repeat` seconds; single requests at
    least `min_iterations_per_repeat` calls, batches at least one pass over `texts`).

    threads: torch CPU threads for the whole measurement; None = `available_cores()` (the same every time).
    Reports p50 as the median of the per-repeat medians (latency_p50_ms), the best (lowest) repeat and the
    spread of the repeats (interquartile range / median); throughput the same way (best = highest);
    p95/p99/mean over every timed call. The per-repeat figures are returned too (latency_p50_repeats_ms,
    throughput_repeats).
    """
    if not texts:
        raise ConfigError("benchmark needs at least one text")
    if repeats < 1:
        raise ConfigError(f"repeats must be at least 1, got {repeats}")
    texts = list(texts)
    threads = threads or available_cores()
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        for i in range(warmup):
            predictor.predict_proba([texts[i % len(texts)]])
        predictor.predict_proba(texts[:batch_warmup_texts])
        medians, rates, latencies = [], [], []
        single_calls = batch_passes = 0
        for _ in range(repeats):
            single = _time_until(lambda i: predictor.predict_proba([texts[i % len(texts)]]),
                                 min_iterations_per_repeat, seconds_per_repeat)
            batch = _time_until(lambda i: predictor.predict_proba(texts), 1, seconds_per_repeat)
            per_call_ms = np.asarray(single.seconds) * 1000.0
            medians.append(float(np.median(per_call_ms)))
            latencies.extend(per_call_ms.tolist())
            total_s = float(np.sum(batch.seconds))
            rates.append(len(texts) * batch.iterations / total_s if total_s > 0 else math.nan)
            single_calls += single.iterations
            batch_passes += batch.iterations
    finally:
        torch.set_num_threads(before)
    pooled = np.asarray(latencies)
    return {
        "latency_p50_ms": float(np.median(medians)), "latency_p50_best_ms": float(min(medians)),
        "latency_p50_spread": spread(medians), "latency_p50_repeats_ms": medians,
        "latency_p95_ms": float(np.percentile(pooled, 95)),
        "latency_p99_ms": float(np.percentile(pooled, 99)),
        "latency_mean_ms": float(pooled.mean()), "single_iterations": single_calls,
        "throughput_samples_per_s": float(np.median(rates)), "throughput_best_per_s": float(max(rates)),
        "throughput_spread": spread(rates), "throughput_repeats": rates,
        "batch_passes": batch_passes, "batch_texts": len(texts), "repeats": repeats, "torch_threads": threads,
        **peak_memory(),
    }
