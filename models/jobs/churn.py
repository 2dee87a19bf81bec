"""Churn jobs: the churn models trained on a feature folder as one job of the queue.

The Churn page queues one (`submit_churn`) after writing the feature folder, so the page stays responsive
and the training survives the browser tab; the job's process (`run_churn_job`, started by
models.jobs.runner) calls models.training.churn.train.train_churn, which fits every model and writes one run
folder per model ('<prefix>-logreg', '<prefix>-gbm', '<prefix>-mlp'), ingested by the app like any run.

job.json is a normal one: kind 'churn', config = ChurnConfig.to_dict() (features_dir and runs_dir absolute,
run_prefix fixed when queued), run_id = the LAST model's run folder (the queue reads that run's status.json
when the process died without exit.json, and the runner links it to the job), run_ids = every model's, and
job_id. The process links every run folder to the job (<run_dir>/job.json), not only run_id's. A resumed
job keeps the runs that succeeded and trains the others again. No torch at import.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from analytics.settings import settings
from models.core.runs import write_json_atomic
from models.errors import ConfigError, TrainingError
from models.jobs import queue
from models.training.churn.config import ChurnConfig

log = logging.getLogger(__name__)

CHURN_KIND = "churn"
"""job.json kind of a churn training."""


def submit_churn(features_dir: Path | str, runs_dir: Path | str | None = None,
                 jobs_dir: Path | str | None = None, **settings_: Any) -> queue.JobInfo:
    """Queue the churn models' training on `features_dir`. `settings_` are other ChurnConfig fields
    (models, seed, epochs...). Returns the queued job; it starts at the next tick.

    Raises ConfigError (a bad field), FeatureFolderError (the folder is missing or cannot train: one class,
    too few churned accounts, non-numeric columns) or JobError, with nothing queued: the folder is checked
    here so the page can say what to change at once.
    """
    from models.training.churn.data import read_feature_folder

    created = datetime.now(timezone.utc)
    root = queue.resolve_jobs_dir(jobs_dir)
    with queue._locked(root):
        job_dir = queue._make_job_dir(root, CHURN_KIND, created)
        try:
            config = ChurnConfig(**{
                **settings_, "features_dir": str(Path(features_dir).expanduser().resolve()),
                "runs_dir": str(Path(runs_dir or settings().runs_dir).expanduser().resolve()),
                "run_prefix": f"{created:%Y%m%d-%H%M%S}-churn-{job_dir.name.rsplit('-', 1)[-1]}"})
            read_feature_folder(config.features_dir, config)
        except TypeError as e:  # a field ChurnConfig does not have
            job_dir.rmdir()
            raise ConfigError(f"churn settings not understood: {e}") from e
        except Exception:
            job_dir.rmdir()
            raise
        run_ids = [f"{config.run_prefix}-{model}" for model in config.models]
        job = {"kind": CHURN_KIND, "config": config.to_dict(), "run_id": run_ids[-1], "run_ids": run_ids,
               "job_id": job_dir.name, "cli_args": [], "created_at": created.isoformat(), "attempts": 0,
               "resume": False}
        write_json_atomic(job_dir / "job.json", job)
        write_json_atomic(job_dir / "state.json", {"state": "queued", "updated_at": created.isoformat(),
                                                   "history": [["queued", created.isoformat()]]})
    log.info("queued churn job %s (%s on %s)", job_dir.name, ", ".join(config.models), config.features_dir)
    return queue.get_job(job_dir.name, root)


def run_churn_job(job: Mapping[str, Any]) -> str:
    """The job's process: train every model and link each run folder to the job; returns 'succeeded'.

    Raises TrainingError naming the models that failed (the job fails with it; the runs that succeeded are
    kept), FeatureFolderError when the folder changed since it was queued.
    """
    from models.training.churn.train import train_churn

    config = ChurnConfig.from_dict(dict(job["config"]))
    results = train_churn(config, resume=bool(job.get("resume")))
    for result in results:
        if result.run_dir.is_dir():
            write_json_atomic(result.run_dir / "job.json", {"job_id": job.get("job_id"), "kind": CHURN_KIND,
                                                            "attempt": job.get("attempts")})
    failed = [f"{r.method}: {r.extra.get('error')}" for r in results if r.state != "succeeded"]
    if failed:
        raise TrainingError(f"{len(failed)} of {len(results)} churn models failed ({'; '.join(failed)}); "
                            "the other runs are kept - see the failed run's status.json and the job log")
    return "succeeded"
