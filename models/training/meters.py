"""What a fine-tuning run reports while it runs: loss, throughput, ETA and memory, as step events.

The meter keeps the loss on the device and reads it once per logging window (one .item() per window, not
per step); the clock banks training wall time into Progress before every checkpoint, so a resumed run's
train_seconds covers every session.
"""

from __future__ import annotations

import logging
import math
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from models.errors import TrainingError
from models.training.session import Progress, Session

log = logging.getLogger(__name__)


class ThroughputMeter:
    """Loss and throughput over the current logging window (one .item() per window, not per step)."""

    def __init__(self, num_processes: int) -> None:
        self.num_processes = num_processes
        self.reset()

    def reset(self) -> None:
        """Start a new window now."""
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
        """Count one step: its loss (a device scalar, not synced here), this process's texts and real
        tokens."""
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


class Clock:
    """Training wall time (banked into Progress before each checkpoint) and the ETA of this session."""

    def __init__(self, start_step: int) -> None:
        self.start_step = start_step
        self.session_start = self.mark = time.monotonic()

    def bank(self, progress: Progress) -> None:
        """Add the seconds since the last bank to progress.train_seconds."""
        now = time.monotonic()
        progress.train_seconds += now - self.mark
        self.mark = now

    def eta_s(self, step: int, total_steps: int) -> float:
        """Seconds left at this session's mean step time."""
        per_step_s = (time.monotonic() - self.session_start) / max(step - self.start_step, 1)
        return per_step_s * (total_steps - step)


def memory_usage(device: torch.device) -> dict[str, Any]:
    """Peak memory: CUDA max allocated on GPUs, else the process's peak resident set size (bytes)."""
    if device.type == "cuda":
        return {"memory_bytes": torch.cuda.max_memory_allocated(device), "memory_kind": "cuda_max_allocated"}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"memory_bytes": peak if sys.platform == "darwin" else peak * 1024, "memory_kind": "peak_rss"}


def log_step(session: Session, progress: Progress, meter: ThroughputMeter, batches_in_epoch: int,
             eta_s: float) -> None:
    """Read the meter into a step event (the main process writes it).

    Raises TrainingError when the loss is not finite.
    """
    figures = meter.read()
    progress.last_loss = figures["loss"]
    if not math.isfinite(figures["loss"]):
        raise TrainingError(f"loss became {figures['loss']} at step {progress.global_step}; "
                            f"lower learning_rate (now {session.config.learning_rate}) "
                            "or keep max_grad_norm > 0")
    event = {
        "kind": "step", "step": progress.global_step,
        "epoch": round(progress.epoch + progress.batch_index / batches_in_epoch, 4),
        "lr": session.scheduler.get_last_lr()[0], **figures, "eta_s": round(eta_s, 1),
        **memory_usage(session.accelerator.device),
    }
    log.info("step %d/%d loss %.4f lr %.2e %.1f samples/s eta %.0fs", progress.global_step,
             session.total_steps, figures["loss"], event["lr"], figures["samples_per_s"], eta_s)
    if session.accelerator.is_main_process:
        session.writer.event(**event)
