"""Market sizing: TAM/SAM/SOM top-down and bottom-up, sensitivity, 5-year projection, competitors.

Every figure is annual revenue in USD.

Top-down (from the whole market down to you):
    TAM = sum over all segments of companies x ACV           every company that could buy, at its contract value
    SAM = sum over served segments of companies x adoption x ACV
          (served = the regions, industries and sizes you sell to; adoption = share that buys an AI
          support tool within the horizon)
    SOM = SAM x obtainable share

Bottom-up (from your go-to-market capacity up):
    reachable accounts = served companies x reach rate    (or a fixed number of accounts a year, spread
                                                           over served segments by company count)
    SAM = reachable accounts x ACV                         the revenue your sales and marketing can reach
    SOM = reachable accounts x win rate x ACV
    (TAM is the same as top-down.)

Pure functions over DataFrames; the two loaders read the workspace through `analytics.db`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from analytics.db import Workspace, quote_ident, read_sql, validate_name
from analytics.errors import AssumptionError, InvalidNameError, MappingError, MarketError

log = logging.getLogger(__name__)

SEGMENT_COLUMNS = ("region", "industry", "company_size", "companies", "adoption_rate", "acv_usd", "growth_rate")
"""Canonical columns of `load_segments`."""
COMPETITOR_COLUMNS = ("name", "price_per_seat_usd", "capability_score", "funding_usd_m", "launch_year",
                      "capability_per_usd", "is_us")
"""Canonical columns of `competitor_positioning`."""

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

_NUMERIC_TYPE = re.compile(r"^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|FLOAT|DOUBLE|REAL|DECIMAL(\(.*\))?)$")


# -- column mappings ---------------------------------------------------------------------------------------
def _check_identifier(value: str | None, role: str, optional: bool) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value.strip():
        raise MappingError(f"pick a column for {role}; it is empty")


@dataclass(frozen=True)
class SegmentMapping:
    """Which columns of which table play the roles of the `market_segments` columns."""

    table: str = "market_segments"
    """Source table in the workspace."""
    region: str | None = "region"
    """Region column; None treats the table as one region ('(blank)')."""
    industry: str | None = "industry"
    """Industry column; None treats the table as one industry."""
    company_size: str | None = "company_size"
    """Company-size column (e.g. SMB / Mid-market / Enterprise); None treats the table as one size."""
    companies: str = "companies"
    """Numeric: number of companies in the segment."""
    adoption_rate: str = "adoption_rate"
    """Numeric, 0..1: share of those companies that buys an AI support tool within the horizon."""
    acv_usd: str = "acv_usd"
    """Numeric: average annual contract value per company, USD."""
    growth_rate: str | None = "growth_rate"
    """Numeric: yearly growth of the number of companies (0.2 = +20 %/yr); None means no growth."""

    def __post_init__(self) -> None:
        try:
            validate_name(self.table)
        except InvalidNameError as e:
            raise MappingError(f"segment table: {e}") from e
        for role in ("region", "industry", "company_size", "growth_rate"):
            _check_identifier(getattr(self, role), role, optional=True)
        for role in ("companies", "adoption_rate", "acv_usd"):
            _check_identifier(getattr(self, role), role, optional=False)

    def roles(self) -> dict[str, str | None]:
        """Canonical column -> source column (None = not mapped)."""
        return {role: getattr(self, role) for role in SEGMENT_COLUMNS}


@dataclass(frozen=True)
class CompetitorMapping:
    """Which columns of which table play the roles of the `competitors` columns."""

    table: str = "competitors"
    """Source table in the workspace."""
    name: str = "name"
    """Product or company name."""
    price_per_seat_usd: str = "price_per_seat_usd"
    """Numeric: list price per seat per month, USD."""
    capability: tuple[str, ...] = ("capability_score",)
    """Numeric capability column(s), e.g. 0..10 scores; several are averaged into capability_score."""
    funding_usd_m: str | None = "funding_usd_m"
    """Numeric: total funding in millions of USD (bubble size); None draws equal bubbles."""
    launch_year: str | None = "launch_year"
    """Numeric: year the product launched; None leaves it blank."""

    def __post_init__(self) -> None:
        try:
            validate_name(self.table)
        except InvalidNameError as e:
            raise MappingError(f"competitor table: {e}") from e
        caps = (self.capability,) if isinstance(self.capability, str) else tuple(self.capability)
        object.__setattr__(self, "capability", caps)
        if not caps:
            raise MappingError("pick at least one capability column (several are averaged)")
        if len(set(caps)) != len(caps):
            raise MappingError(f"capability columns repeat: {', '.join(caps)}; pick each column once")
        for role in ("name", "price_per_seat_usd", *(f"capability #{i + 1}" for i in range(len(caps)))):
            value = caps[int(role.split("#")[1]) - 1] if "#" in role else getattr(self, role)
            _check_identifier(value, role, optional=False)
        for role in ("funding_usd_m", "launch_year"):
            _check_identifier(getattr(self, role), role, optional=True)


def _table_columns(ws: Workspace, table: str) -> dict[str, str]:
    if table not in ws.table_names():
        raise MappingError(f"no table {table!r} in the workspace; tables are: {', '.join(ws.table_names())}")
    cols = ws.columns(table)
    return dict(zip(cols["column_name"], cols["data_type"], strict=True))


def check_columns(ws: Workspace, table: str, roles: dict[str, str | None], numeric: set[str]) -> None:
    """Raise MappingError listing every mapped column that is missing, or not numeric where it must be."""
    available = _table_columns(ws, table)
    listing = ", ".join(f"{name} ({kind})" for name, kind in available.items())
    problems = []
    for role, column in roles.items():
        if column is None:
            continue
        if column not in available:
            problems.append(f"column {column!r} for {role} is not in table {table!r}")
        elif role.split(" #")[0] in numeric and not _NUMERIC_TYPE.match(available[column].upper()):
            problems.append(f"column {column!r} for {role} is {available[column]}, not a number")
    if problems:
        raise MappingError("; ".join(problems) + f". Columns of {table!r} are: {listing}")


def _projection(table: str, columns: dict[str, str], defaults: dict[str, str]) -> str:
    """`(select "src" as role, ... from "table")`; identifiers are checked against the table's columns first."""
    parts = [f"{columns[role]} as {role}" if role in columns else f"{defaults[role]} as {role}"
             for role in (*columns, *(r for r in defaults if r not in columns))]
    return f"(select {', '.join(parts)} from {quote_ident(table)})"


