"""Measure jobs: the latency and throughput of a succeeded run, timed as an exclusive step of the queue.

A training job that succeeds queues one for its run (models.jobs.runner); `submit_measure` queues one for
any succeeded run (the Compare page's "Re-measure"). The scheduler (models.jobs.scheduler) starts a measure
job first in the queue and only when no other job runs, and starts nothing while it runs, so the figures are
not slowed down by our own training. The job's process (`run_measure_job`) writes the run's inference.json
atomically (models.serving.benchmark_record.measure_run); the app's ingest picks the new file up
(analytics.ingest.runs.attach_pending_inference compares its measured_at).

A measure job's folder is a normal job folder (kind 'measure', config = the run's config.json with runs_dir
the run's parent folder, run_id = the run folder's name, reason 'after training' or 're-measure'). It never
rewrites the run's status.json or job.json. No torch at import.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from models.core.config import TrainConfig
from models.core.runs import STATUS_FILE, write_json_atomic
from models.errors import ConfigError, JobError
from models.jobs import queue

log = logging.getLogger(__name__)

MEASURE_KIND = queue.MEASURE_KIND
REASONS = ("after training", "re-measure")
"""Why a measure job was queued (inference.json's measured_by says 'measure job: <reason>')."""


def submit_measure(run_dir: Path | str, jobs_dir: Path | str | None = None, *,
                   reason: str = "re-measure") -> queue.JobInfo:
    """Queue a measure job for the succeeded run in `run_dir`; it starts at the next tick when nothing else
    of ours runs. Returns the queued job.

    Raises JobError, with nothing written, when the folder is not a succeeded run, has no model/ to serve,
    or a measurement of the same run is already queued or running.
    """
    if reason not in REASONS:
        raise ConfigError(f"reason must be one of {', '.join(REASONS)}; got {reason!r}")
    run_dir = Path(run_dir).expanduser().resolve()
    config = _run_config(run_dir)
    root = queue.resolve_jobs_dir(jobs_dir)
    created = datetime.now(timezone.utc)
    with queue._locked(root):
        for info in queue.list_jobs(root):
            if info.kind == MEASURE_KIND and info.is_active and info.run_dir == run_dir:
                raise JobError(f"a measurement of run {run_dir.name} is already {info.state} "
                               f"(job {info.job_id}); wait for it to finish, "
                               "its figures replace the old ones")
        job_dir = queue._make_job_dir(root, MEASURE_KIND, created)
        job = {"kind": MEASURE_KIND, "config": config, "run_id": run_dir.name, "cli_args": [],
               "created_at": created.isoformat(), "attempts": 0, "resume": False, "reason": reason}
        write_json_atomic(job_dir / "job.json", job)
        write_json_atomic(job_dir / "state.json", {"state": "queued", "updated_at": created.isoformat(),
                                                   "history": [["queued", created.isoformat()]]})
    log.info("queued measure job %s (run %s, %s)", job_dir.name, run_dir.name, reason)
    return queue.get_job(job_dir.name, root)


def _run_config(run_dir: Path) -> dict[str, Any]:
    """The run's config.json as a dict with runs_dir = the run's parent; JobError unless it is measurable."""
    if not run_dir.is_dir():
        raise JobError(f"no run folder {run_dir}; pick a run from the runs list (data/runs/<run-id>)")
    try:
        status = json.loads((run_dir / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        status = {}
    state = status.get("state") if isinstance(status, dict) else None
    if state != "succeeded":
        raise JobError(f"run {run_dir.name} is {state or 'unfinished'}: only a succeeded run can be "
                       "measured; measure it once its training has succeeded")
    if not (run_dir / "model").is_dir():
        raise JobError(f"run {run_dir.name} has no model/ folder in {run_dir}, so there is nothing to serve "
                       "and time; train it again to measure it")
    try:
        raw = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
        config = TrainConfig.from_dict(raw).replace(runs_dir=str(run_dir.parent))
    except (OSError, ValueError) as e:
        raise JobError(f"cannot read the config of run {run_dir.name} ({run_dir / 'config.json'}): {e}; "
                       "the run folder is damaged, train it again to measure it") from e
    return config.to_dict()


def run_measure_job(job: dict[str, Any]) -> str:
    """The work of a measure job's process: time the run and write its inference.json; returns 'succeeded'.

    Raises (so the job fails with the reason) when the benchmark is switched off or the run cannot be served.
    """
    from models.serving.benchmark_record import measure_run

    run_dir = Path(job["config"]["runs_dir"]) / job["run_id"]
    measure_run(run_dir, measured_by=f"measure job: {job.get('reason') or 'after training'}")
    return "succeeded"
