"""Full and LoRA fine-tuning of an encoder for sequence classification, on accelerate.

The loop follows accelerate's nlp_example: `prepare`, `backward`, `gather_for_metrics`, and only the
main process writes files, so the same code runs on CPU, one GPU, MPS, or under
`accelerate launch --num_processes N` (DDP). Texts are tokenized once; batches are length-grouped
and padded per batch (models/sampling.py). Checkpoints hold everything needed to continue exactly:
weights, optimizer, scheduler, RNG states of every process and the data position.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import resource
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from accelerate.utils import set_seed
from safetensors.torch import load_model, save_model

from models.core.config import TrainConfig
from models.core.memory import first_line, free_memory, is_out_of_memory, memory_kind
from models.core.runs import RunResult, RunWriter, write_json_atomic
from models.data.types import DataSplits
from models.errors import ConfigError, DataValidationError, DeviceError, TrainingError
from models.modeling import lean_bert as fastpath
from models.modeling.sampling import (
    EncodedTexts,
    encode_texts,
    length_grouped_batches,
    pad_batch,
    shard_batches,
    sorted_batches,
)

log = logging.getLogger(__name__)

CHECKPOINTS_KEPT = 2
"""Newest step-N/ folders kept in checkpoints/."""
BEST_WEIGHTS = "best-model.safetensors"
"""Weights of the best validation epoch so far, in checkpoints/ (survives pruning, used on resume)."""


@dataclass
class Progress:
    """Training position and early-stopping state; saved as state.json in every checkpoint."""

    global_step: int = 0
    """Optimizer steps done."""
    epoch: int = 0
    """Current epoch, 0-based."""
    batch_index: int = 0
    """Next batch of this epoch (per process); the epoch's order is a function of (seed, epoch)."""
    batch_size: int = 32
    """Batch size in use (smaller than the config's after an out-of-memory retry)."""
    sampler_seed: int = 42
    """Epoch e shuffles with sampler_seed + e."""
    best_val_accuracy: float | None = None
    best_epoch: int | None = None
    epochs_without_improvement: int = 0
    stopped_early: bool = False
    train_seconds: float = 0.0
    """Training wall time summed over sessions (resumes)."""
    last_loss: float | None = None
    data_fingerprint: str = ""
    """SHA-256 of the label names and training ids/labels; a resume with other data is refused."""
    history: list[dict[str, Any]] = field(default_factory=list)
    """Per-epoch validation metrics."""


@dataclass
class Session:
    """Everything one training attempt holds."""

    config: TrainConfig
    accelerator: Accelerator
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    tokenizer: Any
    train: EncodedTexts
    validation: EncodedTexts
    test: EncodedTexts
    writer: RunWriter
    total_steps: int
    steps_per_epoch: int
    num_labels: int

    @property
    def checkpoints(self) -> Path:
        return self.writer.run_dir / "checkpoints"

    @property
    def pad_id(self) -> int:
        return self.tokenizer.pad_token_id or 0


# ---------------------------------------------------------------- entry point


def train_finetune(config: TrainConfig, data: DataSplits, writer: RunWriter, *, resume: bool = False) -> RunResult:
    """Fine-tune `config.model` on `data` (method full or lora), evaluate on test, fill `writer`'s folder.

    Out of memory halves the batch size and restarts (recorded in events and `extra['oom_retries']`).
    With `resume`, continues from the newest checkpoint in the run folder (or starts if there is none).
    Raises ConfigError, DataValidationError, DeviceError, or TrainingError (out of memory at batch size 1).
    """
    _check_inputs(config, data)
    oom_retries: list[dict[str, int]] = []
    while True:
        try:
            return _fit(config, data, writer, resume=resume, oom_retries=oom_retries)
        except Exception as e:  # noqa: BLE001 - only out-of-memory is handled, the rest re-raised
            if not is_out_of_memory(e):
                raise
            message = first_line(e)
            if config.batch_size <= 1:
                raise _out_of_memory_error(e, config, oom_retries) from e
        config = _halve_batch(config, writer, oom_retries, message)
        resume = False
        free_memory()


