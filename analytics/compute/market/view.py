"""Everything the Market page shows for one set of inputs, in one call."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analytics.compute.market.projection import project
from analytics.compute.market.sensitivity import sensitivity
from analytics.compute.market.sizing import MarketAssumptions, SizingResult, bottom_up, top_down


@dataclass(frozen=True, eq=False)
class MarketView:
    """Sizing both ways, tornado data for both, and the projection, for one set of inputs."""

    top_down: SizingResult
    """Top-down TAM/SAM/SOM today."""
    bottom_up: SizingResult
    """Bottom-up TAM/SAM/SOM today."""
    sensitivity_top_down: pd.DataFrame
    """`sensitivity(..., method='top_down', year=sensitivity_year)`."""
    sensitivity_bottom_up: pd.DataFrame
    """`sensitivity(..., method='bottom_up', year=sensitivity_year)`."""
    sensitivity_year: int
    """Year whose SOM the sensitivity rows describe."""
    projection: pd.DataFrame
    """`project(..., years)`."""


def market_view(segments: pd.DataFrame, assumptions: MarketAssumptions, sensitivity_year: int = 5,
                years: int = 5, delta: float = 0.2) -> MarketView:
    """All of the Market page's numbers for one set of segments and assumptions."""
    return MarketView(
        top_down=top_down(segments, assumptions),
        bottom_up=bottom_up(segments, assumptions),
        sensitivity_top_down=sensitivity(segments, assumptions, delta, "top_down", sensitivity_year),
        sensitivity_bottom_up=sensitivity(segments, assumptions, delta, "bottom_up", sensitivity_year),
        sensitivity_year=sensitivity_year,
        projection=project(segments, assumptions, years),
    )
