"""Run folders: one per run, written so that a killed process never leaves a file that looks complete.

Layout of `<runs_dir>/<run_id>/`:
    config.json         resolved TrainConfig (written first)
    environment.json    hardware, library versions, threads
    events.jsonl        append-only progress log, one JSON object per line (`Event`: the schema)
    checkpoints/        step-N/ folders (resumable state)
    model/              final weights (safetensors) or pickled classic model
    eval.json           metrics on the test split
    predictions.parquet per-example predictions on the test split
    status.json         written LAST: {"state": "succeeded"|"failed", ...}; a run without it is unfinished
"""

from __future__ import annotations

import json
import logging
import os
import platform
import re
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from models.core.config import TrainConfig
from models.errors import RunFolderError

log = logging.getLogger(__name__)

STATUS_FILE = "status.json"
EVENTS_FILE = "events.jsonl"

EVENT_KINDS = ("start", "step", "epoch", "checkpoint", "oom_retry", "resume")
"""`Event.kind` values: events of the fine-tune loop (full, lora) and of training as a whole."""
EVENT_STAGES = ("train_start", "trained", "encoder_loaded", "embedded", "prompt_ready", "scoring",
                "generating", "evaluated")
"""`Event.stage` values: milestones of methods without a step loop (classic, linear_probe, zero_shot) and
of the final evaluation."""


@dataclass(frozen=True)
class Event:
    """One line of a run's events.jsonl: what happened, when, and the figures that go with it.

    On disk a JSON object whose keys are the field names below (a field that is None is left out) plus
    the keys of `extra`. The one schema of the file: `RunWriter.event` writes through it, `read_events`
    and the job queue read through it; analytics.ingest.runs reads the same key names from the JSON
    itself (analytics does not import models).
    """

    kind: str | None = None
    """Loop event, one of EVENT_KINDS; None for a stage event."""
    stage: str | None = None
    """Milestone, one of EVENT_STAGES; None for a loop event."""
    time: str | None = None
    """ISO-8601 UTC time the event was written."""
    elapsed_s: float | None = None
    """Seconds since the run writer of this process started."""
    method: str | None = None
    """Training method (start, train_start)."""
    device: str | None = None
    """Device the loop runs on, e.g. 'cpu', 'cuda:0' (start)."""
    total_steps: int | None = None
    """Optimizer steps the run will take (start)."""
    resumed_from_step: int | None = None
    """Step of the checkpoint this attempt continues from (start); None for a fresh start."""
    step: int | None = None
    """Optimizer steps done (step, epoch, checkpoint)."""
    epoch: float | None = None
    """Epochs: a fraction done on step events (0.4), the epoch just finished on epoch events (1, 2...)."""
    loss: float | None = None
    """Mean training loss over the window since the previous step event."""
    lr: float | None = None
    """Learning rate at this step."""
    samples_per_s: float | None = None
    """Training examples per second over the window, all processes together."""
    tokens_per_s: float | None = None
    """Tokens (padding included) per second over the window, all processes together."""
    eta_s: float | None = None
    """Estimated seconds left (step, scoring)."""
    memory_bytes: int | None = None
    """Peak memory so far in bytes: CUDA max allocated on GPUs, else peak resident set size."""
    memory_kind: str | None = None
    """What `memory_bytes` measures: 'cuda_max_allocated' or 'peak_rss'."""
    val_accuracy: float | None = None
    """Validation accuracy, 0..1 (epoch)."""
    val_loss: float | None = None
    """Validation cross-entropy (epoch)."""
    val_macro_f1: float | None = None
    """Validation macro-F1, 0..1, when the method reports it (epoch)."""
    improved: bool | None = None
    """True when this epoch's validation accuracy is the best so far (epoch)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Every other figure by its JSON key: method-specific (to_batch_size, lean_forward, path, n_train...)."""

    @property
    def name(self) -> str | None:
        """`kind`, else `stage`: what the event reports."""
        return self.kind or self.stage

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this event: named fields that are set, then `extra`."""
        named = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        return {**{k: v for k, v in named.items() if v is not None}, **self.extra}

    def to_json(self) -> str:
        """One line of events.jsonl (no newline); numpy numbers are written as floats."""
        return json.dumps(self.to_dict(), default=float)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Event:
        """An event from its JSON object; keys that are not fields go to `extra`. Values are kept as given."""
        named = _EVENT_FIELDS & values.keys()
        return cls(**{k: values[k] for k in named}, extra={k: v for k, v in values.items() if k not in named})

    @classmethod
    def from_json(cls, line: str) -> Event:
        """An event from one line of events.jsonl. Raises ValueError for a line that is not a JSON object."""
        value = json.loads(line)
        if not isinstance(value, dict):
            raise ValueError(f"an event is a JSON object, got {type(value).__name__}")
        return cls.from_dict(value)


_EVENT_FIELDS = frozenset(f.name for f in fields(Event)) - {"extra"}


@dataclass(frozen=True)
class RunResult:
    """What every training method returns; the run folder holds the full record."""

    run_dir: Path
    """The run's folder (config.json, eval.json, predictions.parquet, model/, status.json)."""
    method: str
    """classic, linear_probe, full, lora, zero_shot, sft or sft_lora."""
    model: str
    """Registry name or path of the base model ('tfidf' for classic)."""
    metrics: dict[str, Any]
    """Contents of eval.json (test split)."""
    train_seconds: float
    """Wall time of training (excludes final test evaluation)."""
    state: str = "succeeded"
    """succeeded, failed or cancelled."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Method-specific figures (final_loss, samples_per_s, steps, effective batch size...)."""


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success fsync and rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write `payload` as pretty JSON to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str), encoding="utf-8")


