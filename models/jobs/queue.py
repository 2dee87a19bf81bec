"""A persistent job queue on the file system: training, evaluation, benchmarks and measurements as detached
processes.

Jobs outlive the app: each runs as `python -m models.jobs.runner <job_dir>` in its own session (its own
process group, no pipes to the app), so closing the browser, reloading or restarting Streamlit never stops
one; a page that comes back calls `tick()` and `list_jobs()` and reattaches. No Streamlit, no DuckDB, no
torch at import.

The queue runs itself: a job process that ends writes exit.json, then calls `tick(finished=<its job_dir>)`
under the lock, which marks it finished and starts the next queued job(s) (detached, adopted by init when it
exits). A job process that dies without exit.json (SIGKILL, out of memory) is noticed by its watchdog
(models.jobs.watchdog, ~2 s), which ticks for it: the job becomes interrupted and the next one starts; the
app (once per server process and on every page), `python -m models jobs list` and any other finishing job
tick too. Kinds: train, evaluate, bench (`submit`) and measure (models.jobs.measure: an exclusive
latency/throughput measurement of a succeeded run, queued after each succeeded training job; scheduling
rule in models.jobs.scheduler).

Layout of `<jobs_dir>/<job_id>/` (jobs_dir: argument, else $STRATLAB_JOBS_DIR, else <project>/data/jobs):
    job.json    what to run: kind, config (TrainConfig dict, runs_dir made absolute), run_id, cli_args,
                created_at, attempts (processes started so far), resume (continue the run folder)
    state.json  state, timestamps, error, pid-independent facts; every state change goes through `transition`
    pid.json    pid, process start time (clock ticks since boot from /proc/<pid>/stat, defeats pid reuse),
                command
    log.txt     the process's stdout + stderr, appended across attempts
    exit.json   written atomically by models.jobs.runner as its last act: {"state", "error", "finished_at"}
Every JSON file is written atomically (temporary file + rename): a reader never sees half a file.

States and allowed transitions (`TRANSITIONS`; anything else raises InvalidTransitionError):
    queued      -> running (tick starts it) | cancelled (cancel)
    running     -> succeeded | failed | cancelled (exit.json or the run's status.json says so)
                 | interrupted (the process is gone and left no exit.json and no status.json)
                 | cancelled (cancel: SIGTERM to the process group, SIGKILL after a grace period)
    interrupted -> queued (resume: same run_id, resume=True) | cancelled (cancel: dismiss it)
    failed      -> queued (resume, only when the run folder holds a checkpoint)
    cancelled   -> queued (resume, only when the run folder holds a checkpoint)
    succeeded   -> (final)

Concurrency: at most `max_concurrent_jobs()` running at once (a measure job only alone): $STRATLAB_MAX_JOBS if
set; else one job per $STRATLAB_GPUS_PER_JOB CUDA GPUs (default 1, each job pinned with CUDA_VISIBLE_DEVICES);
1 on CPU. A job given several GPUs runs under `accelerate launch --multi_gpu --num_processes N` (DDP).
`tick()` holds an fcntl lock on <jobs_dir>/.lock, so any number of app threads, sessions and processes may
call it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from analytics.errors import SettingsError
from analytics.settings import Settings, settings
from models.core.config import TrainConfig
from models.core.runs import STATUS_FILE, Event, make_run_id, read_events, write_json_atomic
from models.errors import ConfigError, InvalidTransitionError, JobError, JobNotFoundError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one app process, a thread lock is all we can do
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SUBMIT_KINDS = ("train", "evaluate", "bench")
"""Kinds `submit` accepts; measure jobs are queued by models.jobs.measure.submit_measure."""
MEASURE_KIND = "measure"
SINGLE_PROCESS_KINDS = (MEASURE_KIND, "churn")
"""Kinds whose process runs alone on at most one device (models.jobs.churn trains small tabular models)."""
"""An exclusive step: the scheduler starts it only when no other job runs, and starts nothing while it runs
(models.jobs.scheduler.pick_starts)."""
KINDS = (*SUBMIT_KINDS, MEASURE_KIND)
STATES = ("queued", "running", "succeeded", "failed", "cancelled", "interrupted")
TRANSITIONS: dict[str, frozenset[str]] = {
    "queued": frozenset({"running", "cancelled"}),
    "running": frozenset({"succeeded", "failed", "cancelled", "interrupted"}),
    "interrupted": frozenset({"queued", "cancelled"}),
    "failed": frozenset({"queued"}),
    "cancelled": frozenset({"queued"}),
    "succeeded": frozenset(),
}
"""Allowed state changes; `transition` refuses every other one."""
FINAL_STATES = frozenset({"succeeded", "failed", "cancelled"})
"""States a finished process reports (exit.json / status.json)."""
ACTIVE_STATES = frozenset({"queued", "running"})

CANCEL_GRACE_S = 10.0
"""Seconds between SIGTERM and SIGKILL when cancelling."""
START_TIMEOUT_S = 60.0
"""A 'running' job without pid.json this long after it started was never launched (the app died mid-start)."""
INTERRUPTED_MESSAGE = ("the job's process ended without reporting a result (killed, out of host memory, "
                       "or the machine restarted); resume it to continue from the last checkpoint")

_JOB_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}
"""Processes this app process started: kept so that they can be reaped (no zombies)."""
_THREAD_LOCK = threading.Lock()


@dataclass(frozen=True)
class JobInfo:
    """A read-only snapshot of one job, for views."""

    job_id: str
    """Folder name under the jobs dir, e.g. '20261123-125301-train-3fa9c1'."""
    kind: str
    """train, evaluate or bench."""
    state: str
    """queued, running, succeeded, failed, cancelled or interrupted."""
    run_id: str
    """Run folder name under config['runs_dir']."""
    run_dir: Path
    """Absolute path of the run folder (may not exist yet)."""
    job_dir: Path
    """The job's folder."""
    config: dict[str, Any]
    """The TrainConfig as a dict (runs_dir absolute)."""
    created_at: str
    """ISO-8601 UTC time of submission."""
    attempts: int
    """Processes started so far (1 after the first start, +1 per resume)."""
    resume: bool
    """True when the next start continues the run folder from its checkpoint."""
    started_at: str | None = None
    """ISO-8601 UTC start of the current attempt."""
    finished_at: str | None = None
    """ISO-8601 UTC time the job reached a final or interrupted state."""
    error: str | None = None
    """Why the job failed, was cancelled or interrupted."""
    pid: int | None = None
    """Process id of the current attempt (None before the first start)."""
    cancel_requested: bool = False
    """cancel() has signalled the process and waits for it to end."""
    resumable: bool = False
    """resume() would accept this job now."""
    history: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    """(state, ISO time) of every state the job went through."""

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES


