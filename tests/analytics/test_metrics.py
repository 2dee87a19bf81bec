"""Product metrics on a tiny hand-made event log: exact rows for every query, filters, mappings, errors.

The log (all 2025): three accounts, five users, sessions and invoices chosen so every definition has an
edge in it (a day-7 session before the sign-up hour, a day-14 session, an invoice on 31 January that
must cover February, an expansion, a churned account). Expected values are worked out by hand below.
"""

from __future__ import annotations

import math
from dataclasses import fields
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest

from analytics.charts import metrics as metrics_charts
from analytics.compute.metrics.report import active_users, compute_report, funnel, retention, revenue
from analytics.compute.metrics.schema import (
    DEFINITIONS_MARKDOWN,
    EVENT_SCHEMA,
    EventMapping,
    MetricFilters,
    schema_markdown,
)
from analytics.compute.metrics.source import data_span, distinct_values
from analytics.errors import MetricsInputError, NoEventsError

Q1 = MetricFilters(start=date(2025, 1, 1), end=date(2025, 3, 31))

ACCOUNTS = [  # account_id, region, industry, company_size, signup_date
    (1, "Europe", "SaaS", "SMB", "2025-01-05"),
    (2, "North America", "Fintech", "Enterprise", "2025-01-20"),
    (3, "Europe", "Travel", "Mid-market", "2025-02-10"),
]
USERS = [(1, 1, "2025-01-05 09:00"), (2, 1, "2025-01-10 09:00"), (3, 2, "2025-01-20 12:00"),
         (4, 3, "2025-02-10 08:00"), (5, 3, "2025-03-03 08:00")]
EVENTS = [  # event_time, user_id, account_id, event_type, plan, amount_usd
    *[(t, u, a, "signup", None, None) for u, a, t in USERS],
    ("2025-01-05 10:00", 1, 1, "activation", None, None),
    ("2025-01-21 10:00", 3, 2, "activation", None, None),
    ("2025-02-10 09:00", 4, 3, "activation", None, None),
    ("2025-03-04 09:00", 5, 3, "activation", None, None),
    ("2025-01-06 10:00", 1, 1, "session", None, None),
    ("2025-01-13 10:00", 1, 1, "session", None, None),   # day 8 after sign-up: week 2
    ("2025-02-03 10:00", 1, 1, "session", None, None),
    ("2025-03-01 10:00", 1, 1, "session", None, None),
    ("2025-01-18 10:00", 2, 1, "session", None, None),   # week 2, but user 2 never activated
    ("2025-01-21 11:00", 3, 2, "session", None, None),
    ("2025-01-22 11:00", 3, 2, "session", None, None),
    ("2025-02-25 11:00", 3, 2, "session", None, None),
    ("2025-02-10 09:30", 4, 3, "session", None, None),
    ("2025-02-17 07:00", 4, 3, "session", None, None),   # day 7 (earlier hour than sign-up): week 2
    ("2025-03-20 09:00", 4, 3, "session", None, None),
    ("2025-03-04 10:00", 5, 3, "session", None, None),
    ("2025-03-17 10:00", 5, 3, "session", None, None),   # day 14: not week 2
    ("2025-03-31 23:00", 5, 3, "session", None, None),
    ("2025-01-31 12:00", None, 1, "invoice", "starter", 100.0),  # must count for February too
    ("2025-03-02 12:00", None, 1, "invoice", "starter", 100.0),
    ("2025-01-20 12:00", None, 2, "invoice", "pro", 500.0),
    ("2025-02-20 12:00", None, 2, "invoice", "pro", 500.0),
    ("2025-03-20 11:00", None, 2, "upgrade", "enterprise", None),
    ("2025-03-20 12:00", None, 2, "invoice", "enterprise", 700.0),  # expansion +200
    ("2025-02-10 09:00", None, 3, "invoice", "starter", 50.0),
    ("2025-03-05 09:00", None, 3, "cancel", "starter", None),       # churned in March: -50
]


def _seed(ws, events=EVENTS) -> None:
    with ws.transaction() as tx:
        for row in ACCOUNTS:
            tx.execute("insert into accounts values (?, ?, ?, ?, ?, ?, ?)",
                       [row[0], f"Co {row[0]}", *row[1:], False])
        for row in USERS:
            tx.execute("insert into users values (?, ?, ?)", list(row))
        for i, (t, u, a, kind, plan, amount) in enumerate(sorted(events, key=lambda e: e[0]), start=1):
            tx.execute("insert into events values (?, ?, ?, ?, ?, ?, ?)", [i, t, u, a, kind, plan, amount])


