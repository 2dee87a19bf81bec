"""Browser journey for the model pages: launch a tiny fine-tune (classic TF-IDF on BANKING77, 20 examples per
class) from the Fine-tune page, watch its job finish, then use the new model in the Playground.

Reuses the server, browser and page helpers of tests/browser/driver.py (its own server: this journey
writes jobs and runs). Screenshots: test-artifacts/browser/10-finetune-*.png and 11-playground*.png.

Run just this: .venv/bin/pytest -q tests/browser/test_models.py
"""

from __future__ import annotations

import re

import pytest

from tests.browser.driver import (
    STEP_MS,
    Server,
    go,
    no_exceptions,
    screenshot,
    see,
    settle,
)

JOB_FINISH_MS = 240_000
"""A classic job is seconds of training, but its process imports the model stack first (slow on busy CPUs)."""
LLM_MS = 240_000
"""Loading SmolLM2 (converted once into the model cache) and streaming 128 tokens on a shared CPU."""
PER_CLASS = "20"
TEXT = "I still have not received my new card, it has been two weeks"


@pytest.mark.browser
@pytest.mark.slow
def test_journey_finetune_then_playground(app_server: Server, browser_page) -> None:
    page = browser_page
    page.goto(app_server.url, wait_until="domcontentloaded")
    page.get_by_role("heading", name="Strategy Lab").first.wait_for(state="visible", timeout=STEP_MS)

    run_id = _launch_classic(page)
    _wait_succeeded(page, run_id)
    _playground(page, run_id)
    _small_llm(page)
    _finetune_results(page)

    console = page.console_log
    assert not console.errors, "browser console errors from the app:\n" + "\n".join(console.errors)


def _launch_classic(page) -> str:
    go(page, "Fine-tune")
    see(page, "No jobs yet")
    page.get_by_test_id("stRadio").filter(has_text="Method").get_by_text("classic", exact=True).first.click()
    settle(page)
    page.get_by_label("Training examples per class (0 = all)", exact=True).fill(PER_CLASS)
    page.get_by_role("button", name="Launch").click()
    see(page, "Queued job")
    no_exceptions(page, "Fine-tune launch")
    message = page.get_by_test_id("stAlertContentSuccess").filter(has_text="Queued job").first.inner_text()
    run_id = re.search(r"\(run ([^)]+)\)", message).group(1)
    screenshot(page, "10-finetune-launched.png")
    return run_id


def _wait_succeeded(page, run_id: str) -> None:
    """The jobs panel (a fragment rerunning every 2 s) shows the run's training job and then its measure
    job (latency and throughput, which the Playground's cost needs) as succeeded."""
    card = page.get_by_test_id("stMarkdownContainer").filter(has_text=run_id).filter(has_text="succeeded")
    card.first.wait_for(state="visible", timeout=JOB_FINISH_MS)
    measured = card.filter(has_text="measure")
    measured.first.wait_for(state="visible", timeout=JOB_FINISH_MS)
    no_exceptions(page, "Fine-tune job")
    screenshot(page, "10-finetune-done.png")


def _small_llm(page) -> None:
    """The Small LLM tab with the packaged SmolLM2: a support-reply draft streamed, then its speed."""
    page.get_by_role("tab", name="Small LLM").click()
    panel = page.get_by_role("tabpanel", name="Small LLM")
    panel.get_by_label("Max new tokens").wait_for(state="visible")
    panel.get_by_role("button", name="Generate").click()
    panel.get_by_test_id("stMetricLabel").filter(has_text="Tokens/s").first.wait_for(state="visible",
                                                                                     timeout=LLM_MS)
    tokens = panel.get_by_test_id("stMetric").filter(has_text="New tokens").get_by_test_id("stMetricValue")
    assert int(tokens.first.inner_text()) > 0
    no_exceptions(page, "Small LLM")
    screenshot(page, "12-playground-llm.png")


def _finetune_results(page) -> None:
    """Back on Fine-tune (a full rerun: its Results section is outside the jobs fragment), the run's
    results."""
    go(page, "Fine-tune")
    page.get_by_test_id("stMetricLabel").filter(has_text=re.compile(r"^Accuracy$")).first.wait_for(state="visible")
    no_exceptions(page, "Fine-tune results")
    screenshot(page, "10-finetune-results.png")


def _playground(page, run_id: str) -> None:
    go(page, "Playground")
    see(page, run_id)  # the new run is pre-selected: its card names it
    box = page.get_by_label("Text to classify", exact=True)
    box.fill(TEXT)
    box.press("Control+Enter")
    settle(page)
    see(page, "this text:")
    # Headlines are wrapping markdown (pages/_shared/playground.headline): label, value, note on lines.
    label = page.get_by_test_id("stMarkdown").filter(has_text="Predicted label").first.inner_text()
    predicted = label.strip().splitlines()[1].strip()
    assert predicted, "no predicted label shown"
    cost = page.get_by_test_id("stMarkdown").filter(has_text="Serving cost").first.inner_text()
    assert cost.strip().splitlines()[1].startswith("$"), (
        "no cost: the run's measured throughput did not reach the page"
    )
    page.locator(".js-plotly-plot .main-svg").first.wait_for(state="visible", timeout=STEP_MS)
    see(page, f"Why '{predicted}'")
    no_exceptions(page, "Playground")
    screenshot(page, "11-playground.png")
