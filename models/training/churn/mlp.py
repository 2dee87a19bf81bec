"""The churn MLP's training: accelerate's prepare / autocast / backward over shuffled tabular batches.

What it shares with the fine-tuning loop (models.training.loop): the Accelerator with its device and
precision rules (models.training.accelerator.make_accelerator), accelerate's set_seed, AdamW with weight
decay on matrices only (models.training.setup.build_optimizer), the loss/throughput meter and memory figure
(models.training.meters), and the run folder's step / epoch events in the same schema (models.core.runs),
so the Runs page draws its loss curve like any run's. What it does not share: the text loop's length-grouped
padded token batches, its LR schedule and its resumable step checkpoints (seconds of training on a few
thousand rows are re-run rather than resumed, as the classic and linear_probe methods are). One process:
the batches are not sharded (a DDP launch of a tabular model this size would only add overhead).

Early stopping watches the validation share's binary cross-entropy (the loss itself, so the probabilities
stay calibrated) and the best epoch's weights are the result.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from accelerate.utils import set_seed
from sklearn.metrics import roc_auc_score

from models.core.runs import RunWriter
from models.errors import TrainingError
from models.modeling.tabular import Standardiser, TabularMLP, mlp_probabilities
from models.training.accelerator import make_accelerator
from models.training.churn.config import ChurnConfig
from models.training.churn.data import validation_split
from models.training.meters import ThroughputMeter, memory_usage
from models.training.setup import build_optimizer

log = logging.getLogger(__name__)


@dataclass
class MlpResult:
    """A trained MLP (best validation epoch's weights, eval mode) and how its training went."""

    model: TabularMLP
    """The unwrapped module, on `device`."""
    standardiser: Standardiser
    """Fitted on the rows the MLP trained on."""
    device: str
    """Where it trained, e.g. 'cpu', 'cuda:0'."""
    mixed_precision: str
    """accelerate's mixed precision: 'no' (fp32) or 'bf16' (autocast)."""
    train_seconds: float
    """Wall time of the epochs (validation included)."""
    steps: int
    """Optimizer steps taken."""
    best_epoch: int
    """1-based epoch whose weights were kept."""
    stopped_early: bool
    """True when early stopping ended training before config.epochs."""
    samples_per_s: float
    """Training rows per second over all epochs."""
    n_validation: int
    """Rows of the training part held out for early stopping."""
    history: list[dict[str, Any]] = field(default_factory=list)
    """One record per epoch: train_loss, val_loss, val_accuracy, val_roc_auc, improved."""


def _bce(y: np.ndarray, p: np.ndarray) -> float:
    q = np.clip(p, 1e-7, 1 - 1e-7)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))


