"""The training side of the device story: one `Accelerator` per run, with its mixed precision.

Which device exists is decided by models.core.device (the one resolver); this module adds what only
training needs: CPU under `accelerate launch`, bf16 autocast where the GPU supports it, a clean accelerate
state per run, and the main-process question.
"""

from __future__ import annotations

import os

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState

from models.core.device import check_device, cuda_available, mps_available
from models.errors import DeviceError


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
    return Accelerator(cpu=cpu, mixed_precision=mixed_precision(device, precision, cpu))


def wants_cpu(device: str) -> bool:
    """True when training must run on CPU: asked for, set by `accelerate launch --cpu`, or no GPU at all.

    The last case matters under `accelerate launch --multi_gpu --num_processes N` on a CPU-only machine
    (accelerate 1.x runs N>1 CPU processes only that way or through MPI): without cpu=True accelerate
    would see no distributed backend and every process would think it is the only one.
    """
    if device == "cpu" or os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes"):
        return True
    return device == "auto" and not cuda_available() and not mps_available()


def mixed_precision(device: str, precision: str, cpu: bool) -> str:
    """accelerate's mixed_precision ('no' or 'bf16') for `precision` on `device`.

    Raises DeviceError when bf16 is asked for on a GPU without bf16.
    """
    on_cuda = not cpu and device in ("auto", "cuda") and torch.cuda.is_available()
    if precision == "fp32":
        return "no"
    if precision == "bf16":
        if on_cuda and not torch.cuda.is_bf16_supported():
            raise DeviceError("this GPU does not support bf16; use precision 'fp32' or 'auto'")
        return "bf16"
    return "bf16" if on_cuda and torch.cuda.is_bf16_supported() else "no"


def is_main_process() -> bool:
    """True outside distributed runs and on rank 0 of one (also before any Accelerator exists)."""
    return AcceleratorState._shared_state == {} or AcceleratorState().is_main_process
