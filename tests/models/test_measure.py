"""Measure jobs: the scheduler's exclusive rule, submit_measure's refusals, a crashed measure job, and the
hand-over of a finishing job to the next (one tick from the test, the rest from the job processes)."""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from models.core.config import TrainConfig
from models.errors import ConfigError, JobError
from models.jobs import measure
from models.jobs import queue as jobs
from models.jobs.scheduler import pick_starts, queue_order

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Job:
    job_id: str
    kind: str = "train"
    created_at: str = ""


def ids(found: list) -> list[str]:
    return [j.job_id for j in found]


# ------------------------------------------------------------------------------------------ scheduler rule


def test_queue_order_puts_measure_jobs_first_then_oldest() -> None:
    queued = [Job("t2", "train", "2"), Job("m3", "measure", "3"), Job("t1", "train", "1"),
              Job("m2", "measure", "2")]
    assert ids(queue_order(queued)) == ["m2", "m3", "t1", "t2"]


@pytest.mark.parametrize("running, queued, limit, expected", [
    ([], [Job("t1", created_at="1"), Job("t2", created_at="2")], 1, ["t1"]),
    ([], [Job("t1", created_at="1"), Job("t2", created_at="2")], 4, ["t1", "t2"]),
    ([Job("r")], [Job("t1")], 1, []),
    # a measurement starts only on an idle queue, and alone
    ([], [Job("t1", created_at="1"), Job("m", "measure", "2")], 4, ["m"]),
    # ...and while others run it waits, blocking new starts (GPU machine, free slots)
    ([Job("r")], [Job("t1", created_at="1"), Job("m", "measure", "2")], 4, []),
    # while it runs nothing starts
    ([Job("m", "measure")], [Job("t1"), Job("t2")], 4, []),
    ([Job("m", "measure")], [Job("m2", "measure")], 4, []),
])
def test_pick_starts(running: list, queued: list, limit: int, expected: list[str]) -> None:
    assert ids(pick_starts(running, queued, limit)) == expected


# ------------------------------------------------------------------------------------------ submit_measure


@pytest.fixture
def jobs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STRATLAB_JOBS_DIR", str(tmp_path / "jobs"))
    monkeypatch.setenv("STRATLAB_MAX_JOBS", "1")
    monkeypatch.setenv("STRATLAB_TRAIN_FUNCTION", "tests.models.fake_train:train")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("FAKE_STEP_S", "0.02")
    yield tmp_path / "jobs"
    for info in jobs.list_jobs():
        if info.state == "running" and info.pid:
            jobs.signal_group(info.pid, signal.SIGKILL)
            jobs.reap(info.pid)


def succeeded_run(tmp_path: Path, name: str = "r1", *, model: bool = True, state: str = "succeeded") -> Path:
    run_dir = tmp_path / "runs" / name
    run_dir.mkdir(parents=True)
    config = TrainConfig(method="classic", dataset="toy", runs_dir="/elsewhere/runs", run_name=name)
    (run_dir / "config.json").write_text(json.dumps(config.to_dict()))
    (run_dir / "status.json").write_text(json.dumps({"state": state}))
    if model:
        (run_dir / "model").mkdir()
    return run_dir


def job_folders(jobs_dir: Path) -> list[str]:
    return sorted(p.name for p in jobs_dir.iterdir() if p.is_dir()) if jobs_dir.is_dir() else []


def test_submit_measure_queues_a_measure_job_for_the_run_folder(jobs_dir: Path, tmp_path: Path) -> None:
    run_dir = succeeded_run(tmp_path)
    info = measure.submit_measure(run_dir)
    assert (info.kind, info.state, info.run_id) == ("measure", "queued", "r1")
    assert info.run_dir == run_dir.resolve()
    job = json.loads((info.job_dir / "job.json").read_text())
    assert job["reason"] == "re-measure" and job["config"]["runs_dir"] == str(run_dir.parent.resolve())
    with pytest.raises(JobError, match="a measurement of run r1 is already queued"):
        measure.submit_measure(run_dir)
    assert len(jobs.list_jobs()) == 1
    jobs.cancel(info.job_id)
    assert measure.submit_measure(run_dir).state == "queued"  # once the first is over, a new one is fine