def _check_inputs(config: TrainConfig, data: DataSplits) -> None:
    if config.method not in ("full", "lora"):
        raise ConfigError(f"train_finetune handles methods full and lora, not {config.method!r}; call models.training.train.train")
    if data.num_labels < 2:
        raise DataValidationError(f"need at least 2 classes to train a classifier, got {list(data.label_names)}")
    if len(data.train) == 0 or len(data.test) == 0:
        raise DataValidationError(
            f"train and test splits must not be empty (got {len(data.train)} and {len(data.test)} rows); "
            "add data or change the split"
        )


def _out_of_memory_error(error: BaseException, config: TrainConfig, retries: list[dict[str, int]]) -> TrainingError:
    """The message when even batch size 1 does not fit: what ran out, the batch sizes tried, what to lower."""
    tried = " -> ".join(str(s) for s in [*(r["from_batch_size"] for r in retries), config.batch_size])
    lora = "" if config.method == "lora" else ", the LoRA method"
    return TrainingError(
        f"out of memory ({memory_kind(error)}) while training {config.model} even at batch size 1 (batch sizes "
        f"tried: {tried}; {first_line(error)}); lower max_length (now {config.max_length}), pick a smaller "
        f"model{lora}, or use a device with more memory")


def _halve_batch(config: TrainConfig, writer: RunWriter, retries: list[dict[str, int]], message: str) -> TrainConfig:
    new_size = config.batch_size // 2
    log.warning("out of memory at batch size %d; retrying the run with batch size %d", config.batch_size, new_size)
    retries.append({"from_batch_size": config.batch_size, "to_batch_size": new_size})
    if _is_main_process():
        writer.event(kind="oom_retry", from_batch_size=config.batch_size, to_batch_size=new_size, error=message)
        shutil.rmtree(writer.run_dir / "checkpoints", ignore_errors=True)
    return config.replace(batch_size=new_size, eval_batch_size=max(1, min(config.eval_batch_size, new_size * 4)))


def _is_main_process() -> bool:
    return AcceleratorState._shared_state == {} or AcceleratorState().is_main_process


# ---------------------------------------------------------------- device


def make_accelerator(device: str, precision: str) -> Accelerator:
    """An Accelerator for `device` (auto/cpu/cuda/mps) and `precision` (auto/fp32/bf16).

    auto precision is bf16 autocast on GPUs that support it and fp32 elsewhere. Raises DeviceError when the
    requested device is missing.
    """
    check_device(device)
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        # A single process may run several trainings (app, tests, benchmark) with different devices or
        # precisions; accelerate keeps one global state, so start each run from a clean one.
        AcceleratorState._reset_state(reset_partial_state=True)
    cpu = wants_cpu(device)
    return Accelerator(cpu=cpu, mixed_precision=_mixed_precision(device, precision, cpu))


def wants_cpu(device: str) -> bool:
    """True when training must run on CPU: asked for, set by `accelerate launch --cpu`, or no GPU at all.

    The last case matters under `accelerate launch --multi_gpu --num_processes N` on a CPU-only machine
    (accelerate 1.x runs N>1 CPU processes only that way or through MPI): without cpu=True accelerate
    would see no distributed backend and every process would think it is the only one.
    """
    if device == "cpu" or os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes"):
        return True
    return device == "auto" and not torch.cuda.is_available() and not torch.backends.mps.is_available()


def check_device(device: str) -> None:
    """Raise DeviceError if `device` was asked for explicitly and this machine lacks it."""
    if device == "cuda" and not torch.cuda.is_available():
        raise DeviceError(
            "device 'cuda' was requested but no CUDA GPU is available (torch "
            f"{torch.__version__}, built {'with' if torch.version.cuda else 'without'} CUDA); "
            "use device 'auto' or 'cpu'"
        )
    if device == "mps" and not torch.backends.mps.is_available():
        raise DeviceError("device 'mps' was requested but Apple MPS is not available here; use device 'auto' or 'cpu'")


