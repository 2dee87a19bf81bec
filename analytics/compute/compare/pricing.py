"""Which catalog price applies to measured hardware, and how a price and a date are cited."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import pandas as pd

from analytics.db import Workspace
from analytics.ingest.prices import price_table
from analytics.money import format_usd


def as_of_day(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return "undated"
    try:
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    except (ValueError, TypeError):
        return "undated"


def price_basis(row: Mapping[str, object]) -> str:
    """'AWS c7g.large: $0.0725/h (source, as of 2026-11-09)' for a price catalog row."""
    if row.get("kind") == "api":
        figure = (f"{format_usd(row['input_per_m_usd'], digits=4)} in / "
                  f"{format_usd(row['output_per_m_usd'], digits=4)} out per 1M tokens")
    else:
        figure = f"{format_usd(row['hourly_usd'], digits=4)}/h"
    as_of = as_of_day(row.get("as_of"))
    return f"{row['name']} · {row['provider']}: {figure} ({row['source']}, as of {as_of})"


def hardware_names(ws: Workspace, dataset: str) -> list[str]:
    """Hardware the dataset's runs trained or were measured on, sorted."""
    runs = ws.query("compare_runs", dataset=dataset)
    names = set(runs["hardware"].dropna()) | set(runs["inference_hardware"].dropna())
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
