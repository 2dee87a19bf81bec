"""Metrics: active users, funnel, retention cohorts, MRR/ARR, churn and NRR from an event log."""

from __future__ import annotations

from datetime import date

import streamlit as st

from analytics.compute.metrics.report import Kpis
from analytics.compute.metrics.schema import (
    DEFINITIONS_MARKDOWN,
    EVENT_TYPES,
    EventMapping,
    MetricFilters,
    schema_markdown,
)
from analytics.errors import AnalyticsError, NoEventsError
from analytics.money import format_count, format_percent, format_usd
from pages._shared import metrics as metrics_view
from pages._shared import page, workspace

SAMPLE, MINE, ALL = "Sample events", "A table of mine", "All"
COLUMN_GUESSES = {
    "event_time": ("event_time", "timestamp", "time", "created_at", "ts", "date"),
    "user_id": ("user_id", "user", "uid"),
    "account_id": ("account_id", "account", "company_id", "org_id", "customer_id"),
    "event_type": ("event_type", "event", "type", "name", "action"),
    "amount_usd": ("amount_usd", "amount", "revenue", "price"),
    "plan": ("plan", "plan_name", "tier"),
}


def _pick(label: str, columns: list[str], role: str, optional: bool = False) -> str | None:
    """A column selectbox that starts on the column named like the role, when there is one."""
    return page.pick_column(label, columns, COLUMN_GUESSES[role], key=f"mt_col_{role}", optional=optional)


def _mapping(gen: int) -> EventMapping | None:
    """Sidebar: the event source. None = sample events; stops the page when a mapping is incomplete."""
    source = st.radio("Events from", [SAMPLE, MINE], horizontal=True, key="mt_source")
    if source == SAMPLE:
        return None
    tables = workspace.user_tables(gen)
    if not tables:
        st.info("No tables of yours yet: import an events table on the Data page.", icon=":material/upload:")
        st.stop()
    table = st.selectbox("Table", tables, key="mt_table")
    columns = [name for name, _ in workspace.table_columns(gen, table)]
    picked = {role: _pick(label, columns, role, optional) for role, label, optional in (
        ("event_time", "Event time", False), ("user_id", "User id", False),
        ("account_id", "Account id", False), ("event_type", "Event type", False),
        ("amount_usd", "Invoice amount (USD)", True), ("plan", "Plan", True))}
    values = metrics_view.column_values(gen, table, picked["event_type"])
    st.caption("Which of your event types mean ours?")
    pairs = {}
    for ours in EVENT_TYPES:
        default = [v for v in values if v.lower() == ours]
        for theirs in st.multiselect(ours, values, default=default, key=f"mt_type_{ours}"):
            pairs[theirs] = ours
    try:
        return EventMapping(table=table, event_types=pairs, **picked)
    except AnalyticsError as e:
        page.show_error(e)
        st.stop()


def _filters(gen: int, span: tuple[date, date], mapped: bool) -> MetricFilters:
    """Date range and segment filters; stops the page with a message when the range is incomplete."""
    options = metrics_view.options(gen)
    cols = st.columns([2, 1, 1, 1, 1])
    picked = cols[0].date_input("Date range", value=span, key="mt_dates", format="YYYY-MM-DD")
    segment = {}
    for col, (field, label) in zip(cols[1:], (("region", "Region"), ("industry", "Industry"),
                                              ("company_size", "Company size"), ("plan", "Plan")),
                                   strict=True):
        disabled = mapped and field != "plan"
        choice = col.selectbox(label, [ALL, *getattr(options, field)], key=f"mt_{field}", disabled=disabled,
                               help="Needs the sample accounts table" if disabled else None)
        segment[field] = None if disabled or choice == ALL else choice
    if not isinstance(picked, (tuple, list)) or len(picked) != 2:
        st.info("Pick an end date to finish the date range.", icon=":material/date_range:")
        st.stop()
    try:
        return MetricFilters(start=picked[0], end=picked[1], **segment)
    except AnalyticsError as e:
        page.show_error(e)
        st.stop()


def _kpis(kpis: Kpis) -> None:
    # Short labels (each card is about 120 px wide at 1280 px); windows and units are in the help.
    c = st.columns(6)
    c[0].metric("MAU", format_count(kpis.mau), help="Monthly active users: users with a session in the 28 "
                "days ending on the last day of the range (– while the source has under 28 days of data)")
    c[1].metric("Stickiness", format_percent(kpis.stickiness),
                help="Mean DAU over the last 28 days of the range / MAU")
    change = None
    if kpis.mrr_change_usd is not None:
        change = ("+" if kpis.mrr_change_usd >= 0 else "") + format_usd(kpis.mrr_change_usd)
    c[2].metric("MRR", format_usd(kpis.mrr_usd), change,
                help="Monthly recurring revenue in the last month of the range; the change is against the "
                     "month before")
    c[3].metric("ARR", format_usd(kpis.arr_usd), help="Annual recurring revenue: 12 x MRR")
    c[4].metric("Logo churn", format_percent(kpis.logo_churn),
                help="Per month: the share of last month's paying accounts that do not pay in the range's "
                     "last month")
    short = {"12 months": "12 mo", "1 month": "1 mo"}.get(kpis.nrr_window, kpis.nrr_window)
    c[5].metric(f"NRR, {short}", format_percent(kpis.nrr),
                help=f"Net revenue retention over {kpis.nrr_window}: this month's MRR from the accounts that "
                     f"paid {kpis.nrr_window} ago / their MRR then")


page.start_page("Metrics", "Active users, activation funnel, retention cohorts, MRR/ARR, churn and NRR, "
                             "computed in DuckDB from the event log.")
gen = workspace.generation()
with st.sidebar:
    st.markdown("**Event source**")
    mapping = _mapping(gen)
try:
    span = metrics_view.span(gen, mapping)
except AnalyticsError as e:
    page.show_error(e)
    st.stop()
if span is None:
    st.info("The event source has no events yet.", icon=":material/info:")
    st.stop()

filters = _filters(gen, span, mapped=mapping is not None)
try:
    section = metrics_view.section(gen, filters, mapping)
except NoEventsError as e:
    st.warning(str(e), icon=":material/event_busy:")
    st.stop()
except AnalyticsError as e:
    page.show_error(e)
    st.stop()
report, figures = section.report, section.figures

if mapping is None:
    page.sample_badge()
else:
    st.caption(f"Events from table `{mapping.table}` ({format_count(report.events_in_range)} mapped events "
               f"in range).")
_kpis(report.kpis)

left, right = st.columns(2)
left.plotly_chart(figures.active_users, width="stretch", theme=None)
right.plotly_chart(figures.stickiness, width="stretch", theme=None)
left, right = st.columns(2)
left.plotly_chart(figures.funnel, width="stretch", theme=None)
right.plotly_chart(figures.mrr, width="stretch", theme=None)
# Full width: one column per month since sign-up, one row per cohort.
st.plotly_chart(figures.retention, width="stretch", theme=None)
st.plotly_chart(figures.churn, width="stretch", theme=None)

with st.expander("Monthly revenue table"):
    st.dataframe(report.revenue, hide_index=True, width="stretch")
with st.expander("Definitions and event schema"):
    st.markdown(DEFINITIONS_MARKDOWN)
    st.markdown(schema_markdown())
