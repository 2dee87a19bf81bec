"""The market over the next years: companies grow, adoption rises, ACV stays."""

from __future__ import annotations

import pandas as pd

from analytics.compute.market.sizing import MarketAssumptions, bottom_up, top_down
from analytics.errors import AssumptionError


def project(segments: pd.DataFrame, assumptions: MarketAssumptions, years: int = 5) -> pd.DataFrame:
    """Year 0 (today) to `years`: companies grow by each segment's growth_rate, compounded
    (companies x (1 + g)^t), adoption rises by adoption_gain_per_year (capped at 1), ACV stays.

    Returns columns year, companies, tam_usd, sam_usd, som_usd (top-down), som_bottom_up_usd.
    """
    if not 1 <= years <= 30:
        raise AssumptionError(f"years must be between 1 and 30, got {years}")
    rows = []
    for year in range(years + 1):
        down, up = top_down(segments, assumptions, year), bottom_up(segments, assumptions, year)
        rows.append({"year": year, "companies": down.served_companies, "tam_usd": down.tam_usd,
                     "sam_usd": down.sam_usd, "som_usd": down.som_usd, "som_bottom_up_usd": up.som_usd})
    return pd.DataFrame(rows)
