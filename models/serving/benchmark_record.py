"""A short inference benchmark written beside every succeeded run as inference.json.

The Compare page turns measured throughput into dollars, so every run is timed right after training, on the
machine that trained it: the job runner (models.jobs.runner) and `python -m models train` call
`record_after_training` once train() has returned a succeeded run. Warm-up, then single-request latency
(at least MIN_ITERATIONS calls and $STRATLAB_INFERENCE_BENCH_S seconds, default 2) and batched throughput
on the test texts, with `models.serving.benchmark.benchmark`. The same file records what the cost model
needs to price the run elsewhere (parameters, tokens per text) and what a hosted API would be billed for
the same evaluation texts (prompt and answer tokens, counted with SmolLM2's BPE tokenizer).

inference.json:
    measured_at, hardware ("CPU x2" or the GPU name), device, method, precision,
    p50_ms, p95_ms, p99_ms, single_iterations, throughput_per_s, batch_texts, batch_passes, torch_threads,
    peak_rss_bytes, cpu_count, load_average_1m (busy machine = slower figures), model_params,
    tokens_per_request,
    api_prompt {tokenizer, input_tokens_mean, output_tokens_mean, prompt_overhead_tokens, n_texts}
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from analytics.settings import settings
from models.core.config import TrainConfig
from models.core.runs import read_json, write_json_atomic
from models.data.types import DataSplits
from models.modeling.prompts import TEXT_SLOT, prompt_body, readable_label

log = logging.getLogger(__name__)

INFERENCE_FILE = "inference.json"
MIN_ITERATIONS = 20
"""Single-request calls timed at least (zero-shot LLM runs: ZERO_SHOT_MIN_ITERATIONS)."""
ZERO_SHOT_MIN_ITERATIONS = 10
BATCH_TEXTS = 256
"""Test texts per batched pass (zero-shot LLM runs: ZERO_SHOT_BATCH_TEXTS)."""
ZERO_SHOT_BATCH_TEXTS = 16
API_TOKENIZER = "SmolLM2-135M BPE"


def bench_seconds() -> float:
    """Minimum seconds per timing loop: `settings().inference_bench_s` ($STRATLAB_INFERENCE_BENCH_S, 2 s).

    0 skips the benchmark (inference.json is then not written).
    """
    return settings().inference_bench_s


def record_after_training(run_dir: Path | str, data: DataSplits | None = None, *,
                          device: str | None = None) -> dict[str, Any] | None:
    """The post-run benchmark of a run that has just succeeded: `record_inference`, which never fails the run.

    Arguments:
        run_dir: the succeeded run's folder.
        data: the splits it trained on; None loads the dataset its config.json names (models.data.loading).
        device: where to time it; None: the run's own config.device.
    Returns inference.json's content, or None when nothing was written: the benchmark is switched off, this
    is not the main process of a distributed run, the folder has no model/ to serve, or the benchmark failed
    or was cancelled (logged as a warning; the run stays succeeded and the Compare page flags the missing
    figures).
    """
    run_dir = Path(run_dir)
    main_rank = int(os.environ.get("RANK", "0")) == 0
    if bench_seconds() <= 0 or not main_rank or not (run_dir / "model").is_dir():
        return None
    try:
        config = TrainConfig.from_dict(read_json(run_dir / "config.json"))
        if data is None:
            from models.data.loading import load_training_data

            data = load_training_data(config)
        return record_inference(run_dir, data, device=device or config.device)
    except (Exception, KeyboardInterrupt) as e:  # noqa: BLE001 - never turn a succeeded run into a failed one
        log.warning("inference benchmark of run %s skipped: %s: %s", run_dir.name, type(e).__name__, e)
        return None


def record_inference(run_dir: Path | str, data: DataSplits, *, device: str = "auto",
                     min_seconds: float | None = None) -> dict[str, Any] | None:
    """Benchmark the finished run in `run_dir` on `data.test` and write inference.json; returns its content.

    Returns None (and writes nothing) when the benchmark is switched off or the test split is empty.
    Raises whatever loading the predictor raises (RunFolderError, ModelNotFoundError, DeviceError).
    """
    seconds = bench_seconds() if min_seconds is None else min_seconds
    texts = list(data.test.texts)
    if seconds <= 0 or not texts:
        return None
    from models.serving.benchmark import benchmark
    from models.serving.predictors import load_predictor

    run_dir = Path(run_dir)
    predictor = load_predictor(run_dir, device=device)
    zero_shot = predictor.method == "zero_shot"
    sample = texts[: ZERO_SHOT_BATCH_TEXTS if zero_shot else BATCH_TEXTS]
    min_iterations = ZERO_SHOT_MIN_ITERATIONS if zero_shot else MIN_ITERATIONS
    timing = benchmark(predictor, sample, warmup=3, min_iterations=min_iterations, min_seconds=seconds,
                       batch_passes=2, batch_warmup_texts=min(64, len(sample)))
    model = _torch_module(predictor)
    record = {
        "measured_at": datetime.now(timezone.utc).isoformat(), "hardware": hardware_name(model),
        "device": str(_device(model)), "method": predictor.method,
        "precision": getattr(predictor, "precision", "fp32"),
        "p50_ms": timing["latency_p50_ms"], "p95_ms": timing["latency_p95_ms"],
        "p99_ms": timing["latency_p99_ms"], "single_iterations": timing["single_iterations"],
        "throughput_per_s": timing["throughput_samples_per_s"],
        "batch_texts": timing["batch_texts"], "batch_passes": timing["batch_passes"],
        "torch_threads": timing["torch_threads"], "peak_rss_bytes": timing.get("peak_rss_bytes"),
        "cpu_count": os.cpu_count(), "load_average_1m": _load_average(),
        "model_params": _parameter_count(model),
        "tokens_per_request": _mean_tokens(getattr(predictor, "tokenizer", None), texts),
        "api_prompt": api_prompt_tokens(texts, [data.label_names[i] for i in data.test.labels],
                                        data.label_names),
    }
    write_json_atomic(run_dir / INFERENCE_FILE, record)
    log.info("run %s: p50 %.1f ms, %.1f requests/s on %s", run_dir.name, record["p50_ms"],
             record["throughput_per_s"], record["hardware"])
    return record


def _load_average() -> float | None:
    """1-minute load average when the benchmark ended: above cpu_count, other work shared the machine."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _torch_module(predictor: Any) -> Any | None:
    """The predictor's torch model (None for the classic pipeline)."""
    for owner in (predictor, getattr(predictor, "scorer", None)):
        for name in ("model", "encoder"):
            module = getattr(owner, name, None)
            if module is not None and hasattr(module, "parameters"):
                return module
    return None


