"""Figures of the jobs + Fine-tune page issue, measured against the real app in headless Chromium.

    python bench/jobs.py kill        # SIGKILL a running job: seconds until the page shows 'interrupted';
                                     # resume it from the page and show the steps continue after
                                     # the checkpoint
    python bench/jobs.py restart     # kill the Streamlit server while a job runs; the job finishes alone;
                                     # restart the server: seconds until the run's results are on the page
    python bench/jobs.py overhead    # training samples/s: CLI alone, then the same job with the page open
    python bench/jobs.py page-cpu [--live-curves]   # CPU seconds/s the open page costs (server + Chromium)
    python bench/jobs.py headless    # three real jobs submitted with no server and no browser, one tick:
                                     # last line finished_without_browser=<n>/3
    python bench/jobs.py all

Everything lives in a fresh temporary folder (workspace, runs, jobs) unless --out is given. Models and data
are the offline ones (all-MiniLM-L6-v2, the dataset mirror). Each figure prints one `RESULT ...` line.
Baselines are measured in the same invocation (overhead: CLI first, then the page, back to back).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analytics.settings import settings  # noqa: E402
from models.core.config import TrainConfig  # noqa: E402
from models.core.runs import Event, read_events  # noqa: E402
from models.jobs import queue as jobs  # noqa: E402

CHROMIUM = settings().chromium or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
PAGE_PATH = "/finetune"

SMALL_FULL = dict(method="full", model="all-MiniLM-L6-v2", dataset="sentiment_labelled_sentences",
                  train_examples_per_class=64, batch_size=8, max_length=64, epochs=1,
                  checkpoint_every_steps=4, log_every_steps=1, learning_rate=5e-5)
"""16 steps of a real full fine-tune plus 600 evaluated sentences: a couple of minutes on 2 busy cores."""
OVERHEAD_FULL = dict(method="full", model="all-MiniLM-L6-v2", dataset="banking77",
                     train_examples_per_class=100, batch_size=32, max_length=64, epochs=1,
                     log_every_steps=2, learning_rate=5e-5)
"""BANKING77 subset (~7,400 texts, ~230 steps): longer than the window on a quiet machine; stopped after
it."""


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)  # noqa: T201


def wait_for(predicate: Callable[[], Any], timeout_s: float, every_s: float = 0.1, what: str = "") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every_s)
    raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")


# ---------------------------------------------------------------- environment, server, browser


def setup_env(out: Path) -> dict[str, str]:
    out.mkdir(parents=True, exist_ok=True)
    env = {"STRATLAB_WORKSPACE": str(out / "workspace.duckdb"), "STRATLAB_RUNS_DIR": str(out / "runs"),
           "STRATLAB_JOBS_DIR": str(out / "jobs"), "STRATLAB_UPLOADS_DIR": str(out / "uploads"),
           "STRATLAB_DEMO_EVENTS": "20000", "STRATLAB_MAX_JOBS": "1", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "STRATLAB_DATASET_MIRROR": str(settings().dataset_mirror or ROOT.parent / "shared" / "datasets")}
    os.environ.update(env)
    os.environ.pop("STRATLAB_PASSWORD", None)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(out: Path, port: int, name: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true",
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    with open(out / f"streamlit-{name}.log", "wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    wait_for(healthy, 180, 0.25, "the Streamlit server")
    return process


def kill_group(process: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGKILL) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        process.wait(timeout=30)


@contextmanager
def browser_page(port: int) -> Iterator[Any]:
    """A headless Chromium tab on the Fine-tune page (it polls the jobs fragment every 2 s)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        page.set_default_timeout(120_000)
        page.goto(f"http://127.0.0.1:{port}{PAGE_PATH}")
        page.get_by_text("Jobs", exact=True).first.wait_for()
        try:
            yield page
        finally:
            browser.close()


def page_text(page: Any) -> str:
    return page.inner_text("body")


# ---------------------------------------------------------------- job helpers


def submit(out: Path, **fields: Any) -> jobs.JobInfo:
    config = TrainConfig(runs_dir=str(out / "runs"), **fields)
    info = jobs.submit(config)
    say(f"submitted {info.job_id} -> run {info.run_id}")
    return info


def steps_of(info: jobs.JobInfo) -> list[Event]:
    return [e for e in read_events(info.run_dir) if e.kind == "step"]


def checkpoint_steps(info: jobs.JobInfo) -> list[int]:
    root = info.run_dir / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(int(p.name[5:]) for p in root.glob("step-*") if (p / "state.json").is_file())


