"""Supervised fine-tuning of a causal LM to write replies (methods sft and sft_lora): the method's entry.

`train_sft` runs, in order, what a founder needs to trust the result:
    validate   the conversations against the tokenizer and max_length (models.data.chat_validate), before the
               model is loaded: a bad file costs seconds, not a training run
    train      epochs of length-grouped batches (or packed rows) on accelerate, loss on assistant tokens only
               (models.training.sft_model.ReplyLoss), checkpoints and exact resume, out-of-memory halving,
               step events with tokens/s and ETA, validation loss and perplexity per epoch
    export     model/: the merged weights, tokenizer with its chat template, generation_config.json and a
               model card, loadable by `transformers serve`, vLLM and llama.cpp's converter as it is
    judge      the fine-tuned model and the untrained base model answer the same held-out requests
               (models.core.judge.evaluate_generations): ROUGE-L and intent match with 95% CIs, every reply
               stored in generations.parquet, prefill and decode tokens/s measured
It shares the encoder loop's pieces (accelerator, optimizer, schedule, checkpoints, meters, sampler).
"""

from __future__ import annotations

import logging
import math
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import torch
from accelerate.utils import set_seed
from safetensors.torch import load_model

from models.core.config import SFT_METHODS, TrainConfig
from models.core.memory import first_line, free_memory, is_out_of_memory
from models.core.runs import RunResult, RunWriter, atomic_path
from models.errors import ConfigError, DataValidationError, TrainingError
from models.modeling.chat_template import ensure_chat_template
from models.modeling.tokenize import length_grouped_batches, pad_token_id, shard_batches, sorted_batches
from models.training.accelerator import is_main_process, make_accelerator
from models.training.checkpoints import (
    BEST_WEIGHTS,
    latest_checkpoint,
    load_training_state,
    read_progress,
    restore_rng,
    save_best_weights,
    save_checkpoint,
)
from models.training.meters import Clock, ThroughputMeter, log_step, memory_usage
from models.training.session import Progress, Session
from models.training.sft_data import (
    EncodedChats,
    chat_fingerprint,
    encode_examples,
    pack_examples,
    pad_chat_batch,
)
from models.training.sft_model import ReplyLoss, describe, plain_lm, trainable_parameters, wrap_lora

log = logging.getLogger(__name__)

VALIDATION_BATCH = 16
"""Most conversations per validation forward pass (memory of the vocabulary-wide logits)."""
GENERATIONS_FILE = "generations.parquet"
"""Every judged reply of the run (models.core.judge's frame)."""


def train_sft(config: TrainConfig, data: Any, writer: RunWriter, *, resume: bool = False) -> RunResult:
    """Fine-tune `config.model` to write the assistant's replies of `data` (a ChatSplits), judge and export.

    Out of memory halves the batch size and restarts (events and `extra['oom_retries']`); `resume` continues
    from the newest checkpoint. Raises ConfigError, DataValidationError (with every problem of the data),
    ModelNotFoundError, DeviceError or TrainingError.
    """
    if config.method not in SFT_METHODS:
        raise ConfigError(f"train_sft handles methods {', '.join(SFT_METHODS)}, not {config.method!r}; "
                          "call models.training.train.train")
    tokenizer, spec, fallback = _tokenizer(config)
    validate_for_training(data, tokenizer, config)
    oom_retries: list[dict[str, int]] = []
    while True:
        try:
            return _fit(config, data, writer, tokenizer, spec, fallback, resume, oom_retries)
        except Exception as e:  # noqa: BLE001 - only out-of-memory is handled, the rest re-raised
            if not is_out_of_memory(e):
                raise
            if config.batch_size <= 1:
                from models.training.finetune import out_of_memory_error

                raise out_of_memory_error(e, config, oom_retries) from e
            message = first_line(e)
        new_size = config.batch_size // 2
        log.warning("out of memory at batch size %d; retrying with %d", config.batch_size, new_size)
        oom_retries.append({"from_batch_size": config.batch_size, "to_batch_size": new_size})
        if is_main_process():
            writer.event(kind="oom_retry", from_batch_size=config.batch_size, to_batch_size=new_size,
                         error=message)
            shutil.rmtree(writer.run_dir / "checkpoints", ignore_errors=True)
        config = config.replace(batch_size=new_size, eval_batch_size=max(1, min(config.eval_batch_size,
                                                                                new_size * 2)))
        resume = False
        free_memory()


