"""Dollar amounts as people read them, in one place: KPI cards, tables, chart ticks and hovers, the memo.

Three significant digits, no trailing zeros after a k/M/B/T suffix, cents written out below $1,000:
$0.0012, $0.12, $1.50, $12, $950, $1.2k, $46.7M, $3.4M, $1.1B, -$2.5M, $0. Never e-notation and never
$0.00000; a dash for a missing amount (None, NaN, infinite).

The other numbers on screen follow the same rules and live here too, so every page, chart and the memo
write them one way: unit costs in the unit that reads (format_usd_per_requests: '$3.40 per 1M requests'),
counts (format_count: '1,054,751' or '1.05M'), plain quantities (format_number), FLOP counts in words
(format_flops: '2.1 sextillion FLOPs'), durations and latencies (format_duration, format_ms: '450 ms',
'3 min 20 s'), shares (format_percent: '88.2%') and spreads (format_spread: '±4%').
"""

from __future__ import annotations

import math
from collections.abc import Iterable

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


PER_REQUEST_UNITS = ((1_000, "per 1k requests"), (1_000_000, "per 1M requests"))
"""Request counts a unit cost is quoted for, smallest first: per 1k while that reads at least a cent."""


def usd_per_requests_unit(costs_per_request_usd: Iterable[float | None]) -> tuple[int, str]:
    """(requests, label) one column of unit costs is shown in: per 1k requests when the cheapest finite,
    non-zero cost per 1k is at least a cent, else per 1M requests ($0.0034 per 1k reads $3.40 per 1M).

    Args:
        costs_per_request_usd: dollars per single request; missing and zero values are ignored.
    """
    finite = [abs(float(v)) for v in costs_per_request_usd if _finite(v) and float(v) != 0]  # type: ignore[arg-type]
    small, large = PER_REQUEST_UNITS
    if finite and min(finite) * small[0] < 0.01:
        return large
    return small


def format_usd_per_requests(cost_per_request_usd: float | None, requests: int | None = None) -> str:
    """'$3.40 per 1M requests': a cost per single request in the unit `usd_per_requests_unit` picks for
    it alone, or per `requests` (1,000 or 1,000,000) when a table already chose one."""
    if not _finite(cost_per_request_usd):
        return MISSING
    if requests is None:
        requests, label = usd_per_requests_unit([cost_per_request_usd])
    else:
        label = dict(PER_REQUEST_UNITS).get(requests, f"per {format_count(requests)} requests")
    return f"{format_usd(float(cost_per_request_usd) * requests)} {label}"  # type: ignore[arg-type]


COUNT_SUFFIXES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))
"""Scale and suffix of compact counts, largest first (1.05M, 12.3k)."""


def format_count(value: float | None, compact: bool = False, digits: int = 3) -> str:
    """A count of things: '1,054,751' (thousands separated, rounded to whole units), or with `compact`
    '1.05M' / '12.3k' / '950' (`digits` significant digits). Fractions below 1 keep their significant
    digits ('0.25'); never e-notation.

    Raises:
        ValueError: digits is below 1.
    """
    if digits < 1:
        raise ValueError(f"digits must be at least 1, got {digits}")
    if not _finite(value):
        return MISSING
    number = float(value)  # type: ignore[arg-type]
    if number == 0:
        return "0"
    sign = "-" if number < 0 else ""
    size = abs(number)
    if size < 1:
        return f"{sign}{_significant(float(f'{size:.{digits - 1}e}'), digits)}"
    if not compact:
        return f"{sign}{round(size):,}"
    rounded = float(f"{size:.{digits - 1}e}")
    for scale, suffix in COUNT_SUFFIXES:
        if rounded >= scale:
            return f"{sign}{_significant(rounded / scale, digits)}{suffix}"
    return f"{sign}{_significant(rounded, digits)}"


def format_number(value: float | None, digits: int = 3) -> str:
    """A plain quantity with `digits` significant digits and thousands separators, never e-notation:
    0.00012, 0.5, 12.3, 1,230, 1,230,000. For counts prefer `format_count`."""
    if digits < 1:
        raise ValueError(f"digits must be at least 1, got {digits}")
    if not _finite(value):
        return MISSING
    number = float(value)  # type: ignore[arg-type]
    if number == 0:
        return "0"
    sign = "-" if number < 0 else ""
    rounded = float(f"{abs(number):.{digits - 1}e}")
    if rounded >= 10 ** digits:
        return f"{sign}{round(rounded):,}"
    return f"{sign}{_significant(rounded, digits)}"


FLOP_WORDS = ((1e33, "decillion"), (1e30, "nonillion"), (1e27, "octillion"), (1e24, "septillion"),
              (1e21, "sextillion"), (1e18, "quintillion"), (1e15, "quadrillion"), (1e12, "trillion"),
              (1e9, "billion"), (1e6, "million"), (1e3, "thousand"))
"""Short-scale number words, largest first: FLOP counts are read as '2.1 sextillion FLOPs'."""


