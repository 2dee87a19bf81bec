"""Dollar amounts as people read them, in one place: KPI cards, tables, chart ticks and hovers, the memo.

Three significant digits, no trailing zeros after a k/M/B/T suffix, cents written out below $1,000:
$0.0012, $0.12, $1.50, $12, $950, $1.2k, $46.7M, $3.4M, $1.1B, -$2.5M, $0. Never e-notation and never
$0.00000; a dash for a missing amount (None, NaN, infinite).
"""

from __future__ import annotations

import math

MISSING = "–"
"""Shown for an amount that is not known (None, NaN or infinite)."""

SUFFIXES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))
"""Scale and suffix for amounts of $1,000 and more, largest first."""


def format_usd(value_usd: float | None, digits: int = 3) -> str:
    """`value_usd` as '$1.2k'-style text.

    Args:
        value_usd: dollars; None, NaN and infinities are shown as MISSING.
        digits: significant digits kept (3 by default: $4.49B, $46.7M, $0.0183).
    Raises:
        ValueError: digits is below 1.
    """
    if digits < 1:
        raise ValueError(f"digits must be at least 1, got {digits}")
    try:
        number = float(value_usd)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return MISSING
    if not math.isfinite(number):
        return MISSING
    if number == 0:
        return "$0"
    sign = "-" if number < 0 else ""
    rounded = float(f"{abs(number):.{digits - 1}e}")  # 999,960 -> 1.00e6, so it reads $1M, not $1000k
    for scale, suffix in SUFFIXES:
        if rounded >= scale:
            return f"{sign}${_significant(rounded / scale, digits)}{suffix}"
    text = _significant(rounded, digits)
    if "." in text and len(text.split(".")[1]) < 2:
        text += "0"  # cents: $1.50, not $1.5
    return f"{sign}${text}"


def _significant(value: float, digits: int) -> str:
    """Positive `value` with `digits` significant digits in fixed notation, trailing zeros dropped."""
    decimals = max(0, digits - 1 - math.floor(math.log10(value)))
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