def read_json(path: Path) -> Any:
    """Read a JSON file, raising RunFolderError with the path on failure."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise RunFolderError(f"cannot read {path}: {e}") from e


def make_run_id(config: TrainConfig, now: datetime | None = None) -> str:
    """'20261123-125301-full-all-minilm-l6-v2' style id; safe as a folder name."""
    if config.run_name:
        return _slug(config.run_name)
    now = now or datetime.now(timezone.utc)
    model = "tfidf" if config.method == "classic" else Path(config.model).name
    return f"{now:%Y%m%d-%H%M%S}-{config.method}-{_slug(model)}"


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-.")
    return slug[:80] or "run"


def _basic_environment() -> dict[str, Any]:
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "recorded_at": datetime.now(timezone.utc).isoformat(),
    }


def cpu_environment_info() -> dict[str, Any]:
    """`environment_info` for a run that uses no torch (the classic baseline): library versions from package
    metadata, nothing imported (torch, transformers and peft take seconds of a job's start); the CPU is its
    hardware."""
    from importlib.metadata import PackageNotFoundError, version

    info = _basic_environment()
    packages = (("torch", "torch"), ("transformers", "transformers"), ("accelerate", "accelerate"),
                ("peft", "peft"), ("sklearn", "scikit-learn"))
    for module, package in packages:
        try:
            info[module] = version(package)
        except PackageNotFoundError:
            info[module] = None
    info["hardware"] = f"CPU x{info['cpu_count']}"
    return info


def environment_info() -> dict[str, Any]:
    """Hardware and software facts recorded beside every run."""
    info = _basic_environment()
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["cuda_available"] = torch.cuda.is_available()
        if torch.cuda.is_available():
            info["gpu_name"] = torch.cuda.get_device_name(0)
            info["gpu_count"] = torch.cuda.device_count()
            info["gpu_memory_bytes"] = torch.cuda.get_device_properties(0).total_memory
    except ImportError:
        info["torch"] = None
    for module in ("transformers", "accelerate", "peft", "sklearn"):
        try:
            info[module] = __import__(module).__version__
        except ImportError:
            info[module] = None
    info["hardware"] = info.get("gpu_name") or f"CPU x{info['cpu_count']}"
    return info


class RunWriter:
    """Creates and fills one run folder. Use `RunWriter.create(config)` to start a run."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.started = time.monotonic()

    @classmethod
    def create(cls, config: TrainConfig, run_id: str | None = None, resume: bool = False) -> RunWriter:
        """Make `<runs_dir>/<run_id>/` and write config.json and environment.json.

        Raises RunFolderError if the folder exists and `resume` is False.
        """
        run_dir = Path(config.runs_dir) / (run_id or make_run_id(config))
        if run_dir.exists() and not resume:
            raise RunFolderError(f"run folder {run_dir} already exists; choose another run_name or resume it")
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RunFolderError(f"cannot create run folder {run_dir}: {e.strerror}") from e
        writer = cls(run_dir)
        if not (run_dir / "config.json").exists():
            write_json_atomic(run_dir / "config.json", config.to_dict())
        facts = cpu_environment_info() if config.method == "classic" else environment_info()
        write_json_atomic(run_dir / "environment.json", facts)
        return writer

    def event(self, **figures: Any) -> Event:
        """Append one progress event to events.jsonl: `kind` or `stage`, then its figures (see `Event`).

        `time` and `elapsed_s` are filled in. One short write per line in append mode, flushed: a crash can
        lose only the last partial line, which readers skip. Returns the event written.
        Raises RunFolderError for a kind or stage the schema does not know.
        """
        figures.setdefault("time", datetime.now(timezone.utc).isoformat())
        figures.setdefault("elapsed_s", round(time.monotonic() - self.started, 3))
        event = Event.from_dict(figures)
        _check_event_name(event)
        with open(self.run_dir / EVENTS_FILE, "a", encoding="utf-8") as handle:
            handle.write(event.to_json() + "\n")
            handle.flush()
        return event

    def write_json(self, name: str, payload: Any) -> None:
        write_json_atomic(self.run_dir / name, payload)

    def write_predictions(self, frame: Any) -> None:
        """Write a pandas DataFrame as predictions.parquet atomically."""
        with atomic_path(self.run_dir / "predictions.parquet") as tmp:
            frame.to_parquet(tmp, index=False)

    def finish(self, state: str, **extra: Any) -> None:
        """Write status.json last; `state` is succeeded, failed or cancelled."""
        payload = {"state": state, "finished_at": datetime.now(timezone.utc).isoformat(), **extra}
        write_json_atomic(self.run_dir / STATUS_FILE, payload)


def _check_event_name(event: Event) -> None:
    if (event.kind is None) == (event.stage is None):
        raise RunFolderError(f"an event has a kind or a stage, not both or neither; got kind={event.kind!r}, "
                             f"stage={event.stage!r}")
    if event.kind is not None and event.kind not in EVENT_KINDS:
        raise RunFolderError(f"unknown event kind {event.kind!r}; add it to EVENT_KINDS in "
                             f"models/core/runs.py or use one of {', '.join(EVENT_KINDS)}")
    if event.stage is not None and event.stage not in EVENT_STAGES:
        raise RunFolderError(f"unknown event stage {event.stage!r}; add it to EVENT_STAGES in "
                             f"models/core/runs.py or use one of {', '.join(EVENT_STAGES)}")


def read_events(run_dir: Path) -> list[Event]:
    """All complete events of a run, oldest first (a torn last line is skipped)."""
    path = Path(run_dir) / EVENTS_FILE
    if not path.exists():
        return []
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(Event.from_json(line))
        except ValueError:
            log.warning("skipping torn line in %s", path)
    return events


def run_status(run_dir: Path) -> dict[str, Any] | None:
    """Contents of status.json, or None while the run is unfinished."""
    path = Path(run_dir) / STATUS_FILE
    return read_json(path) if path.exists() else None


def list_runs(runs_dir: Path | str) -> list[Path]:
    """Run folders under `runs_dir` (those holding a config.json), newest first."""
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if (p / "config.json").is_file()]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)