@pytest.fixture
def tiny(empty_ws):
    _seed(empty_ws)
    return empty_ws


def _rows(frame: pd.DataFrame) -> list[tuple]:
    """Rows as plain tuples: timestamps -> date, NaN -> None, floats rounded to 12 places."""
    out = []
    for row in frame.itertuples(index=False):
        values = []
        for v in row:
            if isinstance(v, pd.Timestamp):
                v = v.date()
            elif isinstance(v, float):
                v = None if math.isnan(v) else round(v, 12)
            elif hasattr(v, "item"):
                v = v.item()
            values.append(v)
        out.append(tuple(values))
    return out


# -- funnel --------------------------------------------------------------------------------------------------
def test_funnel_rows(tiny):
    # 5 sign-ups; user 2 never activates; week 2: user 1 (day 8) and user 4 (day 7), not user 5 (day 14);
    # both week-2 users belong to accounts with invoices.
    assert _rows(funnel(tiny, Q1)) == [
        (1, "signed_up", 5, None, 1.0),
        (2, "activated", 4, 0.8, 0.8),
        (3, "active_week_2", 2, 0.5, 0.4),
        (4, "paying", 2, 1.0, 0.4),
    ]


def test_funnel_range_picks_the_signup_cohort(tiny):
    february = MetricFilters(start=date(2025, 2, 1), end=date(2025, 2, 28))
    assert [r[2] for r in _rows(funnel(tiny, february))] == [1, 1, 1, 1]  # user 4 only


def test_funnel_without_signups_has_no_ratios(tiny):
    rows = _rows(funnel(tiny, MetricFilters(start=Q1.start, end=Q1.end, plan="free")))
    assert rows == [(1, "signed_up", 0, None, None), (2, "activated", 0, None, None),
                    (3, "active_week_2", 0, None, None), (4, "paying", 0, None, None)]


# -- retention -----------------------------------------------------------------------------------------------
def test_retention_rows(tiny):
    # January cohort = users 1, 2, 3: all active in January, users 1 and 3 in February, user 1 in March.
    assert _rows(retention(tiny, Q1)) == [
        (date(2025, 1, 1), 0, 3, 3, 1.0),
        (date(2025, 1, 1), 1, 3, 2, round(2 / 3, 12)),
        (date(2025, 1, 1), 2, 3, 1, round(1 / 3, 12)),
        (date(2025, 2, 1), 0, 1, 1, 1.0),
        (date(2025, 2, 1), 1, 1, 1, 1.0),
        (date(2025, 3, 1), 0, 1, 1, 1.0),
    ]


def test_retention_counts_activity_only_through_the_range_end(tiny):
    to_february = MetricFilters(start=date(2025, 1, 1), end=date(2025, 2, 24))
    # user 3's 25 February session is after the end: January cohort month 1 has user 1 only.
    assert _rows(retention(tiny, to_february)) == [
        (date(2025, 1, 1), 0, 3, 3, 1.0),
        (date(2025, 1, 1), 1, 3, 1, round(1 / 3, 12)),
        (date(2025, 2, 1), 0, 1, 1, 1.0),
    ]


# -- active users --------------------------------------------------------------------------------------------
def _reference_active_users(start: date, end: date, accounts: set[int] | None = None) -> pd.DataFrame:
    """Brute force over the Python event list: for each day, distinct users in the 1/7/28-day window; WAU
    and MAU only once their window lies wholly after the log's first event (no partial windows)."""
    sessions = [(pd.Timestamp(t).normalize(), u) for t, u, a, kind, _, _ in EVENTS
                if kind == "session" and (accounts is None or a in accounts)]
    first = min(pd.Timestamp(t).normalize() for t, *_ in EVENTS)
    rows = []
    for day in pd.date_range(start, end, freq="D"):
        counts = [len({u for d, u in sessions if day - pd.Timedelta(days=n - 1) <= d <= day})
                  for n in (1, 7, 28)]
        full = [day - pd.Timedelta(days=n - 1) >= first for n in (1, 7, 28)]
        wau = counts[1] if full[1] else None
        mau = counts[2] if full[2] else None
        stickiness = None if not mau else round(counts[0] / mau, 12)
        rows.append((day.date(), counts[0], wau, mau, stickiness, full[2]))
    return rows


