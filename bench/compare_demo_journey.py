"""Measure the quick demo from click to chart in a real browser, and screenshot the Compare page and the memo.

Starts `streamlit run app.py` on a fresh workspace (temporary folder), opens the Compare page in Debian's
Chromium (Playwright, never `playwright install`), clicks the quick-demo button and times:
    first_chart_s   click -> the first frontier chart is on the page
    three_s         click -> three candidates (classic, probe, fine-tune) are on the leaderboard
    all_s           click -> every demo job has finished and been ingested
Then saves screenshots of each tab and of the downloaded memo under test-artifacts/compare/, and prints the
frontier (candidate, accuracy, $/1k) read back from the workspace.

    .venv/bin/python bench/compare_demo_journey.py [--timeout-min 40] [--no-learning-curve]
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
            if runs and "first_chart_s" not in times and page.locator(".js-plotly-plot").count():
                times["first_chart_s"] = time.monotonic() - clicked
                print(f"first chart after {times['first_chart_s']:.0f} s", flush=True)
            if (runs >= 3 and "three_s" not in times
                    and "no inference benchmark" not in page.inner_text("body")):
                times["three_s"] = time.monotonic() - clicked
                print(f"three candidates after {times['three_s']:.0f} s", flush=True)
                shoot(page, "compare-three.png")
            if runs >= 3 and "Quick demo:" not in page.inner_text("body") and \
                    "no inference benchmark" not in page.inner_text("body"):
                times["all_s"] = time.monotonic() - clicked
                print(f"all demo jobs after {times['all_s']:.0f} s ({runs} runs)", flush=True)
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
    from analytics.compute.compare.leaderboard import CompareSettings, leaderboard
    from analytics.compute.compare.recommend import recommend
    from analytics.db import Workspace

    ws = Workspace.open(tmp / "workspace.duckdb", seed_demo=False)
    try:
        board = leaderboard(ws, CompareSettings(dataset="banking77", requests_per_month=100_000))
        cols = ["candidate", "accuracy", "accuracy_ci_low", "accuracy_ci_high", "cost_per_1k_usd", "p50_ms",
                "throughput_per_s", "training_usd", "on_frontier"]
        print(recommend(board))
        return board.table[cols].to_dict("records")
    finally:
        ws.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout-min", type=float, default=40)
    parser.add_argument("--screens-only", type=Path, default=None,
                        help="a folder from an earlier run: only take the screenshots again")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = args.screens_only or Path(tempfile.mkdtemp(prefix="compare-demo-"))
    port = free_port()
    server = start_server(tmp, port)
    try:
        times = journey(f"http://127.0.0.1:{port}", args.timeout_min * 60, tmp, args.screens_only is not None)
    finally:
        os.killpg(os.getpgid(server.pid), signal.SIGTERM)
        server.wait(timeout=30)
    jobs = sorted((tmp / "jobs").glob("*/state.json"))
    spans = [json.loads(p.read_text()) for p in jobs]
    result = {"times_s": times,
              "jobs": [(s["state"], s.get("started_at"), s.get("finished_at")) for s in spans],
              "frontier": frontier(tmp), "tmp": str(tmp)}
    name = "demo-screens.json" if args.screens_only else "demo-timing.json"
    (OUT / name).write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
