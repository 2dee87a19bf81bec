"""Tornado data: how far SOM moves when each assumption goes from its low to its high value.

Each assumption carries its own range (analytics.compute.market.ranges: from the data's spread, typed with a
source, or assumed ±20 %), so the bars rank the inputs by their real swing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd

from analytics.compute.market.ranges import BOUNDS, InputRange, InputRanges
from analytics.compute.market.sizing import MarketAssumptions, SizingResult, bottom_up, top_down
from analytics.errors import AssumptionError, MarketError

ASSUMPTION_LABELS = {
    "obtainable_share": "Obtainable share",
    "adoption_multiplier": "Adoption",
    "acv_multiplier": "ACV",
    "reach_rate": "Reach rate",
    "reachable_accounts": "Reachable accounts",
    "win_rate": "Win rate",
    "growth_multiplier": "Market growth",
    "adoption_gain_per_year": "Adoption gain / yr",
}
"""Short labels of the assumptions the sensitivity view varies."""


def sensitivity_fields(assumptions: MarketAssumptions, method: str, year: int = 0) -> tuple[str, ...]:
    """The assumptions that move SOM at `year` for `method` ('top_down' or 'bottom_up').

    Growth only matters after year 0; the adoption gain only for top-down after year 0 and when it is set.
    """
    if method == "top_down":
        names = ["obtainable_share", "adoption_multiplier", "acv_multiplier"]
        if year > 0 and assumptions.adoption_gain_per_year > 0:
            names.append("adoption_gain_per_year")
    elif method == "bottom_up":
        reach = "reach_rate" if assumptions.reachable_accounts is None else "reachable_accounts"
        names = [reach, "win_rate", "acv_multiplier"]
    else:
        raise MarketError(f"method must be 'top_down' or 'bottom_up', got {method!r}")
    return tuple(names + (["growth_multiplier"] if year > 0 else []))


def tornado_inputs(assumptions: MarketAssumptions, year: int = 0) -> tuple[str, ...]:
    """Every assumption either tornado varies at `year` (top-down's, then bottom-up's new ones)."""
    names = (sensitivity_fields(assumptions, "top_down", year)
             + sensitivity_fields(assumptions, "bottom_up", year))
    return tuple(dict.fromkeys(names))


def _set(assumptions: MarketAssumptions, name: str, value: float) -> tuple[float, MarketAssumptions]:
    low, high = BOUNDS[name]
    value = float(np.clip(value, low, high))
    if name == "reachable_accounts":
        value = float(round(value))
        return value, replace(assumptions, reachable_accounts=int(value))
    return value, replace(assumptions, **{name: value})


def _relative(assumptions: MarketAssumptions, name: str, delta: float) -> InputRange:
    base = float(getattr(assumptions, name))
    low, high = BOUNDS[name]
    return InputRange(float(np.clip(base * (1 - delta), low, high)),
                      float(np.clip(base * (1 + delta), low, high)),
                      f"assumed ±{delta:.0%} of the current value", "assumed")


def sensitivity(segments: pd.DataFrame, assumptions: MarketAssumptions, delta: float = 0.2,
                method: str = "top_down", year: int = 0, ranges: InputRanges | None = None) -> pd.DataFrame:
    """Tornado data: SOM at `year` when each assumption takes its low and its high value (kept in its valid
    range). `ranges` gives each assumption's own range; an assumption without one moves by ±`delta`
    (relative), which in a product of factors moves SOM by the same amount for every factor.

    Returns one row per assumption, largest swing first (ties by label): assumption, label, base_value,
    low_value, high_value, som_low_usd, som_high_usd, som_base_usd, swing_usd (= |high - low|),
    range_kind ('data', 'typed' or 'assumed') and range_source (where the range comes from).
    """
    if not 0.0 < delta < 1.0:
        raise AssumptionError(f"delta is a relative change between 0 and 1 (0.2 = ±20 %), got {delta}")
    names = sensitivity_fields(assumptions, method, year)
    sizer: Callable[..., SizingResult] = top_down if method == "top_down" else bottom_up

    def size(moved: MarketAssumptions) -> float:
        return sizer(segments, moved, year).som_usd

    base = size(assumptions)
    rows = []
    for name in names:
        item = (ranges.get(name) if ranges is not None else None) or _relative(assumptions, name, delta)
        low_value, low = _set(assumptions, name, item.low)
        high_value, high = _set(assumptions, name, item.high)
        som_low, som_high = size(low), size(high)
        rows.append({
            "assumption": name, "label": ASSUMPTION_LABELS[name],
            "base_value": float(getattr(assumptions, name)), "low_value": low_value, "high_value": high_value,
            "som_low_usd": som_low, "som_high_usd": som_high,
            "som_base_usd": base, "swing_usd": abs(som_high - som_low),
            "range_kind": item.kind, "range_source": item.source,
        })
    frame = pd.DataFrame(rows)
    # Ties (equal factors of a product) are compared to the cent, so float noise cannot reorder them.
    order = frame.assign(_cents=frame["swing_usd"].round(2)).sort_values(
        ["_cents", "label"], ascending=[False, True], kind="stable").index
    return frame.loc[order].reset_index(drop=True)
