"""Before a launch: how long a run will take on this hardware, how much memory it needs, what it costs.

Time comes from a measurement: `measure(config)` runs `python -m models.planning.estimate` in a subprocess
that loads the chosen model and data and times a few real steps (full/lora: forward + backward + AdamW step
on a batch of real training texts; linear_probe/zero_shot: forward passes; classic: a fit on a slice). A
subprocess, not the app process, because the app must never import torch (hundreds of MB, seconds of
import, a crash or an out-of-memory in the measurement would take the server down) and the measurement then
sees the same process start-up a job sees. Memory and cost are formulas (`memory_estimate`,
`time_estimate`, `cost_usd`), pure and unit-tested; every result carries its formula as text for the page.
"""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from models.core.config import TrainConfig
from models.errors import ConfigError, EstimateError

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
GIB = 1024**3
ADAM_BYTES_PER_PARAM = 16
"""fp32 weights 4 + gradients 4 + AdamW first and second moments 8."""
CLASSIC_BYTES_PER_ROW = 4096
"""Sparse TF-IDF row (word 1-2 grams of a short text) plus the solver's copies, generously rounded."""
MEASURE_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class ModelShape:
    """What the memory formula needs to know about a transformer."""

    params: int
    """Parameters in the checkpoint."""
    hidden_size: int
    """Width h of the residual stream."""
    num_layers: int
    """Transformer blocks L."""
    num_heads: int
    """Attention heads a."""


SHAPES: dict[str, ModelShape] = {
    "all-MiniLM-L6-v2": ModelShape(22_713_728, 384, 6, 12),
    "SmolLM2-135M-Instruct": ModelShape(134_515_008, 576, 30, 9),
}
"""Known shapes, used when a model folder has no config.json (GGUF) or for quick tests."""


@dataclass(frozen=True)
class MemoryEstimate:
    """Peak memory of a run by parts, in bytes."""

    weights_bytes: int
    gradients_bytes: int
    optimizer_bytes: int
    activations_bytes: int
    formula: str
    """How the parts were computed, for the page."""

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.gradients_bytes + self.optimizer_bytes + self.activations_bytes


@dataclass(frozen=True)
class Measurement:
    """What `measure` timed on this machine."""

    method: str
    device: str
    """cpu, cuda or mps: where the measurement ran."""
    setup_s: float
    """Loading the model and tokenizer (and data), seconds."""
    seconds_per_step: float | None
    """full/lora: one optimizer step at config.batch_size (median of the timed steps)."""
    seconds_per_example: float | None
    """Forward-only seconds per example (evaluation, embedding, zero-shot scoring, classic fit per row)."""
    measured_steps: int
    """Timed steps or batches behind the figures."""
    peak_memory_bytes: int | None
    """Peak RSS of the measuring process (CPU) or CUDA max allocated."""
    n_train: int
    n_validation: int
    n_test: int


@dataclass(frozen=True)
class TimeEstimate:
    """Wall time of a whole run from a Measurement."""

    steps: int
    """Optimizer steps (0 for methods without gradient steps)."""
    train_s: float
    eval_s: float
    setup_s: float
    formula: str

    @property
    def total_s(self) -> float:
        return self.setup_s + self.train_s + self.eval_s


# ---------------------------------------------------------------- formulas


def model_shape(name: str, location: str | None = None, params: int | None = None) -> ModelShape:
    """The shape of a registry model: config.json in `location` when present, else SHAPES, else raises."""
    config_path = Path(location) / "config.json" if location else None
    if config_path is not None and config_path.is_file():
        values = json.loads(config_path.read_text(encoding="utf-8"))
        hidden = values.get("hidden_size") or values.get("d_model") or values.get("n_embd")
        layers = values.get("num_hidden_layers") or values.get("n_layer") or values.get("num_layers")
        heads = values.get("num_attention_heads") or values.get("n_head")
        if hidden and layers and heads:
            known = params or (SHAPES[name].params if name in SHAPES
                               else _params_guess(hidden, layers, values))
            return ModelShape(int(known), int(hidden), int(layers), int(heads))
    if name in SHAPES:
        shape = SHAPES[name]
        return ModelShape(params or shape.params, shape.hidden_size, shape.num_layers, shape.num_heads)
    raise ConfigError(f"cannot tell the size of model {name!r}: its folder has no config.json; "
                      "pick a registry model")