def _tokenizer(config: TrainConfig) -> tuple[Any, Any, bool]:
    from models.modeling.causal_lm import converted_dir_for, ensure_converted
    from models.modeling.loading import load_tokenizer
    from models.modeling.registry import resolve_model

    spec = resolve_model(config.model)
    if spec.family != "causal_lm":
        raise ConfigError(f"{config.method} trains a causal LM to write replies; {spec.name} is an "
                          f"{spec.family}. Pick SmolLM2-135M-Instruct (or a hub causal LM such as "
                          "HuggingFaceTB/SmolLM2-360M-Instruct), or method full/lora to classify")
    if spec.gguf_file:
        ensure_converted(spec)
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(converted_dir_for(spec)))
    else:
        tokenizer = load_tokenizer(spec)
    return tokenizer, spec, ensure_chat_template(tokenizer)


def validate_for_training(data: Any, tokenizer: Any, config: TrainConfig) -> None:
    """The data validator's errors as one DataValidationError, before any model is loaded."""
    from models.data.chat_validate import validate_chat
    from models.modeling.chat_template import count_tokens

    if not data.train:
        raise DataValidationError("the training split is empty; add conversations or change the split")
    if not data.test:
        raise DataValidationError("the test split is empty: nothing to judge the replies on; add data")
    report = validate_chat(list(data.train) + list(data.validation) + list(data.test),
                           count_tokens=lambda messages: count_tokens(tokenizer, messages),
                           max_length=config.max_length)
    for finding in report.warnings:
        log.warning("data: %s", finding.message)
    report.raise_for_errors()


# ---------------------------------------------------------------- training


def _fit(config: TrainConfig, data: Any, writer: RunWriter, tokenizer: Any, spec: Any, fallback: bool,
         resume: bool, oom_retries: list[dict[str, int]]) -> RunResult:
    checkpoint = latest_checkpoint(writer.run_dir / "checkpoints") if resume else None
    session, progress, stats = _setup(config, data, writer, tokenizer, spec, checkpoint)
    try:
        _log_start(session, progress, checkpoint, stats, fallback)
        _run_epochs(session, progress)
        return _finish(session, progress, data, spec, stats, fallback, oom_retries, checkpoint)
    finally:
        session.accelerator.free_memory()


def _load_lm(spec: Any, config: TrainConfig) -> torch.nn.Module:
    from models.modeling.causal_lm import load_causal_lm

    lm, _ = load_causal_lm(spec)
    lm.config.use_cache = False
    lm.train()
    if config.method == "sft_lora":
        return wrap_lora(lm, config)
    return lm


def _setup(config: TrainConfig, data: Any, writer: RunWriter, tokenizer: Any, spec: Any,
           checkpoint: Path | None) -> tuple[Session, Progress, dict[str, Any]]:
    from models.training.setup import build_optimizer, linear_schedule

    accelerator = make_accelerator(config.device, config.precision)
    set_seed(config.seed)
    fingerprint = chat_fingerprint([e.messages for e in data.train], [e.id for e in data.train])
    progress = read_progress(checkpoint) if checkpoint else Progress(
        batch_size=config.batch_size, sampler_seed=config.seed, data_fingerprint=fingerprint)
    if progress.data_fingerprint != fingerprint:
        raise TrainingError(f"checkpoint {checkpoint} was trained on other conversations; resume with the "
                            "same dataset and split, or start a new run")
    config = config.replace(batch_size=progress.batch_size)
    train = encode_examples(tokenizer, [e.messages for e in data.train], config.max_length)
    validation = encode_examples(tokenizer, [e.messages for e in data.validation], config.max_length)
    if len(train) == 0:
        raise DataValidationError(f"no training conversation has a reply token within max_length="
                                  f"{config.max_length}; raise max_length or shorten the prompts")
    stats = {"train_examples": len(train), "train_tokens": int(train.lengths.sum()),
             "train_label_tokens": train.label_tokens, "truncated": train.truncated,
             "dropped": train.dropped, "validation_examples": len(validation)}
    rows = pack_examples(train, config.max_length, config.seed) if config.packing else train
    stats["train_rows"] = len(rows)
    batches = length_grouped_batches(rows.lengths, config.batch_size, 0)
    steps_per_epoch = len(shard_batches(batches, accelerator.process_index, accelerator.num_processes))
    if steps_per_epoch == 0:
        raise DataValidationError(f"{len(rows)} training rows are too few for one batch per process; "
                                  "lower batch_size or add data")
    total_steps = min(steps_per_epoch * config.epochs, config.max_steps or sys.maxsize)
    model = ReplyLoss(_load_lm(spec, config)).to(accelerator.device)
    optimizer = build_optimizer(model, config)
    scheduler = linear_schedule(optimizer, round(config.warmup_ratio * total_steps), total_steps)
    if checkpoint:
        load_training_state(checkpoint, model, optimizer, scheduler)
    model, optimizer = accelerator.prepare(model, optimizer)
    session = Session(config, accelerator, model, optimizer, scheduler, tokenizer, rows, validation,
                      validation, writer, total_steps, steps_per_epoch, 0)
    if checkpoint:
        restore_rng(checkpoint, accelerator.process_index)
    return session, progress, stats


