"""The process behind one job: `python -m models.jobs.runner <job_dir>` (started, detached, by the queue).

Reads job.json, runs the work, and writes exit.json atomically as its last act:
    {"state": "succeeded"|"failed"|"cancelled", "error": str|None, "finished_at": ISO time, "run_id": ...}
Exit code 0 on success, 1 on failure, 143 when cancelled (SIGTERM). A SIGTERM becomes a clean ending:
KeyboardInterrupt is raised in the work, the run's status.json says 'cancelled' and so does exit.json.
Also writes <run_dir>/job.json ({"job_id", "kind", "attempt"}) so the workspace can link runs to jobs.

kind train: `models.training.train.train(config, resume=..., run_id=...)`, then the post-run inference
benchmark (inference.json) of a succeeded run; evaluate / bench: `models.cli.main([kind, *cli_args])`.
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
import sys
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import Any

from analytics.settings import settings
from models.core.config import TrainConfig
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
    signal.signal(signal.SIGTERM, _raise_interrupt)
    state, error = _run_guarded(job)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # finishing: a second SIGTERM must not tear exit.json
    if _is_main_rank():
        _finish(job_dir, job, state, error)
    log.info("job %s ended: %s%s", job_dir.name, state, f" ({error})" if error else "")
    return EXIT_CODES[state]


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _run_guarded(job: dict[str, Any]) -> tuple[str, str | None]:
    """(state, error) of running the job; never raises."""
    try:
        return _run(job), None
    except KeyboardInterrupt:
        return "cancelled", "cancelled by the user"
    except (Exception, SystemExit) as e:  # noqa: BLE001 - every failure must reach exit.json
        traceback.print_exc()
        return "failed", f"{type(e).__name__}: {e}"


def _run(job: dict[str, Any]) -> str:
    if job["kind"] == "train":
        return run_train_job(job)
    from models import cli
    code = cli.main([job["kind"], *job.get("cli_args", [])])
    return "succeeded" if not code else "failed"


def run_train_job(job: dict[str, Any]) -> str:
    """Train the job's config into its run folder, then record the post-run inference benchmark.

    The benchmark (inference.json, models.serving.benchmark_record) runs here, after train() has returned a
    succeeded run (main rank only); it never fails the job. Returns the run's state.
    """
    config = TrainConfig.from_dict(job["config"])
    result = train_function()(config, resume=bool(job.get("resume")), run_id=job["run_id"])
    state = str(getattr(result, "state", "succeeded"))
    if state == "succeeded":
        from models.serving.benchmark_record import record_after_training

        record_after_training(result.run_dir)
    return state


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
    if run_dir.is_dir():
        if state == "cancelled" and not (run_dir / STATUS_FILE).exists():
            write_json_atomic(run_dir / STATUS_FILE,
                              {"state": "cancelled", "finished_at": now, "error": error})
        write_json_atomic(run_dir / "job.json", {"job_id": job_dir.name, "kind": job["kind"],
                                                 "attempt": job.get("attempts")})
    write_json_atomic(job_dir / "exit.json", {"state": state, "error": error, "finished_at": now,
                                              "run_id": job["run_id"]})


if __name__ == "__main__":
    sys.exit(main())