def _params_guess(hidden: int, layers: int, values: dict[str, Any]) -> int:
    """12 h^2 per block + embeddings: the usual transformer count when the weights are not on disk."""
    return 12 * hidden * hidden * layers + int(values.get("vocab_size", 30_000)) * hidden


def activation_bytes_per_layer(batch: int, seq: int, hidden: int, heads: int, bytes_per_value: int) -> int:
    """Stored activations of one transformer block: s*b*h*(34 + 5*a*s/h) bytes at 16-bit values
    (Korthikanti et al. 2022, 'Reducing Activation Recomputation'), scaled by bytes_per_value / 2."""
    return int(seq * batch * hidden * (34 + 5 * heads * seq / hidden) * bytes_per_value / 2)


def lora_trainable_params(shape: ModelShape, rank: int, num_labels: int) -> int:
    """LoRA on the query and value projections of every block (peft's default), plus the classifier head."""
    return shape.num_layers * 2 * (2 * rank * shape.hidden_size) + (shape.hidden_size + 1) * num_labels


def memory_estimate(method: str, shape: ModelShape | None, *, batch_size: int, max_length: int,
                    num_labels: int, lora_r: int = 8, n_train: int = 0, bf16: bool = False) -> MemoryEstimate:
    """Peak training memory by parts (bytes). Weights are fp32 (4 bytes/param); activations at 2 bytes with
    bf16 autocast, else 4. Raises ConfigError for an unknown method or a missing shape."""
    act_bytes = 2 if bf16 else 4
    if method == "classic":
        rows = CLASSIC_BYTES_PER_ROW * n_train
        return MemoryEstimate(0, 0, 0, rows, f"TF-IDF + logistic regression: {CLASSIC_BYTES_PER_ROW} bytes "
                                            f"x {n_train:,} training rows")
    if shape is None:
        raise ConfigError(f"method {method} needs a model shape for the memory estimate")
    weights = 4 * shape.params
    layer = activation_bytes_per_layer(batch_size, max_length, shape.hidden_size, shape.num_heads, act_bytes)
    head = (f"activations/layer = s*b*h*(34+5*a*s/h)*{act_bytes}/2 with s={max_length}, b={batch_size}, "
            f"h={shape.hidden_size}, a={shape.num_heads}")
    if method in ("full", "lora"):
        trainable = shape.params if method == "full" else lora_trainable_params(shape, lora_r, num_labels)
        return MemoryEstimate(
            weights, 4 * trainable, 8 * trainable, shape.num_layers * layer,
            f"weights 4 B x {shape.params:,} params; "
            f"gradients 4 B + AdamW 8 B x {trainable:,} trainable params; "
            f"{head}, x L={shape.num_layers} layers (kept for backward)")
    if method in ("linear_probe", "zero_shot"):
        return MemoryEstimate(weights, 0, 0, layer,
                              f"weights 4 B x {shape.params:,} params; forward only: one layer's {head}")
    raise ConfigError(f"unknown method {method!r}")


def planned_steps(n_train: int, batch_size: int, epochs: int, max_steps: int | None) -> int:
    """Optimizer steps of a full/lora run: ceil(n_train / batch_size) per epoch x epochs, capped by
    max_steps."""
    steps = math.ceil(n_train / batch_size) * epochs
    return min(steps, max_steps) if max_steps else steps


def time_estimate(measurement: Measurement, config: TrainConfig) -> TimeEstimate:
    """Whole-run wall time from a measurement (no early stopping assumed: an upper bound for full/lora)."""
    m, c = measurement, config
    per_example = m.seconds_per_example or 0.0
    if c.method in ("full", "lora"):
        steps = planned_steps(m.n_train, c.batch_size, c.epochs, c.max_steps)
        epochs_run = min(c.epochs, math.ceil(steps / max(1, math.ceil(m.n_train / c.batch_size))))
        validations = epochs_run if c.validate_every_epoch else 1
        probe_rows = m.n_train if c.head_init == "probe" else 0  # LP-FT: one forward pass over train first
        train_s = steps * (m.seconds_per_step or 0.0) + probe_rows * per_example
        eval_s = (validations * m.n_validation + m.n_test) * per_example
        probe = f" + {probe_rows:,} texts for the probe head" if probe_rows else ""
        formula = (f"{steps:,} steps x {m.seconds_per_step:.3f} s/step + ({validations} x {m.n_validation:,} "
                   f"validation + {m.n_test:,} test{probe}) examples x {per_example * 1000:.2f} ms "
                   f"+ setup {m.setup_s:.1f} s{_subset_note(c, m)}")
        return TimeEstimate(steps, train_s, eval_s, m.setup_s, formula)
    if c.method == "linear_probe":
        n = m.n_train + m.n_validation + m.n_test
        return TimeEstimate(0, m.n_train * per_example, (n - m.n_train) * per_example, m.setup_s,
                            f"{n:,} texts embedded x {per_example * 1000:.2f} ms + setup {m.setup_s:.1f} s"
                            f"{_subset_note(c, m)}")
    if c.method == "zero_shot":
        n = min(m.n_test, c.eval_limit) if c.eval_limit else m.n_test
        return TimeEstimate(0, 0.0, n * per_example, m.setup_s,
                            f"{n:,} test texts scored x {per_example * 1000:.1f} ms "
                            f"+ setup {m.setup_s:.1f} s")
    return TimeEstimate(0, m.n_train * per_example, 0.0, m.setup_s,
                        f"{m.n_train:,} training rows x {per_example * 1000:.3f} ms (fit) "
                        f"+ setup {m.setup_s:.1f} s{_subset_note(c, m)}")