def _validate(model: torch.nn.Module, standardiser: Standardiser, x: np.ndarray, y: np.ndarray,
              device: torch.device) -> dict[str, float | None]:
    p = mlp_probabilities(model, standardiser, x, device)
    auc = float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else None
    return {"val_loss": _bce(y, p), "val_accuracy": float(((p > 0.5) == y).mean()), "val_roc_auc": auc}


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """torch's intra-op threads set to `count` inside, restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_mlp(config: ChurnConfig, x: np.ndarray, y: np.ndarray, writer: RunWriter) -> MlpResult:
    """Train the MLP on the training part (`x` [n, features] raw, `y` [n] 0/1), validation share held out.

    Runs on config.num_threads torch threads, one when it is None (see ChurnConfig.num_threads).
    Raises DeviceError for a missing device, TrainingError when the loss stops being finite.
    """
    with torch_threads(config.num_threads or 1):
        return _train(config, x, y, writer)


def _train(config: ChurnConfig, x: np.ndarray, y: np.ndarray, writer: RunWriter) -> MlpResult:
    fit, held = validation_split(y, config.validation_share, config.seed)
    standardiser = Standardiser.fit(x[fit])
    set_seed(config.seed)
    accelerator = make_accelerator(config.device, config.precision)
    model = TabularMLP(x.shape[1], config.hidden_sizes, config.dropout)
    optimizer = build_optimizer(model, config)  # reads learning_rate and weight_decay only
    model, optimizer = accelerator.prepare(model, optimizer)
    device = accelerator.device
    x_fit = torch.from_numpy(standardiser.transform(x[fit])).to(device)
    y_fit = torch.from_numpy(y[fit].astype(np.float32)).to(device)
    n_batches = math.ceil(len(fit) / config.batch_size)
    writer.event(kind="start", method="churn_mlp", device=str(device), total_steps=n_batches * config.epochs,
                 n_train=len(fit), n_validation=len(held))
    meter, started = ThroughputMeter(accelerator.num_processes), time.monotonic()
    best: dict[str, Any] = {"loss": math.inf, "epoch": 0, "state": None}
    history: list[dict[str, Any]] = []
    step, stale, stopped_early = 0, 0, False
    for epoch in range(config.epochs):
        order = torch.from_numpy(np.random.default_rng(config.seed + epoch).permutation(len(fit))).to(device)
        step += train_epoch(model, optimizer, accelerator, x_fit, y_fit, order, config.batch_size, meter)
        with meter.paused():
            record = _end_epoch(model, accelerator, standardiser, x[held], y[held], meter, writer,
                                epoch=epoch, step=step, n_batches=n_batches, lr=config.learning_rate)
        improved = record["val_loss"] < best["loss"] - 1e-7
        if improved:
            unwrapped = accelerator.unwrap_model(model)
            best = {"loss": record["val_loss"], "epoch": epoch + 1,
                    "state": {k: v.detach().clone() for k, v in unwrapped.state_dict().items()}}
        stale = 0 if improved else stale + 1
        stopped_early = bool(config.early_stopping_patience) and stale >= config.early_stopping_patience \
            and epoch + 1 < config.epochs
        record.update(improved=improved, best_val_loss=best["loss"], stopped_early=stopped_early)
        history.append(record)
        writer.event(kind="epoch", epoch=epoch + 1, step=step, **{k: v for k, v in record.items()
                                                                    if k not in ("epoch", "step")})
        if stopped_early:
            break
    seconds = time.monotonic() - started
    if best["state"] is None:
        raise TrainingError("the MLP's validation loss was never a finite number; lower learning_rate "
                            f"(now {config.learning_rate}) or check the features for extreme values")
    final = accelerator.unwrap_model(model)
    final.load_state_dict(best["state"])
    final.eval()
    log.info("churn mlp: %d epochs, best %d (val loss %.4f), %.1f s on %s", len(history), best["epoch"],
             best["loss"], seconds, device)
    return MlpResult(model=final, standardiser=standardiser, device=str(device),
                     mixed_precision=str(accelerator.mixed_precision), train_seconds=seconds,
                     steps=step, best_epoch=best["epoch"], stopped_early=stopped_early,
                     samples_per_s=len(fit) * len(history) / max(seconds, 1e-9), n_validation=len(held),
                     history=history)


def train_epoch(model: torch.nn.Module, optimizer: torch.optim.Optimizer, accelerator: Any, x: torch.Tensor,
                y: torch.Tensor, order: torch.Tensor, batch_size: int, meter: ThroughputMeter) -> int:
    """One pass over standardised rows `x` [n, features] with labels `y` [n] in `order`, one optimizer step
    per `batch_size` rows (binary cross-entropy on the logits, in fp32); returns the steps taken."""
    model.train()
    steps = 0
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        with accelerator.autocast():
            logits = model(x[rows])
        loss = F.binary_cross_entropy_with_logits(logits.float(), y[rows])
        accelerator.backward(loss)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        meter.add(loss.detach(), len(rows), 0)
        steps += 1
    return steps


def _end_epoch(model: torch.nn.Module, accelerator: Any, standardiser: Standardiser, x_val: np.ndarray,
               y_val: np.ndarray, meter: ThroughputMeter, writer: RunWriter, *, epoch: int, step: int,
               n_batches: int, lr: float) -> dict[str, Any]:
    """The epoch's step event (mean training loss) and its validation figures; TrainingError on NaN loss."""
    figures = meter.read()
    if not math.isfinite(figures["loss"]):
        raise TrainingError(f"the MLP's loss became {figures['loss']} in epoch {epoch + 1}; lower "
                            f"learning_rate (now {lr}) or check the features for extreme values")
    # epoch position of the window's last step, so the Runs page files the loss under this epoch
    writer.event(kind="step", step=step, epoch=round(epoch + (n_batches - 1) / n_batches, 4), lr=lr,
                 loss=figures["loss"], samples_per_s=figures["samples_per_s"],
                 **memory_usage(accelerator.device))
    metrics = _validate(accelerator.unwrap_model(model), standardiser, x_val, y_val, accelerator.device)
    return {"train_loss": figures["loss"], **metrics}
