"""AppTest of the Market page: sample data, editable assumptions, a mapped user table, competitors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from analytics.db import Workspace
from tests.pages.apptest import new_app
from tests.support import ROOT

PAGE = "pages/market.py"


def _metrics(at) -> list[tuple[str, str]]:
    return [(m.label, m.value) for m in at.metric]


def _sample_totals(path: Path) -> tuple[float, float]:
    """TAM and SAM of the sample segments straight from SQL (all segments served)."""
    ws = Workspace.open(path)
    try:
        tam, sam = ws.rows("select sum(companies * acv_usd), sum(companies * adoption_rate * acv_usd) "
                           "from market_segments")[0]
    finally:
        ws.close()
    return float(tam), float(sam)


def _usd(value: float) -> str:
    """$4.49B / $933M / $46.7M / $850k (three significant digits, no trailing zeros), written out here so
    the page's formatter is checked too."""
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= limit:
            return f"${value / limit:.3g}{suffix}"
    return f"${value:.3g}"


def test_market_renders_sample_kpis_and_charts(app_env):
    tam, sam = _sample_totals(app_env)
    at = new_app(PAGE)
    assert not at.exception
    assert any("Sample data" in i.value for i in at.info)
    metrics = _metrics(at)
    assert [label for label, _ in metrics] == ["TAM", "SAM", "SOM"] * 2
    assert metrics[0][1] == _usd(tam)
    assert metrics[1][1] == _usd(sam)
    assert metrics[2][1] == _usd(sam * 0.05)  # default obtainable share 5 %
    assert metrics[5][1] == _usd(tam * 0.10 * 0.08)  # bottom-up: reach 10 %, win 8 %, every segment served
    assert len(at.get("plotly_chart")) == 4  # two tornados, projection, positioning
    assert len(at.dataframe) == 2  # projection table, competitor table
    competitors = at.dataframe[1].value
    assert len(competitors) == 10
    assert competitors.loc[competitors["is_us"], "name"].tolist() == ["Lumen Desk (us)"]


def test_changing_assumptions_changes_som(app_env):
    _, sam = _sample_totals(app_env)
    at = new_app(PAGE)
    before = _metrics(at)
    at.number_input(key="mk_share").set_value(10.0).run()
    assert not at.exception
    after = _metrics(at)
    assert after[2][1] == _usd(sam * 0.10)
    assert after[2][1] != before[2][1]
    assert after[5] == before[5]  # bottom-up does not use the obtainable share
    at.number_input(key="mk_win").set_value(16.0).run()
    assert _metrics(at)[5][1] != before[5][1]
    at.multiselect(key="mk_regions").set_value(["LATAM"]).run()
    assert not at.exception
    assert _metrics(at)[0] == after[0]  # TAM counts every segment
    assert _metrics(at)[1][1] != after[1][1]  # SAM only the served ones


def _add_user_tables(path: Path) -> None:
    ws = Workspace.open(path)
    try:
        ws.rows('create table my_market (geo varchar, vertical varchar, "Company Count" bigint, '
                "adopt double, price double, label varchar)")
        ws.rows("insert into my_market values ('NA', 'SaaS', 1000, 0.2, 5000, 'a'), "
                "('NA', 'Fintech', 100, 0.5, 100000, 'b'), ('EU', 'SaaS', 2000, 0.1, 4000, 'c')")
        ws.rows("create table rivals (product varchar, seat_price double, speed double, quality double)")
        ws.rows("insert into rivals values ('Acme', 20, 6, 8), ('Us Inc', 40, 9, 9), ('Free Bot', 0, 3, 4)")
    finally:
        ws.close()


def _map_segments(at, acv: str = "price") -> None:
    at.radio(key="mk_seg_source").set_value("My table").run()
    at.selectbox(key="mk_seg_table").set_value("my_market").run()
    for role, column in (("region", "geo"), ("industry", "vertical"), ("company_size", "(none)"),
                         ("companies", "Company Count"), ("adoption_rate", "adopt"), ("acv_usd", acv),
                         ("growth_rate", "(none)")):
        at.selectbox(key=f"mk_seg_{role}").set_value(column)
    at.run()


def test_mapped_user_table_sizes_by_hand(app_env):
    _add_user_tables(app_env)
    at = new_app(PAGE)
    _map_segments(at)
    assert not at.exception
    assert not at.error
    # TAM 1000*5000 + 100*100000 + 2000*4000; SAM adds adoption; SOM 5 %; bottom-up 10 % reach x 8 % win
    assert _metrics(at) == [("TAM", "$23M"), ("SAM", "$6.8M"), ("SOM", "$340k"),
                            ("TAM", "$23M"), ("SAM", "$2.3M"), ("SOM", "$184k")]
    assert not any("Sample data" in i.value for i in at.main.info)
    at.multiselect(key="mk_regions").set_value(["NA"]).run()
    assert _metrics(at)[1:3] == [("SAM", "$6M"), ("SOM", "$300k")]


def test_bad_mapping_shows_error_not_exception(app_env):
    _add_user_tables(app_env)
    at = new_app(PAGE)
    _map_segments(at, acv="label")
    assert not at.exception
    assert any("column 'label' for acv_usd is VARCHAR, not a number" in e.value for e in at.error)
    assert not at.metric


def test_mapped_competitor_table(app_env):
    _add_user_tables(app_env)
    at = new_app(PAGE)
    at.radio(key="mk_comp_source").set_value("My table").run()
    at.selectbox(key="mk_comp_table").set_value("rivals").run()
    at.selectbox(key="mk_comp_name").set_value("product")
    at.selectbox(key="mk_comp_price").set_value("seat_price")
    at.multiselect(key="mk_comp_caps").set_value(["speed", "quality"])
    at.selectbox(key="mk_comp_funding").set_value("(none)")
    at.selectbox(key="mk_comp_launch").set_value("(none)")
    at.run()
    assert not at.exception and not at.error
    at.selectbox(key="mk_comp_us").set_value("Us Inc").run()
    table = at.dataframe[-1].value
    assert table["name"].tolist() == ["Us Inc", "Acme", "Free Bot"]  # capability 9, 7, 3.5
    assert table["capability_per_usd"].tolist()[:2] == [9 / 40, 7 / 20]
    assert table["capability_per_usd"].isna().tolist()[2]  # free: no price to divide by
    assert table["is_us"].tolist() == [True, False, False]


def test_market_modules_do_not_import_torch():
    code = ("import sys; import pages._shared.page, pages._shared.market, analytics.compute.market, "
            "analytics.charts.market; "
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr or "torch was imported"
