"""AppTest of the Roadmap page: the sample roadmap with its charts and totals, a refused edit that leaves the
plan unchanged, a saved edit, and the empty workspace's start from the sample."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from analytics.compute.roadmap.plan import Plan, load_plan
from analytics.compute.roadmap.store import save_plan
from analytics.db import Workspace
from analytics.ingest.sample_roadmap import seed_sample_roadmap
from tests.analytics.compare_fixtures import insert_run
from tests.support import ROOT

PAGE = ROOT / "pages" / "roadmap.py"


def _page():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(PAGE), default_timeout=30)
    at.run()
    return at


def _seed(path: Path) -> None:
    ws = Workspace.open(path)
    try:
        with ws.transaction() as tx:
            seed_sample_roadmap(tx)
    finally:
        ws.close()


def _clear(path: Path) -> None:
    """No roadmap at all (the template workspace may hold the sample one once sample_data seeds it)."""
    ws = Workspace.open(path)
    try:
        save_plan(ws, Plan())
    finally:
        ws.close()


def _plan(path: Path):
    ws = Workspace.open(path)
    try:
        return load_plan(ws)
    finally:
        ws.close()


@pytest.mark.slow
def test_sample_roadmap_renders_then_refuses_a_bad_edit_and_saves_a_good_one(app_env):
    _seed(app_env)
    before = _plan(app_env)
    at = _page()
    assert not at.exception and not at.error
    assert any("Sample roadmap" in i.value for i in at.info)
    cards = {m.label: m.value for m in at.metric}
    assert list(cards) == ["Budget", "Measured", "People", "Critical path", "Elapsed"]
    assert cards["Budget"] == "$558k"  # 555,000 in the stages + 200 + 2,500 estimated in the linked lines
    assert cards["Measured"] == "$0" and cards["People"] == "25.5"
    assert cards["Critical path"] == "704 days"
    assert len(at.get("plotly_chart")) == 2
    # a refused edit: Beta's end before its start
    at.selectbox(key="rm_stage_pick").set_value("Beta").run()
    at.date_input(key="rm_end_5").set_value(date(2026, 9, 1))
    at.button(key="FormSubmitter:rm_stage_form_5-Save stage").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "Not saved: stage 'Beta' ends 2026-09-01 before it starts 2026-09-28: move the end date to "
        "2026-09-28 or later, or the start date earlier"]
    assert _plan(app_env) == before
    # a dependency cycle: Research depends on Scale
    at.selectbox(key="rm_stage_pick").set_value("Research").run()
    at.multiselect(key="rm_deps_1").set_value(["Scale"])
    at.button(key="FormSubmitter:rm_stage_form_1-Save stage").click().run()
    assert any("a dependency must end before its dependent starts" in e.value for e in at.error)
    assert any("cycle: " in e.value for e in at.error)
    assert _plan(app_env) == before
    # a good edit is saved and shown
    at.multiselect(key="rm_deps_1").set_value([])
    at.number_input(key="rm_budget_1").set_value(35_000.0)
    at.button(key="FormSubmitter:rm_stage_form_1-Save stage").click().run()
    assert not at.exception and not at.error
    assert any("Saved stage 'Research'" in s.value for s in at.success)
    after = _plan(app_env)
    assert after.stage(1).budget_usd == 35_000.0 and not after.stage(1).is_sample
    assert {m.label: m.value for m in at.metric}["Budget"] == "$563k"


@pytest.mark.slow
def test_empty_roadmap_starts_from_the_sample_with_measured_lines(app_env):
    _clear(app_env)
    ws = Workspace.open(app_env)
    try:  # a measured candidate on the demo evaluation set: the sample's serving lines price from it
        insert_run(ws, "r-fast", method="classic", model="tfidf", accuracy=0.9, n_test=100, train_seconds=36,
                   throughput_per_s=1000)
    finally:
        ws.close()
    at = _page()
    assert not at.exception and not at.error
    assert any("No roadmap yet" in i.value for i in at.info)
    at.button(key="rm_seed").click().run()
    assert not at.exception
    assert len(_plan(app_env).stages) == 7
    assert len(at.get("plotly_chart")) == 2
    # 300,000 requests a month at $0.0725/h / (1000/s x 50%) = $0.0121 a month, x 124 days of beta
    lines = [m.value for m in at.markdown if "Serving the intent classifier during beta" in m.value]
    assert len(lines) == 1 and "(run r-fast, recommended on Compare now): $0.0121 a month" in lines[0]
    assert "price catalog: " in lines[0]
    # + 3,000,000 a month: $0.121 x 261 days of scale = $1.036; together $1.09 (the estimates no longer count)
    cards = {m.label: m.value for m in at.metric}
    assert cards["Measured"] == "$1.09" and cards["Budget"] == "$555k"
