"""Market sizing: hand-computed TAM/SAM/SOM, mappings of user tables, sensitivity, projection, competitors."""

from __future__ import annotations

import math
from dataclasses import fields

import pandas as pd
import pytest

from analytics.charts import market as charts_market
from analytics.compute.market.competitors import CompetitorMapping, competitor_positioning
from analytics.compute.market.projection import project
from analytics.compute.market.ranges import (
    NO_SOURCE,
    InputRange,
    InputRanges,
    default_ranges,
    ranges_table,
    spread_ratios,
    typed_from_table,
    with_typed,
)
from analytics.compute.market.segments import SegmentMapping, load_segments
from analytics.compute.market.sensitivity import ASSUMPTION_LABELS, sensitivity
from analytics.compute.market.sizing import MarketAssumptions, bottom_up, top_down
from analytics.compute.market.view import market_view
from analytics.db import Workspace
from analytics.errors import AssumptionError, MappingError


@pytest.fixture
def segments() -> pd.DataFrame:
    """Three segments small enough to size by hand."""
    return pd.DataFrame({
        "region": ["NA", "NA", "EU"],
        "industry": ["SaaS", "Fintech", "SaaS"],
        "company_size": ["SMB", "Enterprise", "SMB"],
        "companies": [1000.0, 100.0, 2000.0],
        "adoption_rate": [0.2, 0.5, 0.1],
        "acv_usd": [5000.0, 100000.0, 4000.0],
        "growth_rate": [0.10, 0.0, 0.5],
    })


# -- sizing --------------------------------------------------------------------------------------------------
def test_top_down_by_hand(segments):
    result = top_down(segments, MarketAssumptions(regions=("NA",), obtainable_share=0.1))
    # TAM: 1000*5000 + 100*100000 + 2000*4000 (every segment, served or not)
    assert result.tam_usd == pytest.approx(23_000_000)
    # SAM: NA only: 1000*0.2*5000 + 100*0.5*100000
    assert result.sam_usd == pytest.approx(6_000_000)
    assert result.som_usd == pytest.approx(600_000)
    assert result.served_companies == pytest.approx(1100)
    assert result.customers == pytest.approx((200 + 50) * 0.1)
    assert result.formulas[2] == "SOM = SAM × obtainable share"


def test_top_down_all_segments_when_nothing_selected(segments):
    result = top_down(segments, MarketAssumptions(obtainable_share=0.1))
    assert result.sam_usd == pytest.approx(1_000_000 + 5_000_000 + 2000 * 0.1 * 4000)
    assert result.som_usd == pytest.approx(680_000)


def test_served_filters_combine(segments):
    a = MarketAssumptions(industries=("SaaS",), company_sizes=("SMB",), regions=("EU",), obtainable_share=0.5)
    assert top_down(segments, a).sam_usd == pytest.approx(2000 * 0.1 * 4000)


def test_multipliers_scale_acv_and_adoption(segments):
    a = MarketAssumptions(regions=("NA",), obtainable_share=0.1, acv_multiplier=1.5, adoption_multiplier=2.0)
    result = top_down(segments, a)
    assert result.tam_usd == pytest.approx(23_000_000 * 1.5)
    # adoption 0.4 and 1.0 (0.5 * 2 reaches the cap exactly)
    assert result.sam_usd == pytest.approx(1000 * 0.4 * 7500 + 100 * 1.0 * 150000)


def test_adoption_is_capped_at_one(segments):
    a = MarketAssumptions(regions=("NA",), company_sizes=("Enterprise",), adoption_multiplier=3.0)
    assert top_down(segments, a).sam_usd == pytest.approx(100 * 1.0 * 100000)


def test_bottom_up_by_hand(segments):
    result = bottom_up(segments, MarketAssumptions(regions=("NA",), reach_rate=0.5, win_rate=0.2))
    assert result.tam_usd == pytest.approx(23_000_000)
    # reachable: 500 SMB + 50 enterprise accounts
    assert result.sam_usd == pytest.approx(500 * 5000 + 50 * 100000)
    assert result.som_usd == pytest.approx(1_500_000)
    assert result.customers == pytest.approx(110)