# ---------------------------------------------------------------- figures


def figure_kill(out: Path) -> dict[str, Any]:
    """SIGKILL the job's process group; time until the open page shows it interrupted; resume from the
    page."""
    port = free_port()
    server = start_server(out, port, "kill")
    try:
        with browser_page(port) as page:
            info = submit(out, **SMALL_FULL)
            wait_for(lambda: (len(checkpoint_steps(info)) >= 1
                              and steps_of(info)[-1].step > checkpoint_steps(info)[-1]),
                     900, 0.5, "a checkpoint and a step after it")
            info = jobs.get_job(info.job_id)
            last_step, checkpoint = steps_of(info)[-1].step, checkpoint_steps(info)[-1]
            killed_at = time.monotonic()
            os.killpg(info.pid, signal.SIGKILL)
            say(f"SIGKILL pid {info.pid} at step {last_step} (newest checkpoint step-{checkpoint})")
            wait_for(lambda: "interrupted" in page_text(page), 60, 0.1, "'interrupted' on the page")
            seen_s = time.monotonic() - killed_at
            say(f"page shows interrupted after {seen_s:.2f} s")
            page.screenshot(path=str(out / "kill-interrupted.png"), full_page=True)
            page.get_by_role("button", name="Resume").first.click()
            resumed_at = time.monotonic()
            wait_for(lambda: jobs.get_job(info.job_id).attempts >= 2, 60, 0.2,
                     "the page to requeue and start the job")
            final = wait_for(lambda: jobs.get_job(info.job_id).state not in ("queued", "running")
                             and jobs.get_job(info.job_id), 1200, 1.0, "the resumed job to end")
            wait_for(lambda: "Accuracy" in page_text(page), 120, 0.5, "the results on the page")
            page.screenshot(path=str(out / "kill-resumed-finished.png"), full_page=True)
    finally:
        kill_group(server, signal.SIGTERM)
    events = read_events(info.run_dir)
    resume_index = next(i for i, e in enumerate(events) if e.kind == "resume")
    start_after = next(e for e in events[resume_index:] if e.kind == "start")
    first_after = next(e for e in events[resume_index:] if e.kind == "step")
    result = {"seconds_to_interrupted_on_page": round(seen_s, 2), "killed_at_step": last_step,
              "checkpoint_step": checkpoint, "resumed_from_step": start_after.resumed_from_step,
              "first_step_after_resume": first_after.step, "final_state": final.state,
              "attempts": final.attempts, "resume_to_end_s": round(time.monotonic() - resumed_at, 1)}
    print("RESULT kill " + json.dumps(result), flush=True)  # noqa: T201
    return result


def figure_restart(out: Path) -> dict[str, Any]:
    """Kill the server while a job runs; the job ends alone; after a restart its results show up."""
    port = free_port()
    server = start_server(out, port, "restart-1")
    with browser_page(port) as page:
        info = submit(out, **SMALL_FULL)
        wait_for(lambda: steps_of(info), 900, 0.5, "the first step event")
        wait_for(lambda: "step " in page_text(page), 30, 0.5, "the progress bar")
    kill_group(server, signal.SIGKILL)
    info = jobs.get_job(info.job_id)
    alive = jobs.process_alive(info.pid, None)
    say(f"server killed at step {steps_of(info)[-1].step}; job pid {info.pid} alive: {alive}")
    wait_for(lambda: (info.job_dir / "exit.json").is_file(), 1200, 1.0, "the job to finish without the app")
    exit_info = json.loads((info.job_dir / "exit.json").read_text())
    say(f"job ended while the app was down: {exit_info['state']}")
    started = time.monotonic()
    server = start_server(out, port, "restart-2")
    try:
        with browser_page(port) as page:
            wait_for(lambda: "Accuracy" in page_text(page), 120, 0.5, "the run's results after restart")
            shown_s = time.monotonic() - started
            page.screenshot(path=str(out / "restart-results.png"), full_page=True)
    finally:
        kill_group(server, signal.SIGTERM)
    from analytics.db import Workspace

    ws = Workspace.open(out / "workspace.duckdb")
    rows = ws.rows("select state, accuracy from runs where run_id = ?", [info.run_id])
    ws.close()
    result = {"job_alive_after_server_kill": alive, "job_state": exit_info["state"],
              "seconds_from_restart_to_results_on_page": round(shown_s, 1), "workspace_rows": len(rows),
              "accuracy": rows[0][1] if rows else None,
              "job_state_after_restart": jobs.get_job(info.job_id).state}
    print("RESULT restart " + json.dumps(result), flush=True)  # noqa: T201
    return result


