"""AppTest of the Experiments page: design and analysis of the sample experiment, a refused design input, and
a mapped table of the user's (analysed, then refused for a conversion column that is not 0/1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.compute.experiments.analysis import analyse
from analytics.compute.experiments.catalog import stored_plan
from analytics.compute.experiments.design import sample_size
from analytics.db import Workspace
from analytics.ingest.sample_experiment import EXPERIMENT, ensure_sample_experiment
from analytics.money import format_count, format_p_value, format_percent, format_points
from tests.pages.apptest import new_app
from tests.support import ROOT

PAGE = "pages/experiments.py"


def _open_page():
    """The page through app.py's navigation once app.py lists it; until then the page script on its own."""
    if PAGE in (ROOT / "app.py").read_text(encoding="utf-8"):
        return new_app(PAGE)
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / PAGE), default_timeout=30)
    at.run()
    return at


def _prepare(path: Path) -> dict[str, str]:
    """Seed the sample experiment (a no-op once app start does it), add two user tables, and return the
    figures the page must show for the sample experiment."""
    ws = Workspace.open(path)
    try:
        ensure_sample_experiment(ws)
        units = ws.sql("select user_id as visitor_id, variant as arm, assigned_at as exposed_at, converted "
                       "as won from experiment_assignments")
        with ws.transaction() as tx:
            tx.create_table_from_frame("my_test", units)
            texts = units.assign(won=units["won"].map({1: "yes", 0: "no"}))
            tx.create_table_from_frame("my_text_test", texts)
        plan, design, _ = stored_plan(ws, EXPERIMENT)
        result = analyse(ws, EXPERIMENT, plan)
    finally:
        ws.close()
    rates = result.variants.set_index("role")["rate"]
    return {"Control units": format_count(sample_size(design).control_units),
            "Control": format_percent(rates["control"]), "Treatment": format_percent(rates["treatment"]),
            "Lift, points": format_points(result.absolute_lift, unit=""),
            "p-value": format_p_value(result.p_value),
            "verdict": result.verdict()}


@pytest.fixture
def expected(app_env: Path) -> dict[str, str]:
    return _prepare(app_env)


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _messages(at) -> list[str]:
    return [m.value for kind in (at.info, at.success, at.error, at.warning) for m in kind]


@pytest.mark.slow
def test_sample_experiment_design_and_analysis_then_a_refused_design(expected):
    at = _open_page()
    assert not at.exception and not at.error
    assert any("Sample data" in i.value for i in at.info)
    metrics = _metrics(at)
    for label in ("Control units", "Control", "Treatment", "Lift, points", "p-value"):
        assert metrics[label] == expected[label], label
    assert expected["verdict"] in _messages(at)
    provenance = "events table: distinct users with a 'signup' event per day"
    assert any(c.value.startswith("Traffic: ") and provenance in c.value for c in at.caption)
    assert len(at.get("plotly_chart")) == 3  # sample size curve, conversion with CI bars, units per day
    at.number_input(key="ex_mde").set_value(50.0).run()  # 64% + 50 points leaves 0..100%
    assert not at.exception
    assert any("gives a target rate of 114%, outside 0%..100%" in e.value for e in at.error)
    # the analysis still shows beside the refused design
    assert _metrics(at)["Lift, points"] == expected["Lift, points"]


@pytest.mark.slow
def test_mapped_table_is_analysed_and_a_text_conversion_column_refused(expected):
    at = _open_page()
    at.radio(key="ex_source").set_value("A table of mine").run()
    assert not at.exception
    assert at.selectbox(key="ex_table").value == "my_test"
    # no column is named like a conversion: the first column is picked, refused in place
    assert any("three different columns" in e.value for e in at.error)
    assert [at.selectbox(key=f"ex_col_{role}").value for role in ("unit", "variant", "assigned_at")] == [
        "visitor_id", "arm", "exposed_at"]
    at.selectbox(key="ex_col_converted").set_value("won").run()
    control = next(s for s in at.selectbox if s.label == "Control")
    control.set_value("control").run()
    treatment = next(s for s in at.selectbox if s.label == "Treatment")
    treatment.set_value("checklist").run()
    assert not at.exception and not at.error
    metrics = _metrics(at)
    assert (metrics["Control"], metrics["Treatment"], metrics["Lift, points"]) == (
        expected["Control"], expected["Treatment"], expected["Lift, points"])
    assert any("table my_test (your import)" in c.value for c in at.caption)
    at.radio(key="ex_traffic").set_value("Assignments in my table").run()  # the design's traffic from it
    assert any(c.value.startswith("Traffic: ") and "table my_test (your import): units assigned per day, "
               "2026-08-01 to 2026-10-24" in c.value for c in at.caption)
    at.selectbox(key="ex_table").set_value("my_text_test").run()
    at.selectbox(key="ex_col_converted").set_value("won").run()
    assert not at.exception
    assert any("must hold 0 or 1" in e.value and "'no', 'yes'" in e.value for e in at.error)
    assert "Lift" not in _metrics(at)