def test_bottom_up_fixed_reachable_accounts_spread_and_capped(segments):
    spread = bottom_up(segments, MarketAssumptions(regions=("NA",), reachable_accounts=220, win_rate=0.2))
    # 220 accounts split 1000:100 -> 200 SMB + 20 enterprise
    assert spread.sam_usd == pytest.approx(200 * 5000 + 20 * 100000)
    assert spread.som_usd == pytest.approx(600_000)
    capped = bottom_up(segments, MarketAssumptions(regions=("NA",), reachable_accounts=5000, win_rate=0.2))
    assert capped.sam_usd == pytest.approx(1000 * 5000 + 100 * 100000)  # only 1,100 companies exist


@pytest.mark.parametrize("kwargs, word", [
    ({"obtainable_share": 1.5}, "obtainable_share"),
    ({"win_rate": -0.1}, "win_rate"),
    ({"reach_rate": 2}, "reach_rate"),
    ({"acv_multiplier": 0}, "acv_multiplier"),
    ({"reachable_accounts": -5}, "reachable_accounts"),
    ({"growth_multiplier": 11}, "growth_multiplier"),
])
def test_assumptions_reject_out_of_range(kwargs, word):
    with pytest.raises(AssumptionError, match=word):
        MarketAssumptions(**kwargs)
    assert issubclass(AssumptionError, ValueError)


def test_assumptions_take_lists_as_tuples():
    a = MarketAssumptions(regions=["NA", "EU"])
    assert a.regions == ("NA", "EU")
    hash(a)  # usable as a cache key


# -- sensitivity ---------------------------------------------------------------------------------------------
def test_sensitivity_orders_by_swing_and_respects_bounds(segments):
    sens = sensitivity(segments, MarketAssumptions(obtainable_share=0.9), delta=0.2)
    # SAM 6.8M, SOM 6.12M. ACV and adoption move SOM by ±20 %; the share can only rise to 1.0.
    assert list(sens["assumption"]) == ["acv_multiplier", "adoption_multiplier", "obtainable_share"]
    share = sens.iloc[2]
    assert share["low_value"] == pytest.approx(0.72)
    assert share["high_value"] == pytest.approx(1.0)
    assert share["som_low_usd"] == pytest.approx(6_800_000 * 0.72)
    assert share["som_high_usd"] == pytest.approx(6_800_000)
    assert share["swing_usd"] == pytest.approx(1_904_000)
    assert sens.iloc[0]["swing_usd"] == pytest.approx(6_120_000 * 0.4)
    assert sens["som_base_usd"].tolist() == pytest.approx([6_120_000] * 3)


def test_sensitivity_bottom_up_and_growth_after_year_zero(segments):
    a = MarketAssumptions(obtainable_share=0.1, reach_rate=0.5, win_rate=0.2)
    assert set(sensitivity(segments, a, method="bottom_up")["assumption"]) == {
        "reach_rate", "win_rate", "acv_multiplier"}
    year1 = sensitivity(segments, a, year=1).set_index("assumption")
    growth = year1.loc["growth_multiplier"]
    # growth x0.8: 1000*1.08, 2000*1.4 companies; x1.2: 1000*1.12, 2000*1.6
    assert growth["som_low_usd"] == pytest.approx(0.1 * (1080 * 0.2 * 5000 + 5_000_000 + 2800 * 0.1 * 4000))
    assert growth["som_high_usd"] == pytest.approx(0.1 * (1120 * 0.2 * 5000 + 5_000_000 + 3200 * 0.1 * 4000))
    assert growth["swing_usd"] == pytest.approx(20_000)
    with pytest.raises(AssumptionError):
        sensitivity(segments, a, delta=1.5)


