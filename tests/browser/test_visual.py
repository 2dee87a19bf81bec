"""The visual journey: every page and every tab at 1400x900 and 1280x720 in Chromium, a screenshot of each in
test-artifacts/screens/<size>/<page>-<tab>.png (`main` for a page without tabs), and one failure listing
every problem found, by page, tab and size:

- the app's exception box or an uncaught page error, console errors (driver.ALLOWED_CONSOLE is the one
  allowance, with its reason);
- what tests/browser/visual.py finds in the DOM: key figures and labels cut with an ellipsis or squeezed,
  the page wider than the window, chart text outside its chart or plot area, chart text too small to read,
  repeated tick labels, overlapping point labels (heavy overlap fails, touching labels are warnings).

Failures and warnings are also written to test-artifacts/screens/report.md. The first size navigates
through the sidebar; the second opens each page by its URL (a reload), as a shared link does. Compare and
Playground get two real classic runs (TF-IDF, seconds to train) copied into the session server's runs folder,
which the app ingests on the next page start; the Playground classifies one text.

Run just this: .venv/bin/pytest -q tests/browser/test_visual.py
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.driver import CHROMIUM_ARGS, ROOT, STEP_MS, Console, Server, settle
from tests.browser.visual import Findings, inspect, wait_for_charts

SCREENS = ROOT / "test-artifacts" / "screens"
SIZES = ({"width": 1400, "height": 900}, {"width": 1280, "height": 720})
PAGES = (
    ("Home", ""), ("Data", "data"), ("Market", "market"), ("Metrics", "metrics"), ("Churn", "churn"),
    ("Fine-tune", "finetune"),
    ("Playground", "playground"), ("Compare", "compare"), ("Roadmap", "roadmap"),
    ("Business case", "business_case"), ("Experiments", "experiments"),
)
"""Sidebar title and URL path of every page, in the sidebar's order."""
RUNS = (("sentiment_labelled_sentences", 20), ("sentiment_labelled_sentences", 120))
"""Classic runs for Compare and Playground: one dataset, two training sizes (a learning curve)."""
PLAYGROUND_TEXT = "The battery died after two days and support never answered."


@pytest.fixture(scope="module")
def populated(app_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """Two finished classic runs (with their inference benchmark) in the session server's runs folder."""
    from models.core import runs
    from models.core.config import TrainConfig
    from models.serving.benchmark_record import record_after_training
    from models.training.train import train

    # environment.json: a stub, as tests/models/fake_train.py writes it (the real one imports torch,
    # transformers and peft, many seconds on a busy 2-core machine); the rest of the run is real.
    stubbed, runs.environment_info = runs.environment_info, lambda: {
        "hardware": "CPU x2", "cpu_count": 2, "torch": None, "recorded_at": "2026-01-01T00:00:00+00:00"}
    folder = tmp_path_factory.mktemp("visual_runs")
    names = []
    try:
        for dataset, per_class in RUNS:
            result = train(TrainConfig(method="classic", dataset=dataset, runs_dir=str(folder),
                                       train_examples_per_class=per_class))
            record_after_training(result.run_dir)
            shutil.copytree(result.run_dir, app_server.tmp / "runs" / result.run_dir.name)
            names.append(result.run_dir.name)
    finally:
        runs.environment_info = stubbed
    yield names


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "main"


def _open(page, server: Server, title: str, path: str, by_url: bool) -> None:
    if by_url:
        page.goto(f"{server.url}/{path}", wait_until="domcontentloaded")
    else:
        page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
        page.wait_for_url(re.compile(rf"^{re.escape(server.url)}/{re.escape(path)}(\?.*)?$"), timeout=STEP_MS)
    page.locator("h1").first.wait_for(state="visible", timeout=STEP_MS)
    settle(page)


def _tabs(page) -> list[str]:
    """Labels of the page's top-level tabs (the first st.tabs group), or [] without tabs."""
    groups = page.get_by_test_id("stTabs")
    if not groups.count():
        return []
    return [t.strip() for t in groups.first.get_by_role("tab").all_inner_texts()]


def _interact(page, title: str, first_visit: bool) -> None:
    """What a presenter does on the page before looking: the Playground classifies one text; on its first
    visit, Compare's "Add an endpoint" form is opened and sent with a URL that is not one, which must be
    refused in place (the message names the fix) with nothing queued."""
    if title == "Compare" and first_visit:
        page.get_by_text("Add an endpoint", exact=False).first.click()
        page.get_by_label("Base URL", exact=True).fill("ftp://example.com/v1")
        page.get_by_label("Model name", exact=True).fill("gpt-4o-mini")
        page.get_by_text("no key", exact=True).first.click()
        page.get_by_role("button", name="Measure this endpoint").click()
        settle(page)
        alert = page.get_by_test_id("stAlert").filter(has_text="must start with http:// or https://")
        alert.first.wait_for(state="visible", timeout=STEP_MS)
        assert not page.get_by_text("Queued (job").count(), "a refused endpoint was queued"
    if title == "Playground":
        box = page.get_by_label("Text to classify", exact=True)
        if box.count() and box.first.is_visible():
            box.first.fill(PLAYGROUND_TEXT)
            box.first.press("Control+Enter")
            settle(page)


def _screenshot(page, size: dict[str, int], path: Path) -> None:
    """Full page: Streamlit scrolls inside its main container, so the viewport grows to fit, then returns."""
    height = page.evaluate(
        """() => Math.max(...[...document.querySelectorAll(
            '[data-testid="stMain"], [data-testid="stAppScrollToBottomContainer"], '
            + '[data-testid="stSidebarContent"], body')].map(e => e.scrollHeight))"""
    )
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(int(height), 9000))})
    page.wait_for_timeout(300)  # charts re-layout to the new height
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)


