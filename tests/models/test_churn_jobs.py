"""Churn jobs (models.jobs.churn): refusals leave no job; a queued job run by the runner's process function
(models.jobs.runner.main, in-process) trains every model, links each run folder to the job, and ends
succeeded in the queue."""

from __future__ import annotations

import json

import numpy as np
import pytest

from models.errors import ConfigError
from models.jobs import churn as churn_jobs
from models.jobs import queue, runner
from models.training.churn.data import FeatureFolderError
from tests.models.churn_fixtures import write_feature_folder


def test_refusals_leave_no_job(tmp_path) -> None:
    jobs_dir = tmp_path / "jobs"
    one_class = write_feature_folder(tmp_path / "one", n=100, label=np.ones(100))
    with pytest.raises(FeatureFolderError, match="the label has one class"):
        churn_jobs.submit_churn(one_class, tmp_path / "runs", jobs_dir)
    good = write_feature_folder(tmp_path / "good", n=100)
    with pytest.raises(ConfigError, match="models must be some of"):
        churn_jobs.submit_churn(good, tmp_path / "runs", jobs_dir, models=("forest",))
    with pytest.raises(ConfigError, match="churn settings not understood"):
        churn_jobs.submit_churn(good, tmp_path / "runs", jobs_dir, learning_rat=0.1)
    assert [p.name for p in jobs_dir.iterdir() if p.is_dir()] == []


def test_a_queued_job_runs_through_the_runner(tmp_path, monkeypatch) -> None:
    jobs_dir, runs_dir = tmp_path / "jobs", tmp_path / "runs"
    folder = write_feature_folder(tmp_path / "features", n=200)
    info = churn_jobs.submit_churn(folder, runs_dir, jobs_dir, models=("logreg", "gbm"), n_bootstrap=50,
                                   gbm_max_iter=30)
    assert (info.kind, info.state) == ("churn", "queued")
    job = json.loads((info.job_dir / "job.json").read_text())
    assert job["run_ids"] == [f"{job['config']['run_prefix']}-{m}" for m in ("logreg", "gbm")]
    assert info.run_dir == runs_dir.resolve() / job["run_ids"][-1]
    # started as the queue would (the state, attempt count), but run in this process
    queue.transition(info.job_dir, "running", started_at=queue._now())
    job["attempts"] = 1
    (info.job_dir / "job.json").write_text(json.dumps(job))
    monkeypatch.setattr(runner, "start_watchdog", lambda job_dir: None)
    assert runner.main([str(info.job_dir)]) == 0
    exit_info = json.loads((info.job_dir / "exit.json").read_text())
    assert exit_info["state"] == "succeeded" and exit_info["error"] is None
    assert queue.get_job(info.job_id, jobs_dir).state == "succeeded"
    for run_id in job["run_ids"]:
        run = runs_dir / run_id
        assert json.loads((run / "status.json").read_text())["state"] == "succeeded"
        assert json.loads((run / "job.json").read_text())["job_id"] == info.job_id
        assert json.loads((run / "config.json").read_text())["features_dir"] == str(folder.resolve())
