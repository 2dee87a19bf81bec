"""Product metrics from an event log: active users, funnel, retention cohorts, MRR/ARR, churn and NRR.

Every number is computed in DuckDB by the queries in analytics/sql/metrics_*.sql. They read two temporary
views on the calling thread's cursor, which `prepare_source` (re)creates before each report:

- `metric_events`: the event log in the schema below (the sample `events` table, or a user's table mapped
  onto it with an `EventMapping`);
- `metric_accounts`: account_id, region, industry, company_size (the sample `accounts` table; all null for
  a mapped table, whose metrics therefore take no segment filters);
- `metric_users`: user_id, account_id (the sample `users` table; derived from the events when mapped);

and a temporary table `metric_scope` holding the account ids that pass the segment and plan filters.

Event schema (one row per event; user_id is null for account-level events):

    event_time  timestamp  when it happened (UTC)
    user_id     any        the user; null for upgrade, downgrade, cancel and invoice
    account_id  any        the customer account (company) the user belongs to
    event_type  varchar    signup, activation, session, upgrade, downgrade, cancel or invoice
    amount_usd  double     invoice amount in US dollars (monthly billing); null for other events
    plan        varchar    plan after an upgrade/downgrade, or billed by an invoice; else null

Definitions:

- Active users: rolling windows. DAU = distinct users with a session that day; WAU = in the 7 days ending
  that day; MAU = in the 28 days ending that day. Stickiness = DAU / MAU (the KPI card: mean DAU over the
  last 28 days of the range / MAU on its last day).
- Funnel, for users whose first sign-up is in the range: signed up -> activated (an activation event) ->
  active in week 2 (a session 7 to 14 days after sign-up) -> paying (their account has an invoice > 0).
  Steps are nested; later steps look at all events, so the range chooses the sign-up cohort.
- Retention: users by sign-up month x months since sign-up; the share with >= 1 session in that calendar
  month, counted through the range end.
- MRR: an account's latest invoice dated in the 31 days before the month's end (or the range end if
  earlier), so a monthly bill paid on the 31st still counts in a short February; ARR = 12 x MRR.
  New / expansion / contraction / churned MRR compare each account with the previous month.
- Logo churn = accounts paying last month and not this month / accounts paying last month. Revenue churn =
  (churned + contraction MRR) / last month's MRR. NRR (1 month) = this month's MRR from last month's payers /
  last month's MRR; NRR (12 months) the same against 12 months earlier.
- Plan filter: the plan on an account's latest upgrade, downgrade or invoice up to the range end ('free' when
  it has none).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from analytics.db import APP_TABLES, Workspace, quote_ident, read_sql, validate_name
from analytics.errors import InvalidNameError, MetricsError, MetricsInputError, NoEventsError

log = logging.getLogger(__name__)

EVENT_TYPES = ("signup", "activation", "session", "upgrade", "downgrade", "cancel", "invoice")
"""Accepted values of event_type."""


@dataclass(frozen=True)
class EventField:
    """One column of the event schema."""

    name: str
    """Column name in `metric_events`."""
    sql_type: str
    """DuckDB type the queries expect."""
    required: bool
    """Whether a mapped table must provide it."""
    description: str
    """What it holds, with units."""


EVENT_SCHEMA: tuple[EventField, ...] = (
    EventField("event_time", "TIMESTAMP", True, "When the event happened (UTC; a DATE column works too)."),
    EventField("user_id", "any", True, "The user; null for account-level events (upgrade, downgrade, cancel, "
               "invoice)."),
    EventField("account_id", "any", True, "The customer account (company) the user or event belongs to."),
    EventField("event_type", "VARCHAR", True, "One of: " + ", ".join(EVENT_TYPES) + ". A mapped table maps its "
               "own values onto these; rows with other values are left out."),
    EventField("amount_usd", "DOUBLE", False, "Invoice amount in US dollars, monthly billing; null for other "
               "events. Without it revenue metrics are empty."),
    EventField("plan", "VARCHAR", False, "Plan after an upgrade/downgrade or billed by an invoice; feeds the "
               "plan filter."),
)
"""The documented event schema (README and the Metrics page render it)."""

DEFINITIONS_MARKDOWN = """
- **DAU / WAU / MAU**: distinct users with a session that day / in the 7 days / in the 28 days ending that day
  (rolling windows). **Stickiness** = DAU / MAU; the card shows mean DAU over the last 28 days / MAU.