def test_active_users_hand_checked_days(tiny):
    frame = active_users(tiny, Q1).set_index("day")
    assert len(frame) == 90
    # 22 Jan: user 3 today; users 2 and 3 in 16-22 Jan; the 28 days reach back before the first event
    # (5 Jan), so no MAU yet.
    assert tuple(frame.loc[pd.Timestamp("2025-01-22"), ["dau", "wau"]]) == (1, 2)
    assert math.isnan(frame.loc[pd.Timestamp("2025-01-22"), "mau"])
    # 17 Feb: user 4 today and this week; users 3 (21-22 Jan), 1 (3 Feb) and 4 in 21 Jan - 17 Feb.
    assert tuple(frame.loc[pd.Timestamp("2025-02-17"), ["dau", "wau", "mau"]]) == (1, 1, 3)
    # 31 Mar: user 5 today and this week; users 4 and 5 in 4-31 Mar (user 1's 1 Mar is outside).
    assert tuple(frame.loc[pd.Timestamp("2025-03-31"), ["dau", "wau", "mau", "stickiness"]]) == (1, 1, 2, 0.5)
    assert math.isnan(frame.loc[pd.Timestamp("2025-01-01"), "stickiness"])  # before any data: no ratio


def test_stickiness_starts_once_a_full_28_day_window_exists(tiny):
    frame = active_users(tiny, Q1)
    first_event = pd.Timestamp("2025-01-05")
    shown = frame.dropna(subset=["stickiness"])
    # the first point's window (27 days before it and the day itself) lies wholly inside the data
    first_point = shown["day"].iloc[0]
    assert first_point - pd.Timedelta(days=27) >= first_event
    assert first_point == pd.Timestamp("2025-02-01")  # 5 Jan + 27 days: nothing of the warm-up is plotted
    assert bool(shown["window_full"].all())
    warm_up = frame[frame["day"] < first_point]
    assert warm_up["mau"].isna().all() and not warm_up["window_full"].any()
    # 6 Jan: one user active in a 2-day-old log would read as 100 % stickiness; it is left out instead
    assert frame.set_index("day").loc[pd.Timestamp("2025-01-06"), "dau"] == 1
    # the chart shades the warm-up and draws no line there
    fig = metrics_charts.stickiness_chart(frame)
    assert fig.layout.shapes[0].x1 == pd.Timestamp("2025-01-31")
    ys = pd.Series(fig.data[0].y, dtype=float)
    assert ys[: len(warm_up)].isna().all() and ys[len(warm_up):].notna().any()


def test_a_range_inside_the_warm_up_has_no_mau_card(tiny):
    report = compute_report(tiny, MetricFilters(start=date(2025, 1, 1), end=date(2025, 1, 25)))
    assert report.kpis.mau is None and report.kpis.stickiness is None


@pytest.mark.parametrize(("columns", "rows", "expected"), [
    (3, 3, 14),      # few cells: the compact chart font
    (12, 24, 14),    # a year of months at full width: 47 px cells still take 14 px text
    (18, 24, 12),    # 31 px cells: the smallest readable size
    (24, 24, None),  # 23 px cells: '100%' would need 10 px, so no cell text (the hover keeps the values)
    (6, 6, 14),
])
def test_heatmap_cell_text_keeps_a_minimum_size(columns, rows, expected):
    assert metrics_charts.heatmap_cell_font(columns, rows) == expected


def test_heatmap_hides_cell_text_rather_than_shrinking_it():
    def frame(months: int) -> pd.DataFrame:
        cohorts = pd.date_range("2024-01-01", periods=months, freq="MS")
        return pd.DataFrame([{"cohort_month": c, "months_since_signup": m, "cohort_users": 1000,
                              "active_users": 500, "retention": 0.5}
                             for i, c in enumerate(cohorts) for m in range(months - i)])
    small, big = metrics_charts.retention_heatmap(frame(6)), metrics_charts.retention_heatmap(frame(24))
    assert small.data[0].texttemplate == "%{text}" and small.data[0].textfont.size >= 12
    assert big.data[0].texttemplate is None  # 24 months at full width: cells too small for 12 px text
    assert "%{z:.1%}" in big.data[0].hovertemplate
    assert big.layout.height > small.layout.height  # one row per cohort
    assert big.data[0].y[0] == "2024-01 (1,000)"


