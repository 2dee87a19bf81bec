"""The visual checker of tests/browser/visual.py can fail: a tiny static page (no server) holding a truncated
metric, an overflowing chart title, a clipped point label, overlapping labels, repeated ticks, tiny chart
text and a squeezed button must give exactly those problems, and the same page without them none.

Also the console allowance of tests/browser/driver.py: exactly Streamlit's page-relative probe 404s, nothing
else. Run just this: .venv/bin/pytest -q tests/browser/test_visual_checker.py
"""

from __future__ import annotations

import pytest

from tests.browser.driver import CHROMIUM_ARGS, allowed_console
from tests.browser.visual import inspect

METRIC_CUT = """<div data-testid="stMetricValue"><div style="width:60px;overflow:hidden;
  text-overflow:ellipsis;white-space:nowrap;font-size:24px">$0.0012 per 1k requests</div></div>"""
METRIC_FITS = """<div data-testid="stMetricValue"><div style="width:300px;overflow:hidden;
  text-overflow:ellipsis;white-space:nowrap;font-size:24px">$0.0012</div></div>"""
BUTTON_SQUEEZED = """<button style="width:22px;padding:0;font-size:16px;word-break:break-all">
  Cancel</button>"""
BUTTON_FITS = """<button style="width:120px;font-size:16px">Cancel</button>"""
LABEL_CLAMPED = """<label data-testid="stWidgetLabel" style="display:block;width:120px;height:20px;
  overflow:hidden;font-size:16px">Accuracy target in percent of the test set</label>"""
LABEL_WITH_MARGIN = """<span data-testid="stWidgetLabel" style="display:block;height:30px;overflow:hidden">
  <p style="margin:0 0 30px 0;line-height:24px">Home</p></span>"""
"""A margin below the only line makes scrollHeight > clientHeight; no text is cut (Streamlit's sidebar)."""
HYPHEN_BREAK = """<div data-testid="stCaptionContainer" style="width:60px">fine-grained intents</div>"""
"""A line break after a hyphen is a proper one, not a squeezed word."""
ICON_LINK = """<div data-testid="stSidebarNav"><a href="#"><span
  style="font-family:'Material Symbols Rounded';display:inline-block;width:20px;height:20px;overflow:hidden"
  >model_training</span> Fine-tune</a></div>"""
"""Material icons are ligature text in a clipped box: drawn as one glyph, never a cut label."""


def chart(title: str, label_x: int, second_label_x: int, ticks: tuple[str, str], font_px: int) -> str:
    """A Plotly-shaped SVG: 300x150 chart, plot area (`.nsewdrag`) x 40..260, y 20..120."""
    return f"""
    <div data-testid="stPlotlyChart" style="width:320px"><div class="js-plotly-plot">
      <svg class="main-svg" width="300" height="150" style="font-family:sans-serif">
        <g class="draglayer"><rect class="nsewdrag" x="40" y="20" width="220" height="100"
           fill="none"/></g>
        <g class="infolayer"><g class="g-gtitle"><text class="gtitle" x="10" y="14"
           style="font-size:14px">{title}</text></g></g>
        <g class="yaxislayer-above">
          <g class="ytick"><text x="30" y="40" text-anchor="end" style="font-size:12px">{ticks[0]}</text></g>
          <g class="ytick"><text x="30" y="100" text-anchor="end" style="font-size:12px">{ticks[1]}</text></g>
        </g>
        <g class="scatterlayer"><g class="trace"><g class="text">
          <g class="textpoint"><text x="{label_x}" y="60" style="font-size:12px">classic</text></g>
          <g class="textpoint"><text x="{second_label_x}" y="62" style="font-size:12px">probe</text></g>
          <g class="textpoint"><text x="120" y="100" style="font-size:{font_px}px">n=40</text></g>
        </g></g></g>
      </svg></div></div>"""