def _log_start(session: Session, progress: Progress, checkpoint: Path | None, stats: dict[str, Any],
               fallback: bool) -> None:
    a, lm = session.accelerator, inner_lm(session)
    log.info("sft %s on %s: %s, %d steps, batch %d, %d training tokens (%d on replies)",
             session.config.method, a.device, describe(lm), session.total_steps, progress.batch_size,
             stats["train_tokens"], stats["train_label_tokens"])
    if a.is_main_process:
        session.writer.event(
            kind="start", method=session.config.method, device=str(a.device),
            num_processes=a.num_processes, mixed_precision=a.mixed_precision, batch_size=progress.batch_size,
            total_steps=session.total_steps,
            steps_per_epoch=session.steps_per_epoch,
            resumed_from_step=progress.global_step if checkpoint else None,
            trainable_parameters=trainable_parameters(lm), fallback_chat_template=fallback, **stats)


def inner_lm(session: Session) -> torch.nn.Module:
    """The (possibly LoRA-wrapped) transformers model inside the prepared ReplyLoss."""
    return session.accelerator.unwrap_model(session.model).lm


def _run_epochs(session: Session, progress: Progress) -> None:
    """Train from `progress` to the end of the epochs or max_steps (checkpoints as the encoder loop)."""
    meter, clock = ThroughputMeter(session.accelerator.num_processes), Clock(progress.global_step)
    a, config = session.accelerator, session.config
    while progress.epoch < config.epochs and progress.global_step < session.total_steps \
            and not progress.stopped_early:
        batches = shard_batches(length_grouped_batches(session.train.lengths, progress.batch_size,
                                                       progress.sampler_seed + progress.epoch),
                                a.process_index, a.num_processes)
        session.model.train()
        for index in range(progress.batch_index, len(batches)):
            began = time.monotonic()
            batch = pad_chat_batch(session.train, batches[index], session.pad_id)
            loss = train_step(session, batch)
            progress.step_seconds += time.monotonic() - began
            progress.global_step, progress.batch_index = progress.global_step + 1, index + 1
            meter.add(loss, len(batches[index]), int(batch["tokens"]))
            step = progress.global_step
            if step % config.log_every_steps == 0 or step == session.total_steps:
                log_step(session, progress, meter, len(batches),
                         clock.eta_s(progress.global_step, session.total_steps))
            if progress.global_step >= session.total_steps:
                break
            every = config.checkpoint_every_steps
            if every and progress.global_step % every == 0 and index + 1 < len(batches):
                with meter.paused():
                    clock.bank(progress)
                    save_checkpoint(session, progress)
        with meter.paused():
            _end_epoch(session, progress)
            clock.bank(progress)
            save_checkpoint(session, progress)
            session.model.train()


