"""Shared last steps of every classifier run: label file, eval.json, predictions.parquet, status.json.

Used by classic, linear_probe and zero_shot so that every method's run folder has the same shape.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from models.core.config import TrainConfig
from models.core.runs import RunResult, RunWriter, atomic_path
from models.data.types import DataSplits, LabelledTexts
from models.errors import RunFolderError

log = logging.getLogger(__name__)

LABELS_FILE = "labels.json"


def write_label_names(model_dir: Path, label_names: tuple[str, ...]) -> None:
    """Save the class names in order as model_dir/labels.json (atomic)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(model_dir / LABELS_FILE) as tmp:
        tmp.write_text(json.dumps(list(label_names), indent=1), encoding="utf-8")


def read_label_names(model_dir: Path) -> tuple[str, ...]:
    """Class names saved by `write_label_names`; RunFolderError if missing or malformed."""
    path = Path(model_dir) / LABELS_FILE
    try:
        names = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise RunFolderError(f"cannot read label names from {path}: {e}; is the run finished?") from e
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise RunFolderError(f"{path} must hold a JSON list of label names")
    return tuple(names)


def finish_classifier_run(
    writer: RunWriter,
    config: TrainConfig,
    data: DataSplits,
    test: LabelledTexts,
    probs: np.ndarray,
    *,
    model_name: str,
    train_seconds: float,
    extra: dict[str, Any] | None = None,
) -> RunResult:
    """Evaluate `probs` (shape [len(test), num_labels]) against `test`, write eval.json,
    predictions.parquet and finally status.json; return the RunResult.

    `test` is normally `data.test`, or a prefix of it when a method scores only part of it.
    """
    from models.core.evaluate import evaluate_predictions, predictions_frame

    extra = dict(extra or {})
    y_true = np.asarray(test.labels, dtype=np.int64)
    metrics = dict(evaluate_predictions(y_true, probs, data.label_names))
    metrics.setdefault("n_test_scored", len(test))
    metrics.setdefault("n_test_total", len(data.test))
    metrics["method"] = config.method
    writer.write_json("eval.json", metrics)
    writer.write_predictions(predictions_frame(list(test.ids), y_true, probs, data.label_names))
    accuracy = metrics.get("accuracy")
    writer.event(stage="evaluated", split="test", n=len(test), accuracy=accuracy, train_seconds=train_seconds)
    writer.finish("succeeded", train_seconds=round(train_seconds, 3), accuracy=accuracy, **extra)
    log.info("%s run %s: test accuracy %s", config.method, writer.run_dir.name, accuracy)
    return RunResult(
        run_dir=writer.run_dir,
        method=config.method,
        model=model_name,
        metrics=metrics,
        train_seconds=train_seconds,
        extra=extra,
    )
