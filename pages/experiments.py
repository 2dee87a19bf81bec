"""Experiments: design an A/B test on a conversion step, then read its result with significance."""

from __future__ import annotations

import zlib
from datetime import date

import streamlit as st

from analytics.compute.experiments.analysis import SRM_ALPHA, AnalysisPlan, ExperimentResult
from analytics.compute.experiments.design import DesignInput, SampleSize, duration, typed_traffic
from analytics.compute.experiments.source import ExperimentMapping, Source
from analytics.errors import AnalyticsError
from analytics.money import format_count, format_number, format_p_value, format_percent, format_points
from pages._shared import experiments as experiments_view
from pages._shared import metrics as metrics_view
from pages._shared import page, workspace

SAMPLE, MINE = "Sample experiment", "A table of mine"
EVENTS_TRAFFIC, MAPPED_TRAFFIC, TYPED_TRAFFIC = ("Step events in the events table", "Assignments in my table",
                                                 "I'll type it")
POINTS, RELATIVE = "points (absolute)", "% of baseline (relative)"
COLUMN_GUESSES = {
    "unit": ("user_id", "unit", "unit_id", "user", "account_id", "visitor_id", "id"),
    "variant": ("variant", "group", "arm", "bucket", "treatment"),
    "assigned_at": ("assigned_at", "assigned", "exposed_at", "timestamp", "time", "date"),
    "converted": ("converted", "conversion", "activated", "success", "outcome"),
    "converted_at": ("converted_at", "conversion_time", "activated_at"),
}


def _pick(label: str, columns: list[str], role: str, optional: bool = False) -> str | None:
    """A column selectbox that starts on the column named like the role, when there is one."""
    return page.pick_column(label, columns, COLUMN_GUESSES[role], key=f"ex_col_{role}", optional=optional)


def _source(gen: int) -> Source | None:
    """Sidebar: a stored experiment or a mapped table of the user's; None when there is nothing to analyse."""
    choice = st.radio("Experiment from", [SAMPLE, MINE], horizontal=True, key="ex_source")
    if choice == SAMPLE:
        stored = experiments_view.experiments(gen)
        if stored.empty:
            st.info("No stored experiments: map a table of yours instead.", icon=":material/science:")
            return None
        titles = dict(zip(stored["experiment"], stored["title"], strict=True))
        return st.selectbox("Experiment", list(titles), format_func=titles.get, key="ex_experiment")
    tables = workspace.user_tables(gen)
    if not tables:
        st.info("No tables of yours yet: import one on the Data page (one row per unit: unit id, variant, "
                "assignment time, converted 0/1).", icon=":material/upload:")
        return None
    table = st.selectbox("Table", tables, key="ex_table")
    columns = [name for name, _ in workspace.table_columns(gen, table)]
    picked = {role: _pick(label, columns, role, optional) for role, label, optional in (
        ("unit", "Unit id", False), ("variant", "Variant", False), ("assigned_at", "Assigned at", False),
        ("converted", "Converted (0/1)", False), ("converted_at", "Converted at", True))}
    try:
        return ExperimentMapping(table=table, **picked)
    except AnalyticsError as e:
        page.show_error(e)
        return None


def _design_inputs(default_baseline: float) -> DesignInput | None:
    # Rates are typed in percent; the analytics layer takes shares (0.64).
    c = st.columns([1, 1.3, 1, 1, 1])
    baseline = c[0].number_input("Baseline rate (%)", value=round(default_baseline * 100, 1), step=1.0,
                                 key="ex_baseline", help="Share of units converting today (the control)")
    kind = c[1].radio("Effect given in", [POINTS, RELATIVE], key="ex_mde_kind",
                      help="Points: 64% -> 68% is +4 points. Relative: +10% of a 64% baseline is +6.4 points")
    mde = c[2].number_input("Minimum effect", value=4.0, step=0.5, key="ex_mde",
                            help="The smallest change worth detecting (negative: a drop)")
    power = c[3].number_input("Power (%)", value=80.0, step=5.0, key="ex_power",
                              help="Chance of detecting the minimum effect when it is real")
    alpha = c[4].number_input("Significance (%)", value=5.0, step=1.0, key="ex_alpha",
                              help="Two-sided false-positive rate (alpha) when there is no effect")
    share = st.session_state.get("ex_share", 50.0)
    try:
        return DesignInput(baseline_rate=baseline / 100, mde=mde / 100,
                           mde_kind="absolute" if kind == POINTS else "relative", power=power / 100,
                           alpha=alpha / 100, treatment_share=share / 100)
    except AnalyticsError as e:
        page.show_error(e)
        return None


