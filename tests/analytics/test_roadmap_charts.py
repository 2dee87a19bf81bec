"""The Roadmap charts: the Gantt draws the critical path apart, every milestone and today's line; the risk
matrix puts each risk in its likelihood x impact cell; all text readable."""

from __future__ import annotations

from datetime import date

from analytics.charts.roadmap import CRITICAL, OTHER, gantt_chart, risk_matrix_chart
from analytics.compute.roadmap.plan import Plan
from analytics.compute.roadmap.schedule import risk_table, stage_table
from analytics.ingest.sample_roadmap import SAMPLE_TODAY, sample_plan
from tests.readable import figure_texts, unreadable


def test_gantt_marks_the_critical_path_milestones_and_today() -> None:
    plan = sample_plan()
    fig = gantt_chart(stage_table(plan, SAMPLE_TODAY), plan, SAMPLE_TODAY)
    bars = {t.name: t for t in fig.data if t.type == "bar"}
    assert list(bars["critical path"].y) == ["Research", "Data", "Prototype", "Beta", "Launch", "Scale"]
    assert list(bars["other stages"].y) == ["Compliance"]
    assert bars["critical path"].marker.color == CRITICAL and bars["other stages"].marker.color == OTHER
    # Compliance: 2026-07-01 .. 2027-01-15 is 199 days, drawn to the end of its last day
    assert bars["other stages"].base[0] == "2026-07-01T00:00:00"
    assert bars["other stages"].x[0] == 199 * 86_400_000
    # done stages are paler
    assert list(bars["critical path"].marker.opacity)[:3] == [0.45, 0.45, 0.45]
    milestones = next(t for t in fig.data if t.name == "milestone")
    assert len(milestones.x) == 7 and milestones.y[3] == "Beta"
    assert [s.x0 for s in fig.layout.shapes] == ["2026-12-01T00:00:00"]
    assert any(a.text == "today 2026-12-01" for a in fig.layout.annotations)
    assert not unreadable(figure_texts(fig))


def test_risk_matrix_places_each_risk_in_its_cell() -> None:
    plan = sample_plan()
    fig = risk_matrix_chart(risk_table(plan))
    dots = next(t for t in fig.data if t.type == "scatter")
    cells = {int(text): (round(x), round(y)) for text, x, y in zip(dots.text, dots.x, dots.y, strict=True)}
    assert cells == {r.risk_id: (r.impact, r.likelihood) for r in plan.risks}
    heat = next(t for t in fig.data if t.type == "heatmap")
    assert heat.z[4][4] == 25 and heat.z[0][0] == 1
    assert not unreadable(figure_texts(fig))


def test_empty_plan_draws_a_message() -> None:
    empty = Plan()
    fig = gantt_chart(stage_table(empty, date(2026, 1, 1)), empty, date(2026, 1, 1))
    assert fig.layout.annotations[0].text == "No stages yet: add one below"
    assert risk_matrix_chart(risk_table(empty)).layout.annotations[0].text == "No risks yet: add one below"
