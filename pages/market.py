"""Market: TAM/SAM/SOM both ways, what moves SOM, five years out, and who else is selling."""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from analytics.compute.market.competitors import CompetitorMapping
from analytics.compute.market.ranges import (
    KIND_LEGEND,
    InputRanges,
    ranges_table,
    typed_from_table,
    with_typed,
)
from analytics.compute.market.segments import SegmentMapping
from analytics.compute.market.sensitivity import ASSUMPTION_LABELS, tornado_inputs
from analytics.compute.market.sizing import ASSUMPTION_HELP, FORMULAS_LATEX, MarketAssumptions, SizingResult
from analytics.errors import AnalyticsError
from analytics.money import format_count, format_usd
from pages._shared import market as market_view
from pages._shared import page, workspace
from pages._shared.tables import money_table

if TYPE_CHECKING:
    from analytics.charts.market import MarketFigures

SAMPLE, MINE, NONE = "Sample table", "My table", "(none)"
PROJECTION_YEARS = 5


def _user_tables(gen: int) -> list[str]:
    tables = workspace.workspace_summary(gen).tables
    return tables.loc[tables["owner"].isin(["imported", "user"]), "table"].tolist()


def _pick(label: str, columns: list[str], default: str | None, key: str,
          optional: bool = False) -> str | None:
    """A column selectbox that starts on the column named like the role, when there is one."""
    options = ([NONE] if optional else []) + columns
    index = options.index(default) if default in options else 0
    choice = st.selectbox(label, options, index=index, key=key)
    return None if choice == NONE else choice


def _choose_table(gen: int, key: str) -> str | None:
    tables = _user_tables(gen)
    if not tables:
        st.info("No tables of yours yet: import one on the Data page.", icon=":material/upload:")
        return None
    return st.selectbox("Table", tables, key=key)


def _segment_mapping(gen: int) -> SegmentMapping | None:
    """Sidebar: sample table, or a user table with a column for each role. None when nothing to load."""
    source = st.radio("Segments from", [SAMPLE, MINE], horizontal=True, key="mk_seg_source")
    if source == SAMPLE:
        return SegmentMapping()
    table = _choose_table(gen, "mk_seg_table")
    if table is None:
        return None
    columns = [name for name, _ in workspace.table_columns(gen, table)]
    roles = {
        "region": ("Region", True), "industry": ("Industry", True), "company_size": ("Company size", True),
        "companies": ("Companies", False), "adoption_rate": ("Adoption rate (0-1)", False),
        "acv_usd": ("ACV (USD)", False), "growth_rate": ("Growth rate / yr", True),
    }
    picked = {role: _pick(label, columns, role, f"mk_seg_{role}", optional) for role, (label, optional)
              in roles.items()}
    return SegmentMapping(table=table, **picked)


def _assumptions(segments: pd.DataFrame) -> MarketAssumptions:
    """Sidebar widgets -> MarketAssumptions (percent inputs become shares)."""
    help_ = ASSUMPTION_HELP
    served = {}
    for field, column, label in (("regions", "region", "Regions"), ("industries", "industry", "Industries"),
                                 ("company_sizes", "company_size", "Company sizes")):
        options = sorted(segments[column].unique().tolist())
        served[field] = tuple(st.multiselect(label, options, key=f"mk_{field}",
                                             placeholder=f"All {label.lower()}", help=help_[field]))
    share = st.number_input("Obtainable share of SAM (%)", 0.0, 100.0, 5.0, 0.5, key="mk_share",
                            help=help_["obtainable_share"])
    reach = st.number_input("Reach rate (% of served / yr)", 0.0, 100.0, 10.0, 1.0, key="mk_reach",
                            help=help_["reach_rate"])
    accounts = st.number_input("…or reachable accounts / yr (0 = use reach rate)", 0, 10_000_000, 0, 100,
                               key="mk_accounts", help=help_["reachable_accounts"])
    win = st.number_input("Win rate (% of reached)", 0.0, 100.0, 8.0, 1.0, key="mk_win",
                          help=help_["win_rate"])
    acv = st.number_input("ACV ×", 0.05, 10.0, 1.0, 0.05, key="mk_acv", help=help_["acv_multiplier"])
    adoption = st.number_input("Adoption ×", 0.0, 10.0, 1.0, 0.05, key="mk_adoption",
                               help=help_["adoption_multiplier"])
    growth = st.number_input("Market growth ×", 0.0, 10.0, 1.0, 0.1, key="mk_growth",
                             help=help_["growth_multiplier"])
    gain = st.number_input("Adoption gain (points / yr)", 0.0, 100.0, 0.0, 0.5, key="mk_gain",
                           help=help_["adoption_gain_per_year"])
    return MarketAssumptions(
        **served, obtainable_share=share / 100, reach_rate=reach / 100, win_rate=win / 100,
        reachable_accounts=int(accounts) or None, acv_multiplier=acv, adoption_multiplier=adoption,
        growth_multiplier=growth, adoption_gain_per_year=gain / 100,
    )