def _subset_note(config: TrainConfig, measurement: Measurement) -> str:
    """'; training on a subset: at most N per class (n rows)' when train_examples_per_class caps the split."""
    if config.train_examples_per_class is None:
        return ""
    return (f"; training on a subset: at most {config.train_examples_per_class:,} examples per class "
            f"({measurement.n_train:,} rows), scored on all {measurement.n_test:,} test rows")


def cost_usd(seconds: float, hourly_usd: float) -> float:
    """Dollars for `seconds` of a machine rented at `hourly_usd` per hour."""
    if seconds < 0 or not math.isfinite(seconds):
        raise ConfigError(f"seconds must be a finite number >= 0, got {seconds}")
    if hourly_usd <= 0 or not math.isfinite(hourly_usd):
        raise ConfigError(f"hourly price must be a positive number of dollars, got {hourly_usd}")
    return seconds / 3600.0 * hourly_usd


# ---------------------------------------------------------------- the quick demo


@dataclass(frozen=True)
class DemoCosts:
    """What one quick-demo job costs on 2 idle CPU cores at 2 threads (the demo's settings), in seconds.

    Measured with `bench/compare_demo_journey.py --jobs-only` at load average 2 (one job running) and the
    runs' own events; on a GPU the per-text and per-step figures shrink, start-up and measuring less so.
    """

    job_start_s: float = 7.0
    """A torch job's process: Python start, imports (torch, transformers), dataset load and split."""
    model_load_s: float = 1.0
    """all-MiniLM-L6-v2 from the local folder, tokenizer included."""
    forward_s_per_text: float = 0.005
    """MiniLM forward pass (no gradients) per BANKING77 text, length-sorted batches (embedding, LP-FT's
    probe pass, validation, test)."""
    step_s: float = 0.36
    """One fine-tune optimizer step at batch 32 on the subset's short texts (forward, backward, AdamW)."""
    checkpoint_s: float = 1.0
    """One epoch-end checkpoint of the fine-tune (weights and optimizer state, 170 MB)."""
    save_s: float = 3.0
    """Writing model/, eval.json and predictions, and the process exit."""
    classic_s: float = 8.0
    """The whole classic job: start (no torch), TF-IDF + logistic regression fit, test prediction."""
    measure_s: float = 18.0
    """The exclusive latency/throughput measure job after a MiniLM run (probe or fine-tune): 16-20 s in the
    browser journey of 2026-12-01 with 64-text batches (27 s with 256-text batches)."""
    classic_measure_s: float = 12.0
    """The measure job after a classic run (11.5-12 s in that journey)."""


@dataclass(frozen=True)
class DemoEstimate:
    """Expected wall time of the quick demo from the click: the first candidate, the first three, all."""

    first_candidate_s: float
    three_candidates_s: float
    all_s: float
    job_s: tuple[float, ...]
    """Each job's seconds (training job + its measure job), in submission order."""
    formula: str