@dataclass(frozen=True)
class LossPoint:
    """The training loss of one logged window (a step event)."""

    step: int
    """Optimizer steps done."""
    loss: float
    """Mean training loss over the window."""


@dataclass(frozen=True)
class EpochPoint:
    """Validation figures at the end of one epoch (an epoch event)."""

    epoch: int
    """The epoch just finished (1, 2...)."""
    step: int | None
    """Optimizer steps done at its end."""
    val_accuracy: float | None
    """Validation accuracy, 0..1."""
    val_loss: float | None
    """Validation cross-entropy."""
    val_macro_f1: float | None
    """Validation macro-F1, 0..1, when the method reports it."""


@dataclass(frozen=True)
class JobProgress:
    """Latest figures of a job's run (from its events.jsonl) for a progress bar and live curves."""

    state: str
    """The job's state (queued, running, succeeded...)."""
    stage: str | None
    """Kind or stage of the newest event ('step', 'epoch', 'train_start'...); None before the first."""
    step: int | None
    """Optimizer steps done at the newest step event."""
    total_steps: int | None
    """Steps the run will take (from the start event)."""
    fraction: float | None
    """Share done, 0..1: 1.0 once succeeded; None while unknown (no steps or no total yet)."""
    epoch: float | None
    """Epochs done at the newest step event (fractional)."""
    loss: float | None
    """Training loss at the newest step event."""
    eta_s: float | None
    """Estimated seconds left at the newest step event."""
    samples_per_s: float | None
    """Training throughput at the newest step event."""
    memory_bytes: int | None
    """Peak memory in bytes at the newest step event."""
    val_accuracy: float | None
    """Validation accuracy of the newest epoch event."""
    loss_curve: tuple[LossPoint, ...]
    """Every step event's loss, oldest first."""
    epochs: tuple[EpochPoint, ...]
    """Every epoch event's validation figures, oldest first."""
    events: int
    """Complete events in the run's events.jsonl so far."""
    tokens_per_s: float | None = None
    """Training tokens per second at the newest step event (SFT runs report it; their examples differ in
    length, so samples/s says less)."""


