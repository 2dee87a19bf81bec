"""What one fine-tuning attempt holds (`Session`) and where it stands (`Progress`, saved in checkpoints)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator

from models.core.config import TrainConfig
from models.core.runs import RunWriter
from models.modeling.tokenize import EncodedTexts, pad_token_id


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
    """Best validation accuracy of an epoch so far (None before the first validation)."""
    best_epoch: int | None = None
    """1-based epoch of best_val_accuracy; its weights are checkpoints/best-model.safetensors."""
    best_val_loss: float | None = None
    """sft methods: lowest validation loss per reply token of an epoch so far (its epoch is best_epoch)."""
    epochs_without_improvement: int = 0
    """Validations in a row that did not beat best_val_accuracy (early stopping counts these)."""
    stopped_early: bool = False
    """True once early stopping ended the run."""
    train_seconds: float = 0.0
    """Training wall time summed over sessions (resumes)."""
    step_seconds: float = 0.0
    """sft methods: the part of train_seconds spent in training steps (batching, forward, backward, update),
    validation and checkpoints left out: what a trainer's own "train runtime" compares with."""
    last_loss: float | None = None
    """Mean loss of the newest logging window."""
    data_fingerprint: str = ""
    """SHA-256 of the label names and training ids/labels; a resume with other data is refused."""
    history: list[dict[str, Any]] = field(default_factory=list)
    """Per-epoch validation metrics."""
    head_init: dict[str, Any] | None = None
    """head_init='probe': what the linear probe that initialised the head did (train accuracy, seconds)."""


@dataclass
class Session:
    """Everything one training attempt holds (built by models.training.setup.setup_session)."""

    config: TrainConfig
    """The run's settings, batch_size as in use (after out-of-memory halving)."""
    accelerator: Accelerator
    """Device, mixed precision and processes (models.training.accelerator)."""
    model: torch.nn.Module
    """The prepared (possibly DDP-wrapped) classifier."""
    optimizer: torch.optim.Optimizer
    """Prepared AdamW."""
    scheduler: torch.optim.lr_scheduler.LRScheduler
    """Linear warm-up then linear decay, stepped once per optimizer step."""
    tokenizer: Any
    """The model's tokenizer (saved into model/ at the end)."""
    train: EncodedTexts
    """Tokenized training split."""
    validation: EncodedTexts
    """Tokenized validation split (may be empty: no early stopping then)."""
    test: EncodedTexts
    """Tokenized test split."""
    writer: RunWriter
    """The run folder's writer (events, files)."""
    total_steps: int
    """Optimizer steps of the whole run (epochs x steps_per_epoch, capped by max_steps)."""
    steps_per_epoch: int
    """Optimizer steps per epoch on each process."""
    num_labels: int
    """Classes of the classifier."""

    @property
    def checkpoints(self) -> Path:
        """The run's checkpoints/ folder."""
        return self.writer.run_dir / "checkpoints"

    @property
    def pad_id(self) -> int:
        """Token id that pads batches (models.modeling.tokenize.pad_token_id)."""
        return pad_token_id(self.tokenizer)
