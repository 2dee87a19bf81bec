"""One real-browser journey: the app in a Streamlit server, driven by Debian's Chromium through Playwright.

Home -> Data (upload a CSV, preview, import) -> Market -> Metrics, with a full-page screenshot at each step in
test-artifacts/browser/ and no app errors in the browser console. Without Chromium (or Playwright) the test
skips locally and FAILS when $CI is set: a journey that cannot run in CI must not pass silently.

Run just this: .venv/bin/pytest -q tests/test_browser_journey.py
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
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

# Console errors that are not the app's fault, and why they are ignored (everything seen is written to
# test-artifacts/browser/console.txt). Only this was seen in Chromium 156 / Streamlit 1.67:
BENIGN_CONSOLE = (
    # The tab icon: app.py's page_icon=":material/insights:" makes the browser fetch the icon's SVG from
    # fonts.gstatic.com, unreachable offline (CI, sandboxes). Nothing on the page depends on it.
    "fonts.gstatic.com/s/i/short-term/release/materialsymbols",
)

SAMPLE_CSV = (
    "account,region,seats,mrr_usd\n"
    "Acme Robotics,EMEA,25,2500\n"
    "Blue Harbor,AMER,40,4000\n"
    "Cedar Labs,APAC,12,1200\n"
    "Delta Health,AMER,60,6600\n"
)
IMPORT_TABLE = "journey_accounts"


# -- prerequisites -------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium executable ($STRATLAB_CHROMIUM if set); skip without it locally, fail in CI."""
    chosen = os.environ.get("STRATLAB_CHROMIUM")
    candidates = (chosen,) if chosen else (*CHROMIUM_CANDIDATES, shutil.which("chromium"))
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            break
    else:
        _missing(f"Chromium not found at {chosen or ', '.join(CHROMIUM_CANDIDATES)} "
                 f"(Debian: apt-get install chromium; or set STRATLAB_CHROMIUM)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("the playwright package is not installed (pip install -e '.[dev]')")
    return str(candidate)


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI is set, so the browser journey must run here", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
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


def _server_env(tmp: Path) -> dict[str, str]:
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


def _wait_healthy(server: Server, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"streamlit exited with {server.process.returncode}:\n{server.log_tail()}", pytrace=False)
        try:
            with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as r:
                if r.status == 200 and r.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.25)
    pytest.fail(f"streamlit did not answer /_stcore/health within {timeout_s:.0f} s:\n{server.log_tail()}",
                pytrace=False)


def _stop(process: subprocess.Popen) -> None:
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


@pytest.fixture(scope="session")
def app_server(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The real app on a free loopback port, stopped (terminate, then kill) at the end of the session."""
    tmp = tmp_path_factory.mktemp("browser")
    port = _free_port()
    log_path = tmp / "streamlit.log"
    command = [
        sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
        "--server.address", "127.0.0.1", "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
    ]
    with log_path.open("wb") as log:
        # Own session, so teardown can stop the server and anything it started, and nothing else.
        process = subprocess.Popen(command, cwd=ROOT, env=_server_env(tmp), stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path, tmp=tmp)
    try:
        _wait_healthy(server, SERVER_START_S)
        yield server
    finally:
        _stop(process)


# -- the browser ---------------------------------------------------------------------------------------
@dataclass
class Console:
    """Browser console errors and uncaught page errors, minus known benign noise."""

    errors: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    everything: list[str] = field(default_factory=list)

    def record(self, kind: str, text: str) -> None:
        self.everything.append(f"{kind}: {text}")
        if kind in ("error", "pageerror"):
            (self.ignored if any(b in text for b in BENIGN_CONSOLE) else self.errors).append(f"{kind}: {text}")


@pytest.fixture
def browser_page(chromium: str, app_server: Server):
    """A Chromium page on a fresh context, with console errors collected into `page.console_log`."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
        page = context.new_page()
        page.set_default_timeout(STEP_MS)
        console = Console()
        page.on("console", lambda m: console.record(m.type, f"{m.text} [{m.location.get('url', '')}]"))
        page.on("requestfailed", lambda r: console.record("requestfailed", f"{r.url} {r.failure}"))
        page.on("pageerror", lambda e: console.record("pageerror", str(e)))
        page.console_log = console  # type: ignore[attr-defined]
        try:
            yield page
        finally:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            (ARTIFACTS / "console.txt").write_text("\n".join(console.everything) + "\n", encoding="utf-8")
            context.close()
            browser.close()


# -- page helpers --------------------------------------------------------------------------------------
def _settle(page) -> None:
    """Wait until Streamlit has finished the current script run (no 'Running...' status widget)."""
    page.wait_for_timeout(300)  # let a rerun triggered by the last action start
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=STEP_MS)
    page.locator('[data-testid="stSkeleton"]').first.wait_for(state="hidden", timeout=STEP_MS)


def _see(page, text: str, exact: bool = False) -> None:
    """Wait until `text` is visible in the app (first match)."""
    page.get_by_text(text, exact=exact).first.wait_for(state="visible", timeout=STEP_MS)


def _screenshot(page, name: str) -> Path:
    """Full-page screenshot: Streamlit scrolls inside its main container, so grow the viewport to fit it."""
    _settle(page)
    height = page.evaluate(
        """() => Math.max(...[...document.querySelectorAll(
            '[data-testid="stMain"], [data-testid="stAppScrollToBottomContainer"], [data-testid="stSidebarContent"], body')]
            .map(e => e.scrollHeight))"""
    )
    page.set_viewport_size({"width": VIEWPORT["width"], "height": max(VIEWPORT["height"], min(int(height), 8000))})
    page.wait_for_timeout(500)  # charts re-layout to the new size
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(VIEWPORT)
    return path