def _traffic(gen: int, source: Source | None):
    """The daily traffic into the step: the events table, the mapped table's assignments or a typed number
    (None when refused)."""
    c = st.columns([1.6, 1, 1, 1])
    choices = [EVENTS_TRAFFIC, TYPED_TRAFFIC]
    if isinstance(source, ExperimentMapping):
        choices.insert(1, MAPPED_TRAFFIC)
    how = c[0].radio("Daily traffic from", choices, key="ex_traffic")
    c[3].number_input("Treatment share (%)", value=50.0, step=5.0, key="ex_share",
                      help="Planned share of the test's units that get the treatment")
    try:
        if how == MAPPED_TRAFFIC and isinstance(source, ExperimentMapping):
            return experiments_view.mapped_traffic(gen, source)
        if how == TYPED_TRAFFIC:
            return typed_traffic(c[1].number_input("Units per day", value=100.0, step=10.0, key="ex_per_day"))
        types = metrics_view.column_values(gen, "events", "event_type")
        event = c[1].selectbox("Step entry event", types, index=types.index("signup") if "signup" in types
                               else 0, key="ex_event", help="Units entering the step: users with this event")
        days = int(c[2].number_input("Over the last days", value=28, min_value=1, max_value=365,
                                     key="ex_days"))
        return experiments_view.sample_traffic(gen, event, days)
    except AnalyticsError as e:
        page.show_error(e)
        return None


def _design_tab(gen: int, source: Source | None, default_baseline: float) -> SampleSize | None:
    st.caption("Two-sided test of two conversion rates; units per variant from statsmodels' power "
               "calculation (NormalIndPower on Cohen's h).")
    inputs = _design_inputs(default_baseline)
    traffic = _traffic(gen, source)
    exposure = st.slider("Share of the step's traffic in the test (%)", 1, 100, 100, key="ex_exposure")
    if inputs is None:
        return None
    try:
        section = experiments_view.design(inputs)
        days = duration(section.size, traffic, exposure / 100) if traffic is not None else None
    except AnalyticsError as e:
        page.show_error(e)
        return None
    size = section.size
    c = st.columns(4)
    c[0].metric("Control units", format_count(size.control_units),
                help=f"statsmodels NormalIndPower: {format_number(size.control_units_exact, 6)} rounded up; "
                     f"Cohen's h = {format_number(size.effect_size_h)}")
    c[1].metric("Treatment units", format_count(size.treatment_units))
    c[2].metric("Target rate", format_percent(inputs.target_rate),
                help=f"Baseline {format_percent(inputs.baseline_rate)} "
                     f"{format_points(inputs.mde_absolute)}")
    c[3].metric("Days to run", "–" if days is None else f"{format_count(days.days)} days",
                help="Total units / (daily traffic x share in the test), rounded up")
    if days is not None:
        st.caption(f"Traffic: {format_number(days.traffic.units_per_day)} units per day "
                   f"({days.traffic.source}); {format_percent(days.exposure)} of it in the test.")
    st.plotly_chart(section.curve, width="stretch", theme=None)
    return size


def _plan(gen: int, source: Source, planned_units: int | None) -> AnalysisPlan | None:
    """The plan an analysis is read against: stored with the experiment, or typed for a mapped table."""
    dates = experiments_view.span(gen, source)
    if dates is None:
        st.info("The source has no assignments yet.", icon=":material/info:")
        return None
    key = zlib.crc32(repr(source).encode())
    c = st.columns(5)
    start = c[0].date_input("Assigned from", value=dates[0], key=f"ex_from_{key}", format="YYYY-MM-DD")
    end = c[1].date_input("Assigned to", value=dates[1], key=f"ex_to_{key}", format="YYYY-MM-DD")
    try:
        if isinstance(source, str):
            stored, _ = experiments_view.stored_plan(gen, source)
            return AnalysisPlan(control=stored.control, treatment=stored.treatment,
                                treatment_share=stored.treatment_share,
                                planned_control_units=stored.planned_control_units, alpha=stored.alpha,
                                start=_day(start), end=_day(end))
        values = metrics_view.column_values(gen, source.table, source.variant)
        control = c[2].selectbox("Control", values, key=f"ex_control_{key}")
        others = [v for v in values if v != control] or values
        treatment = c[3].selectbox("Treatment", others, key=f"ex_treatment_{key}")
        planned = c[4].number_input("Planned units per variant", value=int(planned_units or 0), min_value=0,
                                    key=f"ex_planned_{key}", help="0: no plan (no peeking check); the "
                                    "Design tab's figure by default")
        return AnalysisPlan(control=control, treatment=treatment,
                            treatment_share=st.session_state.get("ex_share", 50.0) / 100,
                            planned_control_units=int(planned) or None, start=_day(start), end=_day(end))
    except AnalyticsError as e:
        page.show_error(e)
        return None


