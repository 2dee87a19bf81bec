"""The process behind one job: `python -m models.jobs.runner <job_dir>` (started, detached, by the queue).

Reads job.json, runs the work, and writes exit.json atomically:
    {"state": "succeeded"|"failed"|"cancelled", "error": str|None, "finished_at": ISO time, "run_id": ...}
then hands its slot on: under the queue lock it marks its own job finished and starts the next queued
job(s) (`queue.tick(job_dir.parent, finished=job_dir)`), so the queue runs on with no app and no browser.
Those jobs are started detached (their own session) and outlive this process (init adopts them). Should
this process die without exit.json (SIGKILL), its watchdog (models.jobs.watchdog, started first) ticks.
Exit code 0 on success, 1 on failure, 143 when cancelled (SIGTERM). A SIGTERM becomes a clean ending:
KeyboardInterrupt is raised in the work, the run's status.json says 'cancelled' and so does exit.json.
Also writes <run_dir>/job.json ({"job_id", "kind", "attempt"}) so the workspace can link runs to jobs
(train, evaluate, bench; a measure job leaves the link to the training job).

kind train: `models.training.train.train(config, resume=..., run_id=...)`; a succeeded run (with a model/
to serve, and the benchmark switched on) then gets a measure job, queued before exit.json so it is first in
line (models.jobs.measure); measure: models.jobs.measure.run_measure_job (inference.json);
endpoint: models.jobs.endpoint.run_endpoint_job; churn: models.jobs.churn.run_churn_job (one run folder per
churn model); evaluate / bench: `models.cli.main([kind, *cli_args])`.
Test seam: $STRATLAB_TRAIN_FUNCTION='module:function' (`settings().train_function`) replaces
models.training.train.train (same signature); tests use it to run a fast fake trainer in a real subprocess.
The log says so whenever it is used.
Under `accelerate launch` every rank runs this module; only rank 0 writes job files.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import subprocess
import sys
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import Any

from analytics.settings import settings
from models.core.config import SFT_METHODS, TrainConfig
from models.core.runs import STATUS_FILE, read_json, write_json_atomic

log = logging.getLogger("models.jobs.runner")

EXIT_CODES = {"succeeded": 0, "failed": 1, "cancelled": 143}


def main(argv: list[str] | None = None) -> int:
    """Run the job in argv[0] (a job folder); return the process exit code."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        usage = "usage: python -m models.jobs.runner <job_dir>  (started by models.jobs.queue)"
        print(usage, file=sys.stderr)  # noqa: T201
        return 2
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    job_dir = Path(args[0])
    job = read_json(job_dir / "job.json")
    if _is_main_rank():
        start_watchdog(job_dir)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    state, error = _run_guarded(job, job_dir.parent)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # finishing: a second SIGTERM must not tear exit.json
    if _is_main_rank():
        _finish(job_dir, job, state, error)
        log.info("job %s ended: %s%s", job_dir.name, state, f" ({error})" if error else "")
        hand_over(job_dir, job)
    return EXIT_CODES[state]


def hand_over(job_dir: Path, job: dict[str, Any]) -> None:
    """Mark this job finished and start the next queued job(s) of its queue (job_dir.parent); never raises.

    The job process sees only its own GPUs (CUDA_VISIBLE_DEVICES set by the queue): the scheduler's own value,
    kept in job.json, is put back first so that the next jobs are spread over every GPU.
    """
    from models.jobs import queue

    try:
        if "scheduler_cuda_visible_devices" in job:
            visible = job["scheduler_cuda_visible_devices"]
            if visible is None:
                os.environ.pop("CUDA_VISIBLE_DEVICES", None)
            else:
                os.environ["CUDA_VISIBLE_DEVICES"] = str(visible)
            queue.cuda_device_count.cache_clear()
        started = [j.job_id for j in queue.tick(job_dir.parent, finished=job_dir)
                   if j.state == "running" and j.job_id != job_dir.name]
        log.info("job %s handed over; running now: %s", job_dir.name, ", ".join(started) or "nothing")
    except Exception:  # noqa: BLE001 - the job is done; the next tick (app, CLI, other job) starts the rest
        log.exception("job %s: starting the next queued job failed", job_dir.name)


