"""A short inference benchmark written beside every succeeded run as inference.json.

The Compare page turns measured throughput into dollars, so every run is timed on the machine that trained
it. In the queue a training job that succeeds queues a measure job (models.jobs.measure), which the
scheduler runs alone, and whose process calls `measure_run`; `python -m models train` (no queue) measures
inline with `record_after_training` once train() has returned a succeeded run. Both go through
`record_inference`: torch threads pinned to the available cores, warm-up, then REPEATS rounds of a
single-request loop and a batched-throughput loop on the test texts
(`models.serving.benchmark.repeated_benchmark`). $STRATLAB_INFERENCE_BENCH_S (default 2) is the timed
seconds of each loop over all repeats (2 s and 5 repeats: 0.4 s per round and loop, at least
MIN_ITERATIONS_PER_REPEAT single calls and one batch pass); a MiniLM probe takes about 10 s in all on 2
cores. The same file records what the cost model needs to price the run elsewhere (parameters, tokens per
text) and what a hosted API would be billed for the same evaluation texts (prompt and answer tokens, counted
with SmolLM2's BPE tokenizer).

inference.json (written atomically: a re-measure replaces the whole file):
    measured_at (when the file was written), measured_by ('measure job: after training',
    'measure job: re-measure', 'train command'), hardware ("CPU x2" or the GPU name), device, method,
    precision,
    p50_ms (median of the per-repeat medians), p50_best_ms (lowest repeat), p50_spread (interquartile range /
    median of the repeats), p50_repeats_ms, p95_ms, p99_ms (over every timed call), single_iterations,
    throughput_per_s (median of the repeats), throughput_best_per_s (highest), throughput_spread,
    throughput_repeats, repeats, timed_seconds (warm-up and repeats), waited_for_quiet_s (before timing, up to
    QUIET_WAIT_S for other processes to leave the CPU), batch_texts, batch_passes,
    threads (= torch_threads, pinned),
    peak_rss_bytes, cpu_count, load_average_1m_start, load_average_1m (at the end), others_cpu_share (CPU
    time of other processes during the measurement, share of the machine), busy (others clearly competed),
    model_params, tokens_per_request,
    api_prompt {tokenizer, input_tokens_mean, output_tokens_mean, prompt_overhead_tokens, n_texts}
"""

from __future__ import annotations

import logging
import os
import time
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
MIN_ITERATIONS_PER_REPEAT = 10
"""Single-request calls timed at least per repeat (zero-shot LLM runs: the ZERO_SHOT_ one)."""
ZERO_SHOT_MIN_ITERATIONS_PER_REPEAT = 3
BUSY_OTHERS_SHARE = 0.25
"""`busy` is true when other processes used more than this share of the machine's CPU time while we
measured (e.g. half a core of two), i.e. something not ours clearly competed."""
BATCH_TEXTS = 64
"""Test texts per batched pass (zero-shot LLM runs: ZERO_SHOT_BATCH_TEXTS): a serving-sized batch; one pass
per repeat takes about 0.3-0.7 s for MiniLM on 2 CPU cores (256 took 2.6 s a pass, 13 s of a measure job)."""
ZERO_SHOT_BATCH_TEXTS = 16
API_TOKENIZER = "SmolLM2-135M BPE"