# -- projection ----------------------------------------------------------------------------------------------
def test_projection_compounds_growth(segments):
    proj = project(segments, MarketAssumptions(obtainable_share=0.1, adoption_gain_per_year=0.1), years=5)
    assert list(proj["year"]) == [0, 1, 2, 3, 4, 5]
    assert proj.loc[0, "tam_usd"] == pytest.approx(23_000_000)
    assert proj.loc[1, "tam_usd"] == pytest.approx(1100 * 5000 + 10_000_000 + 3000 * 4000)
    # year 2: companies 1000*1.1^2 = 1210, 100, 2000*1.5^2 = 4500; adoption +0.2 -> 0.4, 0.7, 0.3
    assert proj.loc[2, "tam_usd"] == pytest.approx(1210 * 5000 + 10_000_000 + 4500 * 4000)
    assert proj.loc[2, "sam_usd"] == pytest.approx(1210 * 0.4 * 5000 + 100 * 0.7 * 100000 + 4500 * 0.3 * 4000)
    assert proj.loc[2, "som_usd"] == pytest.approx(1_482_000)
    assert proj.loc[5, "companies"] == pytest.approx(1000 * 1.1**5 + 100 + 2000 * 1.5**5)
    # enterprise adoption 0.5 + 0.5 reaches the cap at year 5
    assert proj.loc[5, "sam_usd"] == pytest.approx(
        1000 * 1.1**5 * 0.7 * 5000 + 100 * 1.0 * 100000 + 2000 * 1.5**5 * 0.6 * 4000)


def test_projection_bottom_up_and_no_growth(segments):
    proj = project(segments, MarketAssumptions(reach_rate=0.5, win_rate=0.2, growth_multiplier=0.0), years=2)
    assert proj["tam_usd"].tolist() == pytest.approx([23_000_000] * 3)
    assert proj["som_bottom_up_usd"].tolist() == pytest.approx([0.5 * 0.2 * 23_000_000] * 3)


# -- loading from the workspace ------------------------------------------------------------------------------
def test_sample_segments_load_in_canonical_columns(ws: Workspace):
    frame = load_segments(ws)
    assert list(frame.columns) == ["region", "industry", "company_size", "companies", "adoption_rate",
                                   "acv_usd", "growth_rate"]
    assert len(frame) == 4 * 6 * 3
    assert frame["companies"].sum() == ws.scalar("select sum(companies) from market_segments")
    assert top_down(frame, MarketAssumptions()).tam_usd == pytest.approx(
        ws.scalar("select sum(companies * acv_usd) from market_segments"))


def _user_segments(ws: Workspace) -> None:
    ws.rows('create table my_market (geo varchar, vertical varchar, "Company Count" bigint, '
            "adopt double, price decimal(12, 2), note varchar)")
    ws.rows("insert into my_market values ('NA', 'SaaS', 1000, 0.2, 5000, 'x'), "
            "('NA', 'Fintech', 100, 0.5, 100000, 'y'), ('EU', 'SaaS', 2000, 0.1, 4000, 'z')")


def test_mapped_user_table_loads_and_sizes(empty_ws: Workspace):
    _user_segments(empty_ws)
    mapping = SegmentMapping(table="my_market", region="geo", industry="vertical", company_size=None,
                             companies="Company Count", adoption_rate="adopt", acv_usd="price",
                             growth_rate=None)
    frame = load_segments(empty_ws, mapping)
    expected = pd.DataFrame({
        "region": ["EU", "NA", "NA"], "industry": ["SaaS", "Fintech", "SaaS"],
        "company_size": ["(blank)"] * 3, "companies": [2000.0, 100.0, 1000.0],
        "adoption_rate": [0.1, 0.5, 0.2],
        "acv_usd": [4000.0, 100000.0, 5000.0], "growth_rate": [0.0, 0.0, 0.0],
    })
    pd.testing.assert_frame_equal(frame, expected, check_dtype=False)
    north_america = MarketAssumptions(regions=("NA",), obtainable_share=0.1)
    assert top_down(frame, north_america).som_usd == pytest.approx(600_000)