def test_active_users_match_brute_force(tiny):
    assert _rows(active_users(tiny, Q1)) == _reference_active_users(Q1.start, Q1.end)


def test_active_users_region_filter(tiny):
    europe = MetricFilters(start=Q1.start, end=Q1.end, region="Europe")
    assert _rows(active_users(tiny, europe)) == _reference_active_users(Q1.start, Q1.end, {1, 3})


# -- revenue -------------------------------------------------------------------------------------------------
REVENUE_COLUMNS = ["month", "mrr_usd", "arr_usd", "invoiced_usd", "new_mrr_usd", "expansion_mrr_usd",
                   "contraction_mrr_usd", "churned_mrr_usd", "paying_accounts", "churned_accounts",
                   "logo_churn", "revenue_churn", "nrr_1m", "nrr_12m"]


def test_revenue_rows(tiny):
    frame = revenue(tiny, Q1)
    assert list(frame.columns) == REVENUE_COLUMNS
    # Jan: accounts 1 (100) and 2 (500) new. Feb: account 1's 31 Jan invoice still counts; account 3 new (50);
    # only 550 was invoiced in February. Mar: account 2 expands 500 -> 700, account 3 churns (-50).
    assert _rows(frame) == [
        (date(2025, 1, 1), 600.0, 7200.0, 600.0, 600.0, 0.0, 0.0, 0.0, 2, 0, None, None, None, None),
        (date(2025, 2, 1), 650.0, 7800.0, 550.0, 50.0, 0.0, 0.0, 0.0, 3, 0, 0.0, 0.0, 1.0, None),
        (date(2025, 3, 1), 800.0, 9600.0, 800.0, 0.0, 200.0, 0.0, -50.0, 2, 1, round(1 / 3, 12),
         round(50 / 650, 12), round(800 / 650, 12), None),
    ]


def test_revenue_contraction_and_twelve_month_nrr(empty_ws):
    events = [
        ("2024-01-15 10:00", None, 1, "invoice", "pro", 100.0),
        ("2024-01-10 10:00", None, 2, "invoice", "pro", 200.0),
        ("2024-12-20 10:00", None, 1, "invoice", "pro", 160.0),
        ("2025-01-15 10:00", None, 1, "invoice", "starter", 150.0),  # contraction 160 -> 150
    ]
    _seed(empty_ws, events)
    january = MetricFilters(start=date(2025, 1, 1), end=date(2025, 1, 31))
    # Jan 2024 MRR of the accounts then paying: 100 + 200; of those, only account 1 pays 150 in Jan 2025.
    assert _rows(revenue(empty_ws, january)) == [
        (date(2025, 1, 1), 150.0, 1800.0, 150.0, 0.0, 0.0, -10.0, 0.0, 1, 0, 0.0, round(10 / 160, 12),
         round(150 / 160, 12), 0.5),
    ]


def test_revenue_mid_month_range_end_takes_the_snapshot_there(tiny):
    to_mid_march = MetricFilters(start=date(2025, 3, 1), end=date(2025, 3, 15))
    # On 16 Mar 00:00 the latest invoices in the last 31 days: account 1 (2 Mar, 100),
    # account 2 (20 Feb, 500).
    frame = revenue(tiny, to_mid_march)
    assert _rows(frame[["month", "mrr_usd", "churned_mrr_usd", "churned_accounts"]]) == [
        (date(2025, 3, 1), 600.0, -50.0, 1)]


# -- filters -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "filters, users, mrr",
    [
        ({"region": "Europe"}, [4, 3, 2, 2], [100.0, 150.0, 100.0]),
        ({"company_size": "Mid-market"}, [2, 2, 1, 1], [0.0, 50.0, 0.0]),
        ({"industry": "Fintech", "region": "North America"}, [1, 1, 0, 0], [500.0, 500.0, 700.0]),
        ({"plan": "enterprise"}, [1, 1, 0, 0], [500.0, 500.0, 700.0]),  # account 2's plan on 31 Mar
        ({"plan": "starter"}, [4, 3, 2, 2], [100.0, 150.0, 100.0]),
        ({"region": "all", "plan": "All"}, [5, 4, 2, 2], [600.0, 650.0, 800.0]),
    ],
)
def test_segment_and_plan_filters(tiny, filters, users, mrr):
    chosen = MetricFilters(start=Q1.start, end=Q1.end, **filters)
    assert funnel(tiny, chosen)["users"].tolist() == users
    assert revenue(tiny, chosen)["mrr_usd"].tolist() == mrr


