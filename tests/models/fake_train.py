"""A fast stand-in for models.training.train.train, run inside real job subprocesses by
tests/models/test_jobs.py.

Selected with STRATLAB_TRAIN_FUNCTION=tests.models.fake_train:train (and the repository root on PYTHONPATH).
It writes a run folder of the real shape through models.core.runs.RunWriter: a start event, one step event
per step (sleeping FAKE_STEP_S seconds each), a checkpoint every config.checkpoint_every_steps steps,
eval.json, predictions.parquet and status.json. On resume it continues after its newest checkpoint.
dataset='missing-dataset' fails like an offline dataset lookup does. environment.json is a small stub: the
real `environment_info()` imports torch, transformers and peft, which takes many seconds on a busy 2-core
machine.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pandas as pd

from models.core import runs
from models.core.config import TrainConfig
from models.core.runs import RunResult, RunWriter
from models.errors import DatasetNotFoundError


def _environment_stub() -> dict[str, object]:
    return {"hardware": "CPU x2", "cpu_count": 2, "torch": None, "recorded_at": "2026-01-01T00:00:00+00:00"}


def train(
    config: TrainConfig, data: object = None, *, resume: bool = False, run_id: str | None = None
) -> RunResult:
    runs.environment_info = _environment_stub
    writer = RunWriter.create(config, run_id=run_id, resume=resume)
    try:
        return _fit(config, writer, resume)
    except KeyboardInterrupt:
        writer.finish("cancelled", error="interrupted")
        raise
    except Exception as e:
        writer.finish("failed", error=f"{type(e).__name__}: {e}")
        raise


def _fit(config: TrainConfig, writer: RunWriter, resume: bool) -> RunResult:
    if config.dataset == "missing-dataset":
        raise DatasetNotFoundError("dataset 'missing-dataset' not found in the mirror and the network is off")
    total = config.max_steps or 4
    first = _latest_checkpoint(writer.run_dir) + 1 if resume else 1
    writer.event(
        kind="start", total_steps=total, resumed_from_step=first - 1 if resume else None, pid=os.getpid()
    )
    step_s = float(os.environ.get("FAKE_STEP_S", "0.05"))
    for step in range(first, total + 1):
        time.sleep(step_s)
        writer.event(kind="step", step=step, epoch=step / total, loss=1.0 / step,
                     eta_s=(total - step) * step_s, samples_per_s=100.0, memory_bytes=1000)
        if config.checkpoint_every_steps and step % config.checkpoint_every_steps == 0:
            checkpoint = writer.run_dir / "checkpoints" / f"step-{step}"
            checkpoint.mkdir(parents=True, exist_ok=True)
            (checkpoint / "state.json").write_text(json.dumps({"global_step": step}), encoding="utf-8")
    writer.event(kind="epoch", epoch=1, step=total, val_accuracy=0.75, val_loss=0.5)
    metrics = {"accuracy": 0.5, "macro_f1": 0.4, "n_test_scored": 2}
    writer.write_json("eval.json", metrics)
    writer.write_predictions(pd.DataFrame({"text_id": ["t1", "t2"], "true_label": ["a", "b"],
                                           "pred_label": ["a", "a"], "confidence": [0.9, 0.6]}))
    writer.finish("succeeded", train_seconds=total * step_s)
    return RunResult(run_dir=writer.run_dir, method=config.method, model=config.model, metrics=metrics,
                     train_seconds=total * step_s)


def _latest_checkpoint(run_dir: Path) -> int:
    steps = [int(p.name[5:]) for p in (run_dir / "checkpoints").glob("step-*") if p.name[5:].isdigit()]
    return max(steps, default=0)