def test_mapping_errors_list_columns(empty_ws: Workspace):
    _user_segments(empty_ws)
    with pytest.raises(MappingError) as missing:
        load_segments(empty_ws, SegmentMapping(table="my_market", region="geo", industry=None,
                                               company_size=None, companies="companies",
                                               adoption_rate="adopt", acv_usd="price", growth_rate=None))
    message = str(missing.value)
    assert "column 'companies' for companies is not in table 'my_market'" in message
    assert "geo (VARCHAR)" in message and "Company Count (BIGINT)" in message
    with pytest.raises(MappingError, match="column 'note' for acv_usd is VARCHAR, not a number"):
        load_segments(empty_ws, SegmentMapping(table="my_market", region=None, industry=None,
                                               company_size=None, companies="Company Count",
                                               adoption_rate="adopt", acv_usd="note", growth_rate=None))
    with pytest.raises(MappingError, match="no table 'nowhere'.*tables are: .*my_market"):
        load_segments(empty_ws, SegmentMapping(table="nowhere"))


def test_hostile_names_never_reach_sql(empty_ws: Workspace):
    _user_segments(empty_ws)
    with pytest.raises(MappingError, match="segment table"):
        SegmentMapping(table="my_market; drop table my_market")
    with pytest.raises(MappingError, match="is not in table"):
        load_segments(empty_ws, SegmentMapping(table="my_market", companies='geo" from my_market; --'))
    assert empty_ws.row_count("my_market") == 3


def test_percent_adoption_is_refused_with_the_fix(empty_ws: Workspace):
    empty_ws.rows("create table pct (companies integer, adoption double, acv double)")
    empty_ws.rows("insert into pct values (10, 25, 1000), (20, 0.3, 1000)")
    mapping = SegmentMapping(table="pct", region=None, industry=None, company_size=None,
                             companies="companies", adoption_rate="adoption", acv_usd="acv",
                             growth_rate=None)
    with pytest.raises(MappingError, match="divide percentages by 100: 1 rows, e.g. 25"):
        load_segments(empty_ws, mapping)


def test_empty_user_table_is_refused(empty_ws: Workspace):
    empty_ws.rows("create table nothing_here (companies integer, adoption double, acv double)")
    mapping = SegmentMapping(table="nothing_here", region=None, industry=None, company_size=None,
                             companies="companies", adoption_rate="adoption", acv_usd="acv", growth_rate=None)
    with pytest.raises(MappingError, match="has no rows"):
        load_segments(empty_ws, mapping)


# -- competitors ---------------------------------------------------------------------------------------------
SAMPLE_COMPETITORS = [
    # name, price, capability (mean of the four scores, rounded to 2 places in the table), funding, launch
    ("Triagely", 119.0, 8.75, 420.0, 2016),
    ("CaseMind", 89.0, 8.12, 310.0, 2017),
    ("Resolvd", 69.0, 7.88, 150.0, 2018),
    ("Lumen Desk (us)", 49.0, 7.62, 18.0, 2024),
    ("AnswerLoop", 39.0, 7.25, 120.0, 2019),
    ("QueueZero", 55.0, 7.25, 85.0, 2021),
    ("ReplyRocket", 45.0, 7.0, 60.0, 2022),
    ("TicketPilot", 25.0, 6.12, 45.0, 2020),
    ("DeskGenie", 29.0, 5.88, 30.0, 2023),
    ("HelpForge", 15.0, 5.12, 12.0, 2022),
]


def test_competitor_positioning_exact_rows(ws: Workspace):
    frame = competitor_positioning(ws)
    rows = [(r.name, r.price_per_seat_usd, r.capability_score, r.funding_usd_m, r.launch_year)
            for r in frame.itertuples()]
    assert rows == SAMPLE_COMPETITORS
    assert frame["capability_per_usd"].tolist() == pytest.approx(
        [c / p for _, p, c, _, _ in SAMPLE_COMPETITORS])
    assert frame.loc[frame["is_us"], "name"].tolist() == ["Lumen Desk (us)"]


