"""Invariants of every core table the app owns (unique keys, not null, accepted values, relationships) on the
sample workspace, dbt-style: each query returns the offending rows, which must be none. Plus the sample
generator: deterministic per seed, and near the requested size.
"""

from __future__ import annotations

import pandas as pd
import pytest

from analytics.compute.metrics.schema import EVENT_TYPES
from analytics.db import list_migrations
from analytics.ingest import sample_data as demo


def _values(items) -> str:
    return "(" + ", ".join("'" + str(v).replace("'", "''") + "'" for v in items) + ")"


UNIQUE = [  # table, key columns
    ("events", "event_id"),
    ("users", "user_id"),
    ("accounts", "account_id"),
    ("accounts", "account_name"),
    ("market_segments", "segment_id"),
    ("market_segments", "region, industry, company_size"),
    ("competitors", "competitor_id"),
    ("competitors", "name"),
    ("plans", "plan"),
    ("plans", "tier"),
    ("imported_tables", "table_name"),
    ("schema_migrations", "version"),
    ("workspace_meta", "key"),
]

NOT_NULL = {
    "events": ["event_id", "event_time", "account_id", "event_type"],
    "users": ["user_id", "account_id", "signup_at"],
    "accounts": ["account_id", "account_name", "region", "industry", "company_size", "signup_date",
                 "is_sample"],
    "market_segments": ["segment_id", "region", "industry", "company_size", "companies", "adoption_rate",
                        "acv_usd", "growth_rate", "is_sample"],
    "competitors": ["competitor_id", "name", "price_per_seat_usd", "capability_score", "funding_usd_m",
                    "launch_year", "target_segment"],
    "plans": ["plan", "price_per_seat_usd", "tier"],
    "schema_migrations": ["version", "name", "applied_at"],
    "workspace_meta": ["key", "value"],
}

ACCEPTED = [  # table, expression, accepted values
    ("events", "event_type", EVENT_TYPES),
    ("events", "plan", [p[0] for p in demo.PLANS]),
    ("accounts", "company_size", demo.SIZES),
    ("accounts", "region", demo.REGIONS),
    ("accounts", "industry", demo.INDUSTRIES),
    ("market_segments", "company_size", demo.SIZES),
    ("market_segments", "region", demo.REGIONS),
    ("market_segments", "industry", demo.INDUSTRIES),
    ("competitors", "target_segment", demo.SIZES),
    ("plans", "plan", [p[0] for p in demo.PLANS]),
]

VIOLATIONS = {  # name: query returning offending rows
    "user-level events have a user": "select * from events where event_type in ('signup', 'activation', "
                                     "'session') and user_id is null",
    "account-level events have no user": "select * from events where event_type in ('upgrade', 'downgrade', "
                                         "'cancel', 'invoice') and user_id is not null",
    "invoices have a positive amount and a plan": "select * from events where event_type = 'invoice' and "
                                                  "(amount_usd is null or amount_usd <= 0 or plan is null)",
    "only invoices carry an amount": "select * from events where event_type <> 'invoice' and "
                                     "amount_usd is not null",
    "event users exist": "select * from events e where e.user_id is not null and not exists "
                         "(select 1 from users u where u.user_id = e.user_id)",
    "event accounts exist": "select * from events e where not exists "
                            "(select 1 from accounts a where a.account_id = e.account_id)",
    "event user belongs to the event account": "select * from events e join users u using (user_id) "
                                               "where u.account_id <> e.account_id",
    "user accounts exist": "select * from users u where not exists "
                           "(select 1 from accounts a where a.account_id = u.account_id)",
    "one sign-up per user, at users.signup_at": "select u.user_id from users u left join events e on "
                                                "e.user_id = u.user_id and e.event_type = 'signup' group by "
                                                "u.user_id, u.signup_at having count(e.event_id) <> 1 or "
                                                "min(e.event_time) <> u.signup_at",
    "no session before sign-up": "select * from events e join users u using (user_id) "
                                 "where e.event_type = 'session' and e.event_time < u.signup_at",
    "event ids follow event time": "select * from (select event_id, event_time, lag(event_time) over "
                                   "(order by event_id) as previous from events) where event_time < previous",
    "shares between 0 and 1": "select * from market_segments where adoption_rate not between 0 and 1",
    "non-negative market numbers": "select * from market_segments where acv_usd < 0 or companies < 0",
    "non-negative competitor money": "select * from competitors where price_per_seat_usd < 0 or "
                                     "funding_usd_m < 0",
    "capability scores 0-10": "select * from competitors where capability_score not between 0 and 10",
    "sample accounts are labelled": "select * from accounts where not is_sample",
    "sample segments are labelled": "select * from market_segments where not is_sample",
    "sample competitors are labelled": "select * from competitors where not is_sample",
}