def _parameter_count(model: Any | None) -> int | None:
    """Parameters of the underlying model (a lean wrapper's fused copies of q/k/v are not counted twice)."""
    if model is None:
        return None
    return sum(int(p.numel()) for p in getattr(model, "hf_model", model).parameters())


def _device(model: Any | None) -> Any:
    if model is None:
        return "cpu"
    return next(model.parameters()).device


def hardware_name(model: Any | None) -> str:
    """'CPU x<cores>' (the cost model prices CPU instances by vCPU count) or the CUDA device's name."""
    device = _device(model)
    if getattr(device, "type", "cpu") == "cuda":
        import torch

        return str(torch.cuda.get_device_name(device))
    return f"CPU x{os.cpu_count()}"


def _mean_tokens(tokenizer: Any | None, texts: Sequence[str]) -> float | None:
    if tokenizer is None:
        return None
    ids = tokenizer(list(texts), add_special_tokens=True)["input_ids"]
    return float(np.mean([len(i) for i in ids]))


def api_prompt_tokens(texts: Sequence[str], answers: Sequence[str],
                      label_names: Sequence[str]) -> dict[str, Any]:
    """Mean tokens a hosted LLM would bill per text for a zero-shot classification prompt: instructions, every
    label name, the text; and the answer (the true label's name + an end token). Counted with SmolLM2's
    tokenizer through `tokenizers` (no torch); {} when that tokenizer is not available."""
    try:
        from tokenizers import Tokenizer

        from models.modeling.loading import smollm2_tokenizer_dir

        tokenizer = Tokenizer.from_file(str(smollm2_tokenizer_dir() / "tokenizer.json"))
    except Exception as e:  # noqa: BLE001 - optional extra: a missing tokenizer must not fail the run
        log.warning("API token counts skipped: %s", e)
        return {}
    header = prompt_body([readable_label(n) for n in label_names]).split(TEXT_SLOT)[0]  # as the LM reads it
    overhead = len(tokenizer.encode(header, add_special_tokens=False).ids) + 3  # 'Category:' and separators
    encoded_texts = tokenizer.encode_batch([f" {t}" for t in texts], add_special_tokens=False)
    text_tokens = [len(e.ids) for e in encoded_texts]
    answer_tokens = [len(e.ids) + 1 for e in tokenizer.encode_batch([readable_label(a) for a in answers],
                                                                    add_special_tokens=False)]
    return {"tokenizer": API_TOKENIZER, "prompt_overhead_tokens": overhead, "n_texts": len(texts),
            "input_tokens_mean": overhead + float(np.mean(text_tokens)),
            "output_tokens_mean": float(np.mean(answer_tokens))}
