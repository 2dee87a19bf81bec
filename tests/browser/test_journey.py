"""One real-browser journey: the app in a Streamlit server, driven by Debian's Chromium through Playwright.

Home -> Data (upload a CSV, preview, import) -> Market -> Metrics -> Roadmap -> Business case -> Experiments
(analysis), with a full-page screenshot at each step in
test-artifacts/browser/ and no app errors in the browser console. Without Chromium (or Playwright) the test
skips locally and FAILS when $CI is set: a journey that cannot run in CI must not pass silently.

Run just this: .venv/bin/pytest -q tests/browser/test_journey.py
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.driver import (
    IMPORT_TABLE,
    SAMPLE_CSV,
    STEP_MS,
    Server,
    go,
    no_exceptions,
    screenshot,
    see,
    settle,
)


# -- the journey ---------------------------------------------------------------------------------------
@pytest.mark.browser
@pytest.mark.slow
def test_journey_home_import_market_metrics(app_server: Server, browser_page, tmp_path: Path) -> None:
    page = browser_page
    page.goto(app_server.url, wait_until="domcontentloaded")

    # Home: the sample-data label and the four metric cards.
    page.get_by_role("heading", name="Strategy Lab").first.wait_for(state="visible", timeout=STEP_MS)
    see(page, "Sample data")
    metrics = page.get_by_test_id("stMetric")
    metrics.nth(3).wait_for(state="visible")
    labels = page.get_by_test_id("stMetricLabel").all_inner_texts()
    assert {"Your tables", "Product events", "Accounts", "Model runs"} <= {t.strip() for t in labels}, labels
    no_exceptions(page, "Home")
    screenshot(page, "01-home.png")

    _import_csv(page, tmp_path)
    _market(page)
    _metrics(page)
    _strategy(page)

    console = page.console_log
    assert not console.errors, "browser console errors from the app:\n" + "\n".join(console.errors)


def _import_csv(page, tmp_path: Path) -> None:
    csv_path = tmp_path / "journey accounts.csv"
    csv_path.write_text(SAMPLE_CSV.replace(",", ";"), encoding="utf-8")  # ';' so delimiter detection is real
    go(page, "Data")
    tables_before = _sidebar_table_count(page)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(str(csv_path))
    see(page, "Preview (first 4 rows)")
    facts = page.get_by_test_id("stMarkdownContainer").filter(has_text="Delimiter").first.inner_text()
    assert "Delimiter ';'" in facts and "Rows 4" in facts and "Columns 4" in facts, facts
    page.get_by_test_id("stDataFrame").first.wait_for(state="visible")
    no_exceptions(page, "Data preview")
    screenshot(page, "02-data-preview.png")

    name_box = page.get_by_label("Table name")
    name_box.fill(IMPORT_TABLE)
    name_box.press("Enter")
    settle(page)
    page.get_by_role("button", name="Import", exact=True).click()
    see(page, f"Created table '{IMPORT_TABLE}' from {csv_path.name}: 4 rows, 4 columns.")
    see(page, f"{tables_before + 1} tables ·")  # the sidebar counts the new table
    no_exceptions(page, "Data import")
    settle(page)  # the import's rerun draws the Tables tab last: let it finish before using its widgets
    page.get_by_role("tab", name="Tables").click()
    _choose(page, "Inspect a table", IMPORT_TABLE)
    see(page, f"First 100 rows of {IMPORT_TABLE}")
    see(page, f"Yes, permanently drop '{IMPORT_TABLE}'")  # imported tables can be dropped
    screenshot(page, "03-data-imported.png")


def _sidebar_table_count(page) -> int:
    caption = page.get_by_test_id("stSidebar").get_by_text(re.compile(r"^\d+ tables ·")).first.inner_text()
    return int(caption.split()[0])


def _choose(page, label: str, option: str, tries: int = 3) -> None:
    """Pick `option` in the Streamlit selectbox labelled `label`, and check that the box shows it.

    A rerun that redraws the box while its list is open drops the pick (CI saw the box keep its first table);
    then the pick is made again, up to `tries` times, and a box that never shows it fails here, by name."""
    box = page.get_by_test_id("stSelectbox").filter(has_text=label).first
    for _ in range(tries):
        settle(page)
        box.click()
        page.get_by_role("option", name=option, exact=True).click()
        settle(page)
        shown = box.get_by_role("combobox").input_value()  # the box's value is its combobox input's
        if shown == option:
            return
    pytest.fail(f"the selectbox {label!r} shows {shown!r}, not {option!r}, after {tries} picks",
                pytrace=False)


def _market(page) -> None:
    go(page, "Market")
    for word in ("Top-down", "Bottom-up"):
        see(page, word, exact=True)
    labels = {t.strip() for t in page.get_by_test_id("stMetricLabel").all_inner_texts()}
    assert {"TAM, year 0", "SAM, year 0", "SOM, year 0"} <= labels, labels
    _visible_chart(page)  # the tornado ("What moves SOM" is the first tab)
    no_exceptions(page, "Market")
    screenshot(page, "04-market.png")
    page.get_by_role("tab", name="Competitors").click()
    _visible_chart(page, "Competitors")
    no_exceptions(page, "Market competitors")
    screenshot(page, "04b-market-competitors.png")


def _visible_chart(page, tab: str | None = None) -> None:
    """Wait for a drawn plotly chart (its SVG plot area) in the selected tab panel, or anywhere."""
    scope = page.get_by_role("tabpanel", name=tab) if tab else page
    scope.locator(".js-plotly-plot .main-svg").first.wait_for(state="visible", timeout=STEP_MS)


def _metrics(page) -> None:
    go(page, "Metrics")
    page.get_by_test_id("stMetric").nth(5).wait_for(state="visible")
    labels = {t.strip() for t in page.get_by_test_id("stMetricLabel").all_inner_texts()}
    assert {"MAU", "Stickiness", "MRR", "ARR", "Logo churn"} <= labels, labels
    values = [t.strip() for t in page.get_by_test_id("stMetricValue").all_inner_texts()]
    assert values and all(v and v not in ("n/a", "–") for v in values), f"KPI cards without numbers: {values}"
    # The retention cohorts heatmap: plotly draws a heatmap trace as an image inside its heatmap layer.
    page.locator(".js-plotly-plot .heatmaplayer image").first.wait_for(state="visible")
    charts = page.locator(".js-plotly-plot")
    assert charts.count() >= 6, f"expected the six Metrics charts, found {charts.count()}"
    no_exceptions(page, "Metrics")
    screenshot(page, "05-metrics.png")


def _strategy(page) -> None:
    """Roadmap (the sample plan's Gantt), Business case (six KPI cards with numbers, the P&L) and the sample
    experiment's analysis."""
    go(page, "Roadmap")
    see(page, "sample")
    _visible_chart(page)
    no_exceptions(page, "Roadmap")
    screenshot(page, "06-roadmap.png")

    go(page, "Business case")
    page.get_by_test_id("stMetric").nth(5).wait_for(state="visible")
    values = [t.strip() for t in page.get_by_test_id("stMetricValue").all_inner_texts()]
    assert len(values) == 6 and all(v and v != "–" for v in values[:4]), f"business case cards: {values}"
    _visible_chart(page)
    see(page, "Where every input comes from")
    no_exceptions(page, "Business case")
    screenshot(page, "07-business-case.png")

    go(page, "Experiments")
    page.get_by_role("tab", name="Analysis").click()
    settle(page)
    _visible_chart(page, "Analysis")
    see(page, "p-value")
    no_exceptions(page, "Experiments")
    screenshot(page, "08-experiment.png")
