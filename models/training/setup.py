"""Everything a fine-tuning run builds before its first step: model, tokenizer, optimizer, schedule, batches.

`setup_session` puts them together (restoring a checkpoint when resuming) and hands them to accelerate's
`prepare`; the loop (models.training.loop) takes the Session from there.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from pathlib import Path
from typing import Any

import torch
from accelerate.utils import set_seed

from models.core.config import TrainConfig
from models.core.runs import RunWriter
from models.data.types import DataSplits
from models.errors import DataValidationError, TrainingError
from models.modeling import lean_bert as fastpath
from models.modeling.tokenize import (
    EncodedTexts,
    encode_texts,
    length_grouped_batches,
    pad_token_id,
    shard_batches,
)
from models.training.accelerator import make_accelerator
from models.training.checkpoints import load_training_state, read_progress, restore_rng
from models.training.session import Progress, Session

log = logging.getLogger(__name__)


def load_model_and_tokenizer(config: TrainConfig,
                             label_names: tuple[str, ...]) -> tuple[torch.nn.Module, Any]:
    """The sequence classifier (LoRA-wrapped for method lora) and its tokenizer, from the model registry.

    An encoder (MiniLM, BERT) runs behind the lean BERT forward where it has one; a causal LM (SmolLM2,
    Llama-family) gets a classification head on its last real token (models.modeling.loading.
    load_sequence_classifier) and loads, with its tokenizer, from the converted safetensors folder when it
    is a GGUF. attention_dropout and the lean forward are encoder things and leave a causal LM as it is;
    freeze_embeddings freezes a causal LM's token table (its input embeddings).
    """
    from models.modeling.loading import load_sequence_classifier, load_tokenizer, safetensors_spec
    from models.modeling.registry import resolve_model

    spec = resolve_model(config.model)
    if spec.family == "causal_lm":
        spec = safetensors_spec(spec)
    tokenizer = load_tokenizer(spec)
    model = load_sequence_classifier(spec, list(label_names), pad_token_id=pad_token_id(tokenizer))
    if config.method == "lora":
        return _wrap_lora(model, config), tokenizer
    if config.freeze_embeddings:
        freeze_embeddings(model)
    if spec.family == "causal_lm":
        return model, tokenizer
    return fastpath.accelerate(model, config.attention_dropout), tokenizer


def freeze_embeddings(model: torch.nn.Module) -> None:
    """Stop training the embedding block (token, position, type tables and their LayerNorm).

    Saves the gradient of the 30k x hidden token table (a dense tensor every step), its AdamW update and
    the backward pass into the first layer's input. Models without a named embedding block (causal LMs
    such as SmolLM2, whose 49k x 576 token table is a fifth of its weights) freeze their input embeddings
    only.
    """
    base = getattr(model, getattr(model, "base_model_prefix", ""), None)
    embeddings = getattr(base, "embeddings", None)
    block = embeddings if isinstance(embeddings, torch.nn.Module) else model.get_input_embeddings()
    block.requires_grad_(False)


LORA_TARGETS: dict[str, tuple[str, ...]] = {
    model_type: ("q_proj", "k_proj", "v_proj", "o_proj")
    for model_type in ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "phi3")
}
"""LoRA target modules of decoder LLM families: every attention projection (query, key, value, output).
Other model types take peft's own defaults (BERT: query and value), else every linear layer."""


def lora_settings(model: torch.nn.Module, config: TrainConfig) -> Any:
    """peft's LoraConfig for a sequence classifier: rank, alpha and dropout from `config`; for a decoder LLM
    (LORA_TARGETS) the attention projections, with the new `score` head trained in full (modules_to_save)."""
    from peft import LoraConfig, TaskType

    lora = LoraConfig(task_type=TaskType.SEQ_CLS, r=config.lora_r, lora_alpha=config.lora_alpha,
                      lora_dropout=config.lora_dropout)
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    if model_type in LORA_TARGETS:
        lora.target_modules = set(LORA_TARGETS[model_type])
        lora.modules_to_save = ["score"]
    return lora