def demo_job_seconds(config: TrainConfig, n_validation: int, n_test: int, num_labels: int,
                     costs: DemoCosts = DemoCosts()) -> float:
    """Seconds of one demo training job plus its measure job, from `costs`."""
    n_train = (config.train_examples_per_class or 0) * num_labels
    if config.method == "classic":
        return costs.classic_s + costs.classic_measure_s
    start = costs.job_start_s + costs.model_load_s + costs.save_s + costs.measure_s
    if config.method == "linear_probe":
        return start + (n_train + n_test) * costs.forward_s_per_text
    if config.method == "full":
        steps = planned_steps(n_train, config.batch_size, config.epochs, config.max_steps)
        validations = config.epochs if config.validate_every_epoch else 1
        forward = (n_train if config.head_init == "probe" else 0) + validations * n_validation + n_test
        return (start + steps * costs.step_s + config.epochs * costs.checkpoint_s
                + forward * costs.forward_s_per_text)
    raise ConfigError(f"the quick demo has no cost figure for method {config.method!r}")


def quick_demo_estimate(configs: list[TrainConfig], *, n_validation: int, n_test: int, num_labels: int,
                        costs: DemoCosts = DemoCosts()) -> DemoEstimate:
    """When the demo's candidates land, the jobs running one after another (a CPU runs one job at a time).

    Pure: the split sizes come from the dataset catalog and the costs from `DemoCosts`.
    """
    seconds = tuple(demo_job_seconds(c, n_validation, n_test, num_labels, costs) for c in configs)
    done = [sum(seconds[: i + 1]) for i in range(len(seconds))]
    minilm_start = costs.job_start_s + costs.model_load_s
    formula = (f"jobs one after another (2 idle CPU cores): classic {costs.classic_s:g} s + measure "
               f"{costs.classic_measure_s:g} s; MiniLM jobs start {minilm_start:g} s "
               f"+ texts x {costs.forward_s_per_text * 1000:g} ms + steps x {costs.step_s:g} s "
               f"+ save {costs.save_s:g} s + measure {costs.measure_s:g} s")
    return DemoEstimate(done[0], done[min(2, len(done) - 1)], done[-1], seconds, formula)


# ---------------------------------------------------------------- measuring (subprocess)


def measure(config: TrainConfig, *, steps: int = 3, timeout_s: float = MEASURE_TIMEOUT_S) -> Measurement:
    """Time `steps` real steps of `config` in a fresh `python -m models.planning.estimate` process.

    Raises EstimateError with the measuring process's last log line when it fails or takes over timeout_s.
    """
    command = [sys.executable, "-m", "models.planning.estimate", json.dumps(config.to_dict()), str(steps)]
    try:
        done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout_s,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise EstimateError(f"measuring took over {timeout_s:.0f} s; lower batch_size or max_length, or "
                            "launch without an estimate") from e
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise EstimateError(f"the measurement failed: {last}")
    return Measurement(**json.loads(lines[-1]))


def _measure_here(config: TrainConfig, steps: int) -> Measurement:
    """The measuring process's work (imports torch)."""
    from models.data.loading import load_training_data

    start = time.monotonic()
    data = load_training_data(config)
    texts = list(data.train.texts)
    sizes = {"n_train": len(data.train), "n_validation": len(data.validation), "n_test": len(data.test)}
    if config.method == "classic":
        return _measure_classic(config, data, start, sizes)  # no torch
    import torch

    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    if config.method in ("full", "lora"):
        device, setup_s, per_step, per_example = _measure_finetune(config, data, steps, start)
        return _measurement(config, device, setup_s, per_step, per_example, steps, sizes)
    if config.method == "linear_probe":
        device, setup_s, per_example = _measure_embedding(config, texts, steps, start)
        return _measurement(config, device, setup_s, None, per_example, steps, sizes)
    device, setup_s, per_example = _measure_zero_shot(config, data, steps, start)
    return _measurement(config, device, setup_s, None, per_example, steps, sizes)


def _measurement(config: TrainConfig, device: str, setup_s: float, per_step: float | None,
                 per_example: float | None, steps: int, sizes: dict[str, int]) -> Measurement:
    return Measurement(method=config.method, device=device, setup_s=round(setup_s, 3),
                       seconds_per_step=per_step, seconds_per_example=per_example, measured_steps=steps,
                       peak_memory_bytes=_peak_memory(device), **sizes)


