"""Measure the quick demo from click to chart in a real browser, and screenshot the Compare page and the memo.

Starts `streamlit run app.py` on a fresh workspace (temporary folder), opens the Compare page in Debian's
Chromium (Playwright, never `playwright install`), clicks the quick-demo button and times:
    first_candidate_s   click -> the first candidate (a frontier chart) is on the page
    three_candidates_s  click -> three measured candidates (classic, probe, fine-tune) on the leaderboard
    all_s               click -> every demo job (training and measure jobs) has ended
    page_all_s          click -> the page shows every run measured (the ingest of the last measurement)
Then saves screenshots of each tab and of the downloaded memo under test-artifacts/compare/, and prints the
frontier (candidate, accuracy, $/1k) read back from the workspace.

`--jobs-only` leaves out the server and the browser: it submits the demo through models.jobs.demo_plan into
a fresh queue and times, from the submit, until each candidate's run has succeeded and been measured
(inference.json written); what the page can show at the earliest.

Goals (issue 11, 2 idle CPU cores): first_candidate_s <= 30, three_candidates_s <= 180, all_s <= 300,
finetune_acc > classic_acc. Last line:
    first_candidate_s=<s> three_candidates_s=<s> all_s=<s> finetune_acc=<a> classic_acc=<b>

    .venv/bin/python bench/compare_demo_journey.py [--timeout-min 40] [--jobs-only]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analytics.settings import settings  # noqa: E402

OUT = ROOT / "test-artifacts" / "compare"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(tmp: Path, port: int) -> subprocess.Popen:
    env = dict(os.environ, STRATLAB_WORKSPACE=str(tmp / "workspace.duckdb"), STRATLAB_DEMO_EVENTS="30000",
               STRATLAB_RUNS_DIR=str(tmp / "runs"), STRATLAB_JOBS_DIR=str(tmp / "jobs"), PYTHONUNBUFFERED="1",
               STRATLAB_DATASET_MIRROR=str(settings().dataset_mirror or ROOT.parent / "shared" / "datasets"))
    env.pop("STRATLAB_PASSWORD", None)
    log = open(tmp / "streamlit.log", "wb")  # noqa: SIM115 - lives as long as the server
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true",
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return process
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"server did not start; see {tmp / 'streamlit.log'}")


def runs_on_page(page) -> int:
    """The run count the leaderboard's caption shows (0 before any run lands)."""
    match = re.search(r"candidates on banking77: (\d+) runs", page.inner_text("body"))
    return int(match.group(1)) if match else 0


def jobs_finished(tmp: Path) -> bool:
    """Every job in the workspace's queue has ended (training and measure jobs alike)."""
    states = [json.loads(p.read_text()).get("state") for p in (tmp / "jobs").glob("*/state.json")]
    return bool(states) and all(state in ("succeeded", "failed", "cancelled", "interrupted")
                                for state in states)


def shoot(page, name: str) -> None:
    """Full-page screenshot (of the window: Streamlit scrolls inside its own container)."""
    page.wait_for_timeout(2500)
    page.screenshot(path=str(OUT / name), full_page=True)
    print(f"screenshot {OUT / name}", flush=True)


def open_tab(page, label: str) -> None:
    page.get_by_role("tab", name=label).click()
    page.wait_for_timeout(1000)


