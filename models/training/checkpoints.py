"""Checkpoints that continue a fine-tuning run exactly: save, prune, find the newest, restore.

checkpoints/step-N/ holds model.safetensors, optimizer.pt, scheduler.pt, state.json (Progress: the data
position, early stopping, time) and rng-<process>.pt (Python, NumPy, torch and CUDA generator states of
every process). A folder is written under a temporary name and renamed into place, so a crash never leaves
a half checkpoint that looks complete. checkpoints/best-model.safetensors holds the best validation
epoch's weights and survives pruning.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_model, save_model

from models.core.runs import write_json_atomic
from models.training.session import Progress, Session

log = logging.getLogger(__name__)

CHECKPOINTS_KEPT = 2
"""Newest step-N/ folders kept in checkpoints/."""
BEST_WEIGHTS = "best-model.safetensors"
"""Weights of the best validation epoch so far, in checkpoints/ (survives pruning, used on resume)."""


def save_checkpoint(session: Session, progress: Progress) -> Path:
    """Write checkpoints/step-N/ (via a temporary folder renamed into place) and keep the newest two."""
    a = session.accelerator
    final = session.checkpoints / f"step-{progress.global_step}"
    tmp = session.checkpoints / f".tmp-step-{progress.global_step}"
    if a.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    a.wait_for_everyone()
    torch.save(rng_state(), tmp / f"rng-{a.process_index}.pt")
    if a.is_main_process:
        save_model(a.unwrap_model(session.model), str(tmp / "model.safetensors"))
        torch.save(session.optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(session.scheduler.state_dict(), tmp / "scheduler.pt")
        write_json_atomic(tmp / "state.json", asdict(progress))
    a.wait_for_everyone()
    if a.is_main_process:
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        _prune_checkpoints(session.checkpoints)
        session.writer.event(kind="checkpoint", step=progress.global_step,
                             path=str(final.relative_to(session.writer.run_dir)))
    a.wait_for_everyone()
    return final


def save_best_weights(session: Session) -> None:
    """Write the current weights to checkpoints/best-model.safetensors (atomically, main process)."""
    if session.accelerator.is_main_process:
        session.checkpoints.mkdir(parents=True, exist_ok=True)
        tmp = session.checkpoints / f".{BEST_WEIGHTS}.tmp"
        save_model(session.accelerator.unwrap_model(session.model), str(tmp))
        os.replace(tmp, session.checkpoints / BEST_WEIGHTS)
    session.accelerator.wait_for_everyone()


def _checkpoint_steps(root: Path) -> list[tuple[int, Path]]:
    found = []
    for path in root.glob("step-*") if root.is_dir() else []:
        suffix = path.name.removeprefix("step-")
        if suffix.isdigit() and (path / "state.json").is_file():
            found.append((int(suffix), path))
    return sorted(found)


def _prune_checkpoints(root: Path) -> None:
    for _, path in _checkpoint_steps(root)[:-CHECKPOINTS_KEPT]:
        shutil.rmtree(path, ignore_errors=True)


def latest_checkpoint(root: Path) -> Path | None:
    """The newest complete checkpoints/step-N/ folder, or None."""
    steps = _checkpoint_steps(root)
    return steps[-1][1] if steps else None


def read_progress(checkpoint: Path) -> Progress:
    """The Progress saved in `checkpoint`/state.json."""
    return Progress(**json.loads((checkpoint / "state.json").read_text(encoding="utf-8")))


def load_training_state(checkpoint: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                        scheduler: torch.optim.lr_scheduler.LRScheduler) -> None:
    """Weights, optimizer and scheduler state from `checkpoint`, before accelerate prepares them."""
    load_model(model, str(checkpoint / "model.safetensors"))  # read on CPU, copied onto the params
    optimizer.load_state_dict(torch.load(checkpoint / "optimizer.pt", weights_only=True))
    scheduler.load_state_dict(torch.load(checkpoint / "scheduler.pt", weights_only=True))


def rng_state() -> dict[str, Any]:
    """Python, NumPy, torch and CUDA generator states as tensors (loadable with weights_only=True)."""
    version, py_state, gauss = random.getstate()
    _, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    return {
        "python": torch.tensor(py_state, dtype=torch.int64),
        "python_version": version,
        "python_gauss": gauss,
        "numpy_keys": torch.from_numpy(np_keys.astype(np.int64)),
        "numpy_pos": int(np_pos), "numpy_has_gauss": int(np_has_gauss), "numpy_gauss": float(np_gauss),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_rng(checkpoint: Path, process_index: int) -> None:
    """Put this process's generators back to their state in `checkpoint` (a warning if it has none)."""
    path = checkpoint / f"rng-{process_index}.pt"
    if not path.exists():  # resumed with more processes than saved: seed-derived states are the best we have
        log.warning("no RNG state for process %d in %s; dropout masks will differ from the original run",
                    process_index, checkpoint)
        return
    state = torch.load(path, weights_only=True)
    random.setstate((state["python_version"], tuple(state["python"].tolist()), state["python_gauss"]))
    np.random.set_state(("MT19937", state["numpy_keys"].numpy().astype(np.uint32), state["numpy_pos"],
                         state["numpy_has_gauss"], state["numpy_gauss"]))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