def test_plan_filter_uses_the_plan_at_the_range_end(tiny):
    before_upgrade = MetricFilters(start=date(2025, 1, 1), end=date(2025, 2, 28), plan="pro")
    assert revenue(tiny, before_upgrade)["mrr_usd"].tolist() == [500.0, 500.0]


def test_filters_validate():
    with pytest.raises(MetricsInputError, match="start 2025-03-01 is after end 2025-02-01"):
        MetricFilters(start=date(2025, 3, 1), end=date(2025, 2, 1))
    with pytest.raises(MetricsInputError, match="must be dates"):
        MetricFilters(start="2025-01-01", end=date(2025, 2, 1))  # type: ignore[arg-type]
    assert MetricFilters(start=Q1.start, end=Q1.end, region="ALL", plan=" ").region is None


# -- the report ----------------------------------------------------------------------------------------------
def test_report_and_kpis(tiny):
    report = compute_report(tiny, Q1)
    assert report.events_in_range == len(EVENTS)
    kpis = report.kpis
    # MAU on 31 Mar = 2; DAU over 4-31 Mar sums to 4 user-days, so mean DAU = 4 / 28.
    assert (kpis.mau, kpis.mrr_usd, kpis.arr_usd, kpis.mrr_change_usd) == (2, 800.0, 9600.0, 150.0)
    assert kpis.stickiness == pytest.approx(4 / 28 / 2)
    assert kpis.logo_churn == pytest.approx(1 / 3)
    assert (kpis.nrr, kpis.nrr_window) == (pytest.approx(800 / 650), "1 month")
    figures = metrics_charts.metrics_figures(report)
    assert sorted(f.name for f in fields(figures)) == ["active_users", "churn", "funnel", "mrr", "retention",
                                                       "stickiness"]
    assert list(figures.funnel.data[0].x) == [5, 4, 2, 2]
    assert figures.retention.data[0].z.shape == (3, 3)


def test_empty_range_says_where_the_data_is(tiny):
    with pytest.raises(NoEventsError, match="no events between 2020-01-01 and 2020-12-31; "
                                           "the events run from 2025-01-05 to 2025-03-31"):
        compute_report(tiny, MetricFilters(start=date(2020, 1, 1), end=date(2020, 12, 31)))


def test_no_events_at_all(empty_ws):
    assert data_span(empty_ws) is None
    with pytest.raises(NoEventsError, match="no events at all"):
        compute_report(empty_ws, Q1)


# -- mapped user tables --------------------------------------------------------------------------------------
KINDS = {"signup": "register", "activation": "activate", "session": "login", "invoice": "bill",
         "upgrade": "plan_up", "cancel": "churn"}


def _import_user_table(ws) -> None:
    """The same log in a user's own vocabulary: text ids, other column names, an extra event kind."""
    rows = [(datetime.fromisoformat(t), None if u is None else f"user-{u}", f"org-{a}", KINDS[kind],
             amount, plan)
            for t, u, a, kind, plan, amount in EVENTS]
    rows.append((datetime(2025, 2, 1), "user-1", "org-1", "page_view", None, None))  # unmapped: left out
    frame = pd.DataFrame(rows, columns=["ts", "uid", "org", "kind", "amount", "tier"])
    with ws.transaction() as tx:
        tx.create_table_from_frame("my_events", frame)


def _mapping(**overrides) -> EventMapping:
    fields = {"table": "my_events", "event_time": "ts", "user_id": "uid", "account_id": "org",
              "event_type": "kind", "amount_usd": "amount", "plan": "tier",
              "event_types": {v: k for k, v in KINDS.items()}}
    return EventMapping(**{**fields, **overrides})


def test_mapped_table_gives_the_same_metrics(tiny):
    _import_user_table(tiny)
    native = compute_report(tiny, Q1)
    mapped = compute_report(tiny, Q1, _mapping())
    for name in ("active_users", "funnel", "retention", "revenue"):
        pd.testing.assert_frame_equal(getattr(mapped, name), getattr(native, name), check_dtype=False)
    assert mapped.kpis == native.kpis
    assert mapped.events_in_range == native.events_in_range  # the page_view row is not mapped
    assert data_span(tiny, _mapping()) == (date(2025, 1, 5), date(2025, 3, 31))
    plan_only = MetricFilters(start=Q1.start, end=Q1.end, plan="enterprise")
    assert funnel(tiny, plan_only, _mapping())["users"].tolist() == [1, 1, 0, 0]