def _mixed_precision(device: str, precision: str, cpu: bool) -> str:
    on_cuda = not cpu and device in ("auto", "cuda") and torch.cuda.is_available()
    if precision == "fp32":
        return "no"
    if precision == "bf16":
        if on_cuda and not torch.cuda.is_bf16_supported():
            raise DeviceError("this GPU does not support bf16; use precision 'fp32' or 'auto'")
        return "bf16"
    return "bf16" if on_cuda and torch.cuda.is_bf16_supported() else "no"


# ---------------------------------------------------------------- setup


def load_model_and_tokenizer(config: TrainConfig, label_names: tuple[str, ...]) -> tuple[torch.nn.Module, Any]:
    """The sequence classifier (LoRA-wrapped for method lora) and its tokenizer, from the model registry."""
    from models.modeling import registry
    spec = registry.resolve_model(config.model)
    tokenizer = registry.load_tokenizer(spec)
    model = registry.load_sequence_classifier(spec, list(label_names))
    if config.method == "lora":
        return _wrap_lora(model, config), tokenizer
    if config.freeze_embeddings:
        freeze_embeddings(model)
    return fastpath.accelerate(model, config.attention_dropout), tokenizer


def freeze_embeddings(model: torch.nn.Module) -> None:
    """Stop training the embedding block (token, position, type tables and their LayerNorm).

    Saves the gradient of the 30k x hidden token table (a dense tensor every step), its AdamW update and
    the backward pass into the first layer's input. Models without a named embedding block freeze
    their input embeddings only.
    """
    base = getattr(model, getattr(model, "base_model_prefix", ""), None)
    embeddings = getattr(base, "embeddings", None)
    block = embeddings if isinstance(embeddings, torch.nn.Module) else model.get_input_embeddings()
    block.requires_grad_(False)


def _wrap_lora(model: torch.nn.Module, config: TrainConfig) -> torch.nn.Module:
    from peft import LoraConfig, TaskType, get_peft_model

    lora = LoraConfig(
        task_type=TaskType.SEQ_CLS, r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout
    )
    try:
        return get_peft_model(model, lora)
    except ValueError:  # model type without peft's default target modules
        lora.target_modules = "all-linear"
        return get_peft_model(model, lora)


def build_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on biases and LayerNorm weights, which are 1-D)."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in trainable if p.ndim >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in trainable if p.ndim < 2], "weight_decay": 0.0},
    ]
    try:
        # the fused kernel is ~10x faster than torch's per-tensor loop on CPU (its default there) and exact
        return torch.optim.AdamW(groups, lr=config.learning_rate, fused=True)
    except (RuntimeError, ValueError) as e:  # devices without a fused AdamW kernel
        log.debug("fused AdamW unavailable (%s); using the foreach implementation", e)
        return torch.optim.AdamW(groups, lr=config.learning_rate, foreach=True)


