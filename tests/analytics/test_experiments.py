"""Experiments: exact rows of every experiment query, the design's refusals, the analysis' refusals, and the
sample experiment seeded consistently with the sample users (tmp DuckDB)."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from analytics.compute.experiments import design, source
from analytics.compute.experiments.analysis import AnalysisPlan, analyse
from analytics.compute.experiments.catalog import list_experiments, stored_plan
from analytics.compute.experiments.errors import ExperimentInputError
from analytics.compute.experiments.source import ExperimentMapping, prepare_units
from analytics.db import Workspace
from analytics.ingest import sample_experiment

T = datetime.fromisoformat
TINY = [  # experiment 'tiny': unit, variant, assigned_at, converted, converted_at
    (1, "A", T("2026-01-01 10:00"), 1, T("2026-01-02 09:00")),
    (2, "A", T("2026-01-01 12:00"), 0, None),
    (3, "B", T("2026-01-03 09:00"), 1, T("2026-01-03 10:00")),
    (4, "B", T("2026-01-03 11:00"), 1, T("2026-01-04 08:00")),
    (5, "B", T("2026-01-04 08:00"), 0, None),
]


def _assignments(experiment: str, rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["user_id", "variant", "assigned_at", "converted", "converted_at"])
    frame.insert(0, "experiment", experiment)
    frame["converted_at"] = pd.to_datetime(frame["converted_at"])
    frame["is_sample"] = False
    return frame


@pytest.fixture(scope="module")
def xws(tmp_path_factory: pytest.TempPathFactory):
    """A migrated workspace without sample data holding experiment 'tiny', a one-variant experiment 'solo',
    a few events and users, and two user tables (one per exposure, one with text conversions)."""
    ws = Workspace.open(tmp_path_factory.mktemp("experiments") / "x.duckdb", seed_demo=False)
    events = pd.DataFrame({
        "event_id": range(1, 7),
        "event_time": [T("2026-03-01 09:00"), T("2026-03-01 10:00"), T("2026-03-01 11:00"),
                       T("2026-03-03 08:00"), T("2026-03-03 09:00"), T("2026-03-02 12:00")],
        "user_id": [1, 2, 2, 3, 1, 2],
        "account_id": [1, 1, 1, 2, 1, 1],
        "event_type": ["signup", "signup", "signup", "signup", "activation", "activation"],
    })
    users = pd.DataFrame({"user_id": [1, 2, 3], "account_id": [1, 1, 2],
                          "signup_at": [T("2026-03-01 09:00"), T("2026-03-01 10:00"), T("2026-03-03 08:00")]})
    exposures = pd.DataFrame({  # one row per exposure: unit 10 seen twice, converting on its second visit
        "visitor": ["10", "10", "11", "12", "13"], "arm": ["red", "red", "red", "blue", "blue"],
        "seen_at": pd.to_datetime(["2026-02-01 10:00", "2026-02-02 10:00", "2026-02-01 11:00",
                                   "2026-02-01 12:00", "2026-02-03 12:00"]),
        "did_convert": [False, True, False, True, False],
    })
    with ws.transaction() as tx:
        tx.insert_frame("events", events)
        tx.insert_frame("users", users)
        tx.insert_frame("experiment_assignments", _assignments("tiny", TINY))
        tx.insert_frame("experiment_assignments", _assignments("solo", TINY[:2]))
        tx.execute("insert into experiments values ('tiny', 'Tiny test', 'activation', null, 'A', 'B', "
                   "0.5, 0.5, 0.1, 0.8, 0.05, 388, 7, '2026-01-01', '2026-01-04', 'finished', false)")
        tx.create_table_from_frame("exposures", exposures)
        tx.create_table_from_frame("texty", exposures.assign(did_convert=["yes", "no", "no", "1", "0"]))
    yield ws
    ws.close()


def _rows(frame: pd.DataFrame) -> list[tuple]:
    return [tuple(None if pd.isna(v) else v for v in row) for row in frame.itertuples(index=False)]


# -- queries: exact rows -----------------------------------------------------------------------------------
def test_daily_traffic_counts_distinct_users_per_day_with_zero_days(xws):
    frame = xws.query("experiment_daily_traffic", event_type="signup", days=4)
    assert _rows(frame) == [(pd.Timestamp("2026-02-28"), 0), (pd.Timestamp("2026-03-01"), 2),
                            (pd.Timestamp("2026-03-02"), 0), (pd.Timestamp("2026-03-03"), 1)]
    traffic = design.sample_traffic(xws, "signup", days=4)
    assert traffic.units_per_day == 0.75 and traffic.days == 4
    assert traffic.source == ("events table: distinct users with a 'signup' event per day, 2026-02-28 to "
                              "2026-03-03 (4 days)")


def test_sample_units_reads_users_and_first_activation(xws):
    frame = xws.sql(source.read_sql("experiment_sample_units"),
                    {"start": date(2026, 3, 1), "end": date(2026, 3, 2)})
    assert _rows(frame) == [(1, pd.Timestamp("2026-03-01 09:00"), pd.Timestamp("2026-03-03 09:00")),
                            (2, pd.Timestamp("2026-03-01 10:00"), pd.Timestamp("2026-03-02 12:00"))]


def test_sample_source_checks_units_variants_and_daily_units(xws):
    where = prepare_units(xws, "tiny")
    assert where == "table experiment_assignments, experiment 'tiny'"
    checks = xws.query("experiment_checks").iloc[0].to_dict()
    assert {k: v for k, v in checks.items() if k != "bad_examples"} == {
        "source_rows": 5, "null_units": 0, "null_variants": 0, "null_assigned": 0, "bad_converted": 0,
        "converted_before_assigned": 0, "example_unit": None, "units_in_two_variants": 0,
        "example_switcher": None}
    assert _rows(xws.query("experiment_variants")) == [
        ("A", 2, 1, 0.5, pd.Timestamp("2026-01-01 10:00"), pd.Timestamp("2026-01-01 12:00")),
        ("B", 3, 2, 2 / 3, pd.Timestamp("2026-01-03 09:00"), pd.Timestamp("2026-01-04 08:00"))]
    assert _rows(xws.query("experiment_daily_units")) == [
        (pd.Timestamp("2026-01-01"), 2), (pd.Timestamp("2026-01-02"), 0), (pd.Timestamp("2026-01-03"), 2),
        (pd.Timestamp("2026-01-04"), 1)]
    prepare_units(xws, "tiny", start=date(2026, 1, 2), end=date(2026, 1, 3))  # inclusive days
    assert _rows(xws.query("experiment_variants"))[0][:3] == ("B", 2, 2)


def test_mapped_exposures_collapse_to_one_row_per_unit(xws):
    mapping = ExperimentMapping(table="exposures", unit="visitor", variant="arm", assigned_at="seen_at",
                                converted="did_convert")
    assert prepare_units(xws, mapping) == "table exposures (your import)"
    units = xws.sql("select * from experiment_units order by unit")
    assert _rows(units) == [("10", "red", pd.Timestamp("2026-02-01 10:00"), 1, None),
                            ("11", "red", pd.Timestamp("2026-02-01 11:00"), 0, None),
                            ("12", "blue", pd.Timestamp("2026-02-01 12:00"), 1, None),
                            ("13", "blue", pd.Timestamp("2026-02-03 12:00"), 0, None)]
    assert source.assignment_span(xws, mapping) == (date(2026, 2, 1), date(2026, 2, 3))
    traffic = design.mapped_traffic(xws, mapping)  # units first assigned on 02-01: 3, 02-02: 0, 02-03: 1
    assert (traffic.units_per_day, traffic.days) == (4 / 3, 3)
    assert traffic.source == ("table exposures (your import): units assigned per day, 2026-02-01 to "
                              "2026-02-03 (3 days)")
    assert source.mapped_values(xws, mapping, "arm") == ["red", "blue"]


def test_experiment_list_and_stored_plan(xws):
    frame = list_experiments(xws)
    assert _rows(frame) == [("tiny", "Tiny test", "activation", None, "A", "B", 0.5, 0.5, 0.1, 0.8, 0.05,
                             388, 7, pd.Timestamp("2026-01-01"), pd.Timestamp("2026-01-04"), "finished",
                             False)]
    plan, inputs, _ = stored_plan(xws, "tiny")
    assert plan == AnalysisPlan(control="A", treatment="B", treatment_share=0.5, planned_control_units=388,
                                alpha=0.05)
    assert design.sample_size(inputs).control_units == 388  # the stored plan is the design's own figure
    with pytest.raises(ExperimentInputError, match="no experiment 'nope'; stored: tiny"):
        stored_plan(xws, "nope")


# -- analysis refusals -------------------------------------------------------------------------------------
def test_one_variant_only_is_refused(xws):
    with pytest.raises(ExperimentInputError, match=r"holds one variant only \('A'\).*compares two"):
        analyse(xws, "solo", AnalysisPlan(control="A", treatment="B"))


def test_a_variant_with_zero_traffic_is_refused(xws):
    with pytest.raises(ExperimentInputError,
                       match="the treatment variant 'C' has no units .*variants with units: 'A', 'B'"):
        analyse(xws, "tiny", AnalysisPlan(control="A", treatment="C"))
    with pytest.raises(ExperimentInputError, match="one variant only"):  # the window leaves B alone
        analyse(xws, "tiny", AnalysisPlan(control="A", treatment="B", start=date(2026, 1, 3)))


def test_same_control_and_treatment_is_refused(xws):
    with pytest.raises(ExperimentInputError, match="control and treatment are both 'A'"):
        analyse(xws, "tiny", AnalysisPlan(control="A", treatment="A"))


def test_conversion_column_not_0_1_is_refused(xws):
    mapping = ExperimentMapping(table="texty", unit="visitor", variant="arm", assigned_at="seen_at",
                                converted="did_convert")
    with pytest.raises(ExperimentInputError, match=r"must hold 0 or 1 .* 3 rows hold something else "
                                                   r"\('no', 'yes'\)"):
        analyse(xws, mapping, AnalysisPlan(control="red", treatment="blue"))


def test_dates_out_of_order_are_refused(xws):
    with pytest.raises(ExperimentInputError,
                       match="dates out of order: the end 2026-01-01 is before the start 2026-01-04"):
        AnalysisPlan(control="A", treatment="B", start=date(2026, 1, 4), end=date(2026, 1, 1))
    frame = pd.DataFrame({"u": [1, 2, 3, 4], "v": ["a", "a", "b", "b"], "c": [1, 0, 1, 0],
                          "at": pd.to_datetime(["2026-01-05"] * 4),
                          "conv_at": pd.to_datetime(["2026-01-04", None, "2026-01-06", None])})
    with xws.transaction() as tx:
        tx.create_table_from_frame("backwards", frame)
    mapping = ExperimentMapping(table="backwards", unit="u", variant="v", assigned_at="at", converted="c",
                                converted_at="conv_at")
    with pytest.raises(ExperimentInputError, match=r"dates out of order: 1 rows convert before they were "
                                                   r"assigned \(e.g. unit '1'\)"):
        analyse(xws, mapping, AnalysisPlan(control="a", treatment="b"))


def test_units_in_two_variants_and_bad_mappings_are_refused(xws):
    frame = pd.DataFrame({"u": [1, 1, 2], "v": ["a", "b", "b"], "c": [1, 0, 1],
                          "at": pd.to_datetime(["2026-01-05"] * 3)})
    with xws.transaction() as tx:
        tx.create_table_from_frame("switchers", frame)
    mapping = ExperimentMapping(table="switchers", unit="u", variant="v", assigned_at="at", converted="c")
    with pytest.raises(ExperimentInputError,
                       match=r"1 units appear in more than one variant \(e.g. unit '1'\)"):
        analyse(xws, mapping, AnalysisPlan(control="a", treatment="b"))
    with pytest.raises(ExperimentInputError, match="assigned_at: column 'v' is VARCHAR, not a timestamp"):
        source.validate_mapping(xws, ExperimentMapping(table="switchers", unit="u", variant="v",
                                                       assigned_at="v", converted="c"))
    with pytest.raises(ExperimentInputError, match="has no column 'nope'; its columns are: u, v, c, at"):
        source.validate_mapping(xws, ExperimentMapping(table="switchers", unit="nope", variant="v",
                                                       assigned_at="at", converted="c"))
    with pytest.raises(ExperimentInputError, match="belongs to Strategy Lab; choose 'Sample experiment'"):
        source.validate_mapping(xws, ExperimentMapping(table="experiment_assignments", unit="user_id",
                                                       variant="variant", assigned_at="assigned_at",
                                                       converted="converted"))
    with pytest.raises(ExperimentInputError, match="may only hold letters"):
        ExperimentMapping(table="my table", unit="u", variant="v", assigned_at="at", converted="c")


def test_plan_inputs_are_checked():
    with pytest.raises(ExperimentInputError, match="treatment share"):
        AnalysisPlan(control="a", treatment="b", treatment_share=1.0)
    with pytest.raises(ExperimentInputError, match="planned units per variant must be at least 1"):
        AnalysisPlan(control="a", treatment="b", planned_control_units=0)


# -- design refusals ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kwargs", "message"), [
    ({"baseline_rate": 0.0, "mde": 0.02}, "baseline rate must be above 0% and below 100%, got 0%"),
    ({"baseline_rate": 1.2, "mde": 0.02}, "baseline rate must be above 0% and below 100%, got 120%"),
    ({"baseline_rate": 0.64, "mde": 0.40}, r"target rate of 104%, outside 0%..100%.*between -64 points and "
                                           r"\+36 points"),
    ({"baseline_rate": 0.64, "mde": -1.1, "mde_kind": "relative"}, "target rate of -6.4%, outside"),
    ({"baseline_rate": 0.5, "mde": 0.0}, "must be a non-zero number"),
    ({"baseline_rate": 0.5, "mde": 0.1, "power": 1.0}, "power must be above 0%"),
    ({"baseline_rate": 0.5, "mde": 0.1, "alpha": 0.0}, r"significance level \(alpha\) must be above 0%"),
    ({"baseline_rate": 0.5, "mde": 0.1, "mde_kind": "percent"}, "mde_kind must be one of absolute, relative"),
])
def test_design_refusals(kwargs, message):
    with pytest.raises(ExperimentInputError, match=message):
        design.DesignInput(**kwargs)


def test_design_traffic_and_duration_refusals(xws):
    with pytest.raises(ExperimentInputError, match="larger minimum detectable effect"):
        design.sample_size(design.DesignInput(baseline_rate=0.5, mde=1e-7))
    with pytest.raises(ExperimentInputError, match="no 'upgrade' events in its last 28 days"):
        design.sample_traffic(xws, "upgrade")
    with pytest.raises(ExperimentInputError, match="positive number"):
        design.typed_traffic(0)
    size = design.sample_size(design.DesignInput(baseline_rate=0.5, mde=0.1))
    with pytest.raises(ExperimentInputError, match=r"share of traffic in the test must be in \(0, 1\]"):
        design.duration(size, design.typed_traffic(10), exposure=0)
    assert design.duration(size, design.typed_traffic(10), exposure=0.5).days == -(-size.total_units // 5)


def test_relative_mde_is_a_share_of_the_baseline():
    relative = design.DesignInput(baseline_rate=0.2, mde=0.1, mde_kind="relative")
    assert relative.target_rate == pytest.approx(0.22)
    absolute = design.DesignInput(baseline_rate=0.2, mde=0.02)
    assert design.sample_size(relative).control_units == design.sample_size(absolute).control_units


# -- the sample experiment ---------------------------------------------------------------------------------
def test_sample_experiment_is_consistent_with_the_sample_users(ws):
    before = {t: ws.scalar(f"select count(*) from {t}") for t in ("events", "users", "accounts")}  # noqa: S608
    events_sum = ws.scalar("select sum(hash(event_id, event_time, user_id, event_type)) from events")
    sample_experiment.ensure_sample_experiment(ws)
    assert sample_experiment.ensure_sample_experiment(ws) is False  # once only
    after = {t: ws.scalar(f"select count(*) from {t}") for t in ("events", "users", "accounts")}  # noqa: S608
    assert after == before
    assert ws.scalar("select sum(hash(event_id, event_time, user_id, event_type)) from events") == events_sum
    mismatches = ws.rows(
        "select count(*) filter (where u.user_id is null), "
        "count(*) filter (where a.assigned_at <> u.signup_at), "
        "count(*) filter (where not a.is_sample), "
        "count(*) filter (where a.variant = 'control' and a.converted <> "
        "  (coalesce(act.first_at <= a.assigned_at + interval 7 day, false))::integer), "
        "count(*) filter (where a.variant = 'checklist' and act.first_at <= a.assigned_at + interval 7 day "
        "  and a.converted = 0) "
        "from experiment_assignments a left join users u using (user_id) "
        "left join (select user_id, min(event_time) as first_at from events where event_type = 'activation' "
        "  group by user_id) act using (user_id) where a.experiment = 'onboarding_checklist'")
    assert mismatches == [(0, 0, 0, 0, 0)]
    window = ws.scalar("select count(*) from users "
                       "where signup_at >= '2026-08-01' and signup_at < '2026-10-25'")
    assert ws.scalar("select count(*) from experiment_assignments") == window > 0
    plan, _, row = stored_plan(ws, sample_experiment.EXPERIMENT)
    assert (row["status"], bool(row["is_sample"]), plan.planned_control_units) == ("finished", True, 2200)
    first = ws.sql("select * from experiment_assignments order by user_id")
    with ws.transaction() as tx:
        sample_experiment.seed_sample_experiment(tx)  # deterministic: the same rows again
    pd.testing.assert_frame_equal(ws.sql("select * from experiment_assignments order by user_id"), first)
