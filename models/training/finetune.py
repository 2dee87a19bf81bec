"""Full and LoRA fine-tuning of an encoder for sequence classification, on accelerate: the method's entry.

`train_finetune` wires the pieces, setup -> loop -> finish:
    models/training/setup.py        model, tokenizer, optimizer, schedule, prepared by accelerate
    models/training/accelerator.py  the Accelerator: device, mixed precision, main process
    models/training/loop.py         epochs, the training step, validation and early stopping
    models/training/checkpoints.py  save and restore everything needed to continue exactly
    models/training/meters.py       loss, throughput, ETA and memory as step events
and then evaluates the best weights on the test split and saves model/. The same code runs on CPU, one
GPU, MPS, or under `accelerate launch --num_processes N` (DDP); only the main process writes files. Texts
are tokenized once; batches are length-grouped and padded per batch (models.modeling.tokenize).
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_model

from models.core.config import TrainConfig
from models.core.memory import first_line, free_memory, is_out_of_memory, memory_kind
from models.core.runs import RunResult, RunWriter
from models.data.types import DataSplits
from models.errors import ConfigError, DataValidationError, TrainingError
from models.modeling import lean_bert as fastpath
from models.training import loop
from models.training.accelerator import is_main_process
from models.training.checkpoints import BEST_WEIGHTS, latest_checkpoint
from models.training.meters import memory_usage
from models.training.session import Progress, Session
from models.training.setup import setup_session

log = logging.getLogger(__name__)


def train_finetune(config: TrainConfig, data: DataSplits, writer: RunWriter, *,
                   resume: bool = False) -> RunResult:
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
                raise out_of_memory_error(e, config, oom_retries) from e
        config = _halve_batch(config, writer, oom_retries, message)
        resume = False
        free_memory()


def _check_inputs(config: TrainConfig, data: DataSplits) -> None:
    if config.method not in ("full", "lora"):
        raise ConfigError(f"train_finetune handles methods full and lora, not {config.method!r}; "
                          "call models.training.train.train")
    if data.num_labels < 2:
        raise DataValidationError(
            f"need at least 2 classes to train a classifier, got {list(data.label_names)}")
    if len(data.train) == 0 or len(data.test) == 0:
        raise DataValidationError(
            f"train and test splits must not be empty (got {len(data.train)} and {len(data.test)} rows); "
            "add data or change the split"
        )


def out_of_memory_error(error: BaseException, config: TrainConfig,
                        retries: list[dict[str, int]]) -> TrainingError:
    """The message when even batch size 1 does not fit: what ran out, the batch sizes tried, what to lower."""
    tried = " -> ".join(str(s) for s in [*(r["from_batch_size"] for r in retries), config.batch_size])
    lora = "" if config.method == "lora" else ", the LoRA method"
    return TrainingError(
        f"out of memory ({memory_kind(error)}) while training {config.model} even at batch size 1 "
        f"(batch sizes tried: {tried}; {first_line(error)}); lower max_length (now {config.max_length}), "
        f"pick a smaller model{lora}, or use a device with more memory")


def _halve_batch(config: TrainConfig, writer: RunWriter, retries: list[dict[str, int]],
                 message: str) -> TrainConfig:
    new_size = config.batch_size // 2
    log.warning("out of memory at batch size %d; retrying the run with batch size %d",
                config.batch_size, new_size)
    retries.append({"from_batch_size": config.batch_size, "to_batch_size": new_size})
    if is_main_process():
        writer.event(kind="oom_retry", from_batch_size=config.batch_size, to_batch_size=new_size,
                     error=message)
        shutil.rmtree(writer.run_dir / "checkpoints", ignore_errors=True)
    eval_batch_size = max(1, min(config.eval_batch_size, new_size * 4))
    return config.replace(batch_size=new_size, eval_batch_size=eval_batch_size)


def _fit(config: TrainConfig, data: DataSplits, writer: RunWriter, *, resume: bool,
         oom_retries: list[dict[str, int]]) -> RunResult:
    checkpoint = latest_checkpoint(writer.run_dir / "checkpoints") if resume else None
    session, progress = setup_session(config, data, writer, checkpoint)
    try:
        _log_start(session, progress, checkpoint)
        loop.run_epochs(session, progress)
        return _finish(session, progress, data, oom_retries, resumed_from=checkpoint)
    finally:
        session.accelerator.free_memory()


def _log_start(session: Session, progress: Progress, checkpoint: Path | None) -> None:
    a = session.accelerator
    log.info("training %s on %s: %d steps (%d per epoch), batch %d x %d processes, precision %s",
             session.config.method, a.device, session.total_steps, session.steps_per_epoch,
             progress.batch_size, a.num_processes, a.mixed_precision)
    if a.is_main_process:
        session.writer.event(
            kind="start", method=session.config.method, device=str(a.device),
            num_processes=a.num_processes, mixed_precision=a.mixed_precision,
            batch_size=progress.batch_size, total_steps=session.total_steps,
            steps_per_epoch=session.steps_per_epoch,
            resumed_from_step=progress.global_step if checkpoint else None,
            trainable_parameters=sum(x.numel() for x in session.model.parameters() if x.requires_grad),
            lean_forward=isinstance(a.unwrap_model(session.model), fastpath.FastSequenceClassifier))


# ---------------------------------------------------------------- final evaluation and outputs


def _finish(session: Session, progress: Progress, data: DataSplits, oom_retries: list[dict[str, int]],
            resumed_from: Path | None) -> RunResult:
    """Load the best weights, evaluate on test, write eval.json, predictions, model/, status.json."""
    a = session.accelerator
    a.wait_for_everyone()
    model = a.unwrap_model(session.model)
    best = session.checkpoints / BEST_WEIGHTS
    if progress.best_epoch is not None and best.is_file():
        load_model(model, str(best))
    probs = loop.predict_probs(session, session.test)
    extra = _extra_figures(session, progress, oom_retries, resumed_from)
    result = RunResult(run_dir=session.writer.run_dir, method=session.config.method,
                       model=session.config.model, metrics={}, train_seconds=progress.train_seconds,
                       extra=extra)
    if a.is_main_process:  # other processes return empty metrics; the run folder has them
        result = _write_outputs(session, progress, data, probs, extra)
    a.wait_for_everyone()
    return result


def _extra_figures(session: Session, progress: Progress, oom_retries: list[dict[str, int]],
                   resumed_from: Path | None) -> dict[str, Any]:
    steps_run = progress.global_step
    train_examples = (min(steps_run, session.total_steps) * progress.batch_size
                      * session.accelerator.num_processes)
    return {
        "steps": steps_run, "epochs_run": len(progress.history) or progress.epoch,
        "best_epoch": progress.best_epoch, "best_val_accuracy": progress.best_val_accuracy,
        "stopped_early": progress.stopped_early, "final_loss": progress.last_loss,
        "batch_size": progress.batch_size,
        "effective_batch_size": progress.batch_size * session.accelerator.num_processes,
        "num_processes": session.accelerator.num_processes, "device": str(session.accelerator.device),
        "mixed_precision": session.accelerator.mixed_precision, "oom_retries": list(oom_retries),
        "samples_per_s": train_examples / progress.train_seconds if progress.train_seconds > 0 else None,
        "resumed_from": resumed_from.name if resumed_from else None, "history": progress.history,
        "head_init": progress.head_init,
        **memory_usage(session.accelerator.device),
    }


def _write_outputs(session: Session, progress: Progress, data: DataSplits, probs: np.ndarray,
                   extra: dict[str, Any]) -> RunResult:
    """Model folder first, then eval.json, predictions.parquet and status.json (the shared finisher)."""
    from models.core.outputs import finish_classifier_run, write_label_names

    model = fastpath.unwrap(session.accelerator.unwrap_model(session.model))
    model_dir = save_final_model(model, session.tokenizer, session.writer.run_dir,
                                 lora=session.config.method == "lora")
    write_label_names(model_dir, data.label_names)
    return finish_classifier_run(session.writer, session.config, data, data.test, probs,
                                 model_name=session.config.model, train_seconds=progress.train_seconds,
                                 extra=extra)


def save_final_model(model: torch.nn.Module, tokenizer: Any, run_dir: Path, *, lora: bool) -> Path:
    """model/ = plain transformers folder (safetensors + tokenizer); for LoRA the merged weights, adapter in
    adapter/."""
    from models.modeling.loading import quiet_transformers

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
