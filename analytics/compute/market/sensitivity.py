"""Tornado data: how far SOM moves when each assumption moves by ±20 %."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd

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

_BOUNDS = {"obtainable_share": (0.0, 1.0), "reach_rate": (0.0, 1.0), "win_rate": (0.0, 1.0),
           "acv_multiplier": (1e-9, 10.0), "adoption_multiplier": (0.0, 10.0),
           "reachable_accounts": (0.0, float("inf")), "growth_multiplier": (0.0, 10.0),
           "adoption_gain_per_year": (0.0, 1.0)}


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


def _moved(assumptions: MarketAssumptions, name: str, factor: float) -> tuple[float, MarketAssumptions]:
    low, high = _BOUNDS[name]
    value = float(np.clip(getattr(assumptions, name) * factor, low, high))
    if name == "reachable_accounts":
        value = float(round(value))
        return value, replace(assumptions, reachable_accounts=int(value))
    return value, replace(assumptions, **{name: value})


def sensitivity(segments: pd.DataFrame, assumptions: MarketAssumptions, delta: float = 0.2,
                method: str = "top_down", year: int = 0) -> pd.DataFrame:
    """Tornado data: SOM at `year` when each assumption moves by -delta / +delta (relative, kept in its
    valid range). In a product of factors each factor moves SOM by the same ±delta; growth (compounded)
    and range limits are what break the tie, so look at a later `year` to see them.

    Returns one row per assumption, largest swing first (ties by label): assumption, label, base_value,
    low_value, high_value, som_low_usd, som_high_usd, som_base_usd, swing_usd (= |high - low|).
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
        low_value, low = _moved(assumptions, name, 1.0 - delta)
        high_value, high = _moved(assumptions, name, 1.0 + delta)
        som_low, som_high = size(low), size(high)
        rows.append({
            "assumption": name, "label": ASSUMPTION_LABELS[name],
            "base_value": float(getattr(assumptions, name)), "low_value": low_value, "high_value": high_value,
            "som_low_usd": som_low, "som_high_usd": som_high,
            "som_base_usd": base, "swing_usd": abs(som_high - som_low),
        })
    frame = pd.DataFrame(rows)
    # Ties (equal factors of a product) are compared to the cent, so float noise cannot reorder them.
    order = frame.assign(_cents=frame["swing_usd"].round(2)).sort_values(
        ["_cents", "label"], ascending=[False, True], kind="stable").index
    return frame.loc[order].reset_index(drop=True)