def _year() -> int:
    return st.columns([2, 3])[0].slider("Year shown", 0, PROJECTION_YEARS, 0, key="mk_year",
                     help="One year for the cards and the tornados: 0 = today's data; each later year grows "
                          "the companies by their segment's growth rate (and adoption by its yearly gain).")


def _kpis(top: SizingResult, bottom: SizingResult, year: int) -> None:
    """TAM once (both methods share it), then SAM and SOM of each method, all at `year`."""
    market, down, up = st.columns([1, 2, 2], gap="medium")
    market.subheader("Market")
    market.metric(f"TAM, year {year}", format_usd(top.tam_usd), help=top.formulas[0])
    for col, title, result in ((down, "Top-down", top), (up, "Bottom-up", bottom)):
        col.subheader(title)
        sam, som = col.columns(2)
        sam.metric(f"SAM, year {year}", format_usd(result.sam_usd), help=result.formulas[1])
        som.metric(f"SOM, year {year}", format_usd(result.som_usd), help=result.formulas[2])
        col.caption(f"≈ {format_count(result.customers)} customers · "
                    f"{format_count(result.served_companies)} companies served")
    with st.expander("Formulas"):
        for result, title in ((top, "Top-down"), (bottom, "Bottom-up")):
            st.markdown(f"**{title}**")
            st.latex(r"\begin{aligned}" + r"\\".join(
                line.replace(" = ", " &= ", 1) for line in FORMULAS_LATEX[result.method]) + r"\end{aligned}")


# Session key of the ranges typed on the page: assumption -> (low, high, source).
TYPED = "mk_typed_ranges"


def _ranges(defaults: InputRanges, names: tuple[str, ...]) -> InputRanges:
    """The tornado's ranges: the data's (or assumed) defaults, with the ones typed in the table."""
    typed = dict(st.session_state.get(TYPED, {}))
    try:
        shown = with_typed(defaults, typed)
    except AnalyticsError:
        typed, shown = {}, defaults
    table = ranges_table(shown, ASSUMPTION_LABELS, names)
    # The editor starts from the table it is given; a new key when that table changes drops stale edits.
    key = f"mk_ranges_{zlib.crc32(table.to_csv(index=False).encode()):08x}"
    edited = st.data_editor(
        table, key=key, hide_index=True, width="stretch", disabled=["label", "unit"],
        column_order=["label", "unit", "low", "high", "source"],
        column_config={
            "label": st.column_config.TextColumn("Input", width="medium"),
            "unit": st.column_config.TextColumn("Unit", width="small",
                                                help="% of companies or accounts; × of the data's values"),
            "low": st.column_config.NumberColumn("Low", format="%.2f", required=True),
            "high": st.column_config.NumberColumn("High", format="%.2f", required=True),
            "source": st.column_config.TextColumn(
                "Where the range comes from", width="large",
                help="Type your own low and high with their source, e.g. 'analyst range, Gartner 2026'"),
        },
    )
    st.caption(KIND_LEGEND)
    try:
        typed = typed_from_table(edited, defaults)
        ranges = with_typed(defaults, typed)
    except AnalyticsError as e:
        page.show_error(e)
        return shown
    st.session_state[TYPED] = typed
    if typed and st.button("Back to the data's ranges", key="mk_ranges_reset", icon=":material/undo:"):
        st.session_state[TYPED] = {}
        st.rerun()
    return ranges


def _sensitivity(figures: MarketFigures) -> None:
    # One above the other: at full width the value labels and range captions stay readable at 1280 px.
    st.plotly_chart(figures.tornado_top_down, width="stretch", theme=None)
    st.plotly_chart(figures.tornado_bottom_up, width="stretch", theme=None)


def _projection(proj: pd.DataFrame, figures: MarketFigures) -> None:
    st.plotly_chart(figures.projection, width="stretch", theme=None)
    table = pd.DataFrame({"Year": proj["year"], "Companies served": proj["companies"].map(format_count)})
    for column, label in (("tam_usd", "TAM"), ("sam_usd", "SAM"), ("som_usd", "SOM top-down"),
                          ("som_bottom_up_usd", "SOM bottom-up")):
        table[label] = proj[column].map(format_usd)
    st.dataframe(table, hide_index=True, width="stretch")