def train_step(session: Session, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """One optimizer step on one padded batch; the assistant-only loss as a detached device scalar."""
    device = session.accelerator.device
    inputs = {k: v.to(device, non_blocking=True) for k, v in batch.items() if k != "tokens"}
    loss = session.model(**inputs)
    session.accelerator.backward(loss)
    if session.config.max_grad_norm > 0:
        session.accelerator.clip_grad_norm_(session.model.parameters(), session.config.max_grad_norm)
    session.optimizer.step()
    session.scheduler.step()
    session.optimizer.zero_grad(set_to_none=True)
    return loss.detach()


def validation_loss(session: Session, encoded: EncodedChats) -> float | None:
    """Mean cross-entropy per reply token over `encoded` (all processes' shares summed); None when empty."""
    if len(encoded) == 0:
        return None
    a = session.accelerator
    module = a.unwrap_model(session.model)
    module.eval()
    totals = torch.zeros(2, dtype=torch.float64, device=a.device)
    # at most 16 conversations a pass: the logits over the vocabulary of every reply token of the batch are
    # held at once (128 conversations x 150 reply tokens x 49k vocabulary would be 3.8 GB in float32)
    batches = sorted_batches(encoded.lengths, min(session.config.eval_batch_size, VALIDATION_BATCH))
    batches = batches[a.process_index::a.num_processes]  # this process's share
    with torch.inference_mode(), a.autocast():
        for rows in batches:
            batch = pad_chat_batch(encoded, rows, session.pad_id)
            inputs = {k: v.to(a.device) for k, v in batch.items() if k != "tokens"}
            total, count = module.loss_sum(**inputs)
            totals += torch.stack([total.double(), count.double()])
    totals = a.reduce(totals, reduction="sum") if a.num_processes > 1 else totals
    return float(totals[0] / totals[1].clamp(min=1))


def _end_epoch(session: Session, progress: Progress) -> None:
    """Validation loss and perplexity; the best epoch's weights kept (lowest loss); early stopping."""
    config = session.config
    last = progress.epoch + 1 >= config.epochs or progress.global_step >= session.total_steps
    if len(session.validation) == 0 or not (config.validate_every_epoch or last):
        progress.epoch, progress.batch_index = progress.epoch + 1, 0
        return
    loss = validation_loss(session, session.validation)
    if loss is None or not math.isfinite(loss):
        raise TrainingError(f"validation loss became {loss} at epoch {progress.epoch + 1}; lower "
                            f"learning_rate (now {config.learning_rate})")
    improved = progress.best_val_loss is None or loss < progress.best_val_loss
    if improved:
        progress.best_val_loss, progress.best_epoch = loss, progress.epoch + 1
        progress.epochs_without_improvement = 0
        if config.validate_every_epoch and not last:
            save_best_weights(session)
    else:
        progress.epochs_without_improvement += 1
    patience = config.early_stopping_patience
    progress.stopped_early = bool(patience) and not last and progress.epochs_without_improvement >= patience
    record = {"epoch": progress.epoch + 1, "step": progress.global_step, "val_loss": loss,
              "val_perplexity": math.exp(min(loss, 50.0)), "improved": improved,
              "stopped_early": progress.stopped_early}
    progress.history.append(record)
    log.info("epoch %d: validation loss %.4f (perplexity %.2f)", progress.epoch + 1, loss,
             record["val_perplexity"])
    if session.accelerator.is_main_process:
        session.writer.event(kind="epoch", **record)
    progress.epoch, progress.batch_index = progress.epoch + 1, 0


# ---------------------------------------------------------------- export and judging


def _finish(session: Session, progress: Progress, data: Any, spec: Any, stats: dict[str, Any],
            fallback: bool, oom_retries: list[dict[str, int]], resumed_from: Path | None) -> RunResult:
    a, config, writer = session.accelerator, session.config, session.writer
    a.wait_for_everyone()
    module = a.unwrap_model(session.model)
    best = session.checkpoints / BEST_WEIGHTS
    if progress.best_epoch is not None and best.is_file() and progress.best_epoch < progress.epoch:
        load_model(module, str(best))  # an earlier epoch had the lowest validation loss
    extra = _extra_figures(session, progress, stats, fallback, oom_retries, resumed_from)
    if not a.is_main_process:
        a.wait_for_everyone()
        return RunResult(writer.run_dir, config.method, config.model, {}, progress.train_seconds, extra=extra)
    lm = module.lm
    if config.method == "sft_lora":
        _save_adapter(lm, writer.run_dir)
    lm = plain_lm(lm).eval()
    lm.config.use_cache = True
    model_dir = save_reply_model(lm, session.tokenizer, writer.run_dir)
    frame, metrics = _judge(lm, session.tokenizer, data, spec, config, writer)
    metrics.update(task="generation", method=config.method,
                   val_loss=progress.best_val_loss, perplexity=_perplexity(progress.best_val_loss))
    from models.core.model_card import write_model_card

    write_model_card(model_dir, config, data, metrics, extra, spec)
    with atomic_path(writer.run_dir / GENERATIONS_FILE) as tmp:
        frame.to_parquet(tmp, index=False)
    writer.write_json("eval.json", metrics)
    writer.event(stage="evaluated", split="test", n=len(frame), rouge_l=metrics.get("rouge_l"),
                 intent_match=metrics.get("intent_match"), train_seconds=progress.train_seconds)
    writer.finish("succeeded", train_seconds=round(progress.train_seconds, 3), rouge_l=metrics.get("rouge_l"),
                  intent_match=metrics.get("intent_match"), **extra)
    log.info("%s run %s: ROUGE-L %s, intent match %s", config.method, writer.run_dir.name,
             metrics.get("rouge_l"), metrics.get("intent_match"))
    a.wait_for_everyone()
    return RunResult(writer.run_dir, config.method, config.model, metrics, progress.train_seconds,
                     extra=extra)


def _perplexity(loss: float | None) -> float | None:
    return None if loss is None else math.exp(min(loss, 50.0))


def _extra_figures(session: Session, progress: Progress, stats: dict[str, Any], fallback: bool,
                   oom_retries: list[dict[str, int]], resumed_from: Path | None) -> dict[str, Any]:
    a = session.accelerator
    tokens_trained = stats["train_tokens"] * min(progress.global_step / max(session.steps_per_epoch, 1),
                                                 session.config.epochs)
    return {
        "steps": progress.global_step, "epochs_run": len(progress.history) or progress.epoch,
        "best_epoch": progress.best_epoch, "best_val_loss": progress.best_val_loss,
        "final_loss": progress.last_loss, "batch_size": progress.batch_size,
        "effective_batch_size": progress.batch_size * a.num_processes, "num_processes": a.num_processes,
        "device": str(a.device), "mixed_precision": a.mixed_precision, "oom_retries": list(oom_retries),
        "train_tokens_per_s": tokens_trained / progress.train_seconds if progress.train_seconds > 0 else None,
        "step_seconds": round(progress.step_seconds, 3),
        "resumed_from": resumed_from.name if resumed_from else None, "history": progress.history,
        "fallback_chat_template": fallback, "packing": session.config.packing,
        "trainable_parameters": trainable_parameters(inner_lm(session)), **stats, **memory_usage(a.device),
    }


def _save_adapter(lm: torch.nn.Module, run_dir: Path) -> None:
    from models.modeling.loading import quiet_transformers

    tmp, final = run_dir / ".adapter.tmp", run_dir / "adapter"
    shutil.rmtree(tmp, ignore_errors=True)
    with quiet_transformers():
        lm.save_pretrained(str(tmp))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)


