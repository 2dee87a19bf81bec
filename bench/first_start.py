"""Time of the first app start: creating the default sample workspace, server health, first page in Chromium.

1. `Workspace.open` on a new file with the default sample size (1M events unless --events), in a fresh
   process.
2. `streamlit run app.py` on another new workspace file: seconds until /_stcore/health answers, then seconds
   until Chromium shows Home's metric cards (the first render creates the workspace, as on a newcomer's
   machine).

    .venv/bin/python bench/first_start.py [--events 1000000] [--skip-open] [--skip-browser]

Last line: events=<n> workspace_open_s=<s> health_s=<s> spinner_s=<s> first_render_s=<s>
"""

from __future__ import annotations

import argparse
import os
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

CHROMIUM = settings().chromium or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"]
OPEN_CODE = """
import sys, time
from analytics.db import Workspace
start = time.perf_counter()
Workspace.open(sys.argv[1], demo_events=int(sys.argv[2])).close()
print(time.perf_counter() - start)
"""


def time_workspace_open(path: Path, events: int) -> float:
    """Seconds `Workspace.open` takes to create a sample workspace of `events` in a fresh process."""
    done = subprocess.run([sys.executable, "-c", OPEN_CODE, str(path), str(events)], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_health(url: str, process: subprocess.Popen, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"streamlit exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"no /_stcore/health within {timeout_s:.0f} s")


def _first_render_s(url: str) -> tuple[float, float]:
    """Seconds from opening Home in Chromium until the first-start spinner shows, and until the four metric
    cards are visible (nan for the spinner if the page was done before it was seen)."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        start = time.perf_counter()
        page.goto(url, wait_until="domcontentloaded")
        try:
            page.get_by_text("Opening the workspace").first.wait_for(state="visible", timeout=120_000)
            spinner_s = time.perf_counter() - start
        except PlaywrightError:
            spinner_s = float("nan")
        page.get_by_test_id("stMetric").nth(3).wait_for(state="visible", timeout=600_000)
        elapsed = time.perf_counter() - start
        browser.close()
    return spinner_s, elapsed


def time_app_start(tmp: Path, events: int, browser: bool) -> tuple[float, float, float]:
    """Seconds to /_stcore/health, then from opening Home in Chromium to the first-start spinner and to the
    rendered page (both nan without the browser)."""
    port = _free_port()
    env = dict(os.environ, STRATLAB_WORKSPACE=str(tmp / "app.duckdb"), STRATLAB_DEMO_EVENTS=str(events),
               STRATLAB_RUNS_DIR=str(tmp / "runs"), STRATLAB_JOBS_DIR=str(tmp / "jobs"))
    env.pop("STRATLAB_PASSWORD", None)
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true"]
    start = time.perf_counter()
    with (tmp / "streamlit.log").open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_health(url, process)
        health_s = time.perf_counter() - start
        spinner_s, render_s = _first_render_s(url) if browser else (float("nan"), float("nan"))
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return health_s, spinner_s, render_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000,
                        help="sample events (the app's default is 1M)")
    parser.add_argument("--skip-open", action="store_true", help="do not time Workspace.open on its own")
    parser.add_argument("--skip-browser", action="store_true", help="only time the server's health endpoint")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="stratlab-first-start-") as name:
        tmp = Path(name)
        open_s = float("nan") if args.skip_open else time_workspace_open(tmp / "open.duckdb", args.events)
        print(f"Workspace.open (new file, {args.events:,} events): {open_s:.1f} s")
        health_s, spinner_s, render_s = time_app_start(tmp, args.events, not args.skip_browser)
        print(f"streamlit run -> /_stcore/health: {health_s:.1f} s")
        print(f"open Home in Chromium -> 'Opening the workspace' spinner visible: {spinner_s:.1f} s")
        print(f"open Home in Chromium -> Home rendered (creates the workspace): {render_s:.1f} s")
    print(f"events={args.events} workspace_open_s={open_s:.2f} health_s={health_s:.2f} "
          f"spinner_s={spinner_s:.2f} first_render_s={render_s:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