# ------------------------------------------------------------------------------------------ paths, io


def resolve_jobs_dir(jobs_dir: Path | str | None = None) -> Path:
    """`jobs_dir`, else `settings().jobs_dir` ($STRATLAB_JOBS_DIR, else data/jobs); created if missing."""
    chosen = jobs_dir or _settings().jobs_dir
    root = Path(chosen).expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    return root


def _job_dir(job_id: str, jobs_dir: Path | str | None) -> Path:
    if not isinstance(job_id, str) or not _JOB_ID_RE.match(job_id) or ".." in job_id:
        raise JobNotFoundError(f"{job_id!r} is not a job id; pick one from list_jobs()")
    path = resolve_jobs_dir(jobs_dir) / job_id
    if not (path / "job.json").is_file() or not (path / "state.json").is_file():
        raise JobNotFoundError(f"no job {job_id!r} in {path.parent}; pick one from list_jobs()")
    return path


def _read(path: Path) -> dict[str, Any] | None:
    """A JSON object file, or None if it is missing or unreadable (a half-created job)."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    """Exclusive lock over the jobs dir: threads of this process, then other processes (fcntl.flock)."""
    with _THREAD_LOCK:
        if fcntl is None:  # pragma: no cover
            yield
            return
        with open(root / ".lock", "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


# ------------------------------------------------------------------------------------------ state machine


def check_transition(current: str, new: str) -> None:
    """Raise InvalidTransitionError unless `current -> new` is in TRANSITIONS."""
    allowed = TRANSITIONS.get(current)
    if allowed is None or new not in STATES:
        raise InvalidTransitionError(f"unknown job state {current!r} or {new!r}; "
                                     f"states are {', '.join(STATES)}")
    if new not in allowed:
        choices = ", ".join(sorted(allowed)) or "nothing (final state)"
        raise InvalidTransitionError(f"a {current} job cannot become {new}; "
                                     f"from {current} it can become: {choices}")


def transition(job_dir: Path, new: str, **fields: Any) -> dict[str, Any]:
    """The one writer of state changes: check the table, then rewrite state.json atomically with `fields`."""
    state = _read(job_dir / "state.json")
    if state is None:
        raise JobNotFoundError(f"{job_dir} has no readable state.json")
    check_transition(state["state"], new)
    now = _now()
    history = [*state.get("history", []), [new, now]]
    state.update(fields, state=new, updated_at=now, history=history)
    write_json_atomic(job_dir / "state.json", state)
    log.info("job %s: %s", job_dir.name, new)
    return state


def _update_state(job_dir: Path, **fields: Any) -> None:
    """Change fields of state.json other than the state itself."""
    state = _read(job_dir / "state.json") or {}
    if "state" in fields:
        raise InvalidTransitionError("state changes go through transition()")
    state.update(fields, updated_at=_now())
    write_json_atomic(job_dir / "state.json", state)


# ------------------------------------------------------------------------------------------ submit


def submit(config: TrainConfig | Mapping[str, Any], kind: str = "train", jobs_dir: Path | str | None = None,
           *, cli_args: tuple[str, ...] = ()) -> JobInfo:
    """Validate `config` and queue a job; nothing is written when validation fails.

    Arguments:
        config: a TrainConfig, or a dict of its fields (validated here).
        kind: train (models.training.train.train), evaluate or bench (models.cli with `cli_args`).
        jobs_dir: the queue folder; None for $STRATLAB_JOBS_DIR or data/jobs.
        cli_args: evaluate/bench only: arguments after the subcommand of `python -m models`.
    Raises ConfigError (bad config, with the field and the fix) or JobError (run name already used).
    The job starts at the next `tick()`. Ids are unique even for simultaneous submits (exclusive mkdir).
    """
    config = _validated_config(config)
    if kind not in SUBMIT_KINDS:
        raise ConfigError(f"job kind must be one of {', '.join(SUBMIT_KINDS)}; got {kind!r} "
                          "(measure jobs: models.jobs.measure.submit_measure)")
    config = config.replace(runs_dir=str(Path(config.runs_dir).expanduser().resolve()))
    root = resolve_jobs_dir(jobs_dir)
    created = datetime.now(timezone.utc)
    with _locked(root):
        job_dir = _make_job_dir(root, kind, created)
        run_id = _choose_run_id(root, config, created, suffix=job_dir.name.rsplit("-", 1)[-1])
        job = {"kind": kind, "config": config.to_dict(), "run_id": run_id, "cli_args": list(cli_args),
               "created_at": created.isoformat(), "attempts": 0, "resume": False}
        write_json_atomic(job_dir / "job.json", job)
        write_json_atomic(job_dir / "state.json", {"state": "queued", "updated_at": created.isoformat(),
                                                   "history": [["queued", created.isoformat()]]})
    log.info("queued job %s (run %s)", job_dir.name, run_id)
    return _info(job_dir)


def _validated_config(config: TrainConfig | Mapping[str, Any]) -> TrainConfig:
    if isinstance(config, TrainConfig):
        return TrainConfig.from_dict(config.to_dict())  # re-check: cheap, and catches hand-built objects
    if isinstance(config, Mapping):
        return TrainConfig.from_dict(dict(config))
    raise ConfigError(f"config must be a TrainConfig or a dict of its fields, got {type(config).__name__}")


def _make_job_dir(root: Path, kind: str, created: datetime) -> Path:
    """Create <root>/<time>-<kind>-<random> with an exclusive mkdir (fails, and retries, if it exists)."""
    for _ in range(100):
        job_dir = root / f"{created:%Y%m%d-%H%M%S}-{kind}-{secrets.token_hex(3)}"
        try:
            job_dir.mkdir()
        except FileExistsError:
            continue
        return job_dir
    raise JobError(f"cannot create a unique job folder in {root}; is it writable?")


def _choose_run_id(root: Path, config: TrainConfig, created: datetime, suffix: str) -> str:
    """config.run_name (refused if any job or run folder has it), else '<time>-<method>-<model>-<suffix>'."""
    if not config.run_name:
        return f"{make_run_id(config, created)}-{suffix}"
    run_id = make_run_id(config)
    taken = (Path(config.runs_dir) / run_id).exists() or any(
        (_read(d / "job.json") or {}).get("run_id") == run_id for d in root.iterdir() if d.is_dir())
    if taken:
        raise JobError(f"run name {config.run_name!r} is already used by another job or run; choose another "
                       f"run_name, or leave it empty for an automatic one")
    return run_id


# ------------------------------------------------------------------------------------------ views


def list_jobs(jobs_dir: Path | str | None = None) -> list[JobInfo]:
    """Every job, newest first. Folders still being created (no job.json/state.json yet) are skipped."""
    root = resolve_jobs_dir(jobs_dir)
    infos = []
    for job_dir in root.iterdir():
        if job_dir.is_dir() and (job_dir / "job.json").is_file() and (job_dir / "state.json").is_file():
            try:
                infos.append(_info(job_dir))
            except JobError:
                log.warning("skipping unreadable job folder %s", job_dir)
    return sorted(infos, key=lambda j: (j.created_at, j.job_id), reverse=True)


def get_job(job_id: str, jobs_dir: Path | str | None = None) -> JobInfo:
    """One job; raises JobNotFoundError for unknown ids."""
    return _info(_job_dir(job_id, jobs_dir))


def _info(job_dir: Path) -> JobInfo:
    job, state = _read(job_dir / "job.json"), _read(job_dir / "state.json")
    if job is None or state is None:
        raise JobNotFoundError(f"{job_dir} is not a complete job folder")
    pid = (_read(job_dir / "pid.json") or {}).get("pid")
    run_dir = Path(job["config"]["runs_dir"]) / job["run_id"]
    return JobInfo(
        job_id=job_dir.name, kind=job["kind"], state=state["state"], run_id=job["run_id"], run_dir=run_dir,
        job_dir=job_dir, config=dict(job["config"]), created_at=job["created_at"],
        attempts=int(job["attempts"]), resume=bool(job.get("resume")),
        started_at=state.get("started_at"), finished_at=state.get("finished_at"),
        error=state.get("error"), pid=pid, cancel_requested=bool(state.get("cancel_requested")),
        resumable=_resumable(state["state"], run_dir),
        history=tuple((s, t) for s, t in state.get("history", [])),
    )


def has_checkpoint(run_dir: Path) -> bool:
    """True when run_dir/checkpoints/step-N/state.json exists (a resumable checkpoint)."""
    root = Path(run_dir) / "checkpoints"
    return root.is_dir() and any((p / "state.json").is_file() for p in root.glob("step-*"))


def _resumable(state: str, run_dir: Path) -> bool:
    if state == "interrupted":
        return True
    return state in ("failed", "cancelled") and has_checkpoint(run_dir)


# ------------------------------------------------------------------------------------------ processes


def read_proc_start(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks since boot) from /proc/<pid>/stat; None if unreadable."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # comm may hold spaces and ')'; fields[0] is field 3
    return fields[0], int(fields[19])  # state (field 3) and starttime (field 22)


def reap(pid: int) -> None:
    """Collect the exit status of a child of ours so it does not stay a zombie; harmless otherwise."""
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is not None:
            _CHILDREN.pop(pid, None)
        return
    try:
        os.waitpid(pid, os.WNOHANG)
    except (ChildProcessError, OSError):
        pass  # not our child: its parent (or init) reaps it


def process_alive(pid: int, start_time: int | None) -> bool:
    """Is the process `pid` that started at `start_time` still running? Zombies and reused pids count as
    dead."""
    reap(pid)
    stat = read_proc_start(pid)
    if stat is None:
        if Path("/proc/self/stat").exists():
            return False  # Linux: no /proc entry means no process
        return _signal_zero(pid)  # portable fallback, cannot detect pid reuse
    letter, started = stat
    if letter in ("Z", "X", "x"):
        return False
    return start_time is None or started == start_time


def _signal_zero(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Send `sig` to the process group of job process `pid` (each job leads its own group); a group that
    is gone or not ours is ignored."""
    try:
        os.killpg(pid, sig)  # start_new_session made the job its own group leader: pgid == pid
    except (ProcessLookupError, PermissionError):
        pass


