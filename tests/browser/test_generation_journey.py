"""Browser journey for the generative wing: with a finished tiny sft_lora run in the workspace, the
Playground's 'Draft a reply' tab streams the base model's and the fine-tuned model's replies side by side,
each under its prefill and decode tokens/s and its cost per reply, at 1400x900.

Its own server (the run folder must be there before the app starts, and the base model's folder must be an
allowed model folder). The run is the contract's fake sft run folder (tests/analytics/generation_fixtures)
around two tiny random Llamas with SmolLM2's tokenizer, so the replies are gibberish but real: loaded,
templated, generated and timed as a trained run's would be. Fails on the app's exception box, uncaught page
errors and console errors (driver.ALLOWED_CONSOLE aside), on anything tests/browser/visual.py finds, and on
a key figure of the side-by-side cut or broken across lines. Screenshot: test-artifacts/browser/
13-playground-draft.png.

Run just this: .venv/bin/pytest -q tests/browser/test_generation_journey.py
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.browser.driver import (
    ARTIFACTS,
    CHROMIUM_ARGS,
    SETTLED_JS,
    STEP_MS,
    VIEWPORT,
    Console,
    no_exceptions,
    running_server,
    screenshot,
    see,
    server_env,
    settle,
)
from tests.browser.visual import inspect

REPLY_MS = 180_000
"""Loading two tiny models and streaming two 32-token replies on a busy 2-core machine."""
MESSAGE = "My order 4411 arrived broken, can I get a replacement?"
FIGURES = ("Prefill tokens/s", "Decode tokens/s", "Reply tokens", "Cost per reply")
"""Labels of the headline figures above each reply (pages/_shared/playground.headline)."""

FIGURES_JS = r"""
(labels) => {
  // every headline value under one of `labels`: its text, and why it reads cut (clipped, or a word broken
  // across two lines), or null
  const out = [];
  for (const label of document.querySelectorAll('[data-testid="stMarkdownContainer"] div')) {
    if (!labels.includes(label.textContent.trim())) continue;
    const value = label.nextElementSibling;
    if (!value || !value.getClientRects().length) continue;
    let problem = null;
    if (value.scrollWidth > value.clientWidth + 1) {
      problem = `clipped (${value.scrollWidth} > ${value.clientWidth}px)`;
    }
    const walker = document.createTreeWalker(value, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node && !problem; node = walker.nextNode()) {
      const re = /[^\s]+/g;
      let m;
      while ((m = re.exec(node.data)) && !problem) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const rects = [...range.getClientRects()].filter(r => r.width > 0);
        const tops = new Set(rects.map(r => Math.round(r.top)));
        if (tops.size > 1) problem = `'${m[0]}' broken across lines`;
      }
    }
    out.push({label: label.textContent.trim(), value: value.textContent.trim(), problem});
  }
  return out;
}
"""


@pytest.fixture(scope="module")
def sft_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A server folder whose runs/ holds one finished sft_lora run: tiny base model, tiny model/ folder."""
    from models.testing import tiny_causal_lm
    from tests.analytics.generation_fixtures import make_sft_run

    tmp = tmp_path_factory.mktemp("generation_journey")
    base = tmp / "models" / "tiny-smollm2"
    tiny_causal_lm(base, seed=0)
    run_dir = make_sft_run(tmp / "runs", model=str(base))
    config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    config.update(max_new_tokens=32, system_prompt="You are Acme's support agent. Be brief.")
    (run_dir / "config.json").write_text(json.dumps(config), encoding="utf-8")
    tiny_causal_lm(run_dir / "model", seed=1)
    return tmp


@pytest.mark.browser
@pytest.mark.slow
def test_draft_a_reply_base_and_fine_tuned_side_by_side(chromium: str, sft_workspace: Path) -> None:
    from playwright.sync_api import sync_playwright

    env = server_env(sft_workspace) | {"STRATLAB_MODEL_DIRS": str(sft_workspace / "models")}
    console = Console()
    with running_server(sft_workspace, env=env) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_context(viewport=VIEWPORT, device_scale_factor=1).new_page()
            page.set_default_timeout(STEP_MS)
            page.on("console", lambda m: console.record(m.type, f"{m.text} [{m.location.get('url', '')}]"))
            page.on("pageerror", lambda e: console.record("pageerror", str(e)))
            try:
                _draft_a_reply(page, server.url)
            except Exception:
                _failure_screenshot(page)
                raise
        finally:
            browser.close()
    assert not console.errors, "browser console errors from the app:\n" + "\n".join(console.errors)


def _failure_screenshot(page) -> None:
    """The page as it stands, best effort: a browser too busy to draw must not hide the journey's error."""
    from playwright.sync_api import Error as PlaywrightError

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        page.screenshot(path=str(ARTIFACTS / "13-playground-draft-FAILED.png"), full_page=True,
                        timeout=15_000)
    except PlaywrightError:
        pass


def _draft_a_reply(page, url: str) -> None:
    from tests.analytics.generation_fixtures import RUN_ID

    page.goto(f"{url}/playground", wait_until="domcontentloaded")  # as a shared link opens it
    page.get_by_role("heading", name="Playground").first.wait_for(state="visible", timeout=REPLY_MS)
    settle(page)
    page.get_by_role("tab", name="Draft a reply").click()
    panel = page.get_by_role("tabpanel", name="Draft a reply")
    picked = panel.get_by_label("Fine-tuned model", exact=True)
    picked.wait_for(state="visible")
    assert "ROUGE-L 71.7" in picked.input_value(), picked.input_value()  # the run, pre-selected
    see(page, "You are Acme's support agent. Be brief.")  # the run's system prompt, said
    box = panel.get_by_label("Customer message", exact=True)
    box.fill(MESSAGE)
    box.press("Control+Enter")
    settle(page)
    panel.get_by_role("button", name="Generate both replies").click()
    page.wait_for_timeout(300)
    page.wait_for_function(SETTLED_JS, timeout=REPLY_MS)  # loading both models and both replies: one run
    costs = panel.get_by_test_id("stMarkdownContainer").filter(has_text="Cost per reply")
    costs.nth(1).wait_for(state="visible", timeout=REPLY_MS)
    settle(page)
    no_exceptions(page, "Draft a reply")

    figures = page.evaluate(FIGURES_JS, list(FIGURES))
    assert len(figures) == 2 * len(FIGURES), figures  # one set above each reply
    assert all(f["value"].startswith("$") for f in figures if f["label"] == "Cost per reply"), figures
    cut = [f for f in figures if f["problem"]]
    assert not cut, f"key figures cut at 1400x900: {cut}"
    findings = inspect(page, "Playground / Draft a reply at 1400x900")
    assert not findings.failures, findings.failures
    see(page, "Base model · tiny-smollm2")
    titles = panel.get_by_test_id("stMarkdownContainer").filter(has_text="Fine-tuned · ")
    assert "tiny-smollm2" in titles.first.inner_text()
    provenance = panel.get_by_test_id("stCaptionContainer").filter(has_text="replies generated")
    text = provenance.first.inner_text()
    assert RUN_ID in text and "trained on CPU x2" in text and "utilisation" in text, text
    screenshot(page, "13-playground-draft.png")
