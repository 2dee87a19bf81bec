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

from analytics.compute.compare.leaderboard import plus_minus, short_name
from analytics.money import (
    MISSING,
    format_count,
    format_ms,
    format_number,
    format_percent,
    format_spread,
    format_usd,
)

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


# -- the Compare leaderboard --------------------------------------------------------------------------

FRONTIER_MARK = "★ "
"""Prefixed to a candidate on the cost-accuracy frontier."""


def _ci_text(low: float, high: float) -> str:
    if not (math.isfinite(low) and math.isfinite(high)):
        return MISSING
    return f"{format_percent(low, fixed=True).rstrip('%')}–{format_percent(high, fixed=True)}"


def _latency_text(p50_ms: float, spread: float, unreliable: str) -> str:
    """'12 ms ±4%'; a '⚠' after it when the measurement is to be repeated (the reason is in the
    re-measure list)."""
    if not math.isfinite(p50_ms):
        return MISSING
    text = format_ms(p50_ms)
    text = f"{text} {format_spread(plus_minus(spread))}" if math.isfinite(spread) else text
    return f"{text} ⚠" if unreliable else text


CANDIDATE_CHARACTERS = 32
"""Longest candidate name in the compact leaderboard (leaderboard.short_name); the full name is in the
detail and provenance tables."""
WIDTHS = {"candidate": 240, "accuracy": 72, "95% CI": 96, "p50": 104, "unit": 82, "month": 82, "total": 82}
"""Column widths in px: 758 in all, inside the ~790 px main column at 1280x720 with the sidebar open."""


def leaderboard_frame(board: Any) -> tuple[Styler, dict[str, Any]]:
    """The Compare leaderboard for st.dataframe at 1280 px: seven columns (candidate, accuracy, its 95%
    interval, p50 latency with its spread, $ in the board's unit, $ a month at the user's volume, the
    horizon's total); (styled table, column_config). Dollars through format_usd, the rest through
    analytics.money; money and accuracy cells keep their numbers, so those columns still sort."""
    import streamlit as st

    table = board.table
    requests, unit = board.unit
    months = board.settings.months
    per_unit = f"$ {unit.removeprefix('per ')}".replace(" requests", "")
    total = f"{months} months"
    frame = pd.DataFrame({
        "candidate": [(FRONTIER_MARK if f else "") + short_name(str(c), CANDIDATE_CHARACTERS) for c, f
                      in zip(table["candidate"], table["on_frontier"], strict=True)],
        "accuracy": table["accuracy"].astype(float) * 100,
        "95% CI": [_ci_text(lo, hi) for lo, hi in zip(table["accuracy_ci_low"].astype(float),
                                                       table["accuracy_ci_high"].astype(float), strict=True)],
        "p50": [_latency_text(p, s, str(n or "")) for p, s, n
                in zip(table["p50_ms"].astype(float), table["p50_spread"].astype(float),
                       table["measure_note"], strict=True)],
        per_unit: table["cost_per_1k_usd"].astype(float) / 1000.0 * requests,
        "$ a month": table["monthly_usd"].astype(float),
        total: table["total_usd"].astype(float),
    })
    styled = money_table(frame, [per_unit, "$ a month", total])
    volume = format_count(board.settings.requests_per_month)
    config = {
        "candidate": st.column_config.TextColumn("candidate", width=WIDTHS["candidate"], pinned=True,
                                                 help="★ on the cost-accuracy frontier"),
        "accuracy": st.column_config.NumberColumn("accuracy", format="%.1f%%", width=WIDTHS["accuracy"]),
        "95% CI": st.column_config.TextColumn("95% CI", width=WIDTHS["95% CI"]),
        "p50": st.column_config.TextColumn("p50", width=WIDTHS["p50"],
                                           help="single-request median latency, ± the spread of its repeats; "
                                                "⚠: measured while the machine was busy, see the list above"),
        per_unit: st.column_config.NumberColumn(per_unit, width=WIDTHS["unit"], help=f"cost {unit}"),
        "$ a month": st.column_config.NumberColumn("$ a month", width=WIDTHS["month"],
                                                   help=f"running cost at {volume} requests a month"),
        total: st.column_config.NumberColumn(total, width=WIDTHS["total"],
                                             help=f"training + {months} months running at {volume} a month"),
    }
    return styled, config


def detail_frame(board: Any) -> pd.DataFrame:
    """Every leaderboard figure the compact table leaves out, as text (macro-F1, p95, throughput,
    training $, hardware and price)."""
    table = board.table
    return pd.DataFrame({
        "candidate": table["candidate"],
        "macro-F1": [format_number(v) for v in table["macro_f1"].astype(float)],
        "p95": [format_ms(v) for v in table["p95_ms"].astype(float)],
        "throughput": [MISSING if not math.isfinite(v) else f"{format_number(v)}/s"
                       for v in table["throughput_per_s"].astype(float)],
        "training $": [format_usd(v) for v in table["training_usd"].astype(float)],
        "hardware / price": table["price_label"].fillna(table["hardware"]).fillna(MISSING),
        "test texts": [format_count(v) for v in table["n_eval"]],
    })