def linear_schedule(optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Learning rate factor rising linearly 0 -> 1 over warm-up, then falling linearly to 0 at total_steps."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def data_fingerprint(data: DataSplits) -> str:
    """SHA-256 over label names, training ids and labels (what a resumed run must see again)."""
    digest = hashlib.sha256(json.dumps([data.label_names, data.train.ids, data.train.labels]).encode())
    return digest.hexdigest()


def _encode_splits(tokenizer: Any, data: DataSplits, max_length: int) -> tuple[EncodedTexts, ...]:
    return tuple(
        encode_texts(tokenizer, split.texts, split.labels, max_length)
        for split in (data.train, data.validation, data.test)
    )


def _setup(config: TrainConfig, data: DataSplits, writer: RunWriter, checkpoint: Path | None) -> tuple[Session, Progress]:
    accelerator = make_accelerator(config.device, config.precision)
    if accelerator.device.type == "cpu":
        fastpath.tune_cpu_allocator()
    set_seed(config.seed)
    fingerprint = data_fingerprint(data)
    progress = _read_progress(checkpoint) if checkpoint else Progress(
        batch_size=config.batch_size, sampler_seed=config.seed, data_fingerprint=fingerprint)
    if progress.data_fingerprint != fingerprint:
        raise TrainingError(f"checkpoint {checkpoint} was trained on different data (labels or training rows); "
                            "resume with the same dataset and split, or start a new run")
    config = config.replace(batch_size=progress.batch_size)
    model, tokenizer = load_model_and_tokenizer(config, data.label_names)
    train, validation, test = _encode_splits(tokenizer, data, config.max_length)
    if len(train) < accelerator.num_processes * 1:
        raise DataValidationError(f"{len(train)} training rows cannot be split over {accelerator.num_processes} processes")
    steps_per_epoch = len(shard_batches(length_grouped_batches(train.lengths, config.batch_size, 0),
                                        accelerator.process_index, accelerator.num_processes))
    if steps_per_epoch == 0:
        raise DataValidationError("too few training rows for one batch per process; lower batch_size or processes")
    total_steps = min(steps_per_epoch * config.epochs, config.max_steps or sys.maxsize)
    model.to(accelerator.device)
    optimizer = build_optimizer(model, config)
    scheduler = linear_schedule(optimizer, round(config.warmup_ratio * total_steps), total_steps)
    if checkpoint:
        _load_training_state(checkpoint, model, optimizer, scheduler)
    model, optimizer = accelerator.prepare(model, optimizer)
    session = Session(config, accelerator, model, optimizer, scheduler, tokenizer, train, validation, test, writer,
                      total_steps, steps_per_epoch, data.num_labels)
    if checkpoint:
        _restore_rng(checkpoint, accelerator.process_index)
    return session, progress


# ---------------------------------------------------------------- the loop


def _fit(config: TrainConfig, data: DataSplits, writer: RunWriter, *, resume: bool,
         oom_retries: list[dict[str, int]]) -> RunResult:
    checkpoint = latest_checkpoint(writer.run_dir / "checkpoints") if resume else None
    session, progress = _setup(config, data, writer, checkpoint)
    try:
        _log_start(session, progress, checkpoint)
        _run_epochs(session, progress)
        return _finish(session, progress, data, oom_retries, resumed_from=checkpoint)
    finally:
        session.accelerator.free_memory()


def _log_start(s: Session, p: Progress, checkpoint: Path | None) -> None:
    a = s.accelerator
    log.info("training %s on %s: %d steps (%d per epoch), batch %d x %d processes, precision %s",
             s.config.method, a.device, s.total_steps, s.steps_per_epoch, p.batch_size, a.num_processes, a.mixed_precision)
    if a.is_main_process:
        s.writer.event(kind="start", method=s.config.method, device=str(a.device), num_processes=a.num_processes,
                       mixed_precision=a.mixed_precision, batch_size=p.batch_size, total_steps=s.total_steps,
                       steps_per_epoch=s.steps_per_epoch, resumed_from_step=p.global_step if checkpoint else None,
                       trainable_parameters=sum(x.numel() for x in s.model.parameters() if x.requires_grad),
                       lean_forward=isinstance(a.unwrap_model(s.model), fastpath.FastSequenceClassifier))


def _epoch_batches(s: Session, p: Progress) -> list[np.ndarray]:
    a = s.accelerator
    batches = length_grouped_batches(s.train.lengths, p.batch_size, p.sampler_seed + p.epoch)
    return shard_batches(batches, a.process_index, a.num_processes)


def _run_epochs(s: Session, p: Progress) -> None:
    meter, clock = ThroughputMeter(s.accelerator.num_processes), Clock(p.global_step)
    while p.epoch < s.config.epochs and p.global_step < s.total_steps and not p.stopped_early:
        batches = _epoch_batches(s, p)
        s.model.train()
        for index in range(p.batch_index, len(batches)):
            batch = pad_batch(s.train, batches[index], s.pad_id)
            loss = _train_step(s, batch)
            p.global_step, p.batch_index = p.global_step + 1, index + 1
            meter.add(loss, len(batches[index]), int(batch["attention_mask"].sum()))
            if p.global_step % s.config.log_every_steps == 0 or p.global_step == s.total_steps:
                _log_step(s, p, meter, len(batches), clock.eta_s(p.global_step, s.total_steps))
            if p.global_step >= s.total_steps:
                break
            every = s.config.checkpoint_every_steps
            if every and p.global_step % every == 0 and index + 1 < len(batches):
                with meter.paused():
                    clock.bank(p)
                    save_checkpoint(s, p)
        with meter.paused():
            _end_epoch(s, p)
            clock.bank(p)
            save_checkpoint(s, p)
            s.model.train()


class Clock:
    """Training wall time (banked into Progress before each checkpoint) and the ETA of this session."""

    def __init__(self, start_step: int) -> None:
        self.start_step = start_step
        self.session_start = self.mark = time.monotonic()

    def bank(self, p: Progress) -> None:
        now = time.monotonic()
        p.train_seconds += now - self.mark
        self.mark = now

    def eta_s(self, step: int, total_steps: int) -> float:
        per_step_s = (time.monotonic() - self.session_start) / max(step - self.start_step, 1)
        return per_step_s * (total_steps - step)


def _train_step(s: Session, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """One optimizer step on one padded batch; returns the loss (a detached device scalar, no sync)."""
    device = s.accelerator.device
    logits = s.model(
        input_ids=batch["input_ids"].to(device, non_blocking=True),
        attention_mask=batch["attention_mask"].to(device, non_blocking=True),
    ).logits
    loss = F.cross_entropy(logits.float(), batch["labels"].to(device, non_blocking=True))
    s.accelerator.backward(loss)
    if s.config.max_grad_norm > 0:
        s.accelerator.clip_grad_norm_(s.model.parameters(), s.config.max_grad_norm)
    s.optimizer.step()
    s.scheduler.step()
    s.optimizer.zero_grad(set_to_none=True)
    return loss.detach()


class ThroughputMeter:
    """Loss and throughput over the current logging window (one .item() per window, not per step)."""

    def __init__(self, num_processes: int) -> None:
        self.num_processes = num_processes
        self.reset()

    def reset(self) -> None:
        self.window_start = time.monotonic()
        self.loss_sum: torch.Tensor | float = 0.0
        self.steps = self.samples = self.tokens = 0

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Leave the enclosed time (evaluation, checkpointing) out of the throughput window."""
        began = time.monotonic()
        try:
            yield
        finally:
            self.window_start += time.monotonic() - began

    def add(self, loss: torch.Tensor, samples: int, tokens: int) -> None:
        self.loss_sum = self.loss_sum + loss
        self.steps += 1
        self.samples += samples
        self.tokens += tokens

    def read(self) -> dict[str, float]:
        """Mean loss and all-process samples/s and tokens/s of the window; resets it."""
        seconds = max(time.monotonic() - self.window_start, 1e-9)
        loss = float(self.loss_sum) / max(self.steps, 1)
        figures = {
            "loss": loss,
            "samples_per_s": self.samples * self.num_processes / seconds,
            "tokens_per_s": self.tokens * self.num_processes / seconds,
        }
        self.reset()
        return figures


def _log_step(s: Session, p: Progress, meter: ThroughputMeter, batches_in_epoch: int, eta_s: float) -> None:
    figures = meter.read()
    p.last_loss = figures["loss"]
    if not math.isfinite(figures["loss"]):
        raise TrainingError(f"loss became {figures['loss']} at step {p.global_step}; lower learning_rate "
                            f"(now {s.config.learning_rate}) or keep max_grad_norm > 0")
    event = {
        "kind": "step", "step": p.global_step, "epoch": round(p.epoch + p.batch_index / batches_in_epoch, 4),
        "lr": s.scheduler.get_last_lr()[0], **figures, "eta_s": round(eta_s, 1), **memory_usage(s.accelerator.device),
    }
    log.info("step %d/%d loss %.4f lr %.2e %.1f samples/s eta %.0fs", p.global_step, s.total_steps,
             figures["loss"], event["lr"], figures["samples_per_s"], eta_s)
    if s.accelerator.is_main_process:
        s.writer.event(**event)


def memory_usage(device: torch.device) -> dict[str, Any]:
    """Peak memory: CUDA max allocated on GPUs, else the process's peak resident set size (bytes)."""
    if device.type == "cuda":
        return {"memory_bytes": torch.cuda.max_memory_allocated(device), "memory_kind": "cuda_max_allocated"}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"memory_bytes": peak if sys.platform == "darwin" else peak * 1024, "memory_kind": "peak_rss"}


# ---------------------------------------------------------------- evaluation and early stopping


def predict_probs(s: Session, encoded: EncodedTexts) -> np.ndarray:
    """Class probabilities [n, num_labels] (float32, split order), computed on all processes and gathered."""
    a = s.accelerator
    model = a.unwrap_model(s.model)
    model.eval()
    indices, logits = [], []
    batches = sorted_batches(encoded.lengths, s.config.eval_batch_size)[a.process_index :: a.num_processes]
    with torch.inference_mode(), a.autocast():
        for rows in batches:
            batch = pad_batch(encoded, rows, s.pad_id)
            out = model(input_ids=batch["input_ids"].to(a.device), attention_mask=batch["attention_mask"].to(a.device))
            logits.append(out.logits.float())
            indices.append(batch["index"].to(a.device))
    local_logits = torch.cat(logits) if logits else torch.zeros(0, s.num_labels, device=a.device)
    local_index = torch.cat(indices) if indices else torch.zeros(0, dtype=torch.long, device=a.device)
    # processes hold different counts: pad to equal length (index -1 marks padding), gather, scatter back
    local_index = a.pad_across_processes(local_index, dim=0, pad_index=-1)
    local_logits = a.pad_across_processes(local_logits, dim=0, pad_index=0)
    all_index, all_logits = a.gather_for_metrics((local_index, local_logits))
    keep = all_index >= 0
    probs = np.zeros((len(encoded), s.num_labels), dtype=np.float32)
    probs[all_index[keep].cpu().numpy()] = torch.softmax(all_logits[keep], dim=-1).cpu().numpy()
    return probs


def _validation_metrics(s: Session) -> dict[str, float]:
    probs = predict_probs(s, s.validation)
    labels = s.validation.labels
    picked = np.clip(probs[np.arange(len(labels)), labels], 1e-12, 1.0)
    return {"val_accuracy": float((probs.argmax(axis=1) == labels).mean()), "val_loss": float(-np.log(picked).mean())}


def _end_epoch(s: Session, p: Progress) -> None:
    """Validate, keep the best weights, decide early stopping; then move the position to the next epoch."""
    if len(s.validation) == 0:
        p.epoch, p.batch_index = p.epoch + 1, 0
        return
    metrics = _validation_metrics(s)
    improved = p.best_val_accuracy is None or metrics["val_accuracy"] > p.best_val_accuracy
    if improved:
        p.best_val_accuracy, p.best_epoch, p.epochs_without_improvement = metrics["val_accuracy"], p.epoch + 1, 0
        _save_best_weights(s)
    else:
        p.epochs_without_improvement += 1
    patience = s.config.early_stopping_patience
    more_to_do = p.epoch + 1 < s.config.epochs and p.global_step < s.total_steps
    p.stopped_early = bool(patience) and more_to_do and p.epochs_without_improvement >= patience
    record = {"epoch": p.epoch + 1, "step": p.global_step, **metrics, "improved": improved,
              "best_val_accuracy": p.best_val_accuracy, "stopped_early": p.stopped_early}
    p.history.append(record)
    log.info("epoch %d: val accuracy %.4f loss %.4f%s", p.epoch + 1, metrics["val_accuracy"], metrics["val_loss"],
             " (early stop)" if p.stopped_early else "")
    if s.accelerator.is_main_process:
        s.writer.event(kind="epoch", **record)
    p.epoch, p.batch_index = p.epoch + 1, 0


def _save_best_weights(s: Session) -> None:
    if s.accelerator.is_main_process:
        s.checkpoints.mkdir(parents=True, exist_ok=True)
        tmp = s.checkpoints / f".{BEST_WEIGHTS}.tmp"
        save_model(s.accelerator.unwrap_model(s.model), str(tmp))
        os.replace(tmp, s.checkpoints / BEST_WEIGHTS)
    s.accelerator.wait_for_everyone()


# ---------------------------------------------------------------- checkpoints


def save_checkpoint(s: Session, p: Progress) -> Path:
    """Write checkpoints/step-N/ (via a temporary folder renamed into place) and keep the newest two."""
    a = s.accelerator
    final = s.checkpoints / f"step-{p.global_step}"
    tmp = s.checkpoints / f".tmp-step-{p.global_step}"
    if a.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    a.wait_for_everyone()
    torch.save(_rng_state(), tmp / f"rng-{a.process_index}.pt")
    if a.is_main_process:
        save_model(a.unwrap_model(s.model), str(tmp / "model.safetensors"))
        torch.save(s.optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(s.scheduler.state_dict(), tmp / "scheduler.pt")
        write_json_atomic(tmp / "state.json", asdict(p))
    a.wait_for_everyone()
    if a.is_main_process:
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        _prune_checkpoints(s.checkpoints)
        s.writer.event(kind="checkpoint", step=p.global_step, path=str(final.relative_to(s.writer.run_dir)))
    a.wait_for_everyone()
    return final


def _checkpoint_steps(root: Path) -> list[tuple[int, Path]]:
    found = []
    for path in root.glob("step-*") if root.is_dir() else []:
        suffix = path.name.removeprefix("step-")
        if suffix.isdigit() and (path / "state.json").is_file():
            found.append((int(suffix), path))
    return sorted(found)


def _prune_checkpoints(root: Path) -> None:
    for _, path in _checkpoint_steps(root)[:-CHECKPOINTS_KEPT]:
        shutil.rmtree(path, ignore_errors=True)


def latest_checkpoint(root: Path) -> Path | None:
    """The newest complete checkpoints/step-N/ folder, or None."""
    steps = _checkpoint_steps(root)
    return steps[-1][1] if steps else None


def _read_progress(checkpoint: Path) -> Progress:
    return Progress(**json.loads((checkpoint / "state.json").read_text(encoding="utf-8")))


def _load_training_state(checkpoint: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                         scheduler: torch.optim.lr_scheduler.LRScheduler) -> None:
    load_model(model, str(checkpoint / "model.safetensors"))  # read on CPU, copied onto the params
    optimizer.load_state_dict(torch.load(checkpoint / "optimizer.pt", weights_only=True))
    scheduler.load_state_dict(torch.load(checkpoint / "scheduler.pt", weights_only=True))


def _rng_state() -> dict[str, Any]:
    """Python, NumPy, torch and CUDA generator states as tensors (loadable with weights_only=True)."""
    version, py_state, gauss = random.getstate()
    _, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    return {
        "python": torch.tensor(py_state, dtype=torch.int64),
        "python_version": version,
        "python_gauss": gauss,
        "numpy_keys": torch.from_numpy(np_keys.astype(np.int64)),
        "numpy_pos": int(np_pos), "numpy_has_gauss": int(np_has_gauss), "numpy_gauss": float(np_gauss),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def _restore_rng(checkpoint: Path, process_index: int) -> None:
    path = checkpoint / f"rng-{process_index}.pt"
    if not path.exists():  # resumed with more processes than saved: seed-derived states are the best we have
        log.warning("no RNG state for process %d in %s; dropout masks will differ from the original run", process_index, checkpoint)
        return
    state = torch.load(path, weights_only=True)
    random.setstate((state["python_version"], tuple(state["python"].tolist()), state["python_gauss"]))
    np.random.set_state(("MT19937", state["numpy_keys"].numpy().astype(np.uint32), state["numpy_pos"],
                         state["numpy_has_gauss"], state["numpy_gauss"]))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ---------------------------------------------------------------- final evaluation and outputs


def _finish(s: Session, p: Progress, data: DataSplits, oom_retries: list[dict[str, int]],
            resumed_from: Path | None) -> RunResult:
    """Load the best weights, evaluate on test, write eval.json, predictions, model/, status.json."""
    a = s.accelerator
    a.wait_for_everyone()
    model = a.unwrap_model(s.model)
    best = s.checkpoints / BEST_WEIGHTS
    if p.best_epoch is not None and best.is_file():
        load_model(model, str(best))
    probs = predict_probs(s, s.test)
    extra = _extra_figures(s, p, oom_retries, resumed_from)
    result = RunResult(run_dir=s.writer.run_dir, method=s.config.method, model=s.config.model, metrics={},
                       train_seconds=p.train_seconds, extra=extra)
    if a.is_main_process:  # other processes return empty metrics; the run folder has them
        result = _write_outputs(s, p, data, probs, extra)
    a.wait_for_everyone()
    return result


def _extra_figures(s: Session, p: Progress, oom_retries: list[dict[str, int]], resumed_from: Path | None) -> dict[str, Any]:
    steps_run = p.global_step
    train_examples = min(steps_run, s.total_steps) * p.batch_size * s.accelerator.num_processes
    return {
        "steps": steps_run, "epochs_run": len(p.history) or p.epoch, "best_epoch": p.best_epoch,
        "best_val_accuracy": p.best_val_accuracy, "stopped_early": p.stopped_early, "final_loss": p.last_loss,
        "batch_size": p.batch_size, "effective_batch_size": p.batch_size * s.accelerator.num_processes,
        "num_processes": s.accelerator.num_processes, "device": str(s.accelerator.device),
        "mixed_precision": s.accelerator.mixed_precision, "oom_retries": list(oom_retries),
        "samples_per_s": train_examples / p.train_seconds if p.train_seconds > 0 else None,
        "resumed_from": resumed_from.name if resumed_from else None, "history": p.history,
        **memory_usage(s.accelerator.device),
    }


def _write_outputs(s: Session, p: Progress, data: DataSplits, probs: np.ndarray, extra: dict[str, Any]) -> RunResult:
    """Model folder first, then eval.json, predictions.parquet and status.json (the shared finisher)."""
    from models.core.outputs import finish_classifier_run, write_label_names

    model_dir = save_final_model(fastpath.unwrap(s.accelerator.unwrap_model(s.model)), s.tokenizer, s.writer.run_dir,
                                 lora=s.config.method == "lora")
    write_label_names(model_dir, data.label_names)
    return finish_classifier_run(s.writer, s.config, data, data.test, probs, model_name=s.config.model,
                                 train_seconds=p.train_seconds, extra=extra)


def save_final_model(model: torch.nn.Module, tokenizer: Any, run_dir: Path, *, lora: bool) -> Path:
    """model/ = plain transformers folder (safetensors + tokenizer); for LoRA the merged weights, adapter in adapter/."""
    from models.modeling.registry import quiet_transformers

    final, tmp = run_dir / "model", run_dir / ".model.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    with quiet_transformers():
        _save_pretrained(model, tokenizer, run_dir, tmp, lora)
    _replace_folder(tmp, final)
    return final


def _save_pretrained(model: torch.nn.Module, tokenizer: Any, run_dir: Path, tmp: Path, lora: bool) -> None:
    if lora:
        adapter_tmp, adapter = run_dir / ".adapter.tmp", run_dir / "adapter"
        shutil.rmtree(adapter_tmp, ignore_errors=True)
        model.save_pretrained(str(adapter_tmp))
        _replace_folder(adapter_tmp, adapter)
        model = model.merge_and_unload()
    model.save_pretrained(str(tmp))
    tokenizer.save_pretrained(str(tmp))


def _replace_folder(tmp: Path, final: Path) -> None:
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