def save_reply_model(lm: torch.nn.Module, tokenizer: Any, run_dir: Path) -> Path:
    """model/: safetensors weights, tokenizer with its chat template, generation_config.json (greedy, stops at
    the template's end-of-turn token); written under a temporary name and renamed into place."""
    from models.modeling.loading import quiet_transformers

    tmp, final = run_dir / ".model.tmp", run_dir / "model"
    shutil.rmtree(tmp, ignore_errors=True)
    eos = tokenizer.eos_token_id
    lm.generation_config.eos_token_id = eos
    lm.generation_config.pad_token_id = pad_token_id(tokenizer)
    lm.generation_config.do_sample = False
    for name in ("temperature", "top_p", "top_k"):
        if hasattr(lm.generation_config, name):
            setattr(lm.generation_config, name, None)
    with quiet_transformers():
        lm.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    return final


def _judge(lm: torch.nn.Module, tokenizer: Any, data: Any, spec: Any, config: TrainConfig,
           writer: RunWriter) -> tuple[Any, dict[str, Any]]:
    """Replies of the fine-tuned (and base) model to the held-out requests, scored (models.core.judge)."""
    from models.core.judge import evaluate_generations
    from models.data.chat import stratified_subset

    test = stratified_subset(data.test, config.eval_limit, config.seed)
    base = None
    if config.compare_base:
        from models.modeling.causal_lm import load_causal_lm

        base_lm, _ = load_causal_lm(spec, lm.device)
        base = (base_lm, tokenizer)
    writer.event(stage="generating", n=len(test), compare_base=config.compare_base)
    frame, metrics = evaluate_generations(lm, tokenizer, data.train, test, base=base,
                                          max_new_tokens=config.max_new_tokens,
                                          batch_size=min(config.eval_batch_size, 16), seed=config.seed)
    metrics.setdefault("n_test_scored", len(test))
    metrics["n_test_total"] = len(data.test)  # evaluate_generations saw only the judged subset
    return frame, metrics


def describe_chat_data(data: Any) -> dict[str, Any]:
    """data.json of an sft run: name, task, split sizes, intents and provenance."""
    return {"name": data.name, "task": "generation", "intents": list(data.intents),
            "rows": {"train": len(data.train), "validation": len(data.validation), "test": len(data.test)},
            "meta": data.meta}

