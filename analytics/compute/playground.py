"""Playground data: the runs a user can try, and cost per 1k calls from measured throughput
(analytics.compute.costs).

No model code here: predictions come from models/; this module only reads the workspace and prices.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from analytics.compute import costs
from analytics.compute.compare.pricing import match_price, price_basis
from analytics.compute.run_labels import run_labels
from analytics.db import Workspace
from analytics.money import format_number, format_percent


@dataclass(frozen=True)
class CallCost:
    """Cost per 1,000 single-text calls of one run, or why it is unknown."""

    per_1k_usd: float | None
    """Dollars per 1,000 calls; None when the run has no measured throughput or no price was chosen."""
    basis: str
    """How the number was computed (price, source, date, measured throughput), or why it is unknown."""


def playground_runs(ws: Workspace) -> pd.DataFrame:
    """Succeeded runs, newest first, with a `label` column for pickers
    ('banking77 · full MiniLM-L6-v2 · 85.2% · 12:41', analytics.compute.run_labels).

    Columns: run_id, method, model, dataset, accuracy, n_test, finished_at, p50_ms, throughput_per_s,
    inference_hardware, hardware, runs_dir, label.
    """
    frame = ws.query("playground_runs")
    frame["label"] = run_labels(frame.to_dict("records"))
    return frame


def default_price_id(runs: pd.DataFrame, catalog: pd.DataFrame) -> int | None:
    """The catalog row matching the hardware the first run's throughput was measured on
    (pricing.match_price)."""
    for hardware in runs["inference_hardware"].dropna().tolist() + runs["hardware"].dropna().tolist():
        price_id = match_price(str(hardware), catalog)
        if price_id is not None:
            return price_id
    return None


def call_cost(run: Mapping[str, object], price: Mapping[str, object] | None,
              utilisation: float = 1.0) -> CallCost:
    """Cost per 1k calls = hourly price / 3600 / (measured throughput x utilisation) x 1000.

    `run` is a playground_runs row, `price` a price_table row (or None). Raises CostInputError for a bad
    utilisation or price.
    """
    throughput = run.get("throughput_per_s")
    if throughput is None or pd.isna(throughput):
        return CallCost(None, "unknown: this run has no measured inference throughput (no inference.json)")
    if price is None:
        return CallCost(None, "unknown: choose a hardware price")
    hourly = price.get("hourly_usd")
    if hourly is None or pd.isna(hourly):
        return CallCost(None, f"unknown: {price.get('label', 'this price')} has no hourly price")
    per_1k = costs.cost_per_1k_requests_usd(float(throughput), float(hourly), utilisation)
    measured_on = run.get("inference_hardware") or "this machine"
    share = format_percent(utilisation, 0)
    return CallCost(per_1k, f"{price_basis(price)} / ({format_number(float(throughput))} calls/s measured "
                            f"batched on {measured_on} x {share} utilisation) x 1000")
