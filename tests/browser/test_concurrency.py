"""Several users at once in a real browser: five Chromium tabs on one Streamlit server import files on the
Data page at the same moment (two of them into the same table name), then open Home, Metrics and Compare.

Fails on app exceptions and console errors in any tab. Afterwards the server is stopped and the workspace file
opened: every import is there exactly once, with its rows; of the two racing for one name exactly one won and
the other tab said the table already exists. Skips without Chromium locally, fails when $CI is set (see
tests/browser/driver.py, whose server and page helpers this reuses).

Run just this: .venv/bin/pytest -q tests/browser/test_concurrency.py
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.driver import (
    ARTIFACTS,
    CHROMIUM_ARGS,
    STEP_MS,
    VIEWPORT,
    Console,
    Server,
    no_exceptions,
    running_server,
    see,
    server_env,
    settle,
    stop,
)

TABS = 5
SHARED_TABLE = "tabs_shared"
RACERS = (3, 4)
"""Tabs that import into SHARED_TABLE at the same moment (replace unticked)."""


def _table(tab: int) -> str:
    return SHARED_TABLE if tab in RACERS else f"tab_{tab}_accounts"


def _csv(tab: int) -> str:
    rows = [f"Account {tab}-{r},EMEA,{r + 1},{(r + 1) * 100}" for r in range(3 + tab)]
    return "account,region,seats,mrr_usd\n" + "\n".join(rows) + "\n"


@pytest.fixture
def server(chromium: str, tmp_path: Path) -> Iterator[Server]:
    """A private app server for this test (its workspace is inspected after it stops)."""
    with running_server(tmp_path, {**server_env(tmp_path), "STRATLAB_DEMO_EVENTS": "5000"}) as running:
        yield running


def _open_tabs(chromium_path: str, url: str, playwright) -> tuple[object, list, list[Console]]:
    browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    pages, consoles = [], []
    for _ in range(TABS):
        page = context.new_page()
        page.set_default_timeout(STEP_MS)
        console = Console()
        page.on("console", lambda m, c=console: c.record(m.type, f"{m.text} [{m.location.get('url', '')}]"))
        page.on("pageerror", lambda e, c=console: c.record("pageerror", str(e)))
        page.goto(url, wait_until="commit")  # every tab starts loading before any is waited for
        pages.append(page)
        consoles.append(console)
    for page in pages:
        page.get_by_role("heading", name="Strategy Lab").first.wait_for(state="visible")
    return browser, pages, consoles


def _all_go(pages: list, title: str, heading: str | None = None) -> None:
    """Click `title` in every tab's sidebar, then wait for every tab (its `heading`, default the title): the
    server renders them together."""
    for page in pages:
        page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
    for tab, page in enumerate(pages):
        page.get_by_role("heading", name=heading or title).first.wait_for(state="visible")
        settle(page)
        no_exceptions(page, f"tab {tab}, {title}")


def _prepare_imports(pages: list, tmp_path: Path) -> None:
    """Upload each tab's file and type its table name; the Import buttons are not clicked yet."""
    for tab, page in enumerate(pages):
        path = tmp_path / f"tab {tab}.csv"
        path.write_text(_csv(tab), encoding="utf-8")
        page.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(str(path))
    for tab, page in enumerate(pages):
        see(page, f"Preview (first {3 + tab} rows)")
        box = page.get_by_label("Table name")
        box.fill(_table(tab))
        box.press("Enter")
    for page in pages:
        settle(page)


def _outcome(page, tab: int) -> str:
    """'created' or 'refused' once the tab shows one of them."""
    created = page.get_by_text(
        f"Created table '{_table(tab)}' from tab {tab}.csv: {3 + tab} rows, 4 columns."
    )
    refused = page.get_by_text("already exists")
    created.or_(refused).first.wait_for(state="visible")
    settle(page)  # a tab can show the other tab's table as existing while its own import reruns the page
    created.or_(refused).first.wait_for(state="visible")
    return "created" if created.count() else "refused"


@pytest.mark.browser
@pytest.mark.slow
def test_five_tabs_import_and_read_at_once(chromium: str, server: Server, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser, pages, consoles = _open_tabs(chromium, server.url, playwright)
        try:
            _all_go(pages, "Data")
            _prepare_imports(pages, tmp_path)
            for page in pages:  # five imports within a few milliseconds
                page.get_by_role("button", name="Import", exact=True).click()
            outcomes = {tab: _outcome(page, tab) for tab, page in enumerate(pages)}
            for tab, page in enumerate(pages):
                settle(page)
                no_exceptions(page, f"tab {tab}, import")
            _all_go(pages, "Home", "Strategy Lab")
            for title in ("Metrics", "Compare"):
                _all_go(pages, title)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            pages[0].screenshot(path=str(ARTIFACTS / "tabs-compare.png"), full_page=True)
        finally:
            (ARTIFACTS / "tabs-console.txt").parent.mkdir(parents=True, exist_ok=True)
            (ARTIFACTS / "tabs-console.txt").write_text(
                "\n".join(f"tab {t}: {line}" for t, c in enumerate(consoles) for line in c.everything) + "\n",
                encoding="utf-8")
            browser.close()
    errors = [f"tab {t}: {e}" for t, c in enumerate(consoles) for e in c.errors]
    assert not errors, "browser console errors from the app:\n" + "\n".join(errors)
    assert [outcomes[t] for t in range(TABS) if t not in RACERS] == ["created"] * (TABS - len(RACERS))
    assert sorted(outcomes[t] for t in RACERS) == ["created", "refused"], outcomes

    stop(server.process)  # DuckDB lets one process open the file: look once the server is gone
    from analytics.db import Workspace

    ws = Workspace.open(server.tmp / "workspace.duckdb", seed_demo=False)
    try:
        catalog = Counter(r[0] for r in ws.rows("select table_name from imported_tables"))
        rows = dict(ws.rows("select table_name, row_count from imported_tables"))
        winner = next(t for t in RACERS if outcomes[t] == "created")
        expected = {_table(t): 3 + t for t in range(TABS) if t not in RACERS} | {SHARED_TABLE: 3 + winner}
        assert catalog == dict.fromkeys(expected, 1), catalog
        assert rows == expected
        assert {t: ws.row_count(t) for t in expected} == expected
    finally:
        ws.close()
