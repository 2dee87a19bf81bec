"""Competitors (price per seat, capability, funding) from the sample or a mapped table, for positioning."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analytics.compute.market.columns import check_columns, check_identifier, select_as
from analytics.db import Workspace, quote_ident, read_sql, validate_name
from analytics.errors import InvalidNameError, MappingError

COMPETITOR_COLUMNS = ("name", "price_per_seat_usd", "capability_score", "funding_usd_m", "launch_year",
                      "capability_per_usd", "is_us")
"""Canonical columns of `competitor_positioning`."""


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
            check_identifier(value, role, optional=False)
        for role in ("funding_usd_m", "launch_year"):
            check_identifier(getattr(self, role), role, optional=True)


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
    check_columns(ws, mapping.table, roles,
                  {"price_per_seat_usd", "capability", "funding_usd_m", "launch_year"})
    caps = [quote_ident(c) for c in mapping.capability]
    mapped = {"name": quote_ident(mapping.name),
              "price_per_seat_usd": quote_ident(mapping.price_per_seat_usd),
              "capability_score": f"(({' + '.join(caps)}) / {len(caps)}.0)"}
    for role in ("funding_usd_m", "launch_year"):
        if getattr(mapping, role) is not None:
            mapped[role] = quote_ident(getattr(mapping, role))
    defaults = {"funding_usd_m": "null", "launch_year": "null"}
    sql = read_sql("market_competitors").replace("{source}", select_as(mapping.table, mapped, defaults))
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
