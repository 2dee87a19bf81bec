"""Market segments (region, industry, size, companies, adoption, ACV, growth) from the sample or a mapped
table."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analytics.compute.market.columns import check_columns, check_identifier, select_as
from analytics.db import Workspace, quote_ident, read_sql, validate_name
from analytics.errors import InvalidNameError, MappingError

SEGMENT_COLUMNS = ("region", "industry", "company_size", "companies", "adoption_rate", "acv_usd",
                   "growth_rate")
"""Canonical columns of `load_segments`."""


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
            check_identifier(getattr(self, role), role, optional=True)
        for role in ("companies", "adoption_rate", "acv_usd"):
            check_identifier(getattr(self, role), role, optional=False)

    def roles(self) -> dict[str, str | None]:
        """Canonical column -> source column (None = not mapped)."""
        return {role: getattr(self, role) for role in SEGMENT_COLUMNS}


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
    sql = read_sql("market_segments").replace("{source}", select_as(mapping.table, mapped, defaults))
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
            column = getattr(mapping, role)
            problems.append(f"{missing} rows have no {role} (column {column!r}); fill them in")
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
            column = getattr(mapping, role)
            problems.append(f"{role} (column {column!r}) {rule}: {count} rows, e.g. {worst:g}")
    if problems:
        raise MappingError(f"table {mapping.table!r}: " + "; ".join(problems))