def journey(url: str, timeout_s: float, tmp: Path, screens_only: bool = False) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    times: dict[str, float] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        height = 3400 if screens_only else 1000  # a tall window: Streamlit scrolls inside its own container
        page = browser.new_context(viewport={"width": 1400, "height": height},
                                   accept_downloads=True).new_page()
        page.set_default_timeout(120_000)
        page.goto(f"{url}/compare")
        clicked = time.monotonic()
        deadline = clicked + timeout_s
        if not screens_only:
            page.get_by_text("No measured candidates yet").wait_for()
            shoot(page, "compare-empty.png")
            page.get_by_role("button", name=re.compile("Run the quick demo")).click()
            clicked = time.monotonic()
            print("clicked the quick demo", flush=True)
            deadline = clicked + timeout_s
        else:
            page.get_by_text("candidates on banking77").wait_for()
        while not screens_only and time.monotonic() < deadline:
            page.wait_for_timeout(2000)
            runs = runs_on_page(page)
            # what the browser shows now (debugging)
            (tmp / "page-text.txt").write_text(page.inner_text("body"))
            if runs and "first_candidate_s" not in times and page.locator(".js-plotly-plot").count():
                times["first_candidate_s"] = time.monotonic() - clicked
                print(f"first candidate after {times['first_candidate_s']:.0f} s", flush=True)
            if (runs >= 3 and "three_candidates_s" not in times
                    and "no inference benchmark" not in page.inner_text("body")):
                times["three_candidates_s"] = time.monotonic() - clicked
                print(f"three candidates after {times['three_candidates_s']:.0f} s", flush=True)
                shoot(page, "compare-three.png")
            now = time.monotonic() - clicked
            if runs >= 3 and "all_s" not in times and jobs_finished(tmp):
                times["all_s"] = now  # every training and measure job of the demo has ended
                print(f"all demo jobs after {times['all_s']:.0f} s ({runs} runs)", flush=True)
            body = page.inner_text("body")
            if "all_s" in times and "Quick demo:" not in body and "no inference benchmark" not in body:
                times["page_all_s"] = now
                print(f"the page shows every measured run after {now:.0f} s", flush=True)
                break
            if "all_s" in times and now - times["all_s"] > 30:
                print("the page still misses a measurement 30 s after the last job ended (see page-text.txt)",
                      flush=True)
                break
        shoot(page, "compare-leaderboard.png")
        for label, name in (("Cascade", "compare-cascade.png"), ("Learning curve", "compare-learning.png"),
                            ("Prices", "compare-prices.png"), ("Scaling planner", "compare-planner.png"),
                            ("Memo", "compare-memo-tab.png")):
            open_tab(page, label)
            shoot(page, name)
        with page.expect_download() as download:
            page.get_by_role("button", name=re.compile("Download the decision memo")).click()
        memo = OUT / "decision-memo.html"
        download.value.save_as(str(memo))
        memo_page = browser.new_context(viewport={"width": 1300, "height": 1000}).new_page()
        memo_page.route("**/*", lambda route: route.abort() if not route.request.url.startswith("file:")
                        else route.continue_())  # prove it needs nothing from outside
        memo_page.goto(memo.as_uri())
        memo_page.wait_for_selector(".js-plotly-plot")
        shoot(memo_page, "memo.png")
        browser.close()
    return times


def frontier(tmp: Path) -> list[dict[str, object]]:
    from analytics.compute.compare.leaderboard import DEFAULT_REQUESTS_PER_MONTH, CompareSettings, leaderboard
    from analytics.compute.compare.recommend import recommend
    from analytics.db import Workspace

    ws = Workspace.open(tmp / "workspace.duckdb", seed_demo=False)
    try:
        settings = CompareSettings(dataset="banking77", requests_per_month=DEFAULT_REQUESTS_PER_MONTH)
        board = leaderboard(ws, settings)
        cols = ["candidate", "accuracy", "accuracy_ci_low", "accuracy_ci_high", "cost_per_1k_usd", "p50_ms",
                "throughput_per_s", "training_usd", "on_frontier"]
        print(recommend(board))
        return board.table[cols].to_dict("records")
    finally:
        ws.close()


