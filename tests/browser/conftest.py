"""Browser fixtures: Chromium (skipped locally without it, failing in CI), one app server per session,
a fresh page per test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from analytics.settings import settings
from tests.browser.driver import (
    ARTIFACTS,
    CHROMIUM_ARGS,
    CHROMIUM_CANDIDATES,
    STEP_MS,
    VIEWPORT,
    Console,
    Server,
    missing,
    running_server,
)


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium executable (`settings().chromium`, $STRATLAB_CHROMIUM, if set); skip without it locally,
    fail in CI."""
    chosen = settings().chromium
    candidates = (chosen,) if chosen else (*CHROMIUM_CANDIDATES, shutil.which("chromium"))
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            break
    else:
        missing(f"Chromium not found at {chosen or ', '.join(CHROMIUM_CANDIDATES)} "
                 f"(Debian: apt-get install chromium; or set STRATLAB_CHROMIUM)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing("the playwright package is not installed (pip install -e '.[dev]')")
    return str(candidate)


@pytest.fixture(scope="session")
def app_server(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The real app on a free loopback port, stopped (terminate, then kill) at the end of the session."""
    with running_server(tmp_path_factory.mktemp("browser")) as server:
        yield server


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