@lru_cache(maxsize=1)
def cuda_device_count() -> int:
    """CUDA GPUs visible to this process; 0 without CUDA.

    On Linux read from /proc/driver/nvidia/gpus (no NVIDIA kernel driver: no CUDA), limited by
    CUDA_VISIBLE_DEVICES, so the app's scheduler never pays for importing torch; elsewhere ask torch once.
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return 0
    if sys.platform.startswith("linux"):
        gpus = Path("/proc/driver/nvidia/gpus")
        count = len(list(gpus.iterdir())) if gpus.is_dir() else 0
        return min(count, len(visible.split(","))) if visible and count else count
    try:
        import torch

        return int(torch.cuda.device_count())
    except Exception:  # noqa: BLE001 - a broken driver means no usable GPU, not a crash of the queue
        return 0


def gpus_per_job() -> int:
    """$STRATLAB_GPUS_PER_JOB (default 1): GPUs each job gets; above 1 the job runs under accelerate (DDP)."""
    return _settings().gpus_per_job


def max_concurrent_jobs() -> int:
    """$STRATLAB_MAX_JOBS if set; else CUDA GPUs // gpus_per_job(); at least 1 (CPU)."""
    max_jobs = _settings().max_jobs
    if max_jobs is not None:
        return max_jobs
    return max(1, cuda_device_count() // gpus_per_job())


def _settings() -> Settings:
    """analytics.settings.settings(); a bad STRATLAB_* value raises JobError (the queue's own error)."""
    try:
        return settings()
    except SettingsError as e:
        raise JobError(str(e)) from e


def build_command(job_dir: Path, num_processes: int = 1, *, python: str = sys.executable,
                  main_process_port: int = 29500) -> list[str]:
    """The argv that runs a job: the job runner, or the same under `accelerate launch` for DDP over GPUs."""
    runner = ["-m", "models.jobs.runner", str(job_dir)]
    if num_processes <= 1:
        return [python, *runner]
    return [python, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(num_processes),
            "--num_machines", "1", "--main_process_port", str(main_process_port), *runner]


def _child_env(job_id: str, gpus: list[int]) -> dict[str, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1", STRATLAB_JOB_ID=job_id)
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in gpus)
    return env


# ------------------------------------------------------------------------------------------ scheduler


def tick(jobs_dir: Path | str | None = None, *, max_jobs: int | None = None,
         finished: Path | None = None) -> list[JobInfo]:
    """Refresh running jobs, then start queued ones up to the concurrency limit (models.jobs.scheduler:
    measure jobs first and alone, then the others oldest first).

    Running jobs whose process ended take the state in exit.json (or the run's status.json); a process that
    vanished without either becomes `interrupted`. Safe to call from many threads and processes at once.
    finished: the job folder of the calling process itself, which has just written its exit.json and hands
    its slot on (models.jobs.runner); its state is settled from exit.json although the process still lives.
    Returns list_jobs() afterwards.
    """
    from models.jobs.scheduler import pick_starts

    root = resolve_jobs_dir(jobs_dir)
    limit = max_jobs or max_concurrent_jobs()
    with _locked(root):
        if finished is not None:
            _settle_own(Path(finished))
        infos = list_jobs(root)
        for info in infos:
            if info.state == "running":
                _refresh(info.job_dir)
        infos = list_jobs(root)
        running = [i for i in infos if i.state == "running"]
        queued = [i for i in infos if i.state == "queued"]
        for info in pick_starts(running, queued, limit):
            _start(info.job_dir, _free_gpus(running))
            running = [i for i in list_jobs(root) if i.state == "running"]
    return list_jobs(root)


def _settle_own(job_dir: Path) -> None:
    """The calling job process's own final state from its exit.json (call with the lock held)."""
    state = (_read(job_dir / "state.json") or {}).get("state")
    exit_info = _read(job_dir / "exit.json")
    if state == "running" and exit_info and exit_info.get("state") in FINAL_STATES:
        transition(job_dir, exit_info["state"], finished_at=_now(), error=exit_info.get("error"))


def _refresh(job_dir: Path) -> None:
    """Move a running job to its final state if its process has ended (call with the lock held)."""
    state = _read(job_dir / "state.json") or {}
    pid_info = _read(job_dir / "pid.json")
    if pid_info is None:
        started = datetime.fromisoformat(state.get("started_at") or _now())
        if (datetime.now(timezone.utc) - started).total_seconds() < START_TIMEOUT_S:
            return  # being started right now
    elif process_alive(int(pid_info["pid"]), pid_info.get("start_time")):
        return
    new, error = _outcome(job_dir, state)
    transition(job_dir, new, finished_at=_now(), error=error)


def _outcome(job_dir: Path, state: dict[str, Any]) -> tuple[str, str | None]:
    """Final state of an ended process: exit.json, else the run's status.json, else cancelled/interrupted."""
    exit_info = _read(job_dir / "exit.json")
    if exit_info and exit_info.get("state") in FINAL_STATES:
        return exit_info["state"], exit_info.get("error")
    job = _read(job_dir / "job.json") or {}
    measuring = job.get("kind") == MEASURE_KIND  # the run's status.json is the training's, not this job's
    status = _read(Path(job["config"]["runs_dir"]) / job["run_id"] / STATUS_FILE) if job and not measuring \
        else None
    if status and status.get("state") in FINAL_STATES:
        return status["state"], status.get("error")
    if state.get("cancel_requested"):
        return "cancelled", "cancelled by the user"
    return "interrupted", INTERRUPTED_MESSAGE


def _free_gpus(running: list[JobInfo]) -> list[int]:
    """GPU indices for the next job: gpus_per_job() not used by running jobs; [] on CPU."""
    count = cuda_device_count()
    if count == 0:
        return []
    used = {g for info in running for g in (_read(info.job_dir / "state.json") or {}).get("gpus", [])}
    free = [g for g in range(count) if g not in used]
    return free[: gpus_per_job()] if len(free) >= gpus_per_job() else free[:1]


def _start(job_dir: Path, gpus: list[int]) -> None:
    """Launch the job's process detached (new session, output to log.txt) and record pid.json.

    job.json keeps the scheduler's own CUDA_VISIBLE_DEVICES ('scheduler_cuda_visible_devices'), so that the
    job process, which sees only its own GPUs, can schedule the next jobs over all of them when it ends.
    """
    job = _read(job_dir / "job.json") or {}
    job["attempts"] = int(job.get("attempts", 0)) + 1
    job["scheduler_cuda_visible_devices"] = os.environ.get("CUDA_VISIBLE_DEVICES")
    if job.get("kind") in SINGLE_PROCESS_KINDS:
        gpus = gpus[:1]  # one process on one device: a measurement or a churn job never runs under DDP
    write_json_atomic(job_dir / "job.json", job)
    command = build_command(job_dir, num_processes=max(1, len(gpus)),
                            main_process_port=29500 + (gpus[0] if gpus else 0))
    transition(job_dir, "running", started_at=_now(), finished_at=None, error=None, gpus=gpus,
               cancel_requested=False)
    with open(job_dir / "log.txt", "ab") as log_file:
        log_file.write(f"--- attempt {job['attempts']} started {_now()}: {' '.join(command)}\n".encode())
        log_file.flush()
        try:
            child = subprocess.Popen(command, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL, stdout=log_file,
                                     stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
                                     env=_child_env(job_dir.name, gpus))
        except OSError as e:
            transition(job_dir, "failed", finished_at=_now(), error=f"could not start the job process: {e}")
            return
    _CHILDREN[child.pid] = child
    stat = read_proc_start(child.pid)
    write_json_atomic(job_dir / "pid.json", {"pid": child.pid, "start_time": stat[1] if stat else None,
                                             "command": command, "started_at": _now()})


# ------------------------------------------------------------------------------------------ cancel, resume


def cancel(job_id: str, jobs_dir: Path | str | None = None, *, grace_s: float = CANCEL_GRACE_S) -> JobInfo:
    """Cancel a job. Queued or interrupted: marked cancelled. Running: SIGTERM to its process group (the
    runner ends cleanly as 'cancelled'), SIGKILL if it is still alive after `grace_s` seconds.

    Blocks at most about grace_s + 5 s. Raises InvalidTransitionError for finished jobs.
    """
    job_dir = _job_dir(job_id, jobs_dir)
    root = job_dir.parent
    with _locked(root):
        state = (_read(job_dir / "state.json") or {}).get("state")
        if state != "running":
            transition(job_dir, "cancelled", finished_at=_now(), error="cancelled by the user")
            return _info(job_dir)
        _update_state(job_dir, cancel_requested=True)
        pid_info = _read(job_dir / "pid.json")
    if pid_info is not None:
        _terminate(int(pid_info["pid"]), pid_info.get("start_time"), grace_s)
    with _locked(root):
        if (_read(job_dir / "state.json") or {}).get("state") == "running":
            _refresh(job_dir)
    return _info(job_dir)


def _terminate(pid: int, start_time: int | None, grace_s: float) -> None:
    """SIGTERM the group, wait up to grace_s, then SIGKILL it and wait up to 5 s more."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        if not process_alive(pid, start_time):
            return
        signal_group(pid, sig)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and process_alive(pid, start_time):
            time.sleep(0.05)


def resume(job_id: str, jobs_dir: Path | str | None = None) -> JobInfo:
    """Requeue an interrupted job, or a failed/cancelled one whose run folder holds a checkpoint, to continue
    the same run folder (same run_id, resume=True) at the next tick().

    Raises InvalidTransitionError for other states, JobError when there is no checkpoint to resume from.
    """
    job_dir = _job_dir(job_id, jobs_dir)
    with _locked(job_dir.parent):
        info = _info(job_dir)
        check_transition(info.state, "queued")
        if not info.resumable:
            raise JobError(f"job {job_id} {info.state} before writing its first checkpoint, "
                           "so there is nothing to resume; submit it again "
                           "(set checkpoint_every_steps to checkpoint more often)")
        job = _read(job_dir / "job.json") or {}
        write_json_atomic(job_dir / "job.json", {**job, "resume": True})
        for name in ("exit.json", "pid.json"):
            (job_dir / name).unlink(missing_ok=True)
        transition(job_dir, "queued", started_at=None, finished_at=None, error=None, cancel_requested=False)
    return _info(job_dir)


# ------------------------------------------------------------------------------------------ logs, progress


def tail_log(job_id: str, lines: int = 50, jobs_dir: Path | str | None = None) -> str:
    """The last `lines` lines of the job's log.txt ('' before the first start)."""
    path = _job_dir(job_id, jobs_dir) / "log.txt"
    if not path.is_file():
        return ""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - 256 * 1024))  # the tail is enough; logs of long runs can be large
        text = handle.read().decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def progress(job_id: str, jobs_dir: Path | str | None = None) -> JobProgress:
    """Latest figures from the run's events.jsonl for a progress bar and live curves (see `JobProgress`).

    Raises JobNotFoundError for an unknown job id.
    """
    info = get_job(job_id, jobs_dir)
    events = read_events(info.run_dir)
    start, step = _last(events, "start"), _last(events, "step")
    epochs = tuple(_epoch_point(e) for e in events if e.kind == "epoch")
    done, total = step.step, start.total_steps
    if info.state == "succeeded":
        fraction: float | None = 1.0
    else:
        fraction = min(1.0, done / total) if isinstance(done, int) and total else None
    return JobProgress(
        state=info.state, stage=events[-1].name if events else None, step=done, total_steps=total,
        fraction=fraction, epoch=step.epoch, loss=step.loss, eta_s=step.eta_s,
        samples_per_s=step.samples_per_s, memory_bytes=step.memory_bytes,
        val_accuracy=epochs[-1].val_accuracy if epochs else None,
        loss_curve=tuple(LossPoint(e.step, e.loss) for e in events
                         if e.kind == "step" and e.loss is not None and e.step is not None),
        epochs=epochs, events=len(events), tokens_per_s=step.tokens_per_s)