def test_competitor_capability_columns_are_averaged(ws: Workspace):
    mapping = CompetitorMapping(
        capability=("cap_automation", "cap_accuracy", "cap_integrations", "cap_analytics"),
        funding_usd_m=None, launch_year=None)
    frame = competitor_positioning(ws, mapping, our_name="CaseMind").set_index("name")
    assert frame.loc["TicketPilot", "capability_score"] == pytest.approx((6.0 + 6.5 + 7.0 + 5.0) / 4)
    assert frame.loc["Resolvd", "capability_score"] == pytest.approx((7.0 + 8.0 + 8.0 + 8.5) / 4)
    assert frame.index[frame["is_us"]].tolist() == ["CaseMind"]
    assert frame["funding_usd_m"].isna().all()


def test_competitor_mapping_errors(ws: Workspace):
    with pytest.raises(MappingError, match="column 'name' for capability #1 is VARCHAR, not a number"):
        competitor_positioning(ws, CompetitorMapping(capability=("name",)))
    with pytest.raises(MappingError, match="repeat"):
        CompetitorMapping(capability=("cap_accuracy", "cap_accuracy"))
    with pytest.raises(MappingError, match="at least one"):
        CompetitorMapping(capability=())


# -- charts --------------------------------------------------------------------------------------------------
def test_chart_builders(segments, ws: Workspace):
    a = MarketAssumptions(obtainable_share=0.1)
    sens = sensitivity(segments, a)
    fig = charts_market.tornado(sens)
    assert len(fig.data) == 2 and fig.data[0].orientation == "h"
    assert list(fig.data[1].x + fig.data[1].base) == pytest.approx(list(sens["som_high_usd"]))
    proj = charts_market.projection(project(segments, a))
    assert [t.name for t in proj.data] == ["TAM", "SAM", "SOM top-down", "SOM bottom-up"]
    assert proj.layout.yaxis.type == "log"
    assert all(not math.isnan(v) for v in proj.layout.yaxis.tickvals)
    bubbles = charts_market.positioning(competitor_positioning(ws))
    assert [t.name for t in bubbles.data] == ["Competitors", "Us"]
    assert list(bubbles.data[1].text) == ["Lumen Desk (us)"]


def test_market_view_bundles_everything(segments):
    a = MarketAssumptions(obtainable_share=0.1, reach_rate=0.5, win_rate=0.2)
    today = market_view(segments, a, year=0, years=3)
    assert today.top_down.som_usd == pytest.approx(680_000)
    assert today.bottom_up.som_usd == pytest.approx(0.5 * 0.2 * 23_000_000)
    view = market_view(segments, a, year=1, years=3)
    assert "growth_multiplier" in set(view.sensitivity_top_down["assumption"])
    assert list(view.projection["year"]) == [0, 1, 2, 3]
    figures = charts_market.market_figures(view)
    assert {f.name for f in fields(figures)} == {"tornado_top_down", "tornado_bottom_up", "projection"}
    assert figures.tornado_bottom_up.layout.title.text.startswith("Bottom-up SOM, year 1")


def test_cards_and_tornados_describe_the_same_year(segments):
    a = MarketAssumptions(obtainable_share=0.1, reach_rate=0.5, win_rate=0.2)
    for year in (0, 3, 5):
        view = market_view(segments, a, year=year)
        assert view.year == year
        # the SOM on the cards is the base every tornado bar starts from
        assert view.sensitivity_top_down["som_base_usd"].iloc[0] == pytest.approx(view.top_down.som_usd)
        assert view.sensitivity_bottom_up["som_base_usd"].iloc[0] == pytest.approx(view.bottom_up.som_usd)
        assert view.top_down.som_usd == pytest.approx(view.projection.loc[year, "som_usd"])
    assert market_view(segments, a, year=5).top_down.som_usd > market_view(segments, a).top_down.som_usd


# -- per-input ranges ----------------------------------------------------------------------------------------
@pytest.fixture
def spread_segments() -> pd.DataFrame:
    """Two company sizes, four segments each: ACV 0.5x, 1x, 1x, 1.5x of the size's median; adoption and
    growth with no spread at all."""
    rows = []
    for size, median_acv in (("SMB", 4000.0), ("Enterprise", 100_000.0)):
        for i, ratio in enumerate((0.5, 1.0, 1.0, 1.5)):
            rows.append({"region": f"R{i}", "industry": "SaaS", "company_size": size, "companies": 100.0,
                         "adoption_rate": 0.2, "acv_usd": median_acv * ratio, "growth_rate": 0.1})
    return pd.DataFrame(rows)


