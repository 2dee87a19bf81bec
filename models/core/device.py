"""The one device resolver: which torch device a run or a predictor uses, and the error when it is missing.

Training (models.training.accelerator), serving (models.serving.predictors), zero-shot scoring and the
planning estimates all ask here, so a device that is not there fails with the same message everywhere.
torch is imported inside the functions: importing this module stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from models.errors import DeviceError

if TYPE_CHECKING:
    import torch


def cuda_available() -> bool:
    """True when torch sees at least one CUDA GPU."""
    import torch

    return bool(torch.cuda.is_available())


def mps_available() -> bool:
    """True when Apple's MPS backend is built into torch and usable here."""
    import torch

    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def check_device(name: str) -> None:
    """Raise DeviceError if `name` ('cuda' or 'mps') was asked for explicitly and this machine lacks it.

    'auto' and 'cpu' always pass.
    """
    if name == "cuda" and not cuda_available():
        import torch

        built = "with" if torch.version.cuda else "without"
        raise DeviceError(
            f"device 'cuda' was requested but no CUDA GPU is available (torch {torch.__version__}, built "
            f"{built} CUDA); use device 'auto' or 'cpu'"
        )
    if name == "mps" and not mps_available():
        raise DeviceError("device 'mps' was requested but Apple MPS is not available here; "
                          "use device 'auto' or 'cpu'")


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' -> cuda, then mps, then cpu; an explicit device that is missing raises DeviceError.

    Arguments:
        name: auto, cpu, cuda or mps (TrainConfig.device).
    """
    import torch

    if name == "auto":
        if cuda_available():
            return torch.device("cuda")
        if mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    check_device(name)
    return torch.device(name)
