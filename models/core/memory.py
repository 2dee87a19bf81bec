"""Out of memory: recognise it, retry with a smaller batch, and say clearly what ran out and what to lower.

Used by training (models.training.finetune), prediction (models.serving.predictors) and the Playground page.
No torch at import: an error can only be torch's if torch is already loaded, so `is_out_of_memory` looks it up
in sys.modules and pages may import this module freely.
"""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from models.errors import InsufficientMemoryError

log = logging.getLogger(__name__)

T = TypeVar("T")

_MARKERS = (
    "out of memory",  # CUDA, MPS, cuBLAS
    "can't allocate memory",  # torch's DefaultCPUAllocator
    "cannot allocate memory",  # errno 12 (ENOMEM) as text
    "cublas_status_alloc_failed",
    # oneDNN (torch's CPU kernels) cannot build a kernel: under memory pressure it fails here instead of
    # in the allocator (seen under RLIMIT_AS in tests/models/test_oom.py); a smaller batch gets through
    "could not create a primitive",
)
_GPU_MARKERS = ("cuda", "mps", "cublas", "gpu")


def is_out_of_memory(error: BaseException) -> bool:
    """True for allocation failures a smaller batch may avoid: CUDA/MPS/CPU allocator errors, MemoryError."""
    if isinstance(error, MemoryError):
        return True
    torch = sys.modules.get("torch")
    out_of_memory_type = getattr(torch, "OutOfMemoryError", None) if torch is not None else None
    if out_of_memory_type is not None and isinstance(error, out_of_memory_type):
        return True
    return isinstance(error, RuntimeError) and any(m in str(error).lower() for m in _MARKERS)


def memory_kind(error: BaseException) -> str:
    """'GPU' when the failed allocation was on a GPU, else 'RAM'."""
    text = f"{type(error).__name__} {error}".lower()
    return "GPU" if any(m in text for m in _GPU_MARKERS) else "RAM"


def first_line(error: BaseException, limit: int = 200) -> str:
    """The first line of an error's text, at most `limit` characters (torch's messages run long)."""
    lines = str(error).strip().splitlines()
    return (lines[0] if lines else type(error).__name__)[:limit]


def free_memory() -> None:
    """Collect garbage and hand cached GPU blocks back, so a retry starts from a clean allocator."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def explain(error: BaseException, doing: str, fix: str) -> InsufficientMemoryError:
    """An InsufficientMemoryError saying what ran out while `doing`, the allocator's words, and `fix`."""
    return InsufficientMemoryError(f"out of memory ({memory_kind(error)}) while {doing} "
                                   f"({first_line(error)}); {fix}")


@contextmanager
def explained(doing: str, fix: str) -> Iterator[None]:
    """Turn an out-of-memory error raised inside the block into `explain(...)`; other errors pass
    unchanged."""
    try:
        yield
    except Exception as e:  # noqa: BLE001 - only out of memory is translated, the rest re-raised
        if is_out_of_memory(e):
            raise explain(e, doing, fix) from e
        raise


def with_smaller_batches(run: Callable[[int], T], batch_size: int, *, doing: str,
                         fix: str) -> tuple[T, int]:
    """`run(batch_size)`; on out of memory, run again with half the batch, down to 1.

    Arguments:
        run: does the whole piece of work at the batch size it is given (it must be safe to repeat).
        batch_size: the first batch size to try (>= 1).
        doing: what runs, for the messages ('predicting 5,000 texts with the full model').
        fix: what the user can change when even batch size 1 does not fit.
    Returns (run's result, the batch size that fitted). Raises InsufficientMemoryError at batch size 1;
    every other error passes through unchanged.
    """
    size = max(1, int(batch_size))
    while True:
        try:
            return run(size), size
        except Exception as e:  # noqa: BLE001 - only out of memory is handled, the rest re-raised
            if not is_out_of_memory(e):
                raise
            if size <= 1:
                raise explain(e, f"{doing} even at batch size 1 (started at {batch_size})", fix) from e
            log.warning("out of memory (%s) %s at batch size %d (%s); retrying at batch size %d",
                        memory_kind(e), doing, size, first_line(e), size // 2)
        # outside the except block: the traceback (and the tensors its frames hold) is released by now
        free_memory()
        size //= 2