def _window_samples_per_s(events: list[Event]) -> float:
    rates = [e.samples_per_s for e in events if e.kind == "step"][1:]  # the first window holds warm-up
    return statistics.mean(rates) if rates else float("nan")


def _run_for(run_dir_of: Callable[[], Path | None], seconds: float) -> None:
    """Wait until the run has a step event, then `seconds` more."""
    def first_step() -> bool:
        run_dir = run_dir_of()
        return bool(run_dir and any(e.kind == "step" for e in read_events(run_dir)))

    wait_for(first_step, 900, 0.5, "the first step")
    time.sleep(seconds)


def _overhead_cli(out: Path, seconds: float, tag: str) -> float:
    config = TrainConfig(runs_dir=str(out / "runs-cli"), run_name=f"overhead-cli-{tag}", **OVERHEAD_FULL)
    (out / f"overhead-cli-{tag}.json").write_text(json.dumps(config.to_dict()))
    with open(out / f"overhead-cli-{tag}.log", "wb") as log:
        cli = subprocess.Popen([sys.executable, "-m", "models", "train",
                                "--config", str(out / f"overhead-cli-{tag}.json")],
                               cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    run_dir = out / "runs-cli" / f"overhead-cli-{tag}"
    _run_for(lambda: run_dir, seconds)
    kill_group(cli, signal.SIGTERM)
    rate = _window_samples_per_s(read_events(run_dir))
    say(f"CLI alone: {rate:.2f} samples/s ({len(steps_of_dir(run_dir))} windows)")
    return rate


def _overhead_page(out: Path, seconds: float, tag: str) -> float:
    port = free_port()
    server = start_server(out, port, f"overhead-{tag}")
    try:
        with browser_page(port) as page:
            info = submit(out, **OVERHEAD_FULL)
            _run_for(lambda: info.run_dir, seconds)
            page.screenshot(path=str(out / f"overhead-page-{tag}.png"), full_page=True)
            if jobs.get_job(info.job_id).is_active:
                jobs.cancel(info.job_id, grace_s=10)
    finally:
        kill_group(server, signal.SIGTERM)
    rate = _window_samples_per_s(read_events(info.run_dir))
    say(f"page open: {rate:.2f} samples/s ({len(steps_of(info))} windows)")
    return rate


def figure_overhead(out: Path, seconds: float, order: str) -> dict[str, Any]:
    """samples/s of the same full fine-tune: `python -m models train` alone vs a job with the page open in
    Chromium, in the given order (e.g. 'cp' = CLI then page, 'cppc' = ABBA), back to back."""
    rates: dict[str, list[float]] = {"c": [], "p": []}
    for i, side in enumerate(order):
        runner = _overhead_cli if side == "c" else _overhead_page
        rates[side].append(runner(out, seconds, f"{i}{side}"))
    cli, page = statistics.mean(rates["c"]), statistics.mean(rates["p"])
    result = {"order": order, "cli_samples_per_s": [round(r, 2) for r in rates["c"]],
              "page_open_samples_per_s": [round(r, 2) for r in rates["p"]],
              "page_vs_cli": round(page / cli, 3), "window_s": seconds}
    print("RESULT overhead " + json.dumps(result), flush=True)  # noqa: T201
    return result


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by `pids` (from /proc/<pid>/stat)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _chromium_pids() -> list[int]:
    found = subprocess.run(["pgrep", "-f", "chromium"], capture_output=True, text=True).stdout.split()
    return [int(p) for p in found]


def figure_page_cpu(out: Path, seconds: float, live_curves: bool) -> dict[str, Any]:
    """CPU the open page costs while a job runs: the Streamlit server and Chromium, in CPU seconds per second.

    Immune to other load on the machine (unlike samples/s). The job is the fake trainer of the tests (it
    sleeps, so it steals nothing) logging a step event every 0.2 s, which is more often than real training
    does.
    """
    os.environ.update(STRATLAB_TRAIN_FUNCTION="tests.models.fake_train:train", FAKE_STEP_S="0.2",
                      PYTHONPATH=str(ROOT))
    port = free_port()
    server = start_server(out, port, "page-cpu")
    try:
        with browser_page(port) as page:
            if live_curves:
                page.get_by_text("Show live curves").click()
            info = submit(out, method="full", dataset="toy", max_steps=int(seconds * 5) + 200,
                          log_every_steps=1)
            wait_for(lambda: steps_of(info), 120, 0.2, "the first step")
            time.sleep(4)
            server_0, chromium_0 = _cpu_seconds([server.pid]), _cpu_seconds(_chromium_pids())
            time.sleep(seconds)
            server_s = _cpu_seconds([server.pid]) - server_0
            chromium_s = _cpu_seconds(_chromium_pids()) - chromium_0
            page.screenshot(path=str(out / f"page-cpu-curves-{live_curves}.png"))
            jobs.cancel(info.job_id, grace_s=2)
    finally:
        kill_group(server, signal.SIGTERM)
    cores = os.cpu_count() or 1
    result = {"live_curves": live_curves, "window_s": seconds, "server_cpu_s": round(server_s, 2),
              "chromium_cpu_s": round(chromium_s, 2),
              "share_of_machine": round((server_s + chromium_s) / (seconds * cores), 3), "cores": cores}
    print("RESULT page_cpu " + json.dumps(result), flush=True)  # noqa: T201
    return result


HEADLESS_JOBS = tuple(dict(method="classic", dataset="banking77", train_examples_per_class=k, seed=42)
                      for k in (4, 8, 16))
"""Three small real jobs: TF-IDF + logistic regression on BANKING77 subsets, scored on the 3,080 test texts;
each is followed by its measure job."""


def figure_headless(out: Path, timeout_s: float) -> int:
    """Submit three real jobs and tick the queue ONCE, with no server and no browser; every later start is a
    finishing job handing its slot on. Waits (reading job folders only, never ticking) until all have ended
    or `timeout_s` passed. Returns how many training jobs succeeded."""
    submitted = [submit(out, **fields) for fields in HEADLESS_JOBS]
    started = time.monotonic()
    jobs.tick()
    say("ticked once; from now on only the job processes start jobs")

    def ended() -> bool:
        return all(j.state not in jobs.ACTIVE_STATES for j in jobs.list_jobs())

    try:
        wait_for(ended, timeout_s, 1.0, "every job (and its measure job) to end")
    except TimeoutError as e:
        say(str(e))
    listed = jobs.list_jobs()
    by_id = {j.job_id: j for j in listed}
    finished = sum(by_id[j.job_id].state == "succeeded" for j in submitted)
    measured = [j for j in listed if j.kind == "measure" and j.state == "succeeded"]
    for info in sorted(listed, key=lambda j: j.created_at):
        say(f"{info.job_id}: {info.kind} {info.state} ({info.finished_at or 'not finished'})")
    result = {"submitted": len(submitted), "finished": finished, "measure_jobs_succeeded": len(measured),
              "wall_s": round(time.monotonic() - started, 1), "ticks_by_this_script": 1,
              "load_average_1m": round(os.getloadavg()[0], 2)}
    print("RESULT headless " + json.dumps(result), flush=True)  # noqa: T201
    print(f"finished_without_browser={finished}/{len(submitted)}", flush=True)  # noqa: T201
    return finished


def steps_of_dir(run_dir: Path) -> list[Event]:
    return [e for e in read_events(run_dir) if e.kind == "step"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("figure", choices=("kill", "restart", "overhead", "page-cpu", "headless", "all"))
    parser.add_argument("--timeout", type=float, default=900.0, help="headless: seconds to wait at most")
    parser.add_argument("--out", type=Path, help="folder for workspace, runs, jobs, logs, screenshots")
    parser.add_argument("--seconds", type=float, default=60.0, help="overhead: training window per side")
    parser.add_argument("--live-curves", action="store_true", help="page-cpu: switch the live curves on")
    parser.add_argument("--order", default="cp", help="overhead: c = CLI, p = page open, e.g. cppc (ABBA)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    setup_env(out.resolve())
    say(f"working in {out}")
    if args.figure in ("kill", "all"):
        figure_kill(out.resolve())
    if args.figure in ("restart", "all"):
        figure_restart(out.resolve())
    if args.figure == "page-cpu":
        figure_page_cpu(out.resolve(), min(args.seconds, 30.0), args.live_curves)
    if args.figure in ("overhead", "all"):
        figure_overhead(out.resolve(), args.seconds, args.order)
    if args.figure == "headless":
        return 0 if figure_headless(out.resolve(), args.timeout) == len(HEADLESS_JOBS) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
