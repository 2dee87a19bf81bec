"""The roadmap: exact rows of its queries, each validation refusal (nothing saved), the critical path by hand,
today's position, totals, and a linked serving budget that drops when a cheaper candidate wins."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pandas as pd
import pytest

from analytics.compute.roadmap.budget import (
    LINE_COLUMNS,
    LinkedBudget,
    candidate_choices,
    linked_budget,
    run_choices,
    totals,
)
from analytics.compute.roadmap.plan import (
    BudgetLink,
    Milestone,
    Plan,
    Risk,
    RoadmapInputError,
    Stage,
    load_plan,
)
from analytics.compute.roadmap.schedule import (
    critical_path,
    milestone_table,
    risk_table,
    stage_table,
    today_position,
)
from analytics.compute.roadmap.store import save_plan
from analytics.compute.roadmap.validate import problems
from analytics.db import APP_TABLES, Workspace
from analytics.ingest.sample_roadmap import SAMPLE_TODAY, sample_plan, seed_sample_roadmap
from tests.analytics.compare_fixtures import insert_run

D = date


def _stage(i: int, name: str, start: date | None, end: date | None, deps: tuple[int, ...] = (),
           budget: float = 1000.0, **extra) -> Stage:
    return Stage(stage_id=i, name=name, position=i, start_date=start, end_date=end, budget_usd=budget,
                 depends_on=deps, **extra)


def small_plan() -> Plan:
    """A (10 days) before B (31 days) and C (40 days), both before D (5 days); E (30 days) on its own."""
    return Plan(stages=(
        _stage(1, "A", D(2026, 1, 1), D(2026, 1, 10)),
        _stage(2, "B", D(2026, 1, 11), D(2026, 2, 10), (1,)),
        _stage(3, "C", D(2026, 1, 12), D(2026, 2, 20), (1,), budget=500.0, people=2.5),
        _stage(4, "D", D(2026, 3, 1), D(2026, 3, 5), (2, 3)),
        _stage(5, "E", D(2026, 1, 1), D(2026, 1, 30)),
    ), risks=(Risk(1, 3, "late data", 4, 5, "buy it"), Risk(2, 1, "scope", 2, 2)),
        milestones=(Milestone(1, 4, "ship", D(2026, 3, 5)), Milestone(2, 1, "kick-off", D(2026, 1, 1))))


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """One workspace (no sample events) holding the sample roadmap, shared by the read-only tests."""
    ws = Workspace.open(tmp_path_factory.mktemp("roadmap") / "w.duckdb", seed_demo=False)
    with ws.transaction() as tx:
        assert seed_sample_roadmap(tx) == 7
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def small_saved(tmp_path_factory):
    """One workspace holding small_plan(); tests that write to it must leave it as it was."""
    ws = Workspace.open(tmp_path_factory.mktemp("roadmap_small") / "w.duckdb", seed_demo=False)
    save_plan(ws, small_plan())
    yield ws
    ws.close()


def test_migration_tables_are_app_tables() -> None:
    assert {"roadmap_stages", "roadmap_dependencies", "roadmap_risks", "roadmap_milestones",
            "roadmap_budget_links"} <= APP_TABLES


def test_queries_return_exact_rows(seeded) -> None:
    stages = seeded.query("roadmap_stages")
    assert list(stages.columns) == ["stage_id", "name", "position", "start_date", "end_date", "owner",
                                    "people", "compute", "budget_usd", "notes", "depends_on", "is_sample"]
    assert list(stages["name"]) == ["Research", "Data", "Prototype", "Compliance", "Beta", "Launch", "Scale"]
    first = stages.iloc[5].to_dict()
    assert {k: first[k] for k in ("stage_id", "position", "owner", "people", "budget_usd", "is_sample")} == {
        "stage_id": 6, "position": 6, "owner": "Maya Chen (CEO)", "people": 5.0, "budget_usd": 50_000.0,
        "is_sample": True}
    assert str(first["start_date"])[:10] == "2027-02-01" and str(first["end_date"])[:10] == "2027-03-31"
    assert [list(d) for d in stages["depends_on"]] == [[], [1], [2], [1], [3], [4, 5], [6]]
    risks = seeded.query("roadmap_risks")
    assert [tuple(r) for r in risks[["risk_id", "stage_id", "likelihood", "impact", "score"]].to_numpy()] == [
        (5, 5, 3, 5, 15), (1, 2, 3, 4, 12), (6, 6, 4, 3, 12), (3, 4, 2, 5, 10), (4, 5, 3, 3, 9),
        (2, 3, 2, 4, 8), (7, 7, 2, 3, 6)]
    milestones = seeded.query("roadmap_milestones")
    assert list(milestones["milestone_id"]) == [1, 2, 3, 4, 5, 6, 7]
    assert [str(d)[:10] for d in milestones["due_date"]][:2] == ["2026-03-20", "2026-06-12"]
    links = seeded.query("roadmap_budget_links")
    assert links[["link_id", "stage_id", "kind", "dataset", "requests_per_month", "estimate_usd"]].to_dict(
        "records") == [
        {"link_id": 1, "stage_id": 5, "kind": "serving", "dataset": "banking77",
         "requests_per_month": 300_000.0, "estimate_usd": 200.0},
        {"link_id": 2, "stage_id": 7, "kind": "serving", "dataset": "banking77",
         "requests_per_month": 3_000_000.0, "estimate_usd": 2_500.0}]
    assert links["candidate_key"].isna().all() and links["run_id"].isna().all()
    assert seeded.scalar("select count(*) from roadmap_dependencies where not is_sample") == 0


def test_load_round_trips_the_sample_plan(seeded) -> None:
    assert load_plan(seeded) == sample_plan()


def test_sample_position_on_its_day(seeded) -> None:
    plan = load_plan(seeded)
    position = today_position(plan, SAMPLE_TODAY)
    assert position.current == ("Compliance", "Beta")
    assert (position.done, position.ahead) == (3, 2)
    assert position.next_milestone == "20 design partners live (2026-12-15, Beta)"
    # 2026-01-05 .. 2027-12-17 is 712 days; 2026-12-01 is day 330 after the start
    assert position.elapsed == pytest.approx(330 / 712)
    assert critical_path(plan).names == ("Research", "Data", "Prototype", "Beta", "Launch", "Scale")
    assert list(stage_table(plan, SAMPLE_TODAY)["status"]) == ["done", "done", "done", "in progress",
                                                               "in progress", "ahead", "ahead"]


def test_critical_path_by_hand() -> None:
    plan = small_plan()
    # A 10 days, B 31 (Jan 11 - Feb 10), C 40 (Jan 12 - Feb 20), D 5, E 30.
    # into D: A+B+D = 46, A+C+D = 55; E alone = 30  ->  A, C, D with 55 days
    path = critical_path(plan)
    assert path.names == ("A", "C", "D") and path.stage_ids == (1, 3, 4) and path.days == 55
    assert list(stage_table(plan, D(2026, 2, 1))["critical"]) == [True, False, True, True, False]
    longer_e = plan.with_stage(replace(plan.stage(5), end_date=D(2026, 3, 31)))  # E: 90 days alone
    assert critical_path(longer_e).names == ("E",) and critical_path(longer_e).days == 90
    assert critical_path(Plan()).days == 0


def test_tables_and_totals() -> None:
    plan = small_plan()
    assert list(risk_table(plan)[["risk_id", "stage", "score"]].itertuples(index=False, name=None)) == [
        (1, "C", 20), (2, "A", 4)]
    assert list(milestone_table(plan, D(2026, 2, 1))[["milestone", "status"]].itertuples(
        index=False, name=None)) == [("kick-off", "past"), ("ship", "due")]
    t = totals(plan, LinkedBudget(pd.DataFrame(columns=list(LINE_COLUMNS))))
    assert (t.stages_usd, t.linked_usd, t.measured_usd, t.total_usd) == (4500.0, 0.0, 0.0, 4500.0)
    assert t.people == 2.5


REFUSALS = [
    ("end before start", lambda p: p.with_stage(replace(p.stage(2), end_date=D(2026, 1, 5))),
     "stage 'B' ends 2026-01-05 before it starts 2026-01-11"),
    ("no dates", lambda p: p.with_stage(replace(p.stage(2), start_date=None)),
     "stage 'B' has no start date: pick one"),
    ("no dates at all", lambda p: p.with_stage(replace(p.stage(2), start_date=None, end_date=None)),
     "stage 'B' has no start and end date"),
    ("dependency ends too late", lambda p: p.with_stage(replace(p.stage(4), start_date=D(2026, 2, 15))),
     "stage 'D' starts 2026-02-15 but depends on 'C', which ends 2026-02-20: a dependency must end before "
     "its dependent starts"),
    ("same-day handover", lambda p: p.with_stage(replace(p.stage(2), start_date=D(2026, 1, 10))),
     "depends on 'A', which ends 2026-01-10"),
    ("negative budget", lambda p: p.with_stage(replace(p.stage(3), budget_usd=-5.0)),
     "stage 'C' has a budget of -5 USD: a budget cannot be negative"),
    ("negative people", lambda p: p.with_stage(replace(p.stage(3), people=-1.0)), "stage 'C' has -1 people"),
    ("likelihood", lambda p: p.with_risk(replace(p.risks[0], likelihood=6)),
     "risk 'late data' has likelihood 6: enter a whole number from 1 to 5"),
    ("impact", lambda p: p.with_risk(replace(p.risks[0], impact=0)), "risk 'late data' has impact 0"),
    ("duplicate name", lambda p: p.with_stage(replace(p.stage(5), name="A")), "two stages are called 'A'"),
    ("self", lambda p: p.with_stage(replace(p.stage(5), depends_on=(5,))), "stage 'E' depends on itself"),
    ("milestone without date", lambda p: p.with_milestone(Milestone(3, 1, "x", None)),
     "milestone 'x' has no due date"),
    ("serving line without volume",
     lambda p: p.with_link(BudgetLink(1, 1, "serve", "serving", dataset="banking77", requests_per_month=0.0)),
     "budget line 'serve' needs a volume above 0 requests per month"),
    ("training line without run", lambda p: p.with_link(BudgetLink(1, 1, "train", "training")),
     "budget line 'train' links a training cost but names no run"),
]


@pytest.mark.parametrize(("case", "edit", "message"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_each_refusal_names_what_to_change_and_saves_nothing(small_saved, case, edit, message) -> None:
    with pytest.raises(RoadmapInputError) as refused:
        save_plan(small_saved, edit(small_plan()))
    assert message in str(refused.value)
    assert "nothing was saved" in str(refused.value)
    assert load_plan(small_saved) == small_plan()


def test_a_cycle_is_found_and_named() -> None:
    plan = Plan(stages=(
        _stage(1, "Data", D(2026, 1, 1), D(2026, 1, 31), (3,)),
        _stage(2, "Prototype", D(2026, 2, 1), D(2026, 2, 28), (1,)),
        _stage(3, "Beta", D(2026, 3, 1), D(2026, 3, 31), (2,)),
        _stage(4, "Launch", D(2026, 4, 1), D(2026, 4, 30), (3,)),
    ))
    found = [p for p in problems(plan) if "cycle" in p]
    assert len(found) == 1
    cycle = found[0].split("cycle: ")[1].split(" (")[0].split(" -> ")
    assert cycle[0] == cycle[-1] and sorted(set(cycle)) == ["Beta", "Data", "Prototype"]
    # read as 'x needs y': each stage's successor in the text is one of its dependencies
    deps = {s.name: {plan.names[d] for d in s.depends_on} for s in plan.stages}
    assert all(b in deps[a] for a, b in zip(cycle, cycle[1:], strict=False))
    with pytest.raises(RoadmapInputError):
        critical_path(plan)


def test_sample_is_left_alone_when_the_user_has_a_plan(empty_ws) -> None:
    save_plan(empty_ws, small_plan())
    with empty_ws.transaction() as tx:
        assert seed_sample_roadmap(tx) == 0
    assert [s.name for s in load_plan(empty_ws).stages] == ["A", "B", "C", "D", "E"]


def test_linked_budget_follows_a_cheaper_candidate(empty_ws) -> None:
    # CPU x2 is priced at $0.0725/h (data/prices.csv); at 50% utilisation and 100 requests/s a 1k requests
    # cost 0.0725 / (100 x 0.5 x 3600) x 1000 = $0.000403; at 1,000,000 requests a month that is $0.403/month
    insert_run(empty_ws, "r-slow", method="full", model="all-MiniLM-L6-v2", accuracy=0.80, n_test=100,
               train_seconds=3600, throughput_per_s=100)
    plan = small_plan().with_link(BudgetLink(1, 3, "serving C", "serving", dataset="banking77",
                                             requests_per_month=1_000_000.0, estimate_usd=999.0))
    plan = plan.with_link(BudgetLink(2, 1, "train", "training", run_id="r-slow"))
    save_plan(empty_ws, plan)
    months_c = 40 / 30.4375
    before = linked_budget(empty_ws, load_plan(empty_ws)).lines.set_index("link_id")
    assert before.loc[1, "measured"] and before.loc[1, "run_id"] == "r-slow"
    monthly = 0.0725 / (100 * 0.5 * 3600) * 1000 * 1000
    assert before.loc[1, "amount_usd"] == pytest.approx(monthly * months_c)
    assert "(run r-slow, recommended on Compare now): $0.403 a month at 1,000,000 requests" in before.loc[
        1, "provenance"]
    assert "months of C" in before.loc[1, "provenance"]
    assert before.loc[1, "price_source"].startswith("catalog")
    # training: 1 h on CPU x2 = $0.0725, with the run named
    assert before.loc[2, "amount_usd"] == pytest.approx(0.0725)
    assert before.loc[2, "provenance"].startswith("run r-slow: ")
    # a cheaper and more accurate model wins: the linked serving line drops 10x, nothing else changed
    insert_run(empty_ws, "r-fast", method="classic", model="tfidf", accuracy=0.95, n_test=100,
               train_seconds=36, throughput_per_s=1000)
    after = linked_budget(empty_ws, load_plan(empty_ws))
    line = after.lines.set_index("link_id").loc[1]
    assert line["run_id"] == "r-fast" and line["amount_usd"] == pytest.approx(monthly / 10 * months_c)
    assert after.total_usd < before["amount_usd"].sum()
    t = totals(load_plan(empty_ws), after)
    assert t.measured_usd == pytest.approx(monthly / 10 * months_c + 0.0725)
    assert [k for k, _ in candidate_choices(empty_ws, "banking77", 1e6)] == ["run:r-fast", "run:r-slow"]
    assert run_choices(empty_ws) == [("r-fast", "r-fast · classic tfidf on banking77"),
                                     ("r-slow", "r-slow · full all-MiniLM-L6-v2 on banking77")]


def test_unmeasured_lines_count_the_estimate_and_say_so(seeded) -> None:
    lines = linked_budget(seeded, load_plan(seeded)).lines
    assert list(lines["amount_usd"]) == [200.0, 2500.0] and not lines["measured"].any()
    assert lines.iloc[0]["provenance"].startswith("your estimate $200 (not measured yet: no priced candidate "
                                                  "on banking77 yet")
    t = totals(load_plan(seeded), linked_budget(seeded, load_plan(seeded)))
    assert (t.stages_usd, t.linked_usd, t.measured_usd, t.total_usd) == (555_000.0, 2_700.0, 0.0, 557_700.0)