def format_flops(value: float | None, digits: int = 2) -> str:
    """A count of floating-point operations in words a founder can read aloud: '2.1 sextillion FLOPs',
    '350 trillion FLOPs', '950 FLOPs' (no SI prefixes like ZFLOP, no e-notation, no 21-digit integers)."""
    if digits < 1:
        raise ValueError(f"digits must be at least 1, got {digits}")
    if not _finite(value):
        return MISSING
    number = float(value)  # type: ignore[arg-type]
    sign = "-" if number < 0 else ""
    rounded = float(f"{abs(number):.{digits - 1}e}") if number else 0.0
    for scale, word in FLOP_WORDS:
        if rounded >= scale:
            mantissa = rounded / scale
            text = _significant(mantissa, digits) if mantissa < 1000 else f"{round(mantissa):,}"
            return f"{sign}{text} {word} FLOPs"
    return f"{sign}{format_number(rounded, digits) if rounded else '0'} FLOPs"


DURATION_UNITS = ((365.25 * 86400, "years"), (86400, "days"), (3600, "h"), (60, "min"), (1, "s"))
"""Seconds per unit of a duration, largest first."""


def format_duration(seconds: float | None, digits: int = 2) -> str:
    """A duration in the unit that fits: '450 ms', '12 s', '3 min 20 s', '2.5 h', '3.2 days', '1.5 years'.

    Below a second it is milliseconds with `digits` significant digits ('0.012 ms', '1.5 ms', '450 ms');
    from 1 minute to 1 hour minutes and seconds; above, one unit with `digits` significant digits.
    Negative durations carry a minus sign.
    """
    if digits < 1:
        raise ValueError(f"digits must be at least 1, got {digits}")
    if not _finite(seconds):
        return MISSING
    value = float(seconds)  # type: ignore[arg-type]
    sign = "-" if value < 0 else ""
    size = abs(value)
    if size == 0:
        return "0 s"
    if size < 1:
        milliseconds = size * 1000
        text = format_number(milliseconds, digits) if milliseconds < 10 else f"{round(milliseconds):,}"
        return f"{sign}{text} ms" if text != "1,000" else f"{sign}1 s"
    if size < 60:
        text = format_number(size, digits) if size < 10 else f"{round(size)}"
        return f"{sign}{text} s" if text != "60" else f"{sign}1 min"
    if size < 3600:
        minutes, rest = divmod(round(size), 60)
        if minutes == 60:
            return f"{sign}1 h"
        return f"{sign}{minutes} min {rest} s" if rest else f"{sign}{minutes} min"
    for scale, unit in DURATION_UNITS:
        if size >= scale:
            amount = size / scale
            text = format_number(amount, digits) if amount < 10 ** digits else f"{round(amount):,}"
            return f"{sign}{text} {unit}"
    return MISSING  # unreachable: size >= 3600 matches 'h'


def format_ms(milliseconds: float | None, digits: int = 2) -> str:
    """A latency given in milliseconds: '12 ms', '0.8 ms', '1.2 s' (format_duration of ms / 1000)."""
    if not _finite(milliseconds):
        return MISSING
    return format_duration(float(milliseconds) / 1000.0, digits)  # type: ignore[arg-type]


def format_percent(fraction: float | None, digits: int = 1, signed: bool = False, fixed: bool = False) -> str:
    """A fraction as a percentage with `digits` decimals: 0.882 -> '88.2%', 1 -> '100%' (a trailing '.0'
    is dropped unless `fixed`: accuracies in a column read 97.0%, 88.2%), 0.00004 -> '0.004%' (tiny non-zero
    shares keep one significant digit instead of reading 0.0%); `signed` adds '+' to positive values
    (changes: '+3.1%')."""
    if digits < 0:
        raise ValueError(f"digits must be at least 0, got {digits}")
    if not _finite(fraction):
        return MISSING
    percent = float(fraction) * 100.0  # type: ignore[arg-type]
    sign = "-" if percent < 0 else ("+" if signed and percent > 0 else "")
    size = abs(percent)
    if size == 0:
        return "0%"
    if size < 0.5 * 10.0 ** -digits:
        text = _significant(float(f"{size:.0e}"), 1)
    else:
        text = f"{size:,.{digits}f}"
        if "." in text and not fixed:
            text = text.rstrip("0").rstrip(".")
    return f"{sign}{text}%"


def format_spread(fraction: float | None) -> str:
    """A relative spread as '±4%' (whole percent; '±0.5%' below one percent), MISSING when unknown."""
    if not _finite(fraction):
        return MISSING
    size = abs(float(fraction)) * 100.0  # type: ignore[arg-type]
    text = f"{size:,.0f}" if size >= 1 else format_number(size, 1)
    return f"±{text}%"


def _finite(value: object) -> bool:
    """True for a number (int, float, numpy scalar) that is neither NaN nor infinite."""
    try:
        return math.isfinite(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def format_points(fraction: float | None, digits: int = 2, signed: bool = True, unit: str = " points") -> str:
    """A difference of two shares in percentage points: 0.052 -> '+5.2 points', -0.0031 -> '-0.31 points'
    (`digits` significant digits, never e-notation; `signed` adds '+' to positive values; `unit=""` for a
    card whose label names the unit)."""
    if not _finite(fraction):
        return MISSING
    points = float(fraction) * 100.0  # type: ignore[arg-type]
    text = format_number(points, digits)
    if signed and points > 0:
        text = "+" + text
    return f"{text}{unit}"


def format_p_value(p: float | None) -> str:
    """A p-value as people quote it: '0.042', '0.31', '0.0004', and '< 0.0001' below 0.0001 (never 0 or
    e-notation)."""
    if not _finite(p):
        return MISSING
    value = float(p)  # type: ignore[arg-type]
    if value < 0.0001:
        return "< 0.0001"
    return format_number(min(value, 1.0), 2)