- **Funnel** (users whose first sign-up is in the range): signed up -> activated (an activation event) ->
  active in week 2 (a session on day 7 to 13 after the sign-up day) -> paying (their account has an invoice).
- **Retention**: users by sign-up month x months since sign-up; the share with at least one session in that
  calendar month, counted through the end of the range.
- **MRR**: per account, its latest invoice in the 31 days before the month's end (monthly billing), so an invoice
  on the 31st still counts in February; **ARR** = 12 x MRR. New / expansion / contraction / churned MRR compare each
  account with the previous month.
- **Logo churn**: accounts paying last month but not this month / accounts paying last month. **Revenue churn**:
  (churned + contraction MRR) / last month's MRR. **NRR**: this month's MRR from the accounts that paid last
  month (or 12 months ago) / their MRR then.
- **Plan filter**: the plan on the account's latest upgrade, downgrade or invoice up to the end of the range.
"""
"""The definitions above as Markdown (the Metrics page and README show them)."""

FUNNEL_STEPS = {
    "signed_up": "Signed up",
    "activated": "Activated",
    "active_week_2": "Active in week 2",
    "paying": "Paying account",
}
"""Funnel step keys (as returned by the funnel query) and their display labels."""

MAX_USER_ID_SPAN = 100_000_000
"""Largest user-id range the bitstring user sets accept (12.5 MB per set)."""

_TIME_TYPES = ("TIMESTAMP", "DATE", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "TIMESTAMP WITH TIME ZONE")
_NUMERIC_PREFIXES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                     "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL", "REAL")


def schema_markdown() -> str:
    """EVENT_SCHEMA as a Markdown table."""
    lines = ["| column | type | required | meaning |", "|---|---|---|---|"]
    lines += [f"| `{f.name}` | {f.sql_type} | {'yes' if f.required else 'no'} | {f.description} |"
              for f in EVENT_SCHEMA]
    return "\n".join(lines)


def _all_to_none(value: str | None) -> str | None:
    if value is None or not str(value).strip() or str(value).strip().lower() == "all":
        return None
    return str(value)


@dataclass(frozen=True)
class MetricFilters:
    """Date range and segment filters of a metrics report. None (or 'all') means no filter."""

    start: date
    """First day of the range (inclusive)."""
    end: date
    """Last day of the range (inclusive)."""
    region: str | None = None
    """accounts.region, e.g. 'Europe'."""
    industry: str | None = None
    """accounts.industry, e.g. 'SaaS'."""
    company_size: str | None = None
    """accounts.company_size: SMB, Mid-market or Enterprise."""
    plan: str | None = None
    """Plan on the account's latest billing event up to `end`; 'free' when it has none."""

    def __post_init__(self) -> None:
        if not isinstance(self.start, date) or not isinstance(self.end, date):
            raise MetricsInputError(f"start and end must be dates, got {self.start!r} and {self.end!r}")
        if self.start > self.end:
            raise MetricsInputError(
                f"the date range is empty: start {self.start} is after end {self.end}; "
                f"pick an end date on or after the start"
            )
        for name in ("region", "industry", "company_size", "plan"):
            object.__setattr__(self, name, _all_to_none(getattr(self, name)))

    @property
    def has_segment(self) -> bool:
        """True when a region, industry or company size filter is set."""
        return any(v is not None for v in (self.region, self.industry, self.company_size))

    def params(self) -> dict[str, Any]:
        """Bound parameters of the metric queries."""
        return {"start": self.start, "end": self.end}

    def scope_params(self) -> dict[str, Any]:
        """Bound parameters of metrics_scope.sql."""
        return {"end": self.end, "region": self.region, "industry": self.industry,
                "company_size": self.company_size, "plan": self.plan}


