"""Column mappings onto a workspace table: every mapped column exists and is numeric where it must be."""

from __future__ import annotations

import re

from analytics.db import Workspace, quote_ident
from analytics.errors import MappingError

NUMERIC_TYPE = re.compile(r"^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|FLOAT|DOUBLE|REAL|DECIMAL(\(.*\))?)$")
"""DuckDB type names that count as numbers."""


def check_identifier(value: str | None, role: str, optional: bool) -> None:
    """Raise MappingError when a required role has no column (None is allowed for optional roles)."""
    if value is None and optional:
        return
    if not isinstance(value, str) or not value.strip():
        raise MappingError(f"pick a column for {role}; it is empty")


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
        elif role.split(" #")[0] in numeric and not NUMERIC_TYPE.match(available[column].upper()):
            problems.append(f"column {column!r} for {role} is {available[column]}, not a number")
    if problems:
        raise MappingError("; ".join(problems) + f". Columns of {table!r} are: {listing}")


def select_as(table: str, columns: dict[str, str], defaults: dict[str, str]) -> str:
    """`(select "src" as role, ... from "table")`; check the identifiers against the table's columns
    first (check_columns)."""
    parts = [f"{columns[role]} as {role}" if role in columns else f"{defaults[role]} as {role}"
             for role in (*columns, *(r for r in defaults if r not in columns))]
    return f"(select {', '.join(parts)} from {quote_ident(table)})"