def test_default_range_comes_from_the_data_spread(spread_segments):
    ranges = default_ranges(spread_segments, MarketAssumptions(acv_multiplier=2.0))
    acv = ranges.get("acv_multiplier")
    # ratios to the size's median: 0.5, 1, 1, 1.5 twice -> P25 = 0.875, P75 = 1.125 (numpy's linear rule)
    assert (acv.low, acv.high, acv.kind) == (pytest.approx(2.0 * 0.875), pytest.approx(2.0 * 1.125), "data")
    assert "P25–P75 of acv_usd, 8 segments" in acv.source
    # no spread in adoption or growth, no data on the share: assumed ±20 %, said so
    for name in ("adoption_multiplier", "growth_multiplier", "obtainable_share", "win_rate"):
        item = ranges.get(name)
        assert item.kind == "assumed" and "assumed ±20%" in item.source
    share = ranges.get("obtainable_share")
    assert (share.low, share.high) == (pytest.approx(0.04), pytest.approx(0.06))
    assert ranges.get("reachable_accounts") is None  # reach rate is in use
    # the spread is taken over the served segments only: one segment per size is too few to say anything
    assert default_ranges(spread_segments, MarketAssumptions(regions=("R0",))).get(
        "acv_multiplier").kind == "assumed"


def test_spread_is_measured_within_each_company_size(spread_segments):
    ratios = sorted(spread_ratios(spread_segments, "acv_usd").tolist())
    assert ratios == pytest.approx([0.5, 0.5, 1.0, 1.0, 1.0, 1.0, 1.5, 1.5])  # not 0.02 .. 37.5 across sizes


def test_tornado_bars_differ_when_the_ranges_differ(segments):
    a = MarketAssumptions(obtainable_share=0.1)
    equal = sensitivity(segments, a)  # ±20 % on every factor of a product: one swing for all
    assert equal["swing_usd"].round(2).nunique() == 1
    ranges = InputRanges((
        ("obtainable_share", InputRange(0.09, 0.11, "analyst range", "typed")),
        ("acv_multiplier", InputRange(0.5, 1.5, "data: P25–P75", "data")),
        ("adoption_multiplier", InputRange(0.8, 1.2, "assumed ±20%", "assumed")),
    ))
    sens = sensitivity(segments, a, ranges=ranges)
    # SOM 680k: ACV 0.5..1.5 swings 680k, adoption 0.8..1.2 swings 272k, share 9..11 % swings 136k
    assert list(sens["assumption"]) == ["acv_multiplier", "adoption_multiplier", "obtainable_share"]
    assert sens["swing_usd"].tolist() == pytest.approx([680_000, 272_000, 136_000])
    assert sens["range_kind"].tolist() == ["data", "assumed", "typed"]
    fig = charts_market.tornado(sens)
    widths = [abs(high - low) for low, high in zip(fig.data[0].x, fig.data[1].x, strict=True)]
    assert widths == pytest.approx([680_000, 272_000, 136_000])
    assert "· data" in fig.data[0].y[0] and "· typed" in fig.data[0].y[2]


def test_typed_range_with_a_source_is_kept_and_shown(spread_segments):
    a = MarketAssumptions(obtainable_share=0.05)
    defaults = default_ranges(spread_segments, a)
    ranges = with_typed(defaults, {"obtainable_share": (0.02, 0.10, "analyst range, Gartner 2026")})
    share = ranges.get("obtainable_share")
    assert (share.low, share.high, share.source, share.kind) == (0.02, 0.10, "analyst range, Gartner 2026",
                                                                 "typed")
    assert ranges.get("acv_multiplier") == defaults.get("acv_multiplier")  # the others keep their defaults
    view = market_view(spread_segments, a, ranges=ranges)
    row = view.sensitivity_top_down.set_index("assumption").loc["obtainable_share"]
    assert (row["low_value"], row["high_value"], row["range_source"]) == (0.02, 0.10,
                                                                          "analyst range, Gartner 2026")
    fig = charts_market.market_figures(view).tornado_top_down
    hovers = [text for trace in fig.data for text in trace.hovertext]
    assert any("analyst range, Gartner 2026" in text for text in hovers)
    assert with_typed(defaults, {"win_rate": (0.05, 0.1, "  ")}).get("win_rate").source == NO_SOURCE