def _check_column_name(field_name: str, column: str | None, optional: bool) -> None:
    """Shape check only: `validate_mapping` allows just the table's real columns (then quoted), so names
    like 'user' or 'when' work."""
    if column is None and optional:
        return
    if not isinstance(column, str) or not column.strip():
        raise MetricsInputError(f"{field_name}: choose a column of the table")
    if len(column) > 255 or any(ord(ch) < 32 for ch in column):
        raise MetricsInputError(f"{field_name}: {column[:40]!r}... is not a column name; choose a column of the table")


@dataclass(frozen=True)
class EventMapping:
    """How a user's own events table maps onto the event schema (column names and event-type values)."""

    table: str
    """The source table in the workspace."""
    event_time: str
    """Column holding the event time (TIMESTAMP or DATE)."""
    user_id: str
    """Column holding the user id (null for account-level events)."""
    account_id: str
    """Column holding the account (customer company) id."""
    event_type: str
    """Column holding the event kind, in the table's own vocabulary."""
    event_types: tuple[tuple[str, str], ...] = field(default=())
    """(their value, our event type) pairs; a dict works too. Rows with unmapped values are left out."""
    amount_usd: str | None = None
    """Numeric column with the invoice amount in US dollars; None leaves revenue metrics empty."""
    plan: str | None = None
    """Column with the plan name; None disables the plan filter."""

    def __post_init__(self) -> None:
        try:
            validate_name(self.table, "table")
        except InvalidNameError as e:
            raise MetricsInputError(str(e)) from e
        for name in ("event_time", "user_id", "account_id", "event_type", "amount_usd", "plan"):
            _check_column_name(name, getattr(self, name), optional=name in ("amount_usd", "plan"))
        pairs = self.event_types.items() if isinstance(self.event_types, Mapping) else self.event_types
        pairs = tuple(sorted((str(theirs), str(ours)) for theirs, ours in pairs))
        if not pairs:
            raise MetricsInputError(
                "map at least one event-type value, e.g. {'login': 'session', 'register': 'signup'}"
            )
        unknown = sorted({ours for _, ours in pairs if ours not in EVENT_TYPES})
        if unknown:
            raise MetricsInputError(
                f"unknown event type(s) {', '.join(map(repr, unknown))}; map values onto: {', '.join(EVENT_TYPES)}"
            )
        object.__setattr__(self, "event_types", pairs)

    def columns(self) -> dict[str, str]:
        """Schema field -> source column, for the fields that are mapped."""
        out = {"event_time": self.event_time, "user_id": self.user_id, "account_id": self.account_id,
               "event_type": self.event_type, "amount_usd": self.amount_usd, "plan": self.plan}
        return {k: v for k, v in out.items() if v is not None}


@dataclass(frozen=True)
class Kpis:
    """Headline numbers of a report, taken at the end of the date range (None when undefined)."""

    mau: int | None
    """Users with a session in the 28 days ending on the last day."""
    stickiness: float | None
    """Mean DAU over the last 28 days / MAU on the last day (0..1)."""
    mrr_usd: float | None
    """MRR of the last month."""
    arr_usd: float | None
    """12 x the last month's MRR."""
    mrr_change_usd: float | None
    """Last month's MRR minus the month before."""
    logo_churn: float | None
    """Last month's logo churn (share of last month's paying accounts lost)."""
    nrr: float | None
    """Trailing-12-month NRR of the last month when 12 months of history exist, else the monthly NRR."""
    nrr_window: str
    """'12 months' or '1 month': which NRR `nrr` is."""


