"""The one public entry point for training: `train(config)` runs any method and fills a run folder.

    from models.core.config import SFT_METHODS, TrainConfig
    from models.training.train import train
    result = train(TrainConfig(method="full", dataset="banking77"))
    print(result.metrics["accuracy"], result.run_dir)

Every method takes (config, data, writer) and returns a RunResult; each is imported only when used, so
the classic baseline never pays for importing torch. Under `accelerate launch` only the main process
creates and writes the run folder.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from models.core.config import SFT_METHODS, TrainConfig
from models.core.runs import STATUS_FILE, RunResult, RunWriter, make_run_id, read_json, run_status
from models.data.loading import load_training_data
from models.data.types import DataSplits
from models.errors import RunFolderError

log = logging.getLogger(__name__)


class _SilentWriter(RunWriter):
    """The run writer of non-main DDP processes: knows the folder, writes nothing."""

    def event(self, **fields: Any) -> None:
        return None

    def write_json(self, name: str, payload: Any) -> None:
        return None

    def write_predictions(self, frame: Any) -> None:
        return None

    def finish(self, state: str, **extra: Any) -> None:
        return None


def train(config: TrainConfig, data: Any = None, *, resume: bool = False,
          run_id: str | None = None) -> RunResult:
    """Train `config.method` on `data` (or on `config.dataset`, loaded here) and write a run folder.

    Arguments:
        config: the whole run's settings; saved as config.json in the run folder.
        data: splits to train on (DataSplits; a ChatSplits for sft methods); None loads `config.dataset`
            (catalog name, or a user file with text_column/label_column, or a conversation file for sft),
            applying train_examples_per_class and pii_scrub.
        resume: continue the run folder `run_id` (full/lora continue from their newest checkpoint;
            the other methods, which take seconds to minutes, start again).
        run_id: the run folder's name under config.runs_dir; None makes one from method, model and time.
    Raises ConfigError, DatasetError, ModelNotFoundError, DeviceError, TrainingError or RunFolderError;
    any failure is recorded in status.json ("failed" with the error) before it propagates.
    """
    if config.method != "classic":  # the classic baseline never imports torch (seconds of a demo's start)
        _set_threads(config.num_threads)
    writer = _create_writer(config, run_id, resume)
    try:
        if config.method in SFT_METHODS:
            from models.data.chat import load_chat_data
            from models.training.sft import describe_chat_data

            data = load_chat_data(config) if data is None else data
            writer.write_json("data.json", describe_chat_data(data))
        else:
            data = load_training_data(config) if data is None else data
            writer.write_json("data.json", describe_data(data))
        result = run_method(config, data, writer, resume)
    except KeyboardInterrupt:
        writer.finish("cancelled", error="interrupted")
        raise
    except Exception as e:
        log.error("run %s failed: %s", writer.run_dir.name, e)
        writer.finish("failed", error=f"{type(e).__name__}: {e}")
        raise
    return result


def resume_run(run_dir: str | Path, data: DataSplits | None = None) -> RunResult:
    """Continue an unfinished run from its folder (config.json is read back; newest checkpoint used).

    `data` must be the splits the run started with when it was given data explicitly; None reloads
    config.dataset. Raises RunFolderError if the folder has no config.json or the run already succeeded,
    TrainingError if the data differ from the checkpoint's.
    """
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file():
        raise RunFolderError(f"{run_dir} is not a run folder (no config.json); give a folder under data/runs")
    status = run_status(run_dir)
    if status and status.get("state") == "succeeded":
        raise RunFolderError(f"run {run_dir.name} already succeeded; start a new run instead of resuming it")
    config = TrainConfig.from_dict(read_json(run_dir / "config.json"))
    return train(config.replace(runs_dir=str(run_dir.parent)), data, resume=True, run_id=run_dir.name)


def describe_data(data: DataSplits) -> dict[str, Any]:
    """What the run trained on: name, labels, split sizes and provenance (licence, sha256, PII report)."""
    return {"name": data.name, "label_names": list(data.label_names),
            "rows": {"train": len(data.train), "validation": len(data.validation), "test": len(data.test)},
            "meta": data.meta}


def run_method(config: TrainConfig, data: DataSplits, writer: RunWriter, resume: bool) -> RunResult:
    """Run `config.method` on `data` into `writer`'s folder (each method's module imported only here)."""
    if config.method in SFT_METHODS:
        from models.training.sft import train_sft

        return train_sft(config, data, writer, resume=resume)
    if config.method in ("full", "lora"):
        from models.training.finetune import train_finetune

        return train_finetune(config, data, writer, resume=resume)
    if config.method == "classic":
        from models.training.classic import train_classic

        return train_classic(config, data, writer)
    if config.method == "linear_probe":
        from models.training.probe import train_linear_probe

        return train_linear_probe(config, data, writer)
    from models.training.zeroshot import train_zero_shot

    return train_zero_shot(config, data, writer)


def _set_threads(num_threads: int | None) -> None:
    if num_threads is None:
        return
    import torch

    torch.set_num_threads(num_threads)


def _distributed() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def _create_writer(config: TrainConfig, run_id: str | None, resume: bool) -> RunWriter:
    """RunWriter on the main process; a silent one elsewhere (same folder name, agreed by broadcast)."""
    if not _distributed():
        return _main_writer(config, run_id, resume)
    from accelerate import PartialState
    from accelerate.utils import broadcast_object_list

    from models.training.accelerator import wants_cpu

    state = PartialState(cpu=wants_cpu(config.device))
    chosen = [run_id or make_run_id(config)]
    broadcast_object_list(chosen, from_process=0)
    writer: RunWriter = _main_writer(config, chosen[0], resume) if state.is_main_process else _SilentWriter(
        Path(config.runs_dir) / chosen[0])
    state.wait_for_everyone()
    return writer


def _main_writer(config: TrainConfig, run_id: str | None, resume: bool) -> RunWriter:
    writer = RunWriter.create(config, run_id=run_id, resume=resume)
    if resume:
        (writer.run_dir / STATUS_FILE).unlink(missing_ok=True)  # running again: no longer failed
        writer.event(kind="resume")
    return writer
