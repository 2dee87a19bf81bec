"""Which catalog price applies to measured hardware, and how a price and a date are cited."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import pandas as pd

from analytics.db import Workspace
from analytics.ingest.prices import price_table
from analytics.money import format_usd

UNDATED = "undated"
"""What a catalog price without a date shows, once, in the price tables (never in every sentence)."""


def as_of_day(value: object) -> str:
    """'2026-11-09' for a date or timestamp, UNDATED for a missing or unreadable one."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return UNDATED
    try:
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    except (ValueError, TypeError):
        return UNDATED


def price_figure(row: Mapping[str, object]) -> str:
    """'$0.0725/h' for a machine, '$0.15 in / $0.60 out per 1M tokens' for an API price row."""
    if row.get("kind") == "api":
        return (f"{format_usd(row['input_per_m_usd'], digits=4)} in / "
                f"{format_usd(row['output_per_m_usd'], digits=4)} out per 1M tokens")
    return f"{format_usd(row['hourly_usd'], digits=4)}/h"


def price_basis(row: Mapping[str, object]) -> str:
    """'CPU 2 vCPU · AWS c7g.large: $0.0725/h (source, as of 2026-11-09)' for a price catalog row; an undated
    row cites its source only (the price tables say 'undated' once, in their 'as of' column)."""
    as_of = as_of_day(row.get("as_of"))
    dated = f", as of {as_of}" if as_of != UNDATED else ""
    return f"{row['name']} · {row['provider']}: {price_figure(row)} ({row['source']}{dated})"


def prices_used(catalog: pd.DataFrame, price_ids: Sequence[int]) -> pd.DataFrame:
    """The catalog rows a leaderboard used, for a price table: price, figure, as of (a date or UNDATED),
    source."""
    rows = [catalog.loc[p] for p in price_ids if p in catalog.index]
    return pd.DataFrame({"price": [f"{r['name']} · {r['provider']}" for r in rows],
                         "figure": [price_figure(r) for r in rows],
                         "as of": [as_of_day(r.get("as_of")) for r in rows],
                         "source": [str(r["source"]) for r in rows]},
                        columns=["price", "figure", "as of", "source"])


def hardware_names(ws: Workspace, dataset: str) -> list[str]:
    """Hardware the dataset's runs trained or were measured on, or were served on in a load test
    (serving.json), sorted. Endpoint runs are left out: their machine is the client's, and an endpoint is
    priced per token."""
    from analytics.ingest.serving import serving_levels

    runs = ws.query("compare_runs", dataset=dataset)
    runs = runs[runs["method"] != "endpoint"]
    names = set(runs["hardware"].dropna()) | set(runs["inference_hardware"].dropna())
    names |= set(serving_levels(ws, list(runs["run_id"]))["hardware"].dropna())
    return sorted(str(n) for n in names)


def match_price(hardware: str, catalog: pd.DataFrame) -> int | None:
    """A default price row for a measured hardware name, or None when nothing in the catalog fits.

    'CPU x2' matches a cpu row named '2 vCPU'; a GPU name matches the first gpu row (catalog order:
    hyperscaler on-demand first) whose model (H100, A100, L4, T4...) appears in it.
    """
    text = hardware.lower()
    if text.startswith("cpu"):
        cores = "".join(ch for ch in text.split("x")[-1] if ch.isdigit())
        named = catalog["name"].str.contains(f"{cores} vCPU", regex=False)
        rows = catalog[(catalog["kind"] == "cpu") & named]
        return int(rows.iloc[0]["price_id"]) if cores and len(rows) else None
    words = set(re.split(r"[\s\-_/]+", text))
    for _, row in catalog[catalog["kind"] == "gpu"].iterrows():
        if str(row["name"]).split()[0].lower() in words:
            return int(row["price_id"])
    return None


def resolve_hardware_prices(ws: Workspace, dataset: str,
                            chosen: Sequence[tuple[str, int]] = ()) -> dict[str, int | None]:
    """Hardware name -> price_id: the user's choice, else `match_price`, else None (flagged)."""
    catalog = price_table(ws)
    picked = dict(chosen)
    return {hw: picked.get(hw, match_price(hw, catalog)) for hw in hardware_names(ws, dataset)}
