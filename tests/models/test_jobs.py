"""Job queue: state table, submit validation and races, scheduler limit, real detached subprocesses
(fake fast trainer via the documented STRATLAB_TRAIN_FUNCTION seam), SIGKILL -> interrupted, cancel,
resume."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from models.core.config import TrainConfig
from models.errors import ConfigError, InvalidTransitionError, JobError, JobNotFoundError
from models.jobs import queue as jobs

ROOT = Path(__file__).resolve().parents[2]
TESTS = Path(__file__).resolve().parent


@pytest.fixture
def jobs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private queue; job processes run the fake trainer of tests/models/fake_train.py."""
    monkeypatch.setenv("STRATLAB_JOBS_DIR", str(tmp_path / "jobs"))
    monkeypatch.setenv("STRATLAB_MAX_JOBS", "1")
    monkeypatch.setenv("STRATLAB_TRAIN_FUNCTION", "tests.models.fake_train:train")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("FAKE_STEP_S", "0.02")
    yield tmp_path / "jobs"
    for info in jobs.list_jobs():  # never leave a process behind
        if info.state == "running" and info.pid:
            jobs.signal_group(info.pid, signal.SIGKILL)
            jobs.reap(info.pid)


def config(tmp_path: Path, **changes: object) -> TrainConfig:
    base = TrainConfig(method="classic", dataset="toy", runs_dir=str(tmp_path / "runs"), max_steps=4)
    return base.replace(**changes)


def wait_for(predicate, timeout_s: float = 30.0, every_s: float = 0.05):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"condition not met within {timeout_s} s")


def run_until_done(job_id: str, timeout_s: float = 30.0) -> jobs.JobInfo:
    def done():
        jobs.tick()
        info = jobs.get_job(job_id)
        return info if info.state not in jobs.ACTIVE_STATES else None

    return wait_for(done, timeout_s, every_s=0.1)


def sleeper(monkeypatch: pytest.MonkeyPatch) -> None:
    """Jobs run `sleep 30` instead of the runner: cheap processes for scheduler tests."""
    monkeypatch.setattr(jobs, "build_command", lambda *a, **k: ["sleep", "30"])


# ------------------------------------------------------------------------------------------ state machine


def test_transition_table_is_exactly_the_documented_one() -> None:
    allowed = {(a, b) for a in jobs.STATES for b in jobs.STATES if b in jobs.TRANSITIONS[a]}
    assert allowed == {
        ("queued", "running"), ("queued", "cancelled"),
        ("running", "succeeded"), ("running", "failed"), ("running", "cancelled"), ("running", "interrupted"),
        ("interrupted", "queued"), ("interrupted", "cancelled"),
        ("failed", "queued"), ("cancelled", "queued"),
    }
    for a in jobs.STATES:
        for b in jobs.STATES:
            if (a, b) in allowed:
                jobs.check_transition(a, b)
            else:
                with pytest.raises(InvalidTransitionError, match=f"a {a} job cannot become {b}"):
                    jobs.check_transition(a, b)
    with pytest.raises(InvalidTransitionError, match="unknown job state"):
        jobs.check_transition("queued", "paused")


def test_invalid_transition_leaves_state_file_unchanged(jobs_dir: Path, tmp_path: Path) -> None:
    info = jobs.submit(config(tmp_path))
    before = (info.job_dir / "state.json").read_text()
    with pytest.raises(InvalidTransitionError):
        jobs.transition(info.job_dir, "succeeded")
    assert (info.job_dir / "state.json").read_text() == before
    jobs.transition(info.job_dir, "cancelled", error="x")
    assert [s for s, _ in jobs.get_job(info.job_id).history] == ["queued", "cancelled"]


# ------------------------------------------------------------------------------------------ submit


