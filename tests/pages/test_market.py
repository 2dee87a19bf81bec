"""AppTest of the Market page: sample data, editable assumptions, a mapped user table, competitors."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

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
    # TAM once (both methods share it), then SAM and SOM top-down and bottom-up, all in the year shown
    assert [label for label, _ in metrics] == ["TAM, year 0", "SAM, year 0", "SOM, year 0", "SAM, year 0",
                                               "SOM, year 0"]
    assert metrics[0][1] == _usd(tam)
    assert metrics[1][1] == _usd(sam)
    assert metrics[2][1] == _usd(sam * 0.05)  # default obtainable share 5 %
    assert metrics[4][1] == _usd(tam * 0.10 * 0.08)  # bottom-up: reach 10 %, win 8 %, every segment served
    assert len(at.get("plotly_chart")) == 4  # two tornados, projection, positioning
    assert len(at.dataframe) == 3  # the tornado's ranges (editable), projection table, competitor table
    ranges = at.dataframe[0].value.set_index("input")
    assert ranges.loc["acv_multiplier", "source"].startswith("data: P25–P75 of acv_usd")
    competitors = at.dataframe[2].value
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
    assert after[4] == before[4]  # bottom-up does not use the obtainable share
    at.number_input(key="mk_win").set_value(16.0).run()
    assert _metrics(at)[4][1] != before[4][1]
    at.multiselect(key="mk_regions").set_value(["LATAM"]).run()
    assert not at.exception
    assert _metrics(at)[0] == after[0]  # TAM counts every segment
    assert _metrics(at)[1][1] != after[1][1]  # SAM only the served ones


def _decoded(value):
    """Plotly's JSON with its base64 typed arrays ({'dtype', 'bdata'}) turned back into lists."""
    if isinstance(value, dict) and set(value) >= {"dtype", "bdata"}:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"])).tolist()
    if isinstance(value, dict):
        return {k: _decoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decoded(v) for v in value]
    return value


def _figure(at, index: int) -> dict:
    """The figure of the index-th chart as Plotly's JSON, numeric arrays decoded."""
    return _decoded(json.loads(at.get("plotly_chart")[index].proto.spec))


def test_one_year_drives_the_cards_and_the_tornados(app_env):
    at = new_app(PAGE)
    at.slider(key="mk_year").set_value(5).run()
    assert not at.exception
    metrics = _metrics(at)
    assert {label for label, _ in metrics} == {"TAM, year 5", "SAM, year 5", "SOM, year 5"}
    top, bottom = _figure(at, 0), _figure(at, 1)
    assert top["layout"]["title"]["text"] == f"Top-down SOM, year 5 (base {metrics[2][1]})"
    assert bottom["layout"]["title"]["text"] == f"Bottom-up SOM, year 5 (base {metrics[4][1]})"
    assert any("Market growth" in label for label in top["data"][0]["y"])  # growth counts after year 0


def test_tornado_ranges_from_the_data_and_typed_with_a_source(app_env):
    at = new_app(PAGE)
    labels = _figure(at, 0)["data"][0]["y"]
    # ACV and adoption take their range from the sample segments' spread, the share is assumed
    assert any("ACV" in label and "· data" in label for label in labels)
    assert any("Obtainable share" in label and "· assumed" in label for label in labels)
    low_bars, high_bars = (_figure(at, 0)["data"][i]["x"] for i in (0, 1))
    widths = [abs(high - low) for low, high in zip(low_bars, high_bars, strict=True)]
    assert len({round(w) for w in widths}) == len(widths)  # every input its own swing
    at.session_state["mk_typed_ranges"] = {"obtainable_share": (0.01, 0.20, "analyst range, Gartner 2026")}
    at.run()
    assert not at.exception and not at.error
    top = _figure(at, 0)
    assert "Obtainable share" in top["data"][0]["y"][0]  # the widest range now swings SOM most
    assert "1% – 20% · typed" in top["data"][0]["y"][0]
    assert any("analyst range, Gartner 2026" in text for text in top["data"][0]["hovertext"])
    assert at.session_state["mk_typed_ranges"]["obtainable_share"][2] == "analyst range, Gartner 2026"
    shown = at.dataframe[0].value.set_index("input").loc["obtainable_share"]
    assert (shown["low"], shown["high"], shown["source"]) == (1.0, 20.0, "analyst range, Gartner 2026")


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
    assert [value for _, value in _metrics(at)] == ["$23M", "$6.8M", "$340k", "$2.3M", "$184k"]
    assert not any("Sample data" in i.value for i in at.main.info)
    at.multiselect(key="mk_regions").set_value(["NA"]).run()
    assert [value for _, value in _metrics(at)][1:3] == ["$6M", "$300k"]


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