def bench_seconds() -> float:
    """Timed seconds of each loop (single requests, batches) over all repeats:
    `settings().inference_bench_s` ($STRATLAB_INFERENCE_BENCH_S, 2 s).

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
        return record_inference(run_dir, data, device=device or config.device, measured_by="train command")
    except (Exception, KeyboardInterrupt) as e:  # noqa: BLE001 - never turn a succeeded run into a failed one
        log.warning("inference benchmark of run %s skipped: %s: %s", run_dir.name, type(e).__name__, e)
        return None


def measure_run(run_dir: Path | str, *, measured_by: str) -> dict[str, Any]:
    """The measure job's work: load the run's data and model, `record_inference`, return inference.json.

    Unlike `record_after_training` it raises, so the job fails with the reason: ConfigError when the benchmark
    is switched off ($STRATLAB_INFERENCE_BENCH_S=0) or the test split is empty, and whatever loading the data
    or the predictor raises.
    """
    from models.errors import ConfigError

    run_dir = Path(run_dir)
    if bench_seconds() <= 0:
        raise ConfigError("the inference benchmark is switched off (STRATLAB_INFERENCE_BENCH_S=0); "
                          "set it to a number of seconds, e.g. 2, to measure runs")
    began = time.monotonic()
    config = TrainConfig.from_dict(read_json(run_dir / "config.json"))
    from models.data.loading import load_training_data

    data = load_training_data(config)
    log.info("run %s: data loaded in %.1f s", run_dir.name, time.monotonic() - began)
    record = record_inference(run_dir, data, device=config.device, measured_by=measured_by)
    if record is None:
        raise ConfigError(f"run {run_dir.name} has no test texts to time; its dataset needs a test split")
    return record


def record_inference(run_dir: Path | str, data: DataSplits, *, device: str = "auto",
                     min_seconds: float | None = None, measured_by: str = "train command",
                     threads: int | None = None) -> dict[str, Any] | None:
    """Benchmark the finished run in `run_dir` on `data.test` and write inference.json; returns its content.

    min_seconds: timed seconds of each loop over all repeats (None: `bench_seconds()`); threads: torch
    threads (None: every available core). Returns None (and writes nothing) when the benchmark is switched off
    or the test split is empty. Raises whatever loading the predictor raises (RunFolderError,
    ModelNotFoundError, DeviceError).
    """
    seconds = bench_seconds() if min_seconds is None else min_seconds
    texts = list(data.test.texts)
    if seconds <= 0 or not texts:
        return None
    from models.serving.benchmark import REPEATS, repeated_benchmark
    from models.serving.predictors import load_predictor

    run_dir = Path(run_dir)
    predictor = load_predictor(run_dir, device=device)
    zero_shot = predictor.method == "zero_shot"
    sample = texts[: ZERO_SHOT_BATCH_TEXTS if zero_shot else BATCH_TEXTS]
    per_repeat = ZERO_SHOT_MIN_ITERATIONS_PER_REPEAT if zero_shot else MIN_ITERATIONS_PER_REPEAT
    waited_s = wait_for_quiet()
    machine = MachineWatch()
    began = time.monotonic()
    timing = repeated_benchmark(predictor, sample, repeats=REPEATS, threads=threads,
                                seconds_per_repeat=seconds / REPEATS, min_iterations_per_repeat=per_repeat,
                                warmup=3 if zero_shot else 10, batch_warmup_texts=min(64, len(sample)))
    timed_s = time.monotonic() - began
    competition = machine.stop()
    model = _torch_module(predictor)
    record = {
        "measured_by": measured_by, "hardware": hardware_name(model),
        "device": str(_device(model)), "method": predictor.method,
        "precision": getattr(predictor, "precision", "fp32"),
        "p50_ms": timing["latency_p50_ms"], "p50_best_ms": timing["latency_p50_best_ms"],
        "p50_spread": timing["latency_p50_spread"], "p50_repeats_ms": timing["latency_p50_repeats_ms"],
        "p95_ms": timing["latency_p95_ms"], "p99_ms": timing["latency_p99_ms"],
        "single_iterations": timing["single_iterations"],
        "throughput_per_s": timing["throughput_samples_per_s"],
        "throughput_best_per_s": timing["throughput_best_per_s"],
        "throughput_spread": timing["throughput_spread"], "throughput_repeats": timing["throughput_repeats"],
        "repeats": timing["repeats"], "timed_seconds": round(timed_s, 2), "waited_for_quiet_s": waited_s,
        "batch_texts": timing["batch_texts"],
        "batch_passes": timing["batch_passes"], "threads": timing["torch_threads"],
        "torch_threads": timing["torch_threads"], "peak_rss_bytes": timing.get("peak_rss_bytes"),
        "cpu_count": os.cpu_count(), **competition,
        "model_params": _parameter_count(model),
        "tokens_per_request": _mean_tokens(getattr(predictor, "tokenizer", None), texts),
        "api_prompt": api_prompt_tokens(texts, [data.label_names[i] for i in data.test.labels],
                                        data.label_names),
    }
    record = {"measured_at": datetime.now(timezone.utc).isoformat(), **record}  # when the file is written
    write_json_atomic(run_dir / INFERENCE_FILE, record)
    log.info("run %s: p50 %.1f ms (spread %.0f%%), %.1f requests/s (spread %.0f%%) on %s, %d threads, "
             "timed in %.1f s%s", run_dir.name, record["p50_ms"], 100 * record["p50_spread"],
             record["throughput_per_s"], 100 * record["throughput_spread"], record["hardware"],
             record["threads"], timed_s, ", machine busy" if record["busy"] else "")
    return record


QUIET_WAIT_S = 10.0
"""Longest wait, before timing, for other processes to leave the CPU (a page redrawing in a browser on the
same machine as a run lands); after it the measurement goes ahead and `busy` says whether they competed."""


def wait_for_quiet(max_wait_s: float = QUIET_WAIT_S, window_s: float = 0.5) -> float:
    """Wait until other processes used at most BUSY_OTHERS_SHARE of the CPU over one `window_s` window, or
    `max_wait_s` passed; returns the seconds waited (0 where /proc/stat is unreadable)."""
    began = time.monotonic()
    while time.monotonic() - began < max_wait_s:
        watch = MachineWatch()
        time.sleep(window_s)
        share = watch.stop()["others_cpu_share"]
        if share is None or share <= BUSY_OTHERS_SHARE:
            break
    waited = time.monotonic() - began
    if waited > window_s * 1.5:
        log.info("waited %.1f s for other processes to leave the CPU before measuring", waited)
    return round(waited, 2)


class MachineWatch:
    """How much other processes competed for the CPU between its creation and `stop()`.

    From /proc/stat (busy CPU time of the whole machine, steal included) minus this process's own CPU time
    (os.times), as a share of the machine's CPU time over the window; plus the 1-minute load average at both
    ends. Where /proc/stat is missing, `busy` falls back to a load average above the cores by half as many.
    """

    def __init__(self) -> None:
        self.load_start = _load_average()
        self.wall_start = time.monotonic()
        self.own_start = _own_cpu_seconds()
        self.machine_start = _machine_busy_seconds()

    def stop(self) -> dict[str, Any]:
        """load_average_1m_start, load_average_1m (now), others_cpu_share (None if unknown), busy."""
        load_end = _load_average()
        wall = time.monotonic() - self.wall_start
        machine_end = _machine_busy_seconds()
        share = None
        if self.machine_start is not None and machine_end is not None and wall > 0:
            others = (machine_end[0] - self.machine_start[0]) - (_own_cpu_seconds() - self.own_start)
            share = round(max(0.0, others) / (wall * machine_end[1]), 3)
        cores = os.cpu_count() or 1
        if share is not None:
            busy = share > BUSY_OTHERS_SHARE
        else:
            busy = load_end is not None and load_end > cores + max(1.0, cores / 2)
        return {"load_average_1m_start": self.load_start, "load_average_1m": load_end,
                "others_cpu_share": share, "busy": bool(busy)}


def _load_average() -> float | None:
    """1-minute load average now: above cpu_count, other work shared the machine."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def _machine_busy_seconds() -> tuple[float, int] | None:
    """(busy CPU seconds of every core since boot, number of cores) from /proc/stat; None elsewhere."""
    try:
        lines = Path("/proc/stat").read_text(encoding="ascii").splitlines()
    except OSError:
        return None
    fields = [int(v) for v in lines[0].split()[1:9]]  # user nice system idle iowait irq softirq steal
    cores = sum(1 for line in lines[1:] if line.startswith("cpu"))
    busy = sum(fields) - fields[3] - fields[4]
    return busy / os.sysconf("SC_CLK_TCK"), max(1, cores)


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