def jobs_only(tmp: Path, timeout_s: float) -> dict[str, float]:
    """Submit the demo into a fresh queue (no server, no browser) and time each candidate's landing."""
    os.environ.update(STRATLAB_RUNS_DIR=str(tmp / "runs"), STRATLAB_JOBS_DIR=str(tmp / "jobs"))
    from models.jobs import queue
    from models.jobs.demo_plan import submit_quick_demo

    started = time.monotonic()
    jobs = submit_quick_demo(tmp / "runs", tmp / "jobs")
    queue.tick(tmp / "jobs")
    landed: dict[str, float] = {}
    while time.monotonic() - started < timeout_s:
        infos = queue.tick(tmp / "jobs")  # the queue runs itself; ticking too only makes the timing exact
        for job in jobs:
            if job.run_id not in landed and (job.run_dir / "inference.json").is_file():
                landed[job.run_id] = time.monotonic() - started
                print(f"{job.config['method']} {job.config['train_examples_per_class']}/class landed after "
                      f"{landed[job.run_id]:.0f} s", flush=True)
        if not any(i.is_active for i in infos):
            break
        time.sleep(0.5)
    order = sorted(landed.values())
    times = {"all_s": time.monotonic() - started}
    if order:
        times["first_candidate_s"] = order[0]
    if len(order) >= 3:
        times["three_candidates_s"] = order[2]
    return times


def accuracies(tmp: Path) -> dict[str, float]:
    """Test accuracy of the demo's runs at its main subset size by method, from the run folders."""
    from models.jobs.demo_plan import DEMO_EXAMPLES_PER_CLASS

    found: dict[str, float] = {}
    for config_path in sorted((tmp / "runs").glob("*/config.json")):
        config = json.loads(config_path.read_text())
        eval_path = config_path.parent / "eval.json"
        if config.get("train_examples_per_class") != DEMO_EXAMPLES_PER_CLASS or not eval_path.is_file():
            continue
        evaluation = json.loads(eval_path.read_text())
        accuracy = evaluation.get("metrics", evaluation).get("accuracy")
        if accuracy is not None:
            found[config["method"]] = float(accuracy)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout-min", type=float, default=40)
    parser.add_argument("--screens-only", type=Path, default=None,
                        help="a folder from an earlier run: only take the screenshots again")
    parser.add_argument("--jobs-only", action="store_true",
                        help="no server or browser: submit the demo's jobs and time them")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = args.screens_only or Path(tempfile.mkdtemp(prefix="compare-demo-"))
    load_before = os.getloadavg()
    if args.jobs_only:
        times = jobs_only(tmp, args.timeout_min * 60)
    else:
        port = free_port()
        server = start_server(tmp, port)
        try:
            times = journey(f"http://127.0.0.1:{port}", args.timeout_min * 60, tmp,
                            args.screens_only is not None)
        finally:
            os.killpg(os.getpgid(server.pid), signal.SIGTERM)
            server.wait(timeout=30)
    load_after = os.getloadavg()
    jobs = sorted((tmp / "jobs").glob("*/state.json"))
    spans = [json.loads(p.read_text()) for p in jobs]
    acc = accuracies(tmp)
    result = {"times_s": times, "accuracy": acc,
              "jobs": [(s["state"], s.get("started_at"), s.get("finished_at")) for s in spans],
              "load_average": {"before": load_before, "after": load_after}, "cpu_count": os.cpu_count(),
              "tmp": str(tmp)}
    if not args.jobs_only:
        result["frontier"] = frontier(tmp)
    name = "demo-screens.json" if args.screens_only else "demo-timing.json"
    (OUT / name).write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps(result, indent=2, default=str))
    print(f"load average before {' '.join(f'{x:.2f}' for x in load_before)}, after "
          f"{' '.join(f'{x:.2f}' for x in load_after)} (1, 5, 15 min) on {os.cpu_count()} CPUs")

    def figure(value: float | None, digits: int) -> str:
        return "nan" if value is None else f"{value:.{digits}f}"

    print(f"first_candidate_s={figure(times.get('first_candidate_s'), 0)} "
          f"three_candidates_s={figure(times.get('three_candidates_s'), 0)} "
          f"all_s={figure(times.get('all_s'), 0)} "
          f"finetune_acc={figure(acc.get('full'), 4)} classic_acc={figure(acc.get('classic'), 4)}")


if __name__ == "__main__":
    main()
