"""AppTest of the Metrics page: sample data with KPIs and charts, filters, empty ranges, a mapped user
table."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from analytics.compute.metrics.report import Kpis, compute_report
from analytics.compute.metrics.schema import MetricFilters
from analytics.compute.metrics.source import data_span
from analytics.db import Workspace
from tests.pages.apptest import new_app

PAGE = "pages/metrics.py"
KPI_LABELS = ["MAU", "Stickiness", "MRR", "ARR", "Logo churn", "NRR, 12 mo"]


def _usd(value: float) -> str:
    """$169k / $6.43M / $77.1M, written out here so the page's formatter is checked too."""
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= limit:
            scaled = value / limit
            return f"${scaled:.3g}{suffix}" if scaled < 100 else f"${scaled:.0f}{suffix}"
    return f"${value:.0f}"


def _kpis(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _expected_kpis(path: Path, **filters) -> Kpis:
    ws = Workspace.open(path)
    try:
        span = data_span(ws)
        return compute_report(ws, MetricFilters(start=span[0], end=span[1], **filters)).kpis
    finally:
        ws.close()


@pytest.mark.slow
def test_metrics_renders_sample_kpis_and_charts(app_env, monkeypatch):
    expected = _expected_kpis(app_env)
    at = new_app(PAGE)
    assert not at.exception
    assert not at.error
    assert any("Sample data" in i.value for i in at.info)
    kpis = _kpis(at)
    assert list(kpis) == KPI_LABELS
    # six cards share about 790 px at 1280 x 720: labels of at most 11 characters are not cut
    assert all(len(label) <= 11 for label in kpis)
    assert all(m.help for m in at.metric)  # the window and unit of each card are in its help
    assert kpis["MAU"] == f"{expected.mau:,}"
    assert kpis["MRR"] == _usd(expected.mrr_usd)
    assert kpis["ARR"] == _usd(12 * expected.mrr_usd)
    assert kpis["Logo churn"] == f"{expected.logo_churn:.1%}".replace(".0%", "%")
    assert len(at.get("plotly_chart")) == 6
    # A rerun with the same filters is served from the page's cache: the report is not computed again
    # (speed itself is measured in bench/pages.py, not asserted here).
    import analytics.compute.metrics.report as report_module

    calls = []
    original = report_module.compute_report
    monkeypatch.setattr(report_module, "compute_report", lambda *a, **k: calls.append(1) or original(*a, **k))
    at.run()
    assert not at.exception
    assert calls == [], "a rerun with unchanged filters recomputed the metrics report (cache missed)"


@pytest.mark.slow
def test_region_filter_changes_the_numbers(app_env):
    expected = _expected_kpis(app_env, region="Europe")
    at = new_app(PAGE)
    before = _kpis(at)
    at.selectbox(key="mt_region").set_value("Europe").run()
    assert not at.exception
    after = _kpis(at)
    assert after["MRR"] == _usd(expected.mrr_usd) != before["MRR"]
    assert after["MAU"] == f"{expected.mau:,}"


def test_filtered_retention_keeps_readable_cell_labels(app_env):
    at = new_app(PAGE)
    at.date_input(key="mt_dates").set_value((date(2026, 5, 1), date(2026, 10, 31))).run()
    assert not at.exception and not at.error
    [heatmap] = [c for c in at.get("plotly_chart") if '"heatmap"' in c.proto.spec]
    spec = json.loads(heatmap.proto.spec)
    trace = spec["data"][0]
    assert trace["texttemplate"] == "%{text}"  # six cohorts: labels shown, at a fixed readable size
    assert trace["textfont"]["size"] >= 12
    assert spec["layout"]["title"]["text"] == "Monthly retention by sign-up cohort"


def test_empty_date_range_says_so(app_env):
    at = new_app(PAGE)
    at.date_input(key="mt_dates").set_value((date(2019, 1, 1), date(2019, 1, 31))).run()
    assert not at.exception
    assert any("no events between 2019-01-01 and 2019-01-31" in w.value and "Widen the date range" in w.value
               for w in at.warning)
    assert not at.metric and not at.get("plotly_chart")


def test_half_picked_date_range_asks_for_an_end(app_env):
    at = new_app(PAGE)
    at.date_input(key="mt_dates").set_value((date(2025, 6, 1),)).run()
    assert not at.exception
    assert any("Pick an end date" in i.value for i in at.info)
    assert not at.metric


def test_mapped_user_table_gives_the_same_kpis(app_env):
    ws = Workspace.open(app_env)
    try:
        frame = ws.sql("select event_time, user_id, account_id, event_type, amount_usd, plan from events")
        with ws.transaction() as tx:
            tx.create_table_from_frame("my_events", frame)
    finally:
        ws.close()
    at = new_app(PAGE)
    sample = _kpis(at)
    at.radio(key="mt_source").set_value("A table of mine").run()
    assert not at.exception
    assert at.selectbox(key="mt_table").value == "my_events"
    assert at.multiselect(key="mt_type_session").value == ["session"]  # same vocabulary: mapped by default
    assert at.selectbox(key="mt_region").disabled
    assert _kpis(at) == sample
    assert any("my_events" in c.value for c in at.caption)


def test_mapping_problem_is_a_message_not_an_exception(app_env):
    ws = Workspace.open(app_env)
    try:
        frame = ws.sql("select event_time::varchar as event_time, user_id, account_id, event_type "
                       "from events limit 100")
        with ws.transaction() as tx:
            tx.create_table_from_frame("text_times", frame)
    finally:
        ws.close()
    at = new_app(PAGE)
    at.radio(key="mt_source").set_value("A table of mine").run()
    assert not at.exception
    assert any("not a timestamp or date" in e.value for e in at.error)
