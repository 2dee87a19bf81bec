"""The business case: unit economics and the projection checked by hand, refusals, a loss shown as a loss,
and the workspace facts read from the sample data with their sources."""

from __future__ import annotations

import math

import pytest

from analytics.compute.business.model import BusinessInputs, business_case, unit_economics
from analytics.errors import BusinessCaseError

HAND = BusinessInputs(
    customers=100,
    price_per_seat_usd=50,
    seats_per_account=10,
    requests_per_customer=1000,
    serving_usd_per_request=0.001,
    support_usd_per_customer=20,
    other_usd_per_customer=9,
    cac_usd=940,
    monthly_churn=0.05,
    fixed_usd_per_month=10_000,
    starting_customers=0,
    ramp_months=2,
    months=4,
)
"""Revenue 500, serving 1, gross margin 479, contribution 470 a customer a month."""


def test_unit_economics_by_hand() -> None:
    unit = unit_economics(HAND)
    assert (unit.revenue_usd, unit.serving_usd, unit.gross_margin_usd) == (500, 1, 479)
    assert unit.contribution_margin_usd == 470 and unit.gross_margin_share == pytest.approx(0.958)
    assert unit.cac_payback_months == pytest.approx(2.0)
    assert unit.ltv_usd == pytest.approx(9400) and unit.ltv_to_cac == pytest.approx(10.0)


def test_projection_and_break_even_by_hand() -> None:
    case = business_case(HAND, {"customers": "Market: SOM"})
    frame = case.projection
    # m1: 50 new; m2: 2.5 churned, 52.5 new; m3, m4: 5 churned and replaced
    assert list(frame["new_customers"]) == pytest.approx([50, 52.5, 5, 5])
    assert list(frame["customers"]) == pytest.approx([50, 100, 100, 100])
    assert list(frame["profit_usd"]) == pytest.approx([-33_500, -12_350, 32_300, 32_300])
    assert list(frame["cumulative_usd"]) == pytest.approx([-33_500, -45_850, -13_550, 18_750])
    assert (case.profitable_month, case.break_even_month) == (3, 4)
    assert case.sources["customers"] == "Market: SOM" and case.sources["cac_usd"] == "your input"
    top = case.tornado.iloc[0]
    assert top["swing_usd"] == case.tornado["swing_usd"].max() and top["low_usd"] != top["high_usd"]
    fixed = case.tornado.set_index("input").loc["fixed_usd_per_month"]
    assert fixed["high_usd"] - fixed["low_usd"] == pytest.approx(-0.4 * 10_000 * 4)  # +-20% of 4 months


def test_a_price_below_cost_is_a_labelled_loss_and_zero_customers_earn_nothing() -> None:
    from dataclasses import replace

    loss = business_case(replace(HAND, serving_usd_per_request=0.6))  # serving 600 > revenue 500
    assert loss.unit.contribution_margin_usd < 0 and loss.unit.cac_payback_months is None
    assert any("Loss on every customer" in f for f in loss.flags) and loss.break_even_month is None
    empty = business_case(replace(HAND, customers=0, fixed_usd_per_month=0, cac_usd=0))
    assert any("No customers" in f for f in empty.flags)
    assert math.isfinite(empty.unit.ltv_usd) and empty.unit.ltv_to_cac is None
    assert float(empty.projection["revenue_usd"].sum()) == 0
    free = business_case(replace(HAND, price_per_seat_usd=0))
    assert free.unit.gross_margin_share is None  # no revenue: no share, no division by zero


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"price_per_seat_usd": -1}, "price per seat must be a number of 0 or more"),
        ({"monthly_churn": 1.0}, "monthly churn is a share from 0 to below 1"),
        ({"months": 0}, "the horizon must be from 1 to 120 months"),
        ({"customers": float("nan")}, "customers must be a number of 0 or more"),
    ],
)
def test_inputs_that_make_no_sense_are_refused(change, message) -> None:
    from dataclasses import replace

    with pytest.raises(BusinessCaseError, match=message):
        replace(HAND, **change)


