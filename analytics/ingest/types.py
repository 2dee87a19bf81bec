"""Column types of imported cells: text inferred as BIGINT, DOUBLE, BOOLEAN, DATE or TIMESTAMP when every
value fits, other values normalised to the nullable dtypes DuckDB takes, and the DuckDB type each column gets.

Imports only numpy and pandas, so the sniffing layer (and through it the model engine) can use the patterns.
"""

from __future__ import annotations

import datetime as dt
import json
import numbers
from typing import Any

import numpy as np
import pandas as pd

NULL_TOKENS = frozenset({"", "na", "n/a", "null", "none", "nan"})
"""Cell texts read as missing in typed (non-text) columns, compared lower-case."""
NUMBER_RE = r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?"
"""A decimal number, optionally with an exponent ('-1.5e3')."""
DATE_RE = r"\d{4}-\d{2}-\d{2}"
"""An ISO date ('2025-03-01')."""
TIMESTAMP_RE = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?"
"""An ISO timestamp with minutes, optional seconds and fraction ('2025-03-01T10:00:05.5')."""

_INT_RE = r"[+-]?\d{1,18}"
_LEADING_ZERO_RE = r"[+-]?0\d+"


def typed_frame(columns: list[pd.Series], names: list[str],
                warnings: list[str] | None = None) -> pd.DataFrame:
    """`columns` under `names`, each in its inferred or normalised dtype; notes on values turned into text
    are appended to `warnings`."""
    typed = {}
    for name, series in zip(names, columns, strict=True):
        typed[name], note = _normalize(series.reset_index(drop=True))
        if note and warnings is not None:
            warnings.append(f"column {name!r}: {note}")
    return pd.DataFrame(typed)


def _normalize(series: pd.Series) -> tuple[pd.Series, str | None]:
    """A column in a DuckDB-friendly nullable dtype, and a note when values were turned into text."""
    kind = series.dtype.kind
    if kind == "b":
        return series.astype("boolean"), None
    if kind in "iu":
        return series.astype("Int64"), None
    if kind == "f":
        return series.astype("Float64"), None
    if kind == "M":
        return series, None
    if isinstance(series.dtype, pd.StringDtype):
        return _infer_text(series), None
    return _normalize_objects(series)


def _normalize_objects(series: pd.Series) -> tuple[pd.Series, str | None]:
    values = series.dropna()
    values = values[[not (isinstance(v, float) and np.isnan(v)) for v in values]]
    if values.empty or all(isinstance(v, str) for v in values):
        return _infer_text(series.astype("string")), None
    if all(isinstance(v, (bool, np.bool_)) for v in values):
        return series.astype("boolean"), None
    if all(isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)) for v in values):
        return series.astype("Int64"), None
    if all(isinstance(v, numbers.Number) and not isinstance(v, (bool, np.bool_)) for v in values):
        return series.astype("Float64"), None
    if all(isinstance(v, (dt.datetime, pd.Timestamp)) for v in values):
        return pd.to_datetime(series), None
    if all(isinstance(v, dt.date) for v in values):
        return series.map(lambda v: v if isinstance(v, dt.date) else None).astype(object), None
    if any(isinstance(v, (dict, list, tuple, np.ndarray)) for v in values):
        return series.map(_json_text).astype("string"), "nested values were stored as JSON text"
    as_text = series.map(lambda v: None if _missing(v) else str(v)).astype("string")
    return as_text, "mixed types were stored as text"


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


def _json_text(value: Any) -> str | None:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    return None if _missing(value) else json.dumps(value, default=str, ensure_ascii=False)


def _infer_text(series: pd.Series) -> pd.Series:
    """Text cells as BIGINT, DOUBLE, BOOLEAN, DATE or TIMESTAMP when every non-missing value fits; else
    text."""
    text = series.astype("string")
    stripped = text.str.strip()
    missing = stripped.isna() | stripped.str.lower().isin(NULL_TOKENS)
    values = stripped[~missing]
    if values.empty:
        return text.mask(stripped.fillna("") == "")
    typed = _as_type(values)
    if typed is None:
        return text.mask(stripped.fillna("") == "")
    result = pd.Series(pd.array([None] * len(text), dtype=typed.dtype), index=text.index)
    result[~missing] = typed
    return result


def _as_type(values: pd.Series) -> pd.Series | None:
    """`values` (stripped, none missing) as one typed column, or None when they are text."""
    if values.str.fullmatch(r"[+-]?\d+").all():
        # Leading zeros (zip codes, ids) and integers beyond BIGINT stay text.
        if values.str.fullmatch(_LEADING_ZERO_RE).any() or not values.str.fullmatch(_INT_RE).all():
            return None
        return _cast(values, "Int64")
    if values.str.fullmatch(NUMBER_RE).all():
        return _cast(values, "Float64")
    lowered = values.str.lower()
    if lowered.isin(["true", "false"]).all():
        return (lowered == "true").astype("boolean")
    if values.str.fullmatch(DATE_RE).all():
        parsed = pd.to_datetime(values, format="%Y-%m-%d", errors="coerce")
        return None if parsed.isna().any() else parsed.dt.date.astype(object)
    if values.str.fullmatch(TIMESTAMP_RE).all():
        parsed = pd.to_datetime(values.str.replace("T", " "), format="ISO8601", errors="coerce")
        return None if parsed.isna().any() else parsed
    return None


def _cast(values: pd.Series, dtype: str) -> pd.Series:
    try:
        return values.astype(dtype)  # Arrow's cast: fast
    except (ValueError, TypeError):
        return pd.to_numeric(values).astype(dtype)


def read_decimal_commas(frame: pd.DataFrame) -> list[str]:
    """Text columns like '2,5' (in a file not delimited by commas) are numbers written with a decimal comma:
    converted in `frame` in place. Returns one warning per column converted."""
    warnings = []
    for name in frame.columns:
        series = frame[name]
        if not isinstance(series.dtype, pd.StringDtype):
            continue
        values = series.dropna().str.strip()
        if (values.empty or not values.str.fullmatch(r"[+-]?\d+(,\d+)?").all()
                or not values.str.contains(",", regex=False).any()):
            continue
        frame[name] = _cast(series.str.strip().str.replace(",", ".", regex=False), "Float64")
        warnings.append(f"column {name!r}: decimal commas (2,5) were read as numbers (2.5)")
    return warnings


def duck_type(series: pd.Series) -> str:
    """The DuckDB type a column of this dtype (and these values) gets."""
    dtype = series.dtype
    if isinstance(dtype, pd.StringDtype):
        return "VARCHAR"
    if dtype.kind == "b" or str(dtype) == "boolean":
        return "BOOLEAN"
    if dtype.kind in "iu":
        return "BIGINT"
    if dtype.kind == "f":
        return "DOUBLE"
    if dtype.kind == "M":
        return "TIMESTAMP WITH TIME ZONE" if getattr(dtype, "tz", None) else "TIMESTAMP"
    values = series.dropna()
    if len(values) and all(isinstance(v, dt.date) and not isinstance(v, dt.datetime) for v in values):
        return "DATE"
    return "VARCHAR"


__all__ = ["DATE_RE", "NULL_TOKENS", "NUMBER_RE", "TIMESTAMP_RE", "duck_type", "read_decimal_commas",
           "typed_frame"]