def start_watchdog(job_dir: Path) -> None:
    """Start models.jobs.watchdog for this process (Linux): should it die without handing over (SIGKILL,
    out of memory), the watchdog ticks the queue, so the job becomes 'interrupted' and the next one starts.
    Detached in its own session (a kill of the job's group spares it); output to this job's log."""
    if not Path("/proc/self/stat").exists():
        return
    from models.jobs.queue import PROJECT_ROOT, read_proc_start

    stat = read_proc_start(os.getpid())
    command = [sys.executable, "-m", "models.jobs.watchdog", str(job_dir), str(os.getpid()),
               str(stat[1]) if stat else "-"]
    try:
        subprocess.Popen(command, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL, start_new_session=True,
                         close_fds=True)
    except OSError as e:
        log.warning("job %s: no watchdog (%s); a killed job waits for the next tick", job_dir.name, e)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _run_guarded(job: dict[str, Any], jobs_dir: Path) -> tuple[str, str | None]:
    """(state, error) of running the job; never raises."""
    try:
        return _run(job, jobs_dir), None
    except KeyboardInterrupt:
        return "cancelled", "cancelled by the user"
    except (Exception, SystemExit) as e:  # noqa: BLE001 - every failure must reach exit.json
        traceback.print_exc()
        return "failed", f"{type(e).__name__}: {e}"


def _run(job: dict[str, Any], jobs_dir: Path) -> str:
    if job["kind"] == "train":
        return run_train_job(job, jobs_dir)
    if job["kind"] == "measure":
        from models.jobs.measure import run_measure_job

        return run_measure_job(job)
    if job["kind"] == "endpoint":
        from models.jobs.endpoint import run_endpoint_job

        return run_endpoint_job(job)
    if job["kind"] == "churn":
        from models.jobs.churn import run_churn_job

        return run_churn_job(job)
    from models import cli
    code = cli.main([job["kind"], *job.get("cli_args", [])])
    return "succeeded" if not code else "failed"


def run_train_job(job: dict[str, Any], jobs_dir: Path | None = None) -> str:
    """Train the job's config into its run folder; a succeeded run then gets its measure job.

    The inference benchmark (inference.json) is not timed here, next to our own training processes: the run
    is measured by a measure job (models.jobs.measure), queued into `jobs_dir` (this job's queue) before this
    job reports its end, which the scheduler starts first and alone. Queuing it never fails the job (main
    rank only; skipped when the benchmark is off or the run has no model/). Returns the run's state.
    """
    config = TrainConfig.from_dict(job["config"])
    result = train_function()(config, resume=bool(job.get("resume")), run_id=job["run_id"])
    state = str(getattr(result, "state", "succeeded"))
    # reply writers time their own prefill and decode while judging (eval.json); measure jobs time classifiers
    if (state == "succeeded" and jobs_dir is not None and _is_main_rank()
            and config.method not in SFT_METHODS):
        queue_measurement(Path(result.run_dir), jobs_dir)
    return state


def queue_measurement(run_dir: Path, jobs_dir: Path) -> None:
    """Queue the measure job of a run that has just succeeded; logged, never raised."""
    from models.jobs.measure import submit_measure
    from models.serving.benchmark_record import bench_seconds

    if bench_seconds() <= 0 or not (run_dir / "model").is_dir():
        log.info("run %s: no measure job (benchmark off or no model/)", run_dir.name)
        return
    try:
        info = submit_measure(run_dir, jobs_dir, reason="after training")
    except Exception as e:  # noqa: BLE001 - a succeeded run stays succeeded; re-measure it from Compare
        log.warning("run %s: measure job not queued: %s: %s", run_dir.name, type(e).__name__, e)
        return
    log.info("run %s: measure job %s queued", run_dir.name, info.job_id)


def train_function() -> Callable[..., Any]:
    """models.training.train.train, or `settings().train_function` ($STRATLAB_TRAIN_FUNCTION, tests)."""
    spec = settings().train_function
    if not spec:
        from models.training.train import train

        return train
    module_name, _, name = spec.partition(":")
    log.warning("using STRATLAB_TRAIN_FUNCTION=%s instead of models.training.train.train (test seam)", spec)
    return getattr(importlib.import_module(module_name), name)


def _is_main_rank() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def _finish(job_dir: Path, job: dict[str, Any], state: str, error: str | None) -> None:
    """Mark an unfinished run folder as cancelled, link the run to its job, then write exit.json."""
    now = datetime.now(timezone.utc).isoformat()
    run_dir = Path(job["config"]["runs_dir"]) / job["run_id"]
    if run_dir.is_dir() and job["kind"] != "measure":  # a measure job's run is the training's, finished
        if state == "cancelled" and not (run_dir / STATUS_FILE).exists():
            write_json_atomic(run_dir / STATUS_FILE,
                              {"state": "cancelled", "finished_at": now, "error": error})
        write_json_atomic(run_dir / "job.json", {"job_id": job_dir.name, "kind": job["kind"],
                                                 "attempt": job.get("attempts")})
    write_json_atomic(job_dir / "exit.json", {"state": state, "error": error, "finished_at": now,
                                              "run_id": job["run_id"]})


if __name__ == "__main__":
    sys.exit(main())