def _last(events: list[Event], kind: str) -> Event:
    """The newest event of `kind`, else an empty event (every figure None)."""
    return next((e for e in reversed(events) if e.kind == kind), Event())


def _epoch_point(event: Event) -> EpochPoint:
    return EpochPoint(int(event.epoch or 0), event.step, event.val_accuracy, event.val_loss,
                      event.val_macro_f1)


_FIXES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p, re.IGNORECASE), fix) for p, fix in (
    (r"out of memory|OutOfMemoryError|CUBLAS_STATUS_ALLOC_FAILED|Cannot allocate memory",
     "Out of memory: halve batch_size (or lower max_length), or pick a smaller model or the LoRA method."),
    (r"DatasetNotFoundError|dataset .*(not found|cannot be found)|no such dataset|not in the mirror",
     "Dataset not available offline: set STRATLAB_DATASET_MIRROR to the folder holding the datasets, "
     "or upload the file on the Data page."),
    (r"ModelNotFoundError|is not a local folder and is not a valid model identifier|model .* not found",
     "Model not found: pick a model from the registry (e.g. all-MiniLM-L6-v2) or a local folder; "
     "hub ids need a network connection."),
    (r"column .*not found|not a column|KeyError: .*column|no column",
     "Column not found: choose the text and label columns that exist in the file "
     "(check the column mapping)."),
    (r"DeviceError|CUDA is not available|no CUDA GPUs|Torch not compiled with CUDA",
     "The requested GPU is not available here: set device to auto or cpu."),
    (r"loss became (nan|inf)",
     "Training diverged: lower learning_rate (e.g. divide it by 10) and keep max_grad_norm above 0."),
    (r"No space left on device",
     "The disk is full: delete old runs or checkpoints under data/runs, then resume."),
    (r"DataValidationError",
     "The data failed validation: fix the problems listed above in the file (or its column mapping)."),
))


def likely_fix(log_text: str) -> str | None:
    """A one-line fix for the most common failures found in a job log, or None if none is recognised."""
    tail = "\n".join(log_text.splitlines()[-200:])
    for pattern, fix in _FIXES:
        if pattern.search(tail):
            return fix
    return None
