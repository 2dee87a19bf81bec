"""Driving the app in a real browser: a Streamlit server on a loopback port, Chromium through Playwright,
and page helpers that wait for Streamlit to settle (helpers, not tests; fixtures are in conftest.py)."""


from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-quic", "--no-first-run",
]
SERVER_START_S = 120
"""Seconds allowed for the server to answer /_stcore/health (it builds a 30k-event workspace first)."""
STEP_MS = 60_000
"""Milliseconds allowed for any one page element to appear (CI machines are slow and shared)."""
VIEWPORT = {"width": 1400, "height": 900}

# Console errors allowed in every browser test, each with its reason (everything seen is written to
# test-artifacts/browser/console.txt). Nothing else is allowed.
ALLOWED_CONSOLE = (
    # Streamlit's frontend, loaded at a page URL such as /compare (a reload, a link), probes the server at
    # the page's own path first (/compare/_stcore/health and /compare/_stcore/host-config), then at the
    # root, which answers. The server answers 404 to those page-relative paths on purpose (Streamlit 1.67,
    # web/server/starlette/starlette_static_routes.py, _RESERVED_STATIC_PATH_SUFFIXES) so that the probe
    # moves on, and Chromium logs each 404 as a console error. Upstream, open:
    # https://github.com/streamlit/streamlit/issues/7074 . No server or client option changes it (the
    # probe list comes from the page URL unless the host page sets window.__streamlit.BACKEND_BASE_URL
    # before Streamlit's bundle loads, which a `streamlit run` app cannot do). Allowed: exactly these two
    # paths, one segment below the root, answered 404.
    re.compile(r"^error: Failed to load resource: the server responded with a status of 404 \(Not Found\) "
               r"\[https?://[^/\s]+/[\w-]+/_stcore/(health|host-config)\]$"),
)


def allowed_console(line: str) -> bool:
    """Whether a console line as Console records it ('<kind>: <text> [<url>]') is in ALLOWED_CONSOLE."""
    return any(pattern.match(line) for pattern in ALLOWED_CONSOLE)


SAMPLE_CSV = (
    "account,region,seats,mrr_usd\n"
    "Acme Robotics,EMEA,25,2500\n"
    "Blue Harbor,AMER,40,4000\n"
    "Cedar Labs,APAC,12,1200\n"
    "Delta Health,AMER,60,6600\n"
)
IMPORT_TABLE = "journey_accounts"


# -- prerequisites -------------------------------------------------------------------------------------
def missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI is set, so the browser journey must run here", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the server ----------------------------------------------------------------------------------------
@dataclass
class Server:
    """A running `streamlit run app.py` with its own workspace, runs and jobs folders."""

    url: str
    process: subprocess.Popen
    log_path: Path
    tmp: Path

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


def server_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("STRATLAB_PASSWORD", None)
    env.update(
        STRATLAB_WORKSPACE=str(tmp / "workspace.duckdb"),
        STRATLAB_DEMO_EVENTS="30000",
        STRATLAB_RUNS_DIR=str(tmp / "runs"),
        STRATLAB_JOBS_DIR=str(tmp / "jobs"),
        PYTHONUNBUFFERED="1",
    )
    return env


def wait_healthy(server: Server, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(
                f"streamlit exited with {server.process.returncode}:\n{server.log_tail()}", pytrace=False
            )
        try:
            with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as r:
                if r.status == 200 and r.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.25)
    pytest.fail(f"streamlit did not answer /_stcore/health within {timeout_s:.0f} s:\n{server.log_tail()}",
                pytrace=False)