# -- loading ---------------------------------------------------------------------------------------------
def load_segments(ws: Workspace, mapping: SegmentMapping | None = None) -> pd.DataFrame:
    """Market segments with the canonical columns SEGMENT_COLUMNS, from the sample table or a mapped one.

    Raises:
        MappingError: the table or a column is missing or not numeric, or values are out of range
            (e.g. adoption given in percent).
    """
    mapping = mapping or SegmentMapping()
    roles = mapping.roles()
    check_columns(ws, mapping.table, roles, {"companies", "adoption_rate", "acv_usd", "growth_rate"})
    mapped = {role: quote_ident(col) for role, col in roles.items() if col is not None}
    defaults = {"region": "null", "industry": "null", "company_size": "null", "growth_rate": "0.0"}
    sql = read_sql("market_segments").replace("{source}", _projection(mapping.table, mapped, defaults))
    frame = ws.sql(sql, label="market_segments")
    _check_segment_values(frame, mapping)
    return frame


def _check_segment_values(frame: pd.DataFrame, mapping: SegmentMapping) -> None:
    if frame.empty:
        raise MappingError(f"table {mapping.table!r} has no rows; import segments first")
    problems = []
    for role in ("companies", "adoption_rate", "acv_usd", "growth_rate"):
        missing = int(frame[role].isna().sum())
        if missing:
            problems.append(f"{missing} rows have no {role} (column {getattr(mapping, role)!r}); fill them in")
    checks = (
        ("companies", frame["companies"] < 0, "must not be negative"),
        ("adoption_rate", (frame["adoption_rate"] < 0) | (frame["adoption_rate"] > 1),
         "must be a share between 0 and 1 (0.25 = 25 %); divide percentages by 100"),
        ("acv_usd", frame["acv_usd"] < 0, "must not be negative"),
        ("growth_rate", frame["growth_rate"] < -1, "must be at least -1 (-100 %); 0.2 means +20 %/yr"),
    )
    for role, bad, rule in checks:
        count = int(bad.fillna(False).sum())
        if count:
            worst = frame.loc[bad.fillna(False), role].iloc[0]
            problems.append(f"{role} (column {getattr(mapping, role)!r}) {rule}: {count} rows, e.g. {worst:g}")
    if problems:
        raise MappingError(f"table {mapping.table!r}: " + "; ".join(problems))