def _wrap_lora(model: torch.nn.Module, config: TrainConfig) -> torch.nn.Module:
    from peft import get_peft_model

    lora = lora_settings(model, config)
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


def linear_schedule(optimizer: torch.optim.Optimizer, warmup_steps: int,
                    total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
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


def _start_progress(config: TrainConfig, data: DataSplits, checkpoint: Path | None) -> Progress:
    """A fresh Progress, or the checkpoint's (TrainingError when it was trained on other data)."""
    fingerprint = data_fingerprint(data)
    progress = read_progress(checkpoint) if checkpoint else Progress(
        batch_size=config.batch_size, sampler_seed=config.seed, data_fingerprint=fingerprint)
    if progress.data_fingerprint != fingerprint:
        raise TrainingError(f"checkpoint {checkpoint} was trained on different data (labels or training "
                            "rows); resume with the same dataset and split, or start a new run")
    return progress


def _steps_per_epoch(train: EncodedTexts, batch_size: int, process_index: int, num_processes: int) -> int:
    """Optimizer steps per epoch on each process (DataValidationError when there is not one)."""
    if len(train) < num_processes:
        raise DataValidationError(
            f"{len(train)} training rows cannot be split over {num_processes} processes")
    batches = length_grouped_batches(train.lengths, batch_size, 0)
    steps = len(shard_batches(batches, process_index, num_processes))
    if steps == 0:
        raise DataValidationError(
            "too few training rows for one batch per process; lower batch_size or processes")
    return steps


def _probe_head(config: TrainConfig, model: torch.nn.Module, train: EncodedTexts, num_labels: int,
                pad_id: int, accelerator: Any, progress: Progress) -> None:
    """LP-FT's first half (models.training.head_init); its seconds count as training time and what it did
    goes into progress.head_init (eval.json's extra)."""
    from models.training.head_init import init_head_from_probe

    info = init_head_from_probe(model, train, num_labels, c=config.classic_c, seed=config.seed,
                                batch_size=config.eval_batch_size, pad_id=pad_id, device=accelerator.device)
    progress.train_seconds += info["seconds"]
    progress.head_init = {"head_init": config.head_init, **info}


def setup_session(config: TrainConfig, data: DataSplits, writer: RunWriter,
                  checkpoint: Path | None) -> tuple[Session, Progress]:
    """Accelerator, model, tokenized splits, optimizer and schedule, prepared; restored from `checkpoint`.

    Raises DeviceError, ModelNotFoundError, DataValidationError or TrainingError (other data than the
    checkpoint's).
    """
    accelerator = make_accelerator(config.device, config.precision)
    if accelerator.device.type == "cpu":
        fastpath.tune_cpu_allocator()
    set_seed(config.seed)
    progress = _start_progress(config, data, checkpoint)
    config = config.replace(batch_size=progress.batch_size)
    model, tokenizer = load_model_and_tokenizer(config, data.label_names)
    train, validation, test = _encode_splits(tokenizer, data, config.max_length)
    steps_per_epoch = _steps_per_epoch(train, config.batch_size, accelerator.process_index,
                                       accelerator.num_processes)
    total_steps = min(steps_per_epoch * config.epochs, config.max_steps or sys.maxsize)
    model.to(accelerator.device)
    if config.head_init == "probe" and checkpoint is None:  # a resumed run restores its trained head
        _probe_head(config, model, train, data.num_labels, pad_token_id(tokenizer), accelerator,
                    progress)
    optimizer = build_optimizer(model, config)
    scheduler = linear_schedule(optimizer, round(config.warmup_ratio * total_steps), total_steps)
    if checkpoint:
        load_training_state(checkpoint, model, optimizer, scheduler)
    model, optimizer = accelerator.prepare(model, optimizer)
    session = Session(config, accelerator, model, optimizer, scheduler, tokenizer, train, validation, test,
                      writer, total_steps, steps_per_epoch, data.num_labels)
    if checkpoint:
        restore_rng(checkpoint, accelerator.process_index)
    return session, progress