def _go(page, title: str) -> None:
    """Open a page through the sidebar navigation and wait for its title."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
    page.get_by_role("heading", name=title).first.wait_for(state="visible", timeout=STEP_MS)
    _settle(page)


def _no_exceptions(page, where: str) -> None:
    shown = page.get_by_test_id("stException")
    if shown.count():
        pytest.fail(f"{where}: the app shows an exception:\n{shown.first.inner_text()}", pytrace=False)


# -- the journey ---------------------------------------------------------------------------------------
@pytest.mark.browser
@pytest.mark.slow
def test_journey_home_import_market_metrics(app_server: Server, browser_page, tmp_path: Path) -> None:
    page = browser_page
    page.goto(app_server.url, wait_until="domcontentloaded")

    # Home: the sample-data label and the four metric cards.
    page.get_by_role("heading", name="Strategy Lab").first.wait_for(state="visible", timeout=STEP_MS)
    _see(page, "Sample data")
    metrics = page.get_by_test_id("stMetric")
    metrics.nth(3).wait_for(state="visible")
    labels = page.get_by_test_id("stMetricLabel").all_inner_texts()
    assert {"Tables", "Product events", "Accounts", "Model runs"} <= {t.strip() for t in labels}, labels
    _no_exceptions(page, "Home")
    _screenshot(page, "01-home.png")

    _import_csv(page, tmp_path)
    _market(page)
    _metrics(page)

    console = page.console_log
    assert not console.errors, "browser console errors from the app:\n" + "\n".join(console.errors)


def _import_csv(page, tmp_path: Path) -> None:
    csv_path = tmp_path / "journey accounts.csv"
    csv_path.write_text(SAMPLE_CSV.replace(",", ";"), encoding="utf-8")  # ';' so delimiter detection is real
    _go(page, "Data")
    tables_before = _sidebar_table_count(page)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(str(csv_path))
    _see(page, "Preview (first 4 rows)")
    facts = page.get_by_test_id("stMarkdownContainer").filter(has_text="Delimiter").first.inner_text()
    assert "Delimiter ';'" in facts and "Rows 4" in facts and "Columns 4" in facts, facts
    page.get_by_test_id("stDataFrame").first.wait_for(state="visible")
    _no_exceptions(page, "Data preview")
    _screenshot(page, "02-data-preview.png")

    name_box = page.get_by_label("Table name")
    name_box.fill(IMPORT_TABLE)
    name_box.press("Enter")
    _settle(page)
    page.get_by_role("button", name="Import", exact=True).click()
    _see(page, f"Created table '{IMPORT_TABLE}' from {csv_path.name}: 4 rows, 4 columns.")
    _see(page, f"{tables_before + 1} tables ·")  # the sidebar counts the new table
    _no_exceptions(page, "Data import")
    page.get_by_role("tab", name="Tables").click()
    _choose(page, "Inspect a table", IMPORT_TABLE)
    _see(page, f"First 100 rows of {IMPORT_TABLE}")
    _see(page, f"Yes, permanently drop '{IMPORT_TABLE}'")  # imported tables can be dropped
    _screenshot(page, "03-data-imported.png")


def _sidebar_table_count(page) -> int:
    caption = page.get_by_test_id("stSidebar").get_by_text(re.compile(r"^\d+ tables ·")).first.inner_text()
    return int(caption.split()[0])


def _choose(page, label: str, option: str) -> None:
    """Pick `option` in the Streamlit selectbox labelled `label`."""
    box = page.get_by_test_id("stSelectbox").filter(has_text=label).first
    box.click()
    page.get_by_role("option", name=option, exact=True).click()
    _settle(page)


def _market(page) -> None:
    _go(page, "Market")
    for word in ("Top-down", "Bottom-up"):
        _see(page, word, exact=True)
    labels = {t.strip() for t in page.get_by_test_id("stMetricLabel").all_inner_texts()}
    assert {"TAM", "SAM", "SOM"} <= labels, labels
    _visible_chart(page)  # the tornado ("What moves SOM" is the first tab)
    _no_exceptions(page, "Market")
    _screenshot(page, "04-market.png")
    page.get_by_role("tab", name="Competitors").click()
    _visible_chart(page, "Competitors")
    _no_exceptions(page, "Market competitors")
    _screenshot(page, "04b-market-competitors.png")


def _visible_chart(page, tab: str | None = None) -> None:
    """Wait for a drawn plotly chart (its SVG plot area) in the selected tab panel, or anywhere."""
    scope = page.get_by_role("tabpanel", name=tab) if tab else page
    scope.locator(".js-plotly-plot .main-svg").first.wait_for(state="visible", timeout=STEP_MS)


def _metrics(page) -> None:
    _go(page, "Metrics")
    page.get_by_test_id("stMetric").nth(5).wait_for(state="visible")
    labels = {t.strip() for t in page.get_by_test_id("stMetricLabel").all_inner_texts()}
    assert {"MAU (28 days)", "Stickiness", "MRR", "ARR", "Logo churn (month)"} <= labels, labels
    values = [t.strip() for t in page.get_by_test_id("stMetricValue").all_inner_texts()]
    assert values and all(v and v != "n/a" for v in values), f"KPI cards without numbers: {values}"
    # The retention cohorts heatmap: plotly draws a heatmap trace as an image inside its heatmap layer.
    page.locator(".js-plotly-plot .heatmaplayer image").first.wait_for(state="visible")
    charts = page.locator(".js-plotly-plot")
    assert charts.count() >= 6, f"expected the six Metrics charts, found {charts.count()}"
    _no_exceptions(page, "Metrics")
    _screenshot(page, "05-metrics.png")