@pytest.mark.parametrize("make, message", [
    (lambda tmp: tmp / "runs" / "nope", "no run folder"),
    (lambda tmp: succeeded_run(tmp, model=False), "has no model/ folder"),
    (lambda tmp: succeeded_run(tmp, state="failed"), "run r1 is failed: only a succeeded run"),
])
def test_submit_measure_refuses_what_cannot_be_measured_and_writes_nothing(jobs_dir: Path, tmp_path: Path,
                                                                          make, message: str) -> None:
    with pytest.raises(JobError, match=message):
        measure.submit_measure(make(tmp_path))
    assert job_folders(jobs_dir) == []
    with pytest.raises(ConfigError, match="reason must be one of"):
        measure.submit_measure(succeeded_run(tmp_path, "r2"), reason="because")


def test_plain_submit_refuses_the_measure_kind(jobs_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="submit_measure"):
        jobs.submit(TrainConfig(method="classic", dataset="toy", runs_dir=str(tmp_path)), kind="measure")


def test_a_killed_measure_job_is_interrupted_not_succeeded(jobs_dir: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The run's status.json says succeeded (the training): it must not become the measure job's result."""
    monkeypatch.setattr(jobs, "build_command", lambda *a, **k: ["sleep", "30"])
    info = measure.submit_measure(succeeded_run(tmp_path))
    jobs.tick()
    pid = jobs.get_job(info.job_id).pid
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while jobs.process_alive(pid, None) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert jobs.tick()[0].state == "interrupted"


def test_a_queued_measure_job_holds_new_starts_until_the_running_job_ends(
        jobs_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs, "build_command", lambda *a, **k: ["sleep", "30"])
    monkeypatch.setenv("STRATLAB_MAX_JOBS", "3")
    config = TrainConfig(method="classic", dataset="toy", runs_dir=str(tmp_path / "runs"))
    first = jobs.submit(config)
    jobs.tick()
    second = jobs.submit(config)
    measured = measure.submit_measure(succeeded_run(tmp_path))
    states = {j.job_id: j.state for j in jobs.tick()}
    assert states == {first.job_id: "running", second.job_id: "queued", measured.job_id: "queued"}
    jobs.cancel(first.job_id, grace_s=1)
    states = {j.job_id: j.state for j in jobs.tick()}
    assert states[measured.job_id] == "running" and states[second.job_id] == "queued"


# ------------------------------------------------------------------------------------------ real processes


@pytest.mark.slow
def test_three_queued_jobs_all_finish_after_one_tick(jobs_dir: Path, tmp_path: Path) -> None:
    """One tick from the test; every later start is a finishing job handing its slot on (no app, no page)."""
    config = TrainConfig(method="classic", dataset="toy", runs_dir=str(tmp_path / "runs"), max_steps=3)
    submitted = [jobs.submit(config) for _ in range(3)]
    jobs.tick()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        # read-only: list_jobs never starts anything (tick does). A job is 'succeeded' once its exit.json is
        # written, a moment before its process logs the hand-over: wait for the last one's line too.
        if (all(j.state == "succeeded" for j in jobs.list_jobs())
                and "handed over" in jobs.tail_log(submitted[2].job_id, lines=200)):
            break
        time.sleep(0.2)
    states = {j.job_id: j.state for j in jobs.list_jobs()}
    assert states == {j.job_id: "succeeded" for j in submitted}
    logs = [jobs.tail_log(j.job_id, lines=200) for j in submitted]
    assert "handed over; running now: " + submitted[1].job_id in logs[0]
    assert "handed over; running now: " + submitted[2].job_id in logs[1]
    assert "handed over; running now: nothing" in logs[2]


@pytest.mark.slow
def test_a_sigkilled_job_process_does_not_stall_the_queue(jobs_dir: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The job's watchdog (models.jobs.watchdog) ticks for it: interrupted, and the next job starts, with no
    tick from the test after the first."""
    monkeypatch.setenv("FAKE_STEP_S", "0.3")
    config = TrainConfig(method="classic", dataset="toy", runs_dir=str(tmp_path / "runs"), max_steps=40)
    first, second = jobs.submit(config), jobs.submit(config.replace(max_steps=2))
    jobs.tick()
    deadline = time.monotonic() + 60
    while (jobs.progress(first.job_id).step or 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    os.kill(jobs.get_job(first.job_id).pid, signal.SIGKILL)  # the runner only: its watchdog survives
    deadline = time.monotonic() + 60
    while jobs.get_job(second.job_id).state != "succeeded" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert jobs.get_job(first.job_id).state == "interrupted"
    assert jobs.get_job(second.job_id).state == "succeeded"
    assert "ended without exit.json; ticking the queue" in jobs.tail_log(first.job_id, lines=500)
