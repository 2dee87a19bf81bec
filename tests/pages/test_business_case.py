"""AppTest of the Business case page on the sample workspace: inputs prefilled from the workspace with
their sources, KPIs and both charts, a typed input becomes 'your input', a price below cost shows a labelled
loss."""

from __future__ import annotations

import pytest

from analytics.compute.business.facts import workspace_facts
from analytics.db import Workspace
from tests.pages.apptest import new_app

PAGE = "pages/business_case.py"


@pytest.mark.slow
def test_the_business_case_joins_the_workspace_and_shows_a_loss_as_a_loss(app_env, tmp_path):
    from tests.analytics.churn_fixtures import make_churn_set

    make_churn_set(tmp_path / "runs")  # ingested when the page starts, like any finished run
    ws = Workspace.open(app_env)
    try:
        facts = workspace_facts(ws)
    finally:
        ws.close()
    at = new_app(PAGE)
    assert not at.exception and not at.error
    cards = {m.label: m.value for m in at.metric}
    assert list(cards) == ["Revenue", "Gross margin", "Contribution", "CAC payback", "LTV / CAC",
                           "Break-even"]
    assert all(len(card) <= 11 for card in cards.values())  # six cards of ~120 px at 1280 x 720: not cut
    assert at.number_input(key="bc_price").value == pytest.approx(round(facts.price_per_seat_usd.value, 4))
    sources = at.dataframe[0].value.set_index("input")["source"]
    assert sources["Price per seat"] == facts.price_per_seat_usd.source
    assert sources["Monthly churn"] == facts.monthly_churn.source
    assert sources["Serving $ per request"] == "your input"  # nothing measured on Compare in this workspace
    assert len(at.get("plotly_chart")) == 2
    shown = " ".join(m.value for m in at.markdown)
    assert "Roadmap (sample): " in shown and "critical path" in shown  # what the plan costs
    assert "Experiment 'Onboarding checklist (sample)': " in shown and "p = " in shown  # what the test says
    churn = at.radio(key="bc_churn_from")
    assert any(o.startswith("Churn model: expected") for o in churn.options)
    churn.set_value(next(o for o in churn.options if o.startswith("Churn model"))).run()
    assert at.dataframe[0].value.set_index("input")["source"]["Monthly churn"].startswith("Churn page: ")
    at.number_input(key="bc_price").set_value(1.0).run()  # far below the cost of serving and support
    assert not at.exception
    assert at.dataframe[0].value.set_index("input")["source"]["Price per seat"] == "your input"
    assert any("Loss on every customer" in w.value for w in at.warning)
    assert {m.label: m.value for m in at.metric}["CAC payback"] == "never"
