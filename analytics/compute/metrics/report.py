"""Everything the Metrics page shows for one source and filter set: the four queries and the KPI cards."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from analytics.compute.metrics.schema import EventMapping, MetricFilters
from analytics.compute.metrics.source import data_span, prepare_source
from analytics.db import Workspace, read_sql
from analytics.errors import NoEventsError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kpis:
    """Headline numbers of a report, taken at the end of the date range (None when undefined)."""

    mau: int | None
    """Users with a session in the 28 days ending on the last day (None while that window reaches back
    before the source's first event)."""
    stickiness: float | None
    """Mean DAU over the last 28 days / MAU on the last day (0..1); None without a full 28-day window."""
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
    """day, dau, wau, mau, stickiness, window_full (WAU null in the first 6 days of data, MAU and
    stickiness in the first 27: their windows are not full yet)."""
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


def run_query(ws: Workspace, name: str, params: dict[str, Any]) -> pd.DataFrame:
    """Run analytics/sql/<name>.sql with the subset of `params` it uses (DuckDB refuses extra ones)."""
    text = read_sql(name)
    used = {k: v for k, v in params.items() if re.search(rf"\${k}\b", text)}
    return ws.query(name, **used)


def active_users(ws: Workspace, filters: MetricFilters, mapping: EventMapping | None = None) -> pd.DataFrame:
    """DAU, WAU, MAU and stickiness per day of the range (see the module docstring); WAU, MAU and
    stickiness are NaN while their window is still filling."""
    return _with_nan(run_query(ws, "metrics_active_users", prepare_source(ws, filters, mapping)))


def _with_nan(frame: pd.DataFrame) -> pd.DataFrame:
    """WAU and MAU as floats with NaN for the warm-up days (DuckDB's nullable integers come back as pd.NA,
    which charts and arithmetic do not take)."""
    for column in ("wau", "mau"):
        if column in frame:
            frame[column] = frame[column].astype("Float64").astype(float)
    return frame


def funnel(ws: Workspace, filters: MetricFilters, mapping: EventMapping | None = None) -> pd.DataFrame:
    """Signed up -> activated -> active in week 2 -> paying, with step conversion."""
    return run_query(ws, "metrics_funnel", prepare_source(ws, filters, mapping))


def retention(ws: Workspace, filters: MetricFilters, mapping: EventMapping | None = None) -> pd.DataFrame:
    """Monthly retention cohorts in long form (cohort_month x months_since_signup)."""
    return run_query(ws, "metrics_retention", prepare_source(ws, filters, mapping))


def revenue(ws: Workspace, filters: MetricFilters, mapping: EventMapping | None = None) -> pd.DataFrame:
    """MRR, ARR, MRR movements, logo and revenue churn and NRR per month of the range."""
    return run_query(ws, "metrics_revenue", prepare_source(ws, filters, mapping))


def compute_report(ws: Workspace, filters: MetricFilters,
                   mapping: EventMapping | None = None) -> MetricsReport:
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
        where = (f"; the events run from {span[0]} to {span[1]}" if span
                 else "; the source has no events at all")
        raise NoEventsError(f"no events between {filters.start} and {filters.end}{where}. "
                            f"Widen the date range")
    report = {name: run_query(ws, f"metrics_{name}", params)
              for name in ("active_users", "funnel", "retention", "revenue")}
    report["active_users"] = _with_nan(report["active_users"])
    log.debug("metrics report for %s: %d events in range", filters, in_range)
    return MetricsReport(**report, kpis=headline(report["active_users"], report["revenue"]),
                         events_in_range=in_range)


def headline(active: pd.DataFrame, revenue_frame: pd.DataFrame) -> Kpis:
    """KPI cards from the active-users and revenue frames (values at the end of the range)."""
    mau = stickiness = mrr = change = churn = nrr = None
    window = "1 month"
    if len(active):
        last_mau = _number(active["mau"].iloc[-1])
        mau = None if last_mau is None else int(last_mau)
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