BROKEN = "".join([
    METRIC_CUT, BUTTON_SQUEEZED, LABEL_CLAMPED,
    chart("Cost against accuracy of every measured candidate this month", label_x=240, second_label_x=242,
          ticks=("$1k", "$1k"), font_px=6),
])
CLEAN = "".join([
    METRIC_FITS, BUTTON_FITS, HYPHEN_BREAK, ICON_LINK, LABEL_WITH_MARGIN,
    chart("Cost vs accuracy", label_x=60, second_label_x=160, ticks=("$2k", "$1k"), font_px=12),
])


@pytest.fixture(scope="module")
def static_page(chromium: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 800, "height": 600})
        try:
            yield page
        finally:
            browser.close()


def _show(page, body: str):
    page.set_content(f"<html><body style='margin:0'><div data-testid='stMain'>{body}</div></body></html>")
    return inspect(page, "static")


@pytest.mark.browser
def test_checker_finds_every_problem_at_once(static_page) -> None:
    found = _show(static_page, BROKEN)
    text = "\n".join(found.failures)
    expected = [
        'stMetricValue "$0.0012 per 1k requests": cut (ellipsis',
        'button "Cancel": word "Cancel" broken across lines',
        'stWidgetLabel "Accuracy target in percent of the test set": cut vertically (',
        'chart "Cost against accuracy of every measured candidate this month": text "Cost against '
        'accuracy of every measured candidate this month" outside the chart (right',
        'point label "classic" outside the plot area (right',
        'point label "probe" outside the plot area (right',
        'y axis repeats tick labels "$1k" x2',
        'text under 9px: n=40 (6.0px)',
        'labels "classic" and "probe" overlap (up to ',
    ]
    missing = [e for e in expected if e not in text]
    assert not missing, f"the checker missed {missing}; it found:\n{text}"
    assert len(found.failures) == len(expected), text


@pytest.mark.browser
def test_checker_passes_a_clean_page(static_page) -> None:
    found = _show(static_page, CLEAN)
    assert found.failures == [] and found.warnings == [], found


@pytest.mark.browser
def test_touching_labels_only_warn(static_page) -> None:
    # "probe" 1 px into "classic"'s box: legible, so a warning for the report, not a failure
    found = _show(static_page, chart("Touching", label_x=60, second_label_x=90, ticks=("b", "a"), font_px=12)
                  .replace('y="62"', 'y="72"'))
    assert found.failures == [], found.failures
    assert any('labels "classic" and "probe" overlap (' in w for w in found.warnings), found.warnings


def test_console_allowance_is_exactly_streamlits_page_relative_probe() -> None:
    error = "error: Failed to load resource: the server responded with a status of 404 (Not Found)"
    assert allowed_console(f"{error} [http://127.0.0.1:8501/compare/_stcore/health]")
    assert allowed_console(f"{error} [http://127.0.0.1:8501/finetune/_stcore/host-config]")
    for line in (
        f"{error} [http://127.0.0.1:8501/_stcore/health]",  # the root probe must answer
        f"{error} [http://127.0.0.1:8501/compare/_stcore/stream]",
        f"{error} [http://127.0.0.1:8501/a/b/_stcore/health]",
        f"{error} [http://127.0.0.1:8501/compare/_stcore/health] extra",
        "error: Failed to load resource: the server responded with a status of 500 (Internal Server Error) "
        "[http://127.0.0.1:8501/compare/_stcore/health]",
        "pageerror: TypeError: x is undefined",
    ):
        assert not allowed_console(line), line


@pytest.mark.browser
def test_a_table_scrolling_sideways_is_a_warning(static_page) -> None:
    wide = """<h3>Most confused pairs</h3><div data-testid="stDataFrame" style="width:200px">
      <div class="dvn-scroller" style="width:200px;height:60px;overflow:auto">
      <div style="width:500px;height:10px"></div></div></div>"""
    found = _show(static_page, wide)
    assert found.failures == [], found.failures
    assert found.warnings == ['table #1 under "Most confused pairs" scrolls sideways (columns 500px in '
                              '200px): some columns are out of sight'], found.warnings