def _peak_memory(device: str) -> int | None:
    import resource

    import torch

    if device == "cuda":
        return int(torch.cuda.max_memory_allocated())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def _median_time(fn: Any, repeats: int, sync: Any) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - began)
    return sorted(times)[len(times) // 2]


def _sample(texts: list[str], count: int, seed: int) -> list[int]:
    import random

    return random.Random(seed).sample(range(len(texts)), min(count, len(texts)))


def _measure_finetune(config: TrainConfig, data: Any, steps: int,
                      start: float) -> tuple[str, float, float, float]:
    """(device, setup s, s per optimizer step, s per evaluated example) of full/lora training."""
    import torch
    import torch.nn.functional as F

    from models.core.device import resolve_device
    from models.modeling.lean_bert import tune_cpu_allocator
    from models.training.setup import build_optimizer, load_model_and_tokenizer

    device = resolve_device(config.device)
    if device.type == "cpu":
        tune_cpu_allocator()  # as training does: estimates must see the same step time
    model, tokenizer = load_model_and_tokenizer(config, tuple(data.label_names))
    model.to(device).train()
    optimizer = build_optimizer(model, config)
    rows = _sample(list(data.train.texts), config.batch_size, config.seed)
    batch = tokenizer([data.train.texts[i] for i in rows], truncation=True, max_length=config.max_length,
                      padding=True, return_tensors="pt").to(device)
    labels = torch.as_tensor([int(data.train.labels[i]) for i in rows], device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def step() -> None:
        loss = F.cross_entropy(model(**batch).logits.float(), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step()  # warm-up: allocations, kernel selection
    setup_s = time.monotonic() - start
    per_step = _median_time(step, steps, sync)
    model.eval()
    with torch.inference_mode():
        per_batch = _median_time(lambda: model(**batch), steps, sync)
    return device.type, setup_s, per_step, per_batch / len(rows)


def _measure_embedding(config: TrainConfig, texts: list[str], steps: int,
                       start: float) -> tuple[str, float, float]:
    import torch

    from models.modeling.embeddings import embed_texts, load_frozen_encoder

    encoder, tokenizer = load_frozen_encoder(config.model, config.device)
    device = next(encoder.parameters()).device
    chosen = [texts[i] for i in _sample(texts, config.eval_batch_size, config.seed)]
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def run() -> None:
        embed_texts(encoder, tokenizer, chosen, batch_size=config.eval_batch_size,
                    max_length=config.max_length)

    run()
    setup_s = time.monotonic() - start
    return device.type, setup_s, _median_time(run, steps, sync) / len(chosen)


def _measure_zero_shot(config: TrainConfig, data: Any, steps: int, start: float) -> tuple[str, float, float]:
    from models.core.device import resolve_device
    from models.modeling.causal_lm import load_causal_lm
    from models.modeling.label_scorer import LabelScorer
    from models.modeling.registry import resolve_model
    from models.training.zeroshot import few_shot_examples

    device = resolve_device(config.device)
    model, tokenizer = load_causal_lm(resolve_model(config.model), device)
    examples = few_shot_examples(data.train, data.label_names, config.few_shot_k, config.seed)
    scorer = LabelScorer(model, tokenizer, data.label_names, examples, max_length=config.max_length)
    setup_s = time.monotonic() - start
    texts = [data.test.texts[i] for i in _sample(list(data.test.texts), steps, config.seed)]
    began = time.perf_counter()
    scorer.predict_proba(texts)
    return device.type, setup_s, (time.perf_counter() - began) / max(1, len(texts))


def _measure_classic(config: TrainConfig, data: Any, start: float, sizes: dict[str, int]) -> Measurement:
    from models.modeling.tfidf import build_pipeline

    rows = _sample(list(data.train.texts), 2000, config.seed)
    texts = [data.train.texts[i] for i in rows]
    labels = [int(data.train.labels[i]) for i in rows]
    setup_s = time.monotonic() - start
    began = time.perf_counter()
    if len(set(labels)) > 1:
        build_pipeline(config.classic_c, config.seed).fit(texts, labels)
    per_row = (time.perf_counter() - began) / max(1, len(texts))
    return Measurement(method="classic", device="cpu", setup_s=round(setup_s, 3), seconds_per_step=None,
                       seconds_per_example=per_row, measured_steps=1, peak_memory_bytes=None, **sizes)


def main(argv: list[str] | None = None) -> int:
    """`python -m models.planning.estimate '<config json>' [steps]`: print one Measurement as a JSON line."""
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if not args:
        print("usage: python -m models.planning.estimate '<TrainConfig json>' [steps]", file=sys.stderr)  # noqa: T201
        return 2
    try:
        config = TrainConfig.from_dict(json.loads(args[0]))
        result = _measure_here(config, int(args[1]) if len(args) > 1 else 3)
    except Exception as e:  # noqa: BLE001 - the parent shows the last stderr line
        print(f"{type(e).__name__}: {e}", file=sys.stderr)  # noqa: T201
        return 1
    print(json.dumps(asdict(result)))  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