def competitor_positioning(ws: Workspace, mapping: CompetitorMapping | None = None,
                           our_name: str | None = None) -> pd.DataFrame:
    """Competitors with COMPETITOR_COLUMNS, most capable first (ties by name).

    capability_score is the mean of the mapped capability columns; capability_per_usd is that score per
    USD of monthly seat price (value for money; null for free products); is_us marks `our_name`, or when
    it is None a name ending in '(us)'.

    Raises:
        MappingError: the table or a column is missing or not numeric, or prices are missing/negative.
    """
    mapping = mapping or CompetitorMapping()
    roles: dict[str, str | None] = {
        "name": mapping.name, "price_per_seat_usd": mapping.price_per_seat_usd,
        **{f"capability #{i + 1}": col for i, col in enumerate(mapping.capability)},
        "funding_usd_m": mapping.funding_usd_m, "launch_year": mapping.launch_year,
    }
    check_columns(ws, mapping.table, roles, {"price_per_seat_usd", "capability", "funding_usd_m", "launch_year"})
    caps = [quote_ident(c) for c in mapping.capability]
    mapped = {"name": quote_ident(mapping.name), "price_per_seat_usd": quote_ident(mapping.price_per_seat_usd),
              "capability_score": f"(({' + '.join(caps)}) / {len(caps)}.0)"}
    for role in ("funding_usd_m", "launch_year"):
        if getattr(mapping, role) is not None:
            mapped[role] = quote_ident(getattr(mapping, role))
    defaults = {"funding_usd_m": "null", "launch_year": "null"}
    sql = read_sql("market_competitors").replace("{source}", _projection(mapping.table, mapped, defaults))
    frame = ws.sql(sql, {"our_name": our_name}, label="market_competitors")
    _check_competitor_values(frame, mapping)
    return frame


def _check_competitor_values(frame: pd.DataFrame, mapping: CompetitorMapping) -> None:
    if frame.empty:
        raise MappingError(f"table {mapping.table!r} has no rows; import competitors first")
    problems = []
    for role in ("name", "price_per_seat_usd", "capability_score"):
        missing = int(frame[role].isna().sum())
        if missing:
            problems.append(f"{missing} rows have no {role}; fill them in")
    negative = int((frame["price_per_seat_usd"] < 0).fillna(False).sum())
    if negative:
        problems.append(f"{negative} rows have a negative price_per_seat_usd")
    if problems:
        raise MappingError(f"table {mapping.table!r}: " + "; ".join(problems))


# -- assumptions and sizing ------------------------------------------------------------------------------
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
    adoption = segments["adoption_rate"].to_numpy(dtype=float) * a.adoption_multiplier + a.adoption_gain_per_year * year
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


# -- sensitivity ----------------------------------------------------------------------------------------
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

    def size(a: MarketAssumptions) -> float:
        return sizer(segments, a, year).som_usd

    base = size(assumptions)
    rows = []
    for name in names:
        low_value, low = _moved(assumptions, name, 1.0 - delta)
        high_value, high = _moved(assumptions, name, 1.0 + delta)
        som_low, som_high = size(low), size(high)
        rows.append({
            "assumption": name, "label": ASSUMPTION_LABELS[name], "base_value": float(getattr(assumptions, name)),
            "low_value": low_value, "high_value": high_value, "som_low_usd": som_low, "som_high_usd": som_high,
            "som_base_usd": base, "swing_usd": abs(som_high - som_low),
        })
    frame = pd.DataFrame(rows)
    # Ties (equal factors of a product) are compared to the cent, so float noise cannot reorder them.
    order = frame.assign(_cents=frame["swing_usd"].round(2)).sort_values(
        ["_cents", "label"], ascending=[False, True], kind="stable").index
    return frame.loc[order].reset_index(drop=True)


# -- projection -------------------------------------------------------------------------------------------
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


# -- everything the page shows, in one call -----------------------------------------------------------------
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


# -- formatting --------------------------------------------------------------------------------------------
def format_usd(value_usd: float) -> str:
    """Compact dollars for KPI cards: $4.49B, $933M, $46.7M, $850K, $950."""
    sign, v = ("-" if value_usd < 0 else ""), abs(float(value_usd))
    units = ((1e12, "T", 2), (1e9, "B", 2), (1e6, "M", 1), (1e3, "K", 0), (1.0, "", 0))
    for (scale, suffix, digits), (lower, _, lower_digits) in zip(units, units[1:], strict=False):
        # Promote when the smaller unit would print 1,000 or more (999.96M -> $1.00B).
        if v >= scale or round(v / lower, lower_digits) >= 1000:
            shown = v / scale
            if suffix == "M" and round(shown, 1) >= 100:
                digits = 0  # $933M, not $933.4M: a KPI card on a projector has room for ~6 characters
            return f"{sign}${shown:,.{digits}f}{suffix}"
    return f"{sign}${v:,.0f}"


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