def _visit(page, server: Server, title: str, path: str, by_url: bool, size: dict[str, int],
           where: dict[str, str], findings: list[Findings]) -> None:
    """Open one page, then check and photograph each of its tabs (or the page, without tabs)."""
    label = f"{size['width']}x{size['height']}"
    started = time.monotonic()
    _open(page, server, title, path, by_url)
    _interact(page, title, first_visit=not by_url and size == SIZES[0])
    for i, tab in enumerate(_tabs(page) or [None]):
        where["now"] = f"{title} / {tab or 'main'} at {label}"
        if tab is not None and i > 0:
            page.get_by_test_id("stTabs").first.get_by_role("tab", name=tab, exact=True).click()
            settle(page)
        wait_for_charts(page, STEP_MS)
        findings.append(inspect(page, where["now"]))
        _screenshot(page, size, SCREENS / label / f"{_slug(path or 'home')}-{_slug(tab or '')}.png")
        findings[-1].seconds = time.monotonic() - started
        started = time.monotonic()


def _report(findings: list[Findings], console: dict[str, Console]) -> str:
    lines = ["# Visual check: problems per page, tab and size", ""]
    failing = [f for f in findings if f.failures]
    lines.append(f"{len(findings)} page states checked, {len(failing)} with failures, "
                 f"{sum(len(f.failures) for f in findings)} failures, "
                 f"{sum(len(f.warnings) for f in findings)} warnings.")
    timing = ", ".join(f"{f.where} {f.seconds:.1f}" for f in findings)
    lines.append(f"Seconds per state (open or tab click, checks, screenshot), "
                 f"{sum(f.seconds for f in findings):.0f} s in all: {timing}.")
    for f in findings:
        errors = console.get(f.where, Console()).errors
        if not (f.failures or f.warnings or errors):
            continue
        lines += ["", f"## {f.where}"]
        lines += [f"- FAIL {x}" for x in f.failures]
        lines += [f"- FAIL console {x}" for x in errors]
        lines += [f"- warn {x}" for x in f.warnings]
    return "\n".join(lines) + "\n"


@pytest.mark.browser
@pytest.mark.slow
def test_every_page_and_tab_at_both_sizes(chromium: str, app_server: Server, populated: list[str]) -> None:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    findings: list[Findings] = []
    console: dict[str, Console] = {}
    where = {"now": "start"}

    def record(kind: str, text: str) -> None:
        console.setdefault(where["now"], Console()).record(kind, text)

    shutil.rmtree(SCREENS, ignore_errors=True)  # no screenshot of an earlier run left to be mistaken
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            for n, size in enumerate(SIZES):
                label = f"{size['width']}x{size['height']}"
                context = browser.new_context(viewport=size, device_scale_factor=1)
                page = context.new_page()
                page.set_default_timeout(STEP_MS)
                page.on("console", lambda m: record(m.type, f"{m.text} [{m.location.get('url', '')}]"))
                page.on("pageerror", lambda e: record("pageerror", str(e)))
                for title, path in PAGES:
                    where["now"] = f"{title} at {label} (loading)"
                    try:
                        _visit(page, app_server, title, path, n > 0 or not path, size, where, findings)
                    except PlaywrightError as e:  # a page that does not load is one more problem; go on
                        shot = SCREENS / label / f"{_slug(path or 'home')}-FAILED.png"
                        page.screenshot(path=str(shot), full_page=True)
                        first = str(e).strip().splitlines()[0]
                        findings.append(Findings(where["now"], [f"{first} (screenshot {shot.name})"]))
                        page.goto(app_server.url, wait_until="domcontentloaded")  # by_url from here on
                context.close()
        finally:
            browser.close()
            SCREENS.mkdir(parents=True, exist_ok=True)
            (SCREENS / "console.txt").write_text(
                "\n".join(f"{w}: {line}" for w, c in console.items() for line in c.everything) + "\n",
                encoding="utf-8")
            report = _report(findings, console)
            (SCREENS / "report.md").write_text(report, encoding="utf-8")

    problems = [f"{f.where}: {x}" for f in findings for x in f.failures]
    problems += [f"{w}: console {x}" for w, c in console.items() for x in c.errors]
    assert not problems, (f"{len(problems)} visual problems (all of them; report and screenshots in "
                          f"{SCREENS.relative_to(ROOT)}):\n" + "\n".join(problems))
