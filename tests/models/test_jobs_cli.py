"""`python -m models jobs submit|list|cancel|resume|measure`: the app's queue from the command line; bad
input is one `error:` line, exit status 2, nothing written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from models.cli import jobs_table, main
from models.jobs import queue as jobs

ROOT = Path(__file__).resolve().parents[2]
QUEUE_ONLY = ["jobs", "submit", "--no-start", "--method", "classic", "--dataset", "toy"]


@pytest.fixture
def jobs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private queue whose job processes are `sleep 30` (the CLI's bookkeeping, not training, is tested)."""
    monkeypatch.setenv("STRATLAB_JOBS_DIR", str(tmp_path / "jobs"))
    monkeypatch.setenv("STRATLAB_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("STRATLAB_MAX_JOBS", "1")
    monkeypatch.setattr(jobs, "build_command", lambda *a, **k: ["sleep", "30"])
    yield tmp_path / "jobs"
    for info in jobs.list_jobs():
        if info.state == "running" and info.pid:
            jobs.signal_group(info.pid, signal.SIGKILL)
            jobs.reap(info.pid)


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own errors
        code = int(e.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_submit_queues_with_the_train_flags_and_starts_it(jobs_dir: Path, capsys) -> None:
    code, out, _ = run_cli(["jobs", "submit", "--method", "classic", "--dataset", "toy",
                            "--train-examples-per-class", "4"], capsys)
    job_id = out.strip()
    assert code == 0 and len(out.splitlines()) == 1
    info = jobs.get_job(job_id)
    assert info.kind == "train" and info.state == "running"  # a free slot: started at once
    assert info.config["method"] == "classic" and info.config["train_examples_per_class"] == 4
    code, out, _ = run_cli(QUEUE_ONLY, capsys)
    assert code == 0 and jobs.get_job(out.strip()).state == "queued"


def test_submit_reads_a_config_file_and_flags_win(jobs_dir: Path, tmp_path: Path, capsys) -> None:
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"method": "classic", "dataset": "toy", "seed": 7, "epochs": 2}))
    code, out, _ = run_cli(["jobs", "submit", "--no-start", "--config", str(path), "--epochs", "3"], capsys)
    config = jobs.get_job(out.strip()).config
    assert code == 0 and (config["seed"], config["epochs"]) == (7, 3)


def test_list_prints_a_table_and_ticks(jobs_dir: Path, capsys) -> None:
    assert run_cli(["jobs", "list"], capsys)[1].startswith("no jobs yet")
    code, out, _ = run_cli(QUEUE_ONLY, capsys)
    job_id = out.strip()
    code, out, _ = run_cli(["jobs", "list"], capsys)
    header, row = out.splitlines()
    assert code == 0 and header.split() == ["id", "kind", "state", "run", "created", "(UTC)", "error"]
    info = jobs.get_job(job_id)
    assert row.split()[:4] == [job_id, "train", "running", info.run_id]  # the list's tick started it
    assert header.index("state") == row.index("running")  # columns line up


def test_jobs_table_shows_the_error_on_one_line() -> None:
    class Info:
        job_id, kind, state, run_id = "j1", "train", "failed", "run-1"
        created_at, error = "2026-03-01T10:00:05.123+00:00", "DatasetNotFoundError: gone\n  (offline)"

    lines = jobs_table([Info()]).splitlines()
    assert lines[1].split(None, 6) == ["j1", "train", "failed", "run-1", "2026-03-01", "10:00:05",
                                       "DatasetNotFoundError: gone (offline)"]


def test_cancel_and_resume(jobs_dir: Path, capsys) -> None:
    code, out, _ = run_cli(["jobs", "submit", "--method", "classic", "--dataset", "toy"], capsys)
    job_id = out.strip()
    pid = jobs.get_job(job_id).pid
    os.kill(pid, signal.SIGKILL)  # a crashed job process: no exit.json
    while jobs.process_alive(pid, None):
        pass
    code, out, _ = run_cli(["jobs", "list"], capsys)
    assert "interrupted" in out.splitlines()[1]
    code, out, _ = run_cli(["jobs", "resume", job_id], capsys)
    assert code == 0 and out.strip() == f"{job_id} running"
    code, out, _ = run_cli(["jobs", "cancel", job_id], capsys)
    assert code == 0 and out.strip() == f"{job_id} cancelled"


@pytest.mark.parametrize("argv, message", [
    (["jobs", "submit", "--method", "classic", "--epochs", "0"],
     "error: epochs must be a whole number of at least 1, got 0"),
    (["jobs", "submit", "--method", "magic"], "error: argument --method: invalid choice: 'magic'"),
    (["jobs", "submit", "--method", "full", "--model", "no-such-model"],
     "error: unknown model 'no-such-model'"),
    (["jobs", "submit", "--config", "/nonexistent/run.yaml"], "error: cannot read config file"),
    (["jobs", "cancel", "nope"], "error: no job 'nope' in "),
    (["jobs", "resume", "../etc"], "error: '../etc' is not a job id"),
    (["jobs", "measure", "/nonexistent/run"], "error: no run folder /nonexistent/run"),
    (["jobs"], "error: the following arguments are required: ACTION"),
])
def test_bad_input_gives_one_error_line_exit_2_and_writes_nothing(jobs_dir: Path, argv: list[str],
                                                                  message: str, capsys) -> None:
    code, _, err = run_cli(argv, capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith(message), err
    assert not jobs_dir.exists() or not [p for p in jobs_dir.iterdir() if p.is_dir()]


def test_cancel_of_a_finished_job_says_which_and_why(jobs_dir: Path, capsys) -> None:
    code, out, _ = run_cli(QUEUE_ONLY, capsys)
    job_id = out.strip()
    run_cli(["jobs", "cancel", job_id], capsys)
    code, _, err = run_cli(["jobs", "cancel", job_id], capsys)
    assert code == 2 and err.startswith(f"error: cannot cancel job {job_id}: a cancelled job cannot become "
                                        "cancelled")


def test_help_lists_the_jobs_command() -> None:
    out = subprocess.run([sys.executable, "-m", "models", "--help"], cwd=ROOT, capture_output=True, text=True,
                         timeout=60).stdout
    assert "jobs" in out and "python -m models jobs submit" in out