@dataclass(frozen=True)
class MetricsReport:
    """Everything the Metrics page shows, for one source and one set of filters."""

    active_users: pd.DataFrame
    """day, dau, wau, mau, stickiness."""
    funnel: pd.DataFrame
    """step_order, step, users, conversion_from_previous, conversion_from_signup."""
    retention: pd.DataFrame
    """cohort_month, months_since_signup, cohort_users, active_users, retention."""
    revenue: pd.DataFrame
    """month, mrr_usd, arr_usd, invoiced_usd, new/expansion/contraction/churned_mrr_usd, paying_accounts,
    churned_accounts, logo_churn, revenue_churn, nrr_1m, nrr_12m."""
    kpis: Kpis
    """Headline numbers."""
    events_in_range: int
    """Events of the source inside the date range (after the event-type mapping)."""


# -- the source: temporary views on this thread's cursor ----------------------------------------------------
def validate_mapping(ws: Workspace, mapping: EventMapping) -> None:
    """Check that the mapped table and columns exist with usable types and that mapped values occur.

    Raises:
        MetricsInputError: listing every problem and how to fix it.
    """
    if mapping.table in APP_TABLES:
        raise MetricsInputError(
            f"{mapping.table!r} belongs to Strategy Lab; choose 'Sample events' or one of your imported tables"
        )
    if not ws.has_table(mapping.table):
        tables = [t for t in ws.table_names() if t not in APP_TABLES]
        raise MetricsInputError(
            f"no table {mapping.table!r} in the workspace; your tables are: {', '.join(tables) or 'none yet'} "
            f"(import one on the Data page)"
        )
    cols = ws.columns(mapping.table)
    types = dict(zip(cols["column_name"], cols["data_type"], strict=True))
    problems = [_column_problem(mapping.table, field_name, column, types)
                for field_name, column in mapping.columns().items()]
    problems = [p for p in problems if p]
    if problems:
        raise MetricsInputError("; ".join(problems))
    _check_values_occur(ws, mapping)


def _column_problem(table: str, field_name: str, column: str, types: dict[str, str]) -> str | None:
    if column not in types:
        return f"{field_name}: table {table!r} has no column {column!r}; its columns are: {', '.join(types)}"
    kind = types[column].upper()
    if field_name == "event_time" and kind not in _TIME_TYPES:
        return (f"event_time: column {column!r} is {kind}, not a timestamp or date; pick another column or "
                f"re-import the file so the column is read as a date")
    if field_name == "amount_usd" and not kind.startswith(_NUMERIC_PREFIXES):
        return f"amount_usd: column {column!r} is {kind}, not a number; pick a numeric column or leave it unmapped"
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
            f"none of the mapped values {', '.join(map(repr, theirs))} occur in column {mapping.event_type!r}; "
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


def prepare_source(ws: Workspace, filters: MetricFilters, mapping: EventMapping | None = None) -> dict[str, Any]:
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
    ws.rows("create or replace temp table metric_scope as " + read_sql("metrics_scope"), filters.scope_params())
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
        "select s.event_time, k.user_key::bigint as user_id, s.account_id, s.event_type, s.amount_usd, s.plan "
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


# -- queries ---------------------------------------------------------------------------------------------
def run_query(ws: Workspace, name: str, params: dict[str, Any]) -> pd.DataFrame:
    """Run analytics/sql/<name>.sql with the subset of `params` it uses (DuckDB refuses extra ones)."""
    text = read_sql(name)
    used = {k: v for k, v in params.items() if re.search(rf"\${k}\b", text)}
    return ws.query(name, **used)


def active_users(ws: Workspace, filters: MetricFilters, mapping: EventMapping | None = None) -> pd.DataFrame:
    """DAU, WAU, MAU and stickiness per day of the range (see the module docstring)."""
    return run_query(ws, "metrics_active_users", prepare_source(ws, filters, mapping))


