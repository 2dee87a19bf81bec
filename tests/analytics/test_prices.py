"""Price catalog: seeded with a source on every row, edits validated and recorded."""

from __future__ import annotations

import pandas as pd
import pytest

from analytics.errors import CostInputError
from analytics.ingest import prices


def test_seed_has_source_and_positive_prices(empty_ws):
    added = prices.seed_prices(empty_ws)
    seed = pd.read_csv(prices.SEED_FILE)
    assert added == len(seed) and prices.seed_prices(empty_ws) == 0
    table = prices.price_table(empty_ws)
    assert table["source"].str.len().min() > 5
    assert set(table["kind"]) == {"gpu", "cpu", "api"}
    gpu = prices.price_table(empty_ws, "gpu")
    assert (gpu["hourly_usd"] > 0).all() and gpu["input_per_m_usd"].isna().all()
    mini = table[table["name"] == "gpt-4o-mini"].iloc[0]
    assert (mini["input_per_m_usd"], mini["output_per_m_usd"]) == (0.15, 0.60)


def test_edit_is_recorded(empty_ws):
    table = prices.price_table(empty_ws, "gpu")
    pid = int(table.iloc[0]["price_id"])
    old = table.iloc[0]["hourly_usd"]
    prices.update_price(empty_ws, pid, "hourly_usd", 5.5, "negotiated rate")
    assert empty_ws.scalar("select hourly_usd from prices where price_id = ?", [pid]) == 5.5
    edits = prices.price_edits(empty_ws)
    assert edits.iloc[0][["field", "old_value", "new_value", "note"]].tolist() == [
        "hourly_usd", str(old), "5.5", "negotiated rate"]


@pytest.mark.parametrize("value", [0, -2, float("nan"), None, 10_000])
def test_bad_edits_change_nothing(empty_ws, value):
    table = prices.price_table(empty_ws, "gpu")
    pid = int(table.iloc[0]["price_id"])
    before = empty_ws.scalar("select hourly_usd from prices where price_id = ?", [pid])
    with pytest.raises(CostInputError):
        prices.update_price(empty_ws, pid, "hourly_usd", value, "typo")
    assert empty_ws.scalar("select hourly_usd from prices where price_id = ?", [pid]) == before
    assert prices.price_edits(empty_ws).empty


def test_edit_needs_a_note_and_a_known_field(empty_ws):
    prices.seed_prices(empty_ws)
    with pytest.raises(CostInputError, match="source or a reason"):
        prices.update_price(empty_ws, 1, "hourly_usd", 2.0, " ")
    with pytest.raises(CostInputError, match="cannot be edited"):
        prices.update_price(empty_ws, 1, "kind", "api", "x")