def _competitor_mapping(gen: int) -> CompetitorMapping | None:
    source = st.radio("Competitors from", [SAMPLE, MINE], horizontal=True, key="mk_comp_source")
    if source == SAMPLE:
        return CompetitorMapping()
    table = _choose_table(gen, "mk_comp_table")
    if table is None:
        return None
    columns = [name for name, _ in workspace.table_columns(gen, table)]
    c1, c2, c3, c4, c5 = st.columns(5)
    with c1:
        name = _pick("Name", columns, "name", "mk_comp_name")
    with c2:
        price = _pick("Price per seat (USD)", columns, "price_per_seat_usd", "mk_comp_price")
    with c3:
        default_caps = [c for c in ("capability_score",) if c in columns]
        caps = st.multiselect("Capability (averaged)", columns, default=default_caps, key="mk_comp_caps")
    with c4:
        funding = _pick("Funding (USD M)", columns, "funding_usd_m", "mk_comp_funding", optional=True)
    with c5:
        launch = _pick("Launch year", columns, "launch_year", "mk_comp_launch", optional=True)
    return CompetitorMapping(table=table, name=name, price_per_seat_usd=price, capability=tuple(caps),
                                    funding_usd_m=funding, launch_year=launch)


def _competitors(gen: int) -> None:
    try:
        mapping = _competitor_mapping(gen)
        if mapping is None:
            return
        detected = market_view.competitor_positioning(gen, mapping)
        names = detected["name"].tolist()
        ours = detected.loc[detected["is_us"], "name"].tolist()
        with st.columns(3)[0]:
            choice = st.selectbox("Our product", [NONE, *names],
                                  index=1 + names.index(ours[0]) if ours else 0, key="mk_comp_us")
        section = market_view.competitors(gen, mapping, "" if choice == NONE else choice)
    except AnalyticsError as e:
        page.show_error(e)
        return
    st.plotly_chart(section.figure, width="stretch", theme=None)
    frame = section.table
    dollars = {"price_per_seat_usd": 1.0, "funding_usd_m": 1e6}  # funding is in millions
    st.dataframe(
        money_table(frame, dollars), hide_index=True, width="stretch",
        column_order=["is_us", "name", "price_per_seat_usd", "capability_score", "capability_per_usd",
                      "funding_usd_m", "launch_year"],
        column_config={
            "is_us": st.column_config.CheckboxColumn("Us", width="small"),
            "name": "Product",
            "price_per_seat_usd": st.column_config.NumberColumn("Price / seat / mo"),
            "capability_score": st.column_config.NumberColumn("Capability", format="%.2f"),
            "capability_per_usd": st.column_config.ProgressColumn(
                "Value: capability per $", format="%.3f", min_value=0.0,
                max_value=float(frame["capability_per_usd"].max() or 1.0)),
            "funding_usd_m": st.column_config.NumberColumn("Funding"),
            "launch_year": st.column_config.NumberColumn("Launched", format="%d"),
        },
    )


page.start_page("Market", "How big is the market, how much of it can we win, and who else sells there.")
gen = workspace.generation()

mapping = assumptions = None
with st.sidebar:
    st.header("Market data")
    try:
        mapping = _segment_mapping(gen)
        segments = None if mapping is None else market_view.segments(gen, mapping)
        if segments is not None:
            st.header("Assumptions")
            assumptions = _assumptions(segments)
    except AnalyticsError as e:
        page.show_error(e)

sizing = ranges = None
if assumptions is not None:
    if st.session_state.get("mk_seg_source", SAMPLE) == SAMPLE:
        page.sample_badge()
    year = _year()
    cards = st.container()  # filled once the tornado's ranges are read from their table below
else:
    st.warning("Pick a segments table and its columns in the sidebar to size the market.",
               icon=":material/tune:")

tab_sens, tab_proj, tab_comp = st.tabs(["What moves SOM", f"{PROJECTION_YEARS}-year projection",
                                        "Competitors"])
if assumptions is not None:
    with tab_sens:
        charts = st.container()
        st.markdown("**Each input's low and high** (edit a row to use your own range and its source)")
        try:
            defaults = market_view.default_ranges(gen, mapping, assumptions)
            ranges = _ranges(defaults, tornado_inputs(assumptions, year))
            sizing = market_view.sizing(gen, mapping, assumptions, year, ranges)
        except AnalyticsError as e:
            page.show_error(e)
    if sizing is not None:
        with cards:
            _kpis(sizing.view.top_down, sizing.view.bottom_up, year)
        with charts:
            _sensitivity(sizing.figures)
        with tab_proj:
            _projection(sizing.view.projection, sizing.figures)
with tab_comp:
    _competitors(gen)
