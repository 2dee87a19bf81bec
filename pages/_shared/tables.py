"""Tables for st.dataframe whose dollar columns read like the rest of the app ($0.0012, $1.2k, $3.4M).

Streamlit's printf formats cannot follow analytics.money's rules ($%.5f shows $0.00000), so dollar columns
are written by `format_usd` through a pandas Styler: the cells keep their numbers, so sorting a column still
sorts by amount.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from analytics.money import format_usd

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler


def _plain(value: Any) -> str:
    """Other numbers as Streamlit shows them by default: up to four decimals, no trailing zeros."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return ""
    if number == int(number) and abs(number) < 1e15:
        return f"{int(number):,}"
    return f"{number:,.4f}".rstrip("0").rstrip(".")


def _dollars(unit_usd: float) -> Callable[[Any], str]:
    def show(value: Any) -> str:
        try:
            return format_usd(float(value) * unit_usd)
        except (TypeError, ValueError):
            return format_usd(None)
    return show


def money_table(frame: pd.DataFrame, money: Mapping[str, float] | Iterable[str]) -> Styler:
    """`frame` for st.dataframe with its dollar columns written by analytics.money.format_usd.

    Args:
        frame: the table to show.
        money: the dollar columns, or column -> dollars per unit (1e6 for a column in millions of USD).
    Columns that st.dataframe's column_config gives a format keep that format; other numbers show up to
    four decimals, missing values as blank cells.
    """
    units = dict(money) if isinstance(money, Mapping) else dict.fromkeys(money, 1.0)
    others = [c for c in frame.columns if c not in units]
    plain = {c: _plain for c in others if pd.api.types.is_float_dtype(frame[c])}
    styler = frame.style.format(plain, subset=others, na_rep="")
    dollars = {c: _dollars(unit) for c, unit in units.items() if c in frame.columns}
    if dollars:
        styler = styler.format(dollars, subset=list(dollars))  # a missing amount shows as a dash
    return styler