def test_submit_writes_job_and_queued_state(jobs_dir: Path, tmp_path: Path) -> None:
    info = jobs.submit(config(tmp_path))
    assert info.state == "queued" and info.kind == "train" and info.attempts == 0 and not info.resume
    job = json.loads((info.job_dir / "job.json").read_text())
    assert job["config"]["runs_dir"] == str((tmp_path / "runs").resolve())
    assert job["run_id"] == info.run_id and info.run_id.endswith(info.job_id.rsplit("-", 1)[1])
    expected = config(tmp_path).replace(runs_dir=str((tmp_path / "runs").resolve()))
    assert TrainConfig.from_dict(job["config"]) == expected
    assert [j.job_id for j in jobs.list_jobs()] == [info.job_id]


@pytest.mark.parametrize("bad, message", [
    ({"epochs": 0}, "epochs must be a whole number"),
    ({"learning_rate": float("nan")}, "learning_rate must be a positive finite"),
    ({"method": "magic"}, "method must be one of"),
    ({"batch_sise": 8}, "unknown config keys"),
])
def test_submit_refuses_invalid_config_and_writes_nothing(jobs_dir: Path, bad: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        jobs.submit(bad)
    assert not jobs_dir.exists() or [p.name for p in jobs_dir.iterdir() if p.is_dir()] == []


def test_submit_refuses_unknown_kind_and_taken_run_name(jobs_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="job kind must be one of train, evaluate, bench"):
        jobs.submit(config(tmp_path), kind="deploy")
    jobs.submit(config(tmp_path, run_name="demo"))
    with pytest.raises(JobError, match="run name 'demo' is already used"):
        jobs.submit(config(tmp_path, run_name="demo"))
    assert len(jobs.list_jobs()) == 1


def test_concurrent_submits_from_two_threads_all_land_with_distinct_ids(jobs_dir: Path,
                                                                        tmp_path: Path) -> None:
    barrier = threading.Barrier(2)
    results: list[jobs.JobInfo] = []

    def submit_many() -> None:
        barrier.wait()
        for _ in range(10):
            results.append(jobs.submit(config(tmp_path)))

    threads = [threading.Thread(target=submit_many) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    listed = jobs.list_jobs()
    assert len(results) == 20 and len(listed) == 20
    assert len({j.job_id for j in listed}) == 20 and len({j.run_id for j in listed}) == 20
    assert {j.state for j in listed} == {"queued"}


def test_get_job_refuses_paths_and_unknown_ids_and_list_skips_half_created(jobs_dir: Path) -> None:
    with pytest.raises(JobNotFoundError):
        jobs.get_job("../etc")
    with pytest.raises(JobNotFoundError, match="no job 'nope'"):
        jobs.get_job("nope")
    (jobs.resolve_jobs_dir() / "20260101-000000-train-abcdef").mkdir()  # mkdir done, job.json not yet
    assert jobs.list_jobs() == []


# ------------------------------------------------------------------------------------------ processes


def test_process_alive_checks_start_time_and_counts_zombies_dead() -> None:
    own = jobs.read_proc_start(os.getpid())
    assert own is not None and own[0] in "RS"
    assert jobs.process_alive(os.getpid(), own[1])
    assert not jobs.process_alive(os.getpid(), own[1] + 1)  # same pid, other start: reused pid
    child = subprocess.Popen(["true"])
    wait_for(lambda: (jobs.read_proc_start(child.pid) or ("Z",))[0] == "Z")
    assert not jobs.process_alive(child.pid, None)
    assert jobs.read_proc_start(child.pid) is None  # reaped: no zombie left


def test_build_command_single_process_and_accelerate() -> None:
    job_dir = Path("/q/j1")
    assert jobs.build_command(job_dir, python="py") == ["py", "-m", "models.jobs.runner", "/q/j1"]
    assert jobs.build_command(job_dir, 4, python="py", main_process_port=29502) == [
        "py", "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "4",
        "--num_machines", "1", "--main_process_port", "29502", "-m", "models.jobs.runner", "/q/j1"]


def test_concurrency_limit_from_env_and_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRATLAB_MAX_JOBS", raising=False)
    monkeypatch.delenv("STRATLAB_GPUS_PER_JOB", raising=False)
    monkeypatch.setattr(jobs, "cuda_device_count", lambda: 0)
    assert jobs.max_concurrent_jobs() == 1
    monkeypatch.setattr(jobs, "cuda_device_count", lambda: 4)
    assert jobs.max_concurrent_jobs() == 4
    monkeypatch.setenv("STRATLAB_GPUS_PER_JOB", "2")
    assert jobs.max_concurrent_jobs() == 2
    monkeypatch.setenv("STRATLAB_MAX_JOBS", "3")
    assert jobs.max_concurrent_jobs() == 3
    monkeypatch.setenv("STRATLAB_MAX_JOBS", "zero")
    with pytest.raises(JobError, match="STRATLAB_MAX_JOBS='zero' must be a whole number"):
        jobs.max_concurrent_jobs()


def test_tick_starts_at_most_the_limit_oldest_first(jobs_dir: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    sleeper(monkeypatch)
    monkeypatch.setenv("STRATLAB_MAX_JOBS", "2")
    submitted = [jobs.submit(config(tmp_path)) for _ in range(3)]
    jobs.tick()
    jobs.tick()  # a second tick (another tab) starts nothing more
    states = {j.job_id: j.state for j in jobs.list_jobs()}
    running = sorted(k for k, v in states.items() if v == "running")
    assert len(running) == 2 and list(states.values()).count("queued") == 1
    assert running == sorted(j.job_id for j in submitted[:2]) and states[submitted[2].job_id] == "queued"
    for info in jobs.list_jobs():
        assert info.pid is None or jobs.process_alive(info.pid, None)


def test_sigkilled_process_is_interrupted_within_one_tick_and_resumes(jobs_dir: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    sleeper(monkeypatch)
    info = jobs.submit(config(tmp_path))
    jobs.tick()
    running = jobs.get_job(info.job_id)
    assert running.state == "running" and running.attempts == 1
    os.kill(running.pid, signal.SIGKILL)
    wait_for(lambda: (jobs.read_proc_start(running.pid) or ("Z",))[0] == "Z")  # dead, not yet reaped
    after = jobs.tick()
    assert [j.state for j in after] == ["interrupted"]
    assert "resume it" in after[0].error and after[0].resumable
    queued = jobs.resume(info.job_id)
    assert queued.state == "queued" and queued.resume and queued.run_id == info.run_id
    assert not (info.job_dir / "pid.json").exists()
    with pytest.raises(InvalidTransitionError, match="a queued job cannot become queued"):
        jobs.resume(info.job_id)
    jobs.tick()
    assert jobs.get_job(info.job_id).attempts == 2


def test_process_gone_without_exit_but_run_status_succeeded_is_succeeded(
    jobs_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeper(monkeypatch)
    info = jobs.submit(config(tmp_path))
    jobs.tick()
    info.run_dir.mkdir(parents=True)
    (info.run_dir / "status.json").write_text('{"state": "succeeded"}')
    os.kill(jobs.get_job(info.job_id).pid, signal.SIGKILL)
    wait_for(lambda: jobs.tick()[0].state != "running")
    assert jobs.get_job(info.job_id).state == "succeeded"


def test_cancel_queued_and_refuse_finished(jobs_dir: Path, tmp_path: Path) -> None:
    info = jobs.submit(config(tmp_path))
    cancelled = jobs.cancel(info.job_id)
    assert cancelled.state == "cancelled" and cancelled.pid is None and not cancelled.resumable
    with pytest.raises(InvalidTransitionError, match="a cancelled job cannot become cancelled"):
        jobs.cancel(info.job_id)
    with pytest.raises(JobError, match="before writing its first checkpoint"):
        jobs.resume(info.job_id)
    assert jobs.tick()[0].state == "cancelled"  # a cancelled job is never started


def test_cancel_sigkills_a_process_that_ignores_sigterm(jobs_dir: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    stubborn = [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                "open('ready', 'w').close(); time.sleep(60)"]
    monkeypatch.setattr(jobs, "build_command", lambda *a, **k: stubborn)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(jobs, "PROJECT_ROOT", tmp_path)
    info = jobs.submit(config(tmp_path))
    jobs.tick()
    wait_for(lambda: (tmp_path / "ready").exists())
    started = time.monotonic()
    cancelled = jobs.cancel(info.job_id, grace_s=0.5)
    assert cancelled.state == "cancelled" and cancelled.error == "cancelled by the user"
    assert 0.5 <= time.monotonic() - started < 5
    assert not jobs.process_alive(cancelled.pid, None)


# -------------------------------------------------------------------------------------- real job processes


@pytest.mark.slow
def test_real_job_runs_queued_running_succeeded(jobs_dir: Path, tmp_path: Path) -> None:
    info = jobs.submit(config(tmp_path))
    assert jobs.tick()[0].state == "running"
    done = run_until_done(info.job_id)
    assert done.state == "succeeded" and done.error is None and done.attempts == 1
    assert [s for s, _ in done.history] == ["queued", "running", "succeeded"]
    assert json.loads((info.job_dir / "exit.json").read_text())["state"] == "succeeded"
    assert json.loads((info.run_dir / "status.json").read_text())["state"] == "succeeded"
    assert json.loads((info.run_dir / "job.json").read_text()) == {"job_id": info.job_id, "kind": "train",
                                                                 "attempt": 1}
    assert "test seam" in jobs.tail_log(info.job_id)
    figures = jobs.progress(info.job_id)
    assert (figures.step, figures.total_steps, figures.fraction) == (4, 4, 1.0)
    assert figures.loss == 0.25 and figures.val_accuracy == 0.75
    assert [p.step for p in figures.loss_curve] == [1, 2, 3, 4]


@pytest.mark.slow
def test_real_job_sigkill_interrupted_then_resumed_from_checkpoint(jobs_dir: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_STEP_S", "0.3")
    info = jobs.submit(config(tmp_path, max_steps=40, checkpoint_every_steps=1))
    jobs.tick()
    wait_for(lambda: (jobs.progress(info.job_id).step or 0) >= 2)
    pid = jobs.get_job(info.job_id).pid
    os.killpg(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    wait_for(lambda: not jobs.process_alive(pid, None))
    assert jobs.tick()[0].state == "interrupted"
    assert time.monotonic() - killed_at < 10
    last_step = jobs.progress(info.job_id).step
    monkeypatch.setenv("FAKE_STEP_S", "0.01")
    jobs.resume(info.job_id)
    done = run_until_done(info.job_id)
    assert done.state == "succeeded" and done.attempts == 2
    events = [json.loads(line) for line in (info.run_dir / "events.jsonl").read_text().splitlines()]
    starts = [e for e in events if e.get("kind") == "start"]
    assert len(starts) == 2 and starts[1]["resumed_from_step"] >= last_step - 1 >= 1
    assert "--- attempt 2 started" in jobs.tail_log(info.job_id, lines=1000)


@pytest.mark.slow
def test_real_job_cancel_ends_cleanly_as_cancelled(jobs_dir: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_STEP_S", "0.3")
    info = jobs.submit(config(tmp_path, max_steps=100))
    jobs.tick()
    wait_for(lambda: (jobs.progress(info.job_id).step or 0) >= 1)
    started = time.monotonic()
    cancelled = jobs.cancel(info.job_id, grace_s=10)
    assert time.monotonic() - started < 5  # the runner's SIGTERM handler ended it, no SIGKILL needed
    assert cancelled.state == "cancelled" and cancelled.error == "cancelled by the user"
    assert json.loads((info.job_dir / "exit.json").read_text())["state"] == "cancelled"
    assert json.loads((info.run_dir / "status.json").read_text())["state"] == "cancelled"


@pytest.mark.slow
def test_real_job_failure_shows_log_and_likely_fix(jobs_dir: Path, tmp_path: Path) -> None:
    info = jobs.submit(config(tmp_path, dataset="missing-dataset"))
    done = run_until_done(info.job_id)
    assert done.state == "failed" and done.error.startswith("DatasetNotFoundError: dataset 'missing-dataset'")
    log_text = jobs.tail_log(info.job_id)
    assert "Traceback" in log_text
    assert "STRATLAB_DATASET_MIRROR" in jobs.likely_fix(log_text)
    with pytest.raises(JobError, match="nothing to resume"):
        jobs.resume(info.job_id)


@pytest.mark.slow
def test_job_survives_the_process_that_started_it(jobs_dir: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_STEP_S", "0.2")
    info = jobs.submit(config(tmp_path, max_steps=8))
    app = subprocess.run(
        [sys.executable, "-c", "from models.jobs import queue; queue.tick()"], cwd=ROOT, timeout=60
    )
    assert app.returncode == 0  # the "app" that launched the job has exited
    assert jobs.get_job(info.job_id).state == "running"
    done = run_until_done(info.job_id)
    assert done.state == "succeeded"


# ----------------------------------------------------------------------------------- logs, progress, fixes


def test_tail_log_and_progress_from_a_handmade_run(jobs_dir: Path, tmp_path: Path) -> None:
    info = jobs.submit(config(tmp_path))
    assert jobs.tail_log(info.job_id) == ""
    (info.job_dir / "log.txt").write_text("".join(f"line {i}\n" for i in range(100)))
    assert jobs.tail_log(info.job_id, lines=3) == "line 97\nline 98\nline 99"
    assert jobs.progress(info.job_id).fraction is None
    info.run_dir.mkdir(parents=True)
    events = [{"kind": "start", "total_steps": 10},
              {"kind": "step", "step": 4, "epoch": 0.4, "loss": 0.9, "eta_s": 6.0, "samples_per_s": 50.5,
               "memory_bytes": 123},
              {"kind": "epoch", "epoch": 1, "step": 4, "val_accuracy": 0.6}]
    (info.run_dir / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events) + '{"torn')
    figures = jobs.progress(info.job_id)
    names = ("state", "stage", "step", "total_steps", "fraction", "epoch", "loss", "eta_s", "samples_per_s",
             "memory_bytes", "val_accuracy", "events")
    assert {k: getattr(figures, k) for k in names} == {
        "state": "queued", "stage": "epoch", "step": 4, "total_steps": 10, "fraction": 0.4, "epoch": 0.4,
        "loss": 0.9, "eta_s": 6.0, "samples_per_s": 50.5, "memory_bytes": 123, "val_accuracy": 0.6,
        "events": 3}
    assert [dataclasses.asdict(p) for p in figures.loss_curve] == [{"step": 4, "loss": 0.9}]


@pytest.mark.parametrize("log_text, expected", [
    ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
     "Out of memory: halve batch_size"),
    ("models.errors.DatasetNotFoundError: dataset 'sst2' not found", "Dataset not available offline"),
    ("models.errors.ModelNotFoundError: no model 'bert-huge'", "Model not found"),
    ("DataValidationError: label column 'intent' not found; columns are: text, category", "Column not found"),
    ("models.errors.DeviceError: device cuda requested but CUDA is not available",
     "set device to auto or cpu"),
    ("TrainingError: loss became nan at step 12", "lower learning_rate"),
    ("all good\nstep 3 loss 0.2", None),
])
def test_likely_fix(log_text: str, expected: str | None) -> None:
    fix = jobs.likely_fix(log_text)
    if expected is None:
        assert fix is None
    else:
        assert fix is not None and expected in fix