def funnel(ws: Workspace, filters: MetricFilters, mapping: EventMapping | None = None) -> pd.DataFrame:
    """Signed up -> activated -> active in week 2 -> paying, with step conversion."""
    return run_query(ws, "metrics_funnel", prepare_source(ws, filters, mapping))


def retention(ws: Workspace, filters: MetricFilters, mapping: EventMapping | None = None) -> pd.DataFrame:
    """Monthly retention cohorts in long form (cohort_month x months_since_signup)."""
    return run_query(ws, "metrics_retention", prepare_source(ws, filters, mapping))


def revenue(ws: Workspace, filters: MetricFilters, mapping: EventMapping | None = None) -> pd.DataFrame:
    """MRR, ARR, MRR movements, logo and revenue churn and NRR per month of the range."""
    return run_query(ws, "metrics_revenue", prepare_source(ws, filters, mapping))


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


def segment_options(ws: Workspace) -> dict[str, list[str]]:
    """Values offered by the region, industry, company_size and plan filters of the sample data."""
    out: dict[str, list[str]] = {}
    for column in ("region", "industry", "company_size"):
        rows = ws.rows(f"select distinct {quote_ident(column)} from main.accounts order by 1")
        out[column] = [r[0] for r in rows]
    out["plan"] = [r[0] for r in ws.rows("select plan from main.plans order by tier, plan")]
    return out


def compute_report(ws: Workspace, filters: MetricFilters, mapping: EventMapping | None = None) -> MetricsReport:
    """All metrics of the Metrics page for one source and filter set.

    Args:
        ws: the workspace.
        filters: date range (inclusive days) and segment/plan filters.
        mapping: a user table mapped onto the event schema; None for the sample `events` table.
    Raises:
        MetricsInputError: invalid mapping, or segment filters on a mapped table.
        NoEventsError: the source has no events in the date range (the message gives the data's span).
        QueryError: DuckDB failed.
    """
    params = prepare_source(ws, filters, mapping)
    in_range = int(ws.scalar(
        "select count(*) from metric_events where event_time >= $start and event_time < $end + 1",
        filters.params()))
    if in_range == 0:
        span = data_span(ws, mapping)
        where = f"; the events run from {span[0]} to {span[1]}" if span else "; the source has no events at all"
        raise NoEventsError(f"no events between {filters.start} and {filters.end}{where}. Widen the date range")
    report = {name: run_query(ws, f"metrics_{name}", params)
              for name in ("active_users", "funnel", "retention", "revenue")}
    log.debug("metrics report for %s: %d events in range", filters, in_range)
    return MetricsReport(**report, kpis=headline(report["active_users"], report["revenue"]),
                         events_in_range=in_range)


def headline(active: pd.DataFrame, revenue_frame: pd.DataFrame) -> Kpis:
    """KPI cards from the active-users and revenue frames (values at the end of the range)."""
    mau = stickiness = mrr = change = churn = nrr = None
    window = "1 month"
    if len(active):
        mau = int(active["mau"].iloc[-1])
        tail = active.tail(28)
        stickiness = float(tail["dau"].mean()) / mau if mau else None
    if len(revenue_frame):
        last = revenue_frame.iloc[-1]
        mrr = float(last["mrr_usd"])
        if len(revenue_frame) > 1:
            change = mrr - float(revenue_frame["mrr_usd"].iloc[-2])
        churn = _number(last["logo_churn"])
        nrr = _number(last["nrr_12m"])
        if nrr is not None:
            window = "12 months"
        else:
            nrr = _number(last["nrr_1m"])
    return Kpis(mau=mau, stickiness=stickiness, mrr_usd=mrr, arr_usd=None if mrr is None else 12 * mrr,
                mrr_change_usd=change, logo_churn=churn, nrr=nrr, nrr_window=window)


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)