@pytest.mark.parametrize("table, key", UNIQUE, ids=[f"{t}({k})" for t, k in UNIQUE])
def test_unique(ws, table, key):
    duplicates = ws.rows(f"select {key}, count(*) from {table} group by {key} having count(*) > 1 limit 5")
    assert duplicates == []


@pytest.mark.parametrize("table", sorted(NOT_NULL))
def test_not_null(ws, table):
    for column in NOT_NULL[table]:
        assert ws.scalar(f"select count(*) from {table} where {column} is null") == 0, f"{table}.{column}"


@pytest.mark.parametrize("table, column, accepted", ACCEPTED, ids=[f"{t}.{c}" for t, c, _ in ACCEPTED])
def test_accepted_values(ws, table, column, accepted):
    bad = ws.rows(f"select distinct {column} from {table} where {column} not in {_values(accepted)}")
    assert bad == []


@pytest.mark.parametrize("name", sorted(VIOLATIONS))
def test_no_violations(ws, name):
    assert ws.rows(VIOLATIONS[name] + " limit 5") == []


def test_sample_tables_are_filled_and_labelled(ws):
    counts = {t: ws.row_count(t) for t in ("events", "users", "accounts", "market_segments", "competitors",
                                            "plans")}
    assert counts["market_segments"] == len(demo.REGIONS) * len(demo.INDUSTRIES) * len(demo.SIZES)
    assert 8 <= counts["competitors"] <= 12
    assert counts["plans"] == len(demo.PLANS)
    assert min(counts.values()) > 0
    assert ws.meta("demo_label").startswith("Sample data")
    assert int(ws.meta("demo_events")) == counts["events"]
    assert ws.row_count("imported_tables") == 0


def test_migrations_table_matches_the_files(ws):
    recorded = ws.rows("select version, name from schema_migrations order by version")
    assert recorded == [(v, n) for v, n, _ in list_migrations()]


# -- the generator -------------------------------------------------------------------------------------------
def test_generator_is_deterministic_per_seed():
    first = demo.generate(demo.DemoConfig(events=20_000, seed=7))
    again = demo.generate(demo.DemoConfig(events=20_000, seed=7))
    other = demo.generate(demo.DemoConfig(events=20_000, seed=8))
    assert sorted(first) == ["accounts", "competitors", "events", "market_segments", "plans", "users"]
    for name, frame in first.items():
        pd.testing.assert_frame_equal(frame, again[name])
    for name in ("events", "users", "accounts", "market_segments"):
        assert not frame_equal(first[name], other[name]), name


def frame_equal(left: pd.DataFrame, right: pd.DataFrame) -> bool:
    try:
        pd.testing.assert_frame_equal(left, right)
    except AssertionError:
        return False
    return True


@pytest.mark.parametrize("events, seed", [(50_000, 7), (50_000, 8)])
def test_generator_lands_near_the_requested_size(events, seed):
    got = len(demo.generate(demo.DemoConfig(events=events, seed=seed))["events"])
    assert abs(got - events) / events < 0.15, got


def test_generator_refuses_silly_sizes():
    with pytest.raises(ValueError, match="between 1,000 and 200,000,000"):
        demo.DemoConfig(events=10)
