"""Everything the Market page shows for one set of inputs, in one call."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analytics.compute.market.projection import project
from analytics.compute.market.ranges import InputRanges
from analytics.compute.market.sensitivity import sensitivity
from analytics.compute.market.sizing import MarketAssumptions, SizingResult, bottom_up, top_down


@dataclass(frozen=True, eq=False)
class MarketView:
    """Sizing both ways at one year, tornado data for both at that same year, and the projection."""

    top_down: SizingResult
    """Top-down TAM/SAM/SOM at `year`."""
    bottom_up: SizingResult
    """Bottom-up TAM/SAM/SOM at `year`."""
    sensitivity_top_down: pd.DataFrame
    """`sensitivity(..., method='top_down', year=year, ranges=ranges)`."""
    sensitivity_bottom_up: pd.DataFrame
    """`sensitivity(..., method='bottom_up', year=year, ranges=ranges)`."""
    year: int
    """The one year the cards and the tornados describe (0 = today's data)."""
    projection: pd.DataFrame
    """`project(..., years)`."""


def market_view(segments: pd.DataFrame, assumptions: MarketAssumptions, year: int = 0, years: int = 5,
                delta: float = 0.2, ranges: InputRanges | None = None) -> MarketView:
    """All of the Market page's numbers for one set of segments and assumptions, cards and tornados at the
    same `year`; inputs without a range in `ranges` move by ±`delta`."""
    return MarketView(
        top_down=top_down(segments, assumptions, year),
        bottom_up=bottom_up(segments, assumptions, year),
        sensitivity_top_down=sensitivity(segments, assumptions, delta, "top_down", year, ranges),
        sensitivity_bottom_up=sensitivity(segments, assumptions, delta, "bottom_up", year, ranges),
        year=year,
        projection=project(segments, assumptions, years),
    )
