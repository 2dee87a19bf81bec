"""TAM, SAM and SOM of one set of segments and assumptions, top-down and bottom-up (formulas in the package
docstring)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.compute.market.segments import SEGMENT_COLUMNS
from analytics.errors import AssumptionError, MarketError

FORMULAS = {
    "top_down": (
        "TAM = Σ all segments: companies × ACV",
        "SAM = Σ served segments: companies × adoption × ACV",
        "SOM = SAM × obtainable share",
    ),
    "bottom_up": (
        "TAM = Σ all segments: companies × ACV",
        "SAM = reachable accounts × ACV  (reachable = served companies × reach rate)",
        "SOM = reachable accounts × win rate × ACV",
    ),
}
"""The sizing formulas as plain text, per method."""

FORMULAS_LATEX = {
    "top_down": (
        r"\mathrm{TAM} = \sum_{\text{all}} \text{companies} \times \text{ACV}",
        r"\mathrm{SAM} = \sum_{\text{served}} \text{companies} \times \text{adoption} \times \text{ACV}",
        r"\mathrm{SOM} = \mathrm{SAM} \times \text{obtainable share}",
    ),
    "bottom_up": (
        r"\mathrm{TAM} = \sum_{\text{all}} \text{companies} \times \text{ACV}",
        r"\mathrm{SAM} = \text{reachable} \times \text{ACV}",
        r"\mathrm{SOM} = \text{reachable} \times \text{win rate} \times \text{ACV}",
        r"\text{reachable} = \sum_{\text{served}} \text{companies} \times \text{reach}",
    ),
}
"""The sizing formulas as LaTeX (for st.latex), per method."""

ASSUMPTION_HELP = {
    "regions": "Regions you sell to; empty means all.",
    "industries": "Industries you sell to; empty means all.",
    "company_sizes": "Company sizes you sell to; empty means all.",
    "obtainable_share": "Top-down: share of SAM you can win within the horizon.",
    "reach_rate": "Bottom-up: share of served companies your sales and marketing reach in a year.",
    "reachable_accounts": "Bottom-up: a fixed number of accounts you can reach a year (replaces reach rate).",
    "win_rate": "Bottom-up: share of reached accounts that buy.",
    "acv_multiplier": "Your price against the data's ACV (1.2 = 20 % above).",
    "adoption_multiplier": "Scales each segment's adoption rate (capped at 100 %).",
    "adoption_gain_per_year": "Projection: adoption rises by this many points a year.",
    "growth_multiplier": "Projection: scales each segment's yearly growth rate (0 = no growth).",
}
"""Help text per assumption, for widgets."""


@dataclass(frozen=True)
class MarketAssumptions:
    """The editable assumptions behind TAM/SAM/SOM."""

    regions: tuple[str, ...] = ()
    """Regions you serve; empty means all."""
    industries: tuple[str, ...] = ()
    """Industries you serve; empty means all."""
    company_sizes: tuple[str, ...] = ()
    """Company sizes you serve; empty means all."""
    obtainable_share: float = 0.05
    """Top-down: share of SAM you can win within the horizon, 0..1 (SOM = SAM x this)."""
    reach_rate: float = 0.10
    """Bottom-up: share of served companies your sales and marketing reach in a year, 0..1."""
    reachable_accounts: int | None = None
    """Bottom-up: fixed number of accounts you can reach in a year; replaces reach_rate when set
    (capped at the served companies, spread over served segments by company count)."""
    win_rate: float = 0.08
    """Bottom-up: share of reached accounts that buy, 0..1."""
    acv_multiplier: float = 1.0
    """Scales every segment's ACV: your price against the data's (1.2 = 20 % above), above 0, at most 10."""
    adoption_multiplier: float = 1.0
    """Scales every segment's adoption rate (the result is capped at 1), 0..10."""
    adoption_gain_per_year: float = 0.0
    """Projection: adoption rises by this many percentage points a year (0.02 = +2 pp), 0..1, capped at 1."""
    growth_multiplier: float = 1.0
    """Projection: scales every segment's growth rate (0 = no growth, 1 = the data's rates), 0..10."""

    def __post_init__(self) -> None:
        for name in ("regions", "industries", "company_sizes"):
            value = getattr(self, name)
            object.__setattr__(self, name, (value,) if isinstance(value, str) else tuple(value))
        for name in ("obtainable_share", "reach_rate", "win_rate", "adoption_gain_per_year"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise AssumptionError(f"{name} is a share between 0 and 1 (0.05 = 5 %), got {value}")
        if not 0.0 < self.acv_multiplier <= 10.0:
            raise AssumptionError(f"acv_multiplier must be above 0 and at most 10 (1 = data's ACV), "
                                  f"got {self.acv_multiplier}")
        if not 0.0 <= self.growth_multiplier <= 10.0:
            raise AssumptionError(f"growth_multiplier must be between 0 and 10 (1 = data's growth rates), "
                                  f"got {self.growth_multiplier}")
        if not 0.0 <= self.adoption_multiplier <= 10.0:
            raise AssumptionError(f"adoption_multiplier must be between 0 and 10 (1 = data's adoption), "
                                  f"got {self.adoption_multiplier}")
        if self.reachable_accounts is not None and self.reachable_accounts < 0:
            raise AssumptionError(f"reachable_accounts must be 0 or more (or None to use reach_rate), "
                                  f"got {self.reachable_accounts}")


@dataclass(frozen=True)
class SizingResult:
    """TAM, SAM and SOM of one method, annual USD."""

    method: str
    """'top_down' or 'bottom_up'."""
    tam_usd: float
    """All companies x ACV."""
    sam_usd: float
    """Top-down: served companies x adoption x ACV; bottom-up: reachable accounts x ACV."""
    som_usd: float
    """Top-down: SAM x obtainable share; bottom-up: reachable accounts x win rate x ACV."""
    served_companies: float
    """Companies in the served segments."""
    customers: float
    """Accounts behind SOM (top-down: buyers x obtainable share; bottom-up: reachable x win rate)."""

    @property
    def formulas(self) -> tuple[str, ...]:
        """The formulas behind these numbers, as text."""
        return FORMULAS[self.method]


def served_mask(segments: pd.DataFrame, assumptions: MarketAssumptions) -> pd.Series:
    """True for the segments inside the served regions, industries and sizes (empty selection = all)."""
    mask = pd.Series(True, index=segments.index)
    for column, chosen in (("region", assumptions.regions), ("industry", assumptions.industries),
                           ("company_size", assumptions.company_sizes)):
        if chosen:
            mask &= segments[column].isin(list(chosen))
    return mask


@dataclass(frozen=True)
class _Prepared:
    """Per-segment arrays at one year (numpy: pandas overhead dominates on ~100 rows)."""

    companies: np.ndarray
    adoption: np.ndarray
    acv: np.ndarray
    served: np.ndarray


def _prepare(segments: pd.DataFrame, assumptions: MarketAssumptions, year: int = 0) -> _Prepared:
    """Per segment at `year`: companies (grown), adoption (scaled, raised, capped), acv (scaled), served."""
    missing = [c for c in SEGMENT_COLUMNS if c not in segments.columns]
    if missing:
        raise MarketError(f"segments lack columns {', '.join(missing)}; load them with load_segments")
    a = assumptions
    growth = np.maximum(segments["growth_rate"].to_numpy(dtype=float) * a.growth_multiplier, -1.0)
    adoption = (segments["adoption_rate"].to_numpy(dtype=float) * a.adoption_multiplier
                + a.adoption_gain_per_year * year)
    return _Prepared(
        companies=segments["companies"].to_numpy(dtype=float) * (1.0 + growth) ** year,
        adoption=np.minimum(adoption, 1.0),
        acv=segments["acv_usd"].to_numpy(dtype=float) * a.acv_multiplier,
        served=served_mask(segments, a).to_numpy(dtype=bool),
    )


def top_down(segments: pd.DataFrame, assumptions: MarketAssumptions, year: int = 0) -> SizingResult:
    """TAM, SAM (served x adoption) and SOM (SAM x obtainable share) at `year` (0 = today's data)."""
    f = _prepare(segments, assumptions, year)
    companies, adoption, acv = f.companies[f.served], f.adoption[f.served], f.acv[f.served]
    sam = float((companies * adoption * acv).sum())
    return SizingResult(
        method="top_down",
        tam_usd=float((f.companies * f.acv).sum()),
        sam_usd=sam,
        som_usd=sam * assumptions.obtainable_share,
        served_companies=float(companies.sum()),
        customers=float((companies * adoption).sum()) * assumptions.obtainable_share,
    )


def _reachable(companies: np.ndarray, assumptions: MarketAssumptions) -> np.ndarray:
    """Reachable accounts per served segment (a year's sales and marketing capacity)."""
    if assumptions.reachable_accounts is None:
        return companies * assumptions.reach_rate
    total = float(companies.sum())
    if total <= 0:
        return companies * 0.0
    return companies * (min(float(assumptions.reachable_accounts), total) / total)


def bottom_up(segments: pd.DataFrame, assumptions: MarketAssumptions, year: int = 0) -> SizingResult:
    """TAM, SAM (reachable accounts x ACV) and SOM (reachable x win rate x ACV) at `year`."""
    f = _prepare(segments, assumptions, year)
    companies, acv = f.companies[f.served], f.acv[f.served]
    reach = _reachable(companies, assumptions)
    return SizingResult(
        method="bottom_up",
        tam_usd=float((f.companies * f.acv).sum()),
        sam_usd=float((reach * acv).sum()),
        som_usd=float((reach * assumptions.win_rate * acv).sum()),
        served_companies=float(companies.sum()),
        customers=float(reach.sum()) * assumptions.win_rate,
    )