def stop(process: subprocess.Popen) -> None:
    """Terminate the server's process group, then kill it if it does not stop within 10 s."""
    if process.poll() is not None:
        return
    pgid = os.getpgid(process.pid)
    os.killpg(pgid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(pgid, signal.SIGKILL)
        process.wait(timeout=10)


# -- the browser ---------------------------------------------------------------------------------------
@dataclass
class Console:
    """Browser console errors and uncaught page errors, minus ALLOWED_CONSOLE."""

    errors: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    everything: list[str] = field(default_factory=list)

    def record(self, kind: str, text: str) -> None:
        line = f"{kind}: {text}"
        self.everything.append(line)
        if kind in ("error", "pageerror"):
            (self.ignored if allowed_console(line) else self.errors).append(line)


# -- page helpers --------------------------------------------------------------------------------------
SETTLED_JS = """() => { const app = document.querySelector('[data-testid="stApp"]');
    return !!app && app.dataset.testScriptState === 'notRunning'
        && app.dataset.testConnectionState === 'CONNECTED'; }"""
"""Streamlit's own run state on the app root (what its e2e tests wait for): connected, and no script run."""


def settle(page) -> None:
    """Wait until Streamlit has finished the current script run (the app root says notRunning, no 'Running...'
    status widget, no skeleton): a cached call's spinner is part of the run."""
    page.wait_for_timeout(300)  # let a rerun triggered by the last action start
    page.wait_for_function(SETTLED_JS, timeout=STEP_MS)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=STEP_MS)
    page.locator('[data-testid="stSkeleton"]').first.wait_for(state="hidden", timeout=STEP_MS)


def see(page, text: str, exact: bool = False) -> None:
    """Wait until `text` is visible in the app (first match). When it never shows, fail with what the app
    shows instead (its alerts and exceptions) and a screenshot, so a CI failure says why."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.get_by_text(text, exact=exact).first.wait_for(state="visible", timeout=STEP_MS)
    except PlaywrightTimeout:
        shown = page.locator('[data-testid="stAlert"], [data-testid="stException"]').all_inner_texts()
        shot = ARTIFACTS / f"not-seen-{re.sub(r'[^A-Za-z0-9]+', '-', text)[:40]}.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
        pytest.fail(f"{text!r} did not show in {STEP_MS / 1000:.0f} s; the app shows "
                    f"{[t.strip()[:300] for t in shown] or 'no alert'} (screenshot: {shot})", pytrace=False)


def screenshot(page, name: str) -> Path:
    """Full-page screenshot: Streamlit scrolls inside its main container, so grow the viewport to fit it."""
    settle(page)
    height = page.evaluate(
        """() => Math.max(...[...document.querySelectorAll(
            '[data-testid="stMain"], [data-testid="stAppScrollToBottomContainer"], '
            + '[data-testid="stSidebarContent"], body')]
            .map(e => e.scrollHeight))"""
    )
    page.set_viewport_size(
        {"width": VIEWPORT["width"], "height": max(VIEWPORT["height"], min(int(height), 8000))}
    )
    page.wait_for_timeout(500)  # charts re-layout to the new size
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(VIEWPORT)
    return path


def go(page, title: str) -> None:
    """Open a page through the sidebar navigation and wait for its title."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
    page.get_by_role("heading", name=title).first.wait_for(state="visible", timeout=STEP_MS)
    settle(page)


def no_exceptions(page, where: str) -> None:
    shown = page.get_by_test_id("stException")
    if shown.count():
        pytest.fail(f"{where}: the app shows an exception:\n{shown.first.inner_text()}", pytrace=False)


@contextmanager
def running_server(tmp: Path, env: dict[str, str] | None = None) -> Iterator[Server]:
    """`streamlit run app.py` on a free loopback port with its own folders under `tmp`; stopped (terminate,
    then kill, the whole process group) on exit."""
    port = free_port()
    log_path = tmp / "streamlit.log"
    command = [
        sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
        "--server.address", "127.0.0.1", "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
    ]
    with log_path.open("wb") as log:
        # Own session, so teardown can stop the server and anything it started, and nothing else.
        process = subprocess.Popen(command, cwd=ROOT, env=env or server_env(tmp), stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path, tmp=tmp)
    try:
        wait_healthy(server, SERVER_START_S)
        yield server
    finally:
        stop(process)