def test_ranges_table_round_trip(spread_segments):
    a = MarketAssumptions()
    defaults = default_ranges(spread_segments, a)
    table = ranges_table(defaults, ASSUMPTION_LABELS, ("obtainable_share", "acv_multiplier"))
    assert table[["label", "unit", "low", "high"]].values.tolist() == [
        ["Obtainable share", "%", 4.0, 6.0], ["ACV", "×", 0.875, 1.125]]
    assert typed_from_table(table, defaults) == {}  # untouched: nothing typed
    edited = table.copy()
    edited.loc[0, ["low", "high", "source"]] = [2.0, 10.0, "analyst range, Gartner 2026"]
    edited.loc[1, "high"] = 1.5  # a new number under the data's note: that note no longer describes it
    assert typed_from_table(edited, defaults) == {
        "obtainable_share": (0.02, 0.1, "analyst range, Gartner 2026"),
        "acv_multiplier": (0.875, 1.5, NO_SOURCE)}


@pytest.mark.parametrize(("low", "high", "source", "word"), [
    (0.06, 0.04, "x", "swap them"), (0.01, 0.02, " ", "where a range comes from"),
    (float("nan"), 0.1, "x", "finite number")])
def test_input_range_checks(low, high, source, word):
    with pytest.raises(AssumptionError, match=word):
        InputRange(low, high, source)


def test_ranges_out_of_bounds_are_refused(spread_segments):
    defaults = default_ranges(spread_segments, MarketAssumptions())
    with pytest.raises(AssumptionError, match="obtainable_share must lie within 0 % and 100 %"):
        with_typed(defaults, {"obtainable_share": (0.5, 1.5, "typo")})


# -- competitor labels ---------------------------------------------------------------------------------------
def test_competitor_labels_do_not_overlap(ws: Workspace):
    frame = competitor_positioning(ws)
    fig = charts_market.positioning(frame)
    shown = [(t, p) for trace in fig.data for t, p in zip(trace.text, trace.textposition, strict=True) if t]
    assert ("Lumen Desk (us)", "top center") in shown  # ours is always labelled
    assert len(shown) >= 8  # at most two of ten left to the hover
    assert len({p for _, p in shown}) > 1  # not every label on top: they moved out of each other's way


def test_label_positions_avoid_labels_and_bubbles():
    # three bubbles on one row, 60 px apart: an 84 px label on top of each would overlap its neighbours'
    x, y, radii = [80.0, 140.0, 200.0], [200.0, 200.0, 200.0], [10.0, 10.0, 10.0]
    texts = ["Alpha Corp", "Beta Corp", "Gamma Corp"]
    spots = charts_market.label_positions(x, y, radii, texts, font_px=16, area_px=(400, 400), first=1)
    assert spots[1] == "top center"  # ours first, on top
    assert spots[0] != "top center" and spots[2] != "top center"  # the neighbours moved out of its way
    boxes = [charts_market._label_box(x[i], y[i], radii[i], texts[i], 16, spot)
             for i, spot in enumerate(spots) if spot]
    bubbles = [(cx - r, cy - r, cx + r, cy + r) for cx, cy, r in zip(x, y, radii, strict=True)]
    for i, box in enumerate(boxes):
        assert all(charts_market._overlap(box, other) == 0 for other in boxes[i + 1:])
        assert sum(charts_market._overlap(box, b) > 0 for b in bubbles) == 0
    # a label that fits nowhere is left out (its name stays in the hover)
    crowded = charts_market.label_positions([10.0], [10.0], [8.0], ["A very long product name"], 16,
                                            area_px=(60, 60))
    assert crowded == [None]