def _day(value: object) -> date | None:
    return value if isinstance(value, date) else None


def _verdict(result: ExperimentResult) -> None:
    text = result.verdict()
    if result.sample_ratio_mismatch or (result.significant and result.absolute_lift < 0):
        st.error(text, icon=":material/gpp_bad:")
    elif result.significant and result.planned_reached is not False:
        st.success(text, icon=":material/verified:")
    else:
        st.info(text, icon=":material/hourglass:")
    for warning in result.warnings():
        st.warning(warning, icon=":material/warning:")


def _result_cards(result: ExperimentResult) -> None:
    rows = result.variants.set_index("role")
    c = st.columns(5)
    for col, role in zip(c[:2], ("control", "treatment"), strict=True):
        row = rows.loc[role]
        col.metric(role.capitalize(), format_percent(row["rate"]),
                   help=f"{row['variant']}: {format_count(row['conversions'])} of "
                        f"{format_count(row['units'])} units converted; 95% CI "
                        f"{format_percent(row['ci_low'])} to "
                        f"{format_percent(row['ci_high'])} (Wilson)")
    c[2].metric("Lift, points", format_points(result.absolute_lift, unit=""),
                help=f"95% CI {format_points(result.absolute_ci[0])} to "
                     f"{format_points(result.absolute_ci[1])} (statsmodels confint_proportions_2indep, "
                     f"Newcombe)")
    relative_help = ("the control never converted" if result.relative_ci is None else
                     f"95% CI {format_percent(result.relative_ci[0], signed=True)} to "
                     f"{format_percent(result.relative_ci[1], signed=True)} (ratio CI, log-adjusted)")
    c[3].metric("Relative lift", format_percent(result.relative_lift, signed=True), help=relative_help)
    c[4].metric("p-value", format_p_value(result.p_value),
                help=f"Two-sided two-proportion z-test (statsmodels proportions_ztest, pooled); z = "
                     f"{format_number(result.z)}. Split check: chi-square p = "
                     f"{format_p_value(result.srm_p_value)} (mismatch below {format_number(SRM_ALPHA)})")


def _analysis_tab(gen: int, source: Source | None, planned_units: int | None) -> None:
    if source is None:
        st.info("Pick the sample experiment or map a table of yours in the sidebar.", icon=":material/info:")
        return
    try:
        plan = _plan(gen, source, planned_units)
        if plan is None:
            return
        section = experiments_view.analysis(gen, source, plan)
    except AnalyticsError as e:
        page.show_error(e)
        return
    result = section.result
    _verdict(result)
    _result_cards(result)
    left, right = st.columns(2)
    left.plotly_chart(section.conversion, width="stretch", theme=None)
    right.plotly_chart(section.daily, width="stretch", theme=None)
    st.caption(f"Units from {result.source}; assigned {result.variants['first_assigned'].min():%Y-%m-%d} to "
               f"{result.variants['last_assigned'].max():%Y-%m-%d}.")
    with st.expander("Per-variant table"):
        st.dataframe(_variant_rows(result), hide_index=True, width="stretch")


def _variant_rows(result: ExperimentResult) -> list[dict[str, str]]:
    """The per-variant table as text written by analytics.money."""
    return [{"variant": row["variant"], "role": row["role"], "units": format_count(row["units"]),
             "conversions": format_count(row["conversions"]), "rate": format_percent(row["rate"]),
             "95% CI (Wilson)": f"{format_percent(row['ci_low'])} to {format_percent(row['ci_high'])}",
             "assigned": f"{row['first_assigned']:%Y-%m-%d} to {row['last_assigned']:%Y-%m-%d}"}
            for _, row in result.variants.iterrows()]


page.start_page("Experiments", "Design an A/B test on a conversion step (sample size and duration), then "
                               "read its result: conversion per variant, lift with 95% CIs, p-value, "
                               "sample-ratio and peeking checks.")
gen = workspace.generation()
with st.sidebar:
    st.markdown("**Experiment data**")
    source = _source(gen)
if isinstance(source, str):
    page.sample_badge()
    baseline = experiments_view.stored_plan(gen, source)[1].baseline_rate
else:
    baseline = 0.10
design_tab, analysis_tab = st.tabs(["Design", "Analysis"])
with design_tab:
    planned = _design_tab(gen, source, baseline)
with analysis_tab:
    _analysis_tab(gen, source, None if planned is None else planned.control_units)
