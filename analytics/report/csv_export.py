"""CSV files the app offers for download, safe to open in a spreadsheet.

A text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is read by Excel, LibreOffice
and Google Sheets as a formula (CSV injection). Following OWASP's advice, such cells get a leading
single quote, so the spreadsheet shows the text as typed. Numbers stay numbers: numeric columns are left
alone, and so is a text cell that is a plain number such as `-12.5`.
"""

from __future__ import annotations

import re

import pandas as pd
from pandas.api.types import is_object_dtype, is_string_dtype

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet evaluate a cell (OWASP CSV injection)."""
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def neutralise_cell(value: object) -> object:
    """`value` with a leading `'` when it is text a spreadsheet would run as a formula; else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text cells (and column names) are safe in a spreadsheet."""
    safe = frame.copy()
    for column in safe.columns:
        series = safe[column]
        if (is_object_dtype(series) or is_string_dtype(series)
                or isinstance(series.dtype, pd.CategoricalDtype)):
            safe[column] = series.astype(object).map(neutralise_cell)
    safe.columns = [neutralise_cell(str(c)) for c in safe.columns]
    return safe


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV of `frame`, header included, no index, with formula-like text cells neutralised."""
    return neutralise(frame).to_csv(index=False).encode("utf-8")