def test_mapping_accepts_pairs_and_sorts_them():
    a = _mapping(event_types={"login": "session", "register": "signup"})
    b = _mapping(event_types=[("register", "signup"), ("login", "session")])
    assert a == b and a.event_types == (("login", "session"), ("register", "signup"))
    assert hash(a) == hash(b)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"table": "nope"}, "no table 'nope' in the workspace; your tables are: .*my_events"),
        ({"event_time": "when"}, "event_time: table 'my_events' has no column 'when'; "
                                 "its columns are: ts, uid, org, kind, amount, tier"),
        ({"event_time": "kind"}, "event_time: column 'kind' is VARCHAR, not a timestamp or date"),
        ({"amount_usd": "tier"}, "amount_usd: column 'tier' is VARCHAR, not a number"),
        ({"event_types": {"xyz": "session"}}, "none of the mapped values 'xyz' occur in column 'kind'; "
                                              "its most common values are: 'login'"),
        ({"table": "events"}, "'events' belongs to Strategy Lab"),
        ({"user_id": 'uid"; drop table events; --'}, "user_id: table 'my_events' has no column 'uid\"; drop"),
    ],
)
def test_mapping_problems_are_explained(tiny, overrides, message):
    _import_user_table(tiny)
    with pytest.raises(MetricsInputError, match=message):
        compute_report(tiny, Q1, _mapping(**overrides))
    assert tiny.row_count("events") == len(EVENTS)


def test_reserved_words_work_as_column_names(tiny):
    frame = pd.DataFrame({"when": [datetime(2025, 1, 5, 9)], "user": ["a"], "group": ["g"],
                          "select": ["login"]})
    with tiny.transaction() as tx:
        tx.create_table_from_frame("odd_names", frame)
    mapping = EventMapping(table="odd_names", event_time="when", user_id="user", account_id="group",
                           event_type="select", event_types={"login": "session"})
    one_day = MetricFilters(start=date(2025, 1, 5), end=date(2025, 1, 5))
    # the log's first day: DAU 1, and no WAU, MAU or stickiness while their windows fill
    assert _rows(active_users(tiny, one_day, mapping)) == [(date(2025, 1, 5), 1, None, None, None, False)]


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"event_types": {}}, "map at least one event-type value"),
        ({"event_types": {"buy": "purchase"}},
         "unknown event type\\(s\\) 'purchase'; map values onto: signup"),
        ({"user_id": ""}, "user_id: choose a column of the table"),
        ({"event_type": "kind\x00"}, "is not a column name"),
        ({"table": "my events"}, "may only hold letters, digits and underscores"),
        ({"table": ""}, "table name is empty"),
    ],
)
def test_mapping_rejects_bad_definitions(overrides, message):
    with pytest.raises(MetricsInputError, match=message):
        _mapping(**overrides)


def test_segment_filters_need_the_sample_accounts(tiny):
    _import_user_table(tiny)
    with pytest.raises(MetricsInputError, match="set them to All for a mapped table"):
        compute_report(tiny, MetricFilters(start=Q1.start, end=Q1.end, region="Europe"), _mapping())


def test_mapped_values_stay_bound_parameters(tiny):
    _import_user_table(tiny)
    hostile = "login'); drop table events; --"
    mapping = _mapping(event_types={"login": "session", hostile: "signup"})
    report = compute_report(tiny, Q1, mapping)
    assert report.funnel["users"].tolist() == [0, 0, 0, 0]  # no row says the hostile value: no sign-ups
    assert tiny.row_count("events") == len(EVENTS)


def test_distinct_values_most_common_first(tiny):
    _import_user_table(tiny)
    # 14 logins, 6 bills, 5 registers...
    assert distinct_values(tiny, "my_events", "kind", limit=3) == ["login", "bill", "register"]


def test_readme_shows_the_schema_and_definitions():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert schema_markdown() in readme
    assert DEFINITIONS_MARKDOWN.strip() in readme


def test_event_schema_documents_every_column():
    names = [f.name for f in EVENT_SCHEMA]
    assert names == ["event_time", "user_id", "account_id", "event_type", "amount_usd", "plan"]
    table = schema_markdown()
    assert all(f"`{n}`" in table for n in names) and "signup, activation, session" in table
