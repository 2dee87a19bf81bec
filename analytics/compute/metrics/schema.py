"""The event schema every metric reads, its definitions, and what a report is asked for (filters, mapping)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from analytics.db import validate_name
from analytics.errors import InvalidNameError, MetricsInputError

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
    EventField("event_type", "VARCHAR", True, "One of: " + ", ".join(EVENT_TYPES) + ". A mapped table maps "
               "its own values onto these; rows with other values are left out."),
    EventField("amount_usd", "DOUBLE", False, "Invoice amount in US dollars, monthly billing; null for other "
               "events. Without it revenue metrics are empty."),
    EventField("plan", "VARCHAR", False, "Plan after an upgrade/downgrade or billed by an invoice; feeds the "
               "plan filter."),
)
"""The documented event schema (README and the Metrics page render it)."""

DEFINITIONS_MARKDOWN = """
- **DAU / WAU / MAU**: distinct users with a session that day / in the 7 days / in the 28 days ending that day
  (rolling windows), shown once the window is full: WAU from the 7th day of the source's events, MAU and
  stickiness from the 28th (a window still filling would count a few days' users as a month's).
  **Stickiness** = DAU / MAU; the card shows mean DAU over the last 28 days / MAU.
- **Funnel** (users whose first sign-up is in the range): signed up -> activated (an activation event) ->
  active in week 2 (a session on day 7 to 13 after the sign-up day) -> paying (their account has an invoice).
- **Retention**: users by sign-up month x months since sign-up; the share with at least one session in that
  calendar month, counted through the end of the range.
- **MRR**: per account, its latest invoice in the 31 days before the month's end (monthly billing), so an
  invoice on the 31st still counts in February; **ARR** = 12 x MRR. New / expansion / contraction / churned
  MRR compare each account with the previous month.
- **Logo churn**: accounts paying last month but not this month / accounts paying last month.
  **Revenue churn**: (churned + contraction MRR) / last month's MRR. **NRR**: this month's MRR from the
  accounts that paid last month (or 12 months ago) / their MRR then.
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
        raise MetricsInputError(f"{field_name}: {column[:40]!r}... is not a column name; "
                                f"choose a column of the table")


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
                f"unknown event type(s) {', '.join(map(repr, unknown))}; "
                f"map values onto: {', '.join(EVENT_TYPES)}"
            )
        object.__setattr__(self, "event_types", pairs)

    def columns(self) -> dict[str, str]:
        """Schema field -> source column, for the fields that are mapped."""
        out = {"event_time": self.event_time, "user_id": self.user_id, "account_id": self.account_id,
               "event_type": self.event_type, "amount_usd": self.amount_usd, "plan": self.plan}
        return {k: v for k, v in out.items() if v is not None}
