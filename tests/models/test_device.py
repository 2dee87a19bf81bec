"""models.core.device: the one device resolver of training, serving, zero-shot and the planning estimates."""

from __future__ import annotations

import pytest
import torch

from models.core.device import check_device, resolve_device
from models.errors import DeviceError
from models.training.accelerator import make_accelerator


def test_cpu_and_auto_always_resolve() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cuda", "mps", "cpu")
    check_device("auto")
    check_device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on machines without CUDA")
def test_missing_cuda_gives_one_message_for_serving_and_training() -> None:
    message = "no CUDA GPU is available.*use device 'auto' or 'cpu'"
    with pytest.raises(DeviceError, match=message):
        resolve_device("cuda")  # serving, zero-shot, estimates
    with pytest.raises(DeviceError, match=message):
        make_accelerator("cuda", "auto")  # training
