"""The source of a report: temporary views on this thread's cursor (sample tables or a mapped user table),
mapping checks, the data's span and the values the filters offer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from analytics.compute.metrics.schema import EventMapping, MetricFilters
from analytics.db import APP_TABLES, Workspace, quote_ident, read_sql, validate_name
from analytics.errors import MetricsError, MetricsInputError

MAX_USER_ID_SPAN = 100_000_000
"""Largest user-id range the bitstring user sets accept (12.5 MB per set)."""

TIME_TYPES = ("TIMESTAMP", "DATE", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "TIMESTAMP WITH TIME ZONE")
"""DuckDB types a mapped time column may have (Metrics event_time, Experiments assigned_at / converted_at)."""
_NUMERIC_PREFIXES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                     "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL", "REAL")


def validate_mapping(ws: Workspace, mapping: EventMapping) -> None:
    """Check that the mapped table and columns exist with usable types and that mapped values occur.

    Raises:
        MetricsInputError: listing every problem and how to fix it.
    """
    types = user_table_types(ws, mapping.table)
    problems = [_column_problem(mapping.table, field_name, column, types)
                for field_name, column in mapping.columns().items()]
    problems = [p for p in problems if p]
    if problems:
        raise MetricsInputError("; ".join(problems))
    _check_values_occur(ws, mapping)


def user_table_types(ws: Workspace, table: str, sample_choice: str = "Sample events") -> dict[str, str]:
    """Column name -> DuckDB type of a user's own table (imported on the Data page), for a mapping.

    Raises:
        MetricsInputError: the table belongs to Strategy Lab (`sample_choice` names what to pick instead), or
            there is no such table (the message lists the user's tables).
    """
    if table in APP_TABLES:
        raise MetricsInputError(
            f"{table!r} belongs to Strategy Lab; choose {sample_choice!r} or one of your imported tables"
        )
    if not ws.has_table(table):
        tables = [t for t in ws.table_names() if t not in APP_TABLES]
        raise MetricsInputError(
            f"no table {table!r} in the workspace; your tables are: {', '.join(tables) or 'none yet'} "
            f"(import one on the Data page)"
        )
    cols = ws.columns(table)
    return dict(zip(cols["column_name"], cols["data_type"], strict=True))


def _column_problem(table: str, field_name: str, column: str, types: dict[str, str]) -> str | None:
    if column not in types:
        return f"{field_name}: table {table!r} has no column {column!r}; its columns are: {', '.join(types)}"
    kind = types[column].upper()
    if field_name == "event_time" and kind not in TIME_TYPES:
        return (f"event_time: column {column!r} is {kind}, not a timestamp or date; pick another column or "
                f"re-import the file so the column is read as a date")
    if field_name == "amount_usd" and not kind.startswith(_NUMERIC_PREFIXES):
        return (f"amount_usd: column {column!r} is {kind}, not a number; pick a numeric column or leave it "
                f"unmapped")
    return None


def _check_values_occur(ws: Workspace, mapping: EventMapping) -> None:
    col = quote_ident(mapping.event_type)
    table = quote_ident(mapping.table)
    theirs = [t for t, _ in mapping.event_types]
    found = ws.rows(
        f"select count(*) from main.{table} where cast({col} as varchar) in (select unnest($values))",
        {"values": theirs},
    )[0][0]
    if found == 0:
        common = distinct_values(ws, mapping.table, mapping.event_type, limit=10)
        raise MetricsInputError(
            f"none of the mapped values {', '.join(map(repr, theirs))} occur in column "
            f"{mapping.event_type!r}; "
            f"its most common values are: {', '.join(map(repr, common)) or 'none (the column is empty)'}"
        )


def distinct_values(ws: Workspace, table: str, column: str, limit: int = 50) -> list[str]:
    """The most common values of `table.column` as text, most frequent first (for the mapping widgets).

    Raises:
        MetricsInputError: no such table or column.
    """
    validate_name(table)
    if not ws.has_table(table) or column not in set(ws.columns(table)["column_name"]):
        raise MetricsInputError(f"no column {column!r} in table {table!r}")
    rows = ws.rows(
        f"select cast({quote_ident(column)} as varchar) as v, count(*) as n from main.{quote_ident(table)} "
        f"where {quote_ident(column)} is not null group by v order by n desc, v limit $limit",
        {"limit": int(limit)},
    )
    return [r[0] for r in rows]


def prepare_source(ws: Workspace, filters: MetricFilters,
                   mapping: EventMapping | None = None) -> dict[str, Any]:
    """(Re)create metric_events, metric_accounts and metric_scope on this thread's cursor.

    Returns the bound parameters of the metric queries: start, end, and user_min/user_max (the range of
    user ids, which sizes the bitstrings the queries use as user sets).
    Raises:
        MetricsInputError: the mapping is invalid, or segment filters were set for a mapped table.
    """
    if mapping is None:
        ws.rows("create or replace temp view metric_events as "
                "select event_time, user_id, account_id, event_type, amount_usd, plan from main.events")
        ws.rows("create or replace temp view metric_accounts as "
                "select account_id, region, industry, company_size from main.accounts")
        ws.rows("create or replace temp view metric_users as select user_id, account_id from main.users")
    else:
        if filters.has_segment:
            raise MetricsInputError(
                "region, industry and company size filters need the sample accounts table; set them to All "
                "for a mapped table"
            )
        validate_mapping(ws, mapping)
        _create_mapped_views(ws, mapping)
    ws.rows("create or replace temp table metric_scope as " + read_sql("metrics_scope"),
            filters.scope_params())
    user_min, user_max = ws.rows(
        "select min(user_id), max(user_id) from "
        "(select user_id from metric_events union all select user_id from metric_users)"
    )[0]
    user_min, user_max = int(user_min or 0), int(user_max or 0)
    if user_max - user_min > MAX_USER_ID_SPAN:
        raise MetricsError(
            f"user ids span {user_min}..{user_max}, more than {MAX_USER_ID_SPAN:,} values; renumber users "
            f"densely (1, 2, 3...) in the events table"
        )
    return {**filters.params(), "user_min": user_min, "user_max": user_max}


def _create_mapped_views(ws: Workspace, mapping: EventMapping) -> None:
    """Copy the mapped rows into temp table metric_mapped_events with dense integer user ids 1..n."""
    ws.rows("create or replace temp table metric_type_map (source_value varchar, event_type varchar)")
    for theirs, ours in mapping.event_types:
        ws.rows("insert into metric_type_map values ($theirs, $ours)", {"theirs": theirs, "ours": ours})
    q = quote_ident
    amount = f"cast(s.{q(mapping.amount_usd)} as double)" if mapping.amount_usd else "cast(null as double)"
    plan = f"cast(s.{q(mapping.plan)} as varchar)" if mapping.plan else "cast(null as varchar)"
    # Identifiers passed validate_name and are quoted; every value lives in metric_type_map.
    ws.rows(
        "create or replace temp table metric_mapped_events as "
        "with source as (select "
        f"cast(s.{q(mapping.event_time)} as timestamp) as event_time, s.{q(mapping.user_id)} as user_id, "
        f"s.{q(mapping.account_id)} as account_id, m.event_type, {amount} as amount_usd, {plan} as plan "
        f"from main.{q(mapping.table)} as s "
        f"inner join metric_type_map as m on m.source_value = cast(s.{q(mapping.event_type)} as varchar) "
        f"where s.{q(mapping.event_time)} is not null and s.{q(mapping.account_id)} is not null), "
        "user_keys as (select user_id, row_number() over (order by user_id) as user_key "
        "from (select distinct user_id from source where user_id is not null)) "
        "select s.event_time, k.user_key::bigint as user_id, s.account_id, s.event_type, s.amount_usd, "
        "s.plan "
        "from source as s left join user_keys as k on k.user_id = s.user_id"
    )
    ws.rows("create or replace temp view metric_events as select * from metric_mapped_events")
    ws.rows(
        "create or replace temp view metric_accounts as select distinct account_id, "
        "cast(null as varchar) as region, cast(null as varchar) as industry, "
        "cast(null as varchar) as company_size from metric_events"
    )
    ws.rows("create or replace temp view metric_users as select user_id, min(account_id) as account_id "
            "from metric_events where user_id is not null group by user_id")


def data_span(ws: Workspace, mapping: EventMapping | None = None) -> tuple[date, date] | None:
    """First and last event day of the source, or None when it has no events."""
    first, last = _span_rows(ws, mapping)
    if first is None or last is None:
        return None
    return pd.Timestamp(first).date(), pd.Timestamp(last).date()


def _span_rows(ws: Workspace, mapping: EventMapping | None) -> tuple[Any, Any]:
    if mapping is None:
        return ws.rows("select min(event_time), max(event_time) from main.events")[0]
    validate_mapping(ws, mapping)
    col, table = quote_ident(mapping.event_time), quote_ident(mapping.table)
    return ws.rows(f"select min({col}), max({col}) from main.{table}")[0]


@dataclass(frozen=True)
class SegmentOptions:
    """Values offered by the Metrics page's segment and plan filters (sample accounts and plans)."""

    region: tuple[str, ...]
    """accounts.region values, sorted."""
    industry: tuple[str, ...]
    """accounts.industry values, sorted."""
    company_size: tuple[str, ...]
    """accounts.company_size values, sorted."""
    plan: tuple[str, ...]
    """Plan names by tier."""


def segment_options(ws: Workspace) -> SegmentOptions:
    """Values offered by the region, industry, company_size and plan filters of the sample data."""
    values: dict[str, tuple[str, ...]] = {}
    for column in ("region", "industry", "company_size"):
        rows = ws.rows(f"select distinct {quote_ident(column)} from main.accounts order by 1")
        values[column] = tuple(r[0] for r in rows)
    plans = tuple(r[0] for r in ws.rows("select plan from main.plans order by tier, plan"))
    return SegmentOptions(**values, plan=plans)