def test_the_pnl_chart_puts_zero_at_the_same_height_on_both_axes_and_reads_cleanly() -> None:
    from analytics.charts.business import aligned_zero, pnl_chart, tornado_chart
    from tests.readable import figure_texts, unreadable

    left, right = aligned_zero((-3.0, 12.0), (-1.0, 300.0))
    assert -left[0] / (left[1] - left[0]) == pytest.approx(-right[0] / (right[1] - right[0]))
    assert left[0] <= -3 and left[1] >= 12 and right[0] <= -1 and right[1] >= 300
    case = business_case(HAND)
    figures = [pnl_chart(case), tornado_chart(case)]
    texts = [t for f in figures for t in figure_texts(f)]
    assert not unreadable(texts), unreadable(texts)
    assert any("break-even: month 4" in str(a.text) for a in figures[0].layout.annotations)


def test_the_memo_gains_the_business_case_served_by_the_recommended_model(ws, empty_ws) -> None:
    """default_case joins the sample workspace's facts to Compare's recommended candidate; the memo shows
    it with its sources; a workspace that cannot supply the facts gets no section (None), not made-up
    numbers."""
    import re

    from analytics.compute.business.facts import default_case, workspace_facts
    from analytics.compute.compare.leaderboard import CompareSettings, leaderboard
    from analytics.compute.compare.recommend import recommended
    from analytics.ingest.prices import seed_prices
    from analytics.report import memo
    from tests.analytics.compare_fixtures import insert_run

    for workspace in (ws, empty_ws):
        seed_prices(workspace)
        insert_run(workspace, "r-classic", method="classic", model="tfidf", accuracy=0.8, n_test=100,
                   train_seconds=36, throughput_per_s=1000, per_class=10)
    board = leaderboard(ws, CompareSettings(dataset="banking77", requests_per_month=250_000))
    case = default_case(ws, board)
    facts = workspace_facts(ws)
    best = recommended(board)
    assert case is not None and best is not None
    assert case.inputs.serving_usd_per_request == pytest.approx(float(best["cost_per_1k_usd"]) / 1000)
    assert case.inputs.price_per_seat_usd == pytest.approx(facts.price_per_seat_usd.value)
    assert case.sources["serving_usd_per_request"].startswith(f"Compare, banking77: {best['candidate']}")
    assert case.sources["cac_usd"].startswith("example value")
    from analytics.compute.business.facts import serving_options

    options = serving_options(ws, "banking77", 250_000)  # what the page's model picker offers
    assert [o.key for o in options] == list(board.priced["key"])
    assert [o.key for o in options if o.recommended] == [best["key"]]
    assert next(o for o in options if o.recommended).source == case.sources["serving_usd_per_request"]
    text = memo.memo_html(board, memo.standard_figures(board), business=case)
    assert "<h2>Business case</h2>" in text and facts.monthly_churn.source in text
    assert len(re.findall(r"<script[^>]*>", text)) == 1 + 3 + 2  # plus the P&L and the tornado
    empty_board = leaderboard(empty_ws, CompareSettings(dataset="banking77", requests_per_month=250_000))
    assert default_case(empty_ws, empty_board) is None


def test_the_plan_and_the_experiment_beside_the_business_case(ws, empty_ws) -> None:
    """The sample workspace's roadmap total and critical path, and its experiment analysed with its plan,
    as the Roadmap and Experiments pages compute them; nothing for a workspace without either."""
    from analytics.compute.business.context import experiment_summary, plan_summary
    from analytics.compute.experiments.analysis import analyse
    from analytics.compute.experiments.catalog import stored_plan
    from analytics.compute.roadmap import budget, schedule
    from analytics.compute.roadmap.plan import load_plan

    plan = load_plan(ws)
    summary = plan_summary(ws)
    expected = budget.totals(plan, budget.linked_budget(ws, plan))
    assert summary is not None and summary.total_usd == pytest.approx(expected.total_usd)
    assert summary.critical_days == schedule.critical_path(plan).days and summary.stages == len(plan.stages)
    experiment = experiment_summary(ws)
    analysis_plan, _, _ = stored_plan(ws, "onboarding_checklist")
    result = analyse(ws, "onboarding_checklist", analysis_plan)
    assert experiment is not None and experiment.p_value == pytest.approx(result.p_value)
    assert experiment.verdict == result.verdict()
    assert plan_summary(empty_ws) is None and experiment_summary(empty_ws) is None
