"""The one dollar formatter (analytics.money.format_usd): the rules users expect, one row per rule."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from analytics.money import (
    MISSING,
    format_count,
    format_duration,
    format_flops,
    format_ms,
    format_number,
    format_percent,
    format_spread,
    format_usd,
    format_usd_per_requests,
    usd_per_requests_unit,
)


@pytest.mark.parametrize("value, text", [
    # below a cent: significant digits, never $0.00000 and never e-notation
    (0.0012, "$0.0012"), (0.00002, "$0.00002"), (1.834e-05, "$0.0000183"), (1e-9, "$0.000000001"),
    # cents
    (0.12, "$0.12"), (0.1, "$0.10"), (1.5, "$1.50"), (12.3, "$12.30"),
    # whole dollars stay whole
    (12, "$12"), (950, "$950"), (123.456, "$123"), (99.95, "$100"),
    # thousands and up: three significant digits, no trailing zeros, lowercase k
    (1200, "$1.2k"), (850_000, "$850k"), (999.5, "$1k"), (1234.5, "$1.23k"),
    (3.4e6, "$3.4M"), (46_672_644.9, "$46.7M"), (933_450_000, "$933M"), (999_960_000, "$1B"),
    (1.1e9, "$1.1B"), (4_488_599_140, "$4.49B"), (1.2e12, "$1.2T"), (2.5e15, "$2,500T"),
    # sign and zero
    (-2_500_000, "-$2.5M"), (-0.0012, "-$0.0012"), (0, "$0"), (-0.0, "$0"),
    # numpy scalars are numbers too
    (np.float64(1200.0), "$1.2k"), (np.int64(12), "$12"),
])
def test_format_usd(value, text) -> None:
    assert format_usd(value) == text


@pytest.mark.parametrize("value", [None, math.nan, math.inf, -math.inf, np.nan, "not a number"])
def test_missing_amounts_are_a_dash(value) -> None:
    assert format_usd(value) == MISSING == "–"


def test_digits() -> None:
    assert format_usd(0.00001834, digits=2) == "$0.000018"
    assert format_usd(4_488_599_140, digits=2) == "$4.5B"
    with pytest.raises(ValueError, match="at least 1"):
        format_usd(1.0, digits=0)


# ---- the other numbers on screen: one row per rule --------------------------------------------------

E_NOTATION = re.compile(r"\d[eE][+-]?\d")

FORMATTERS = {
    "format_usd": format_usd, "format_count": format_count,
    "format_count_compact": lambda v: format_count(v, compact=True), "format_number": format_number,
    "format_flops": format_flops, "format_duration": format_duration, "format_ms": format_ms,
    "format_percent": format_percent, "format_spread": format_spread,
    "format_usd_per_requests": format_usd_per_requests,
}
MAGNITUDES = [sign * mantissa * 10.0**exponent for exponent in range(-9, 16) for mantissa in (1, 1.234, 9.996)
              for sign in (1, -1)]


@pytest.mark.parametrize("name", sorted(FORMATTERS))
def test_no_e_notation_from_a_billionth_to_a_quadrillion(name) -> None:
    formatter = FORMATTERS[name]
    texts = {value: formatter(value) for value in MAGNITUDES}
    bad = {value: text for value, text in texts.items() if E_NOTATION.search(text)}
    assert not bad, bad
    reads_zero = {value: text for value, text in texts.items() if not re.search(r"[1-9]", text)}
    assert not reads_zero, reads_zero  # '$0.00000' or '0%' for an amount that is not zero
    assert all(text != MISSING for text in texts.values())


@pytest.mark.parametrize("name", sorted(FORMATTERS))
def test_every_formatter_shows_missing_as_a_dash(name) -> None:
    for value in (None, math.nan, math.inf, "n/a"):
        assert FORMATTERS[name](value) == MISSING


@pytest.mark.parametrize("value, text", [
    (1_054_751, "1,054,751"), (12.6, "13"), (0, "0"), (-2500, "-2,500"), (0.25, "0.25"), (np.int64(7), "7"),
])
def test_format_count(value, text) -> None:
    assert format_count(value) == text


@pytest.mark.parametrize("value, text", [
    (1_054_751, "1.05M"), (12_345, "12.3k"), (950, "950"), (999_960, "1M"), (3.2e9, "3.2B"), (-4200, "-4.2k"),
])
def test_format_count_compact(value, text) -> None:
    assert format_count(value, compact=True) == text


@pytest.mark.parametrize("value, text", [
    (0.00012, "0.00012"), (0.5, "0.5"), (12.34, "12.3"), (1234, "1,230"), (1_234_567, "1,230,000"),
    (-3.456, "-3.46"), (0, "0"),
])
def test_format_number(value, text) -> None:
    assert format_number(value) == text


@pytest.mark.parametrize("value, text", [
    (2.1e21, "2.1 sextillion FLOPs"), (2_139_427_500_000_000_000_000, "2.1 sextillion FLOPs"),
    (3.5e14, "350 trillion FLOPs"), (1e15, "1 quadrillion FLOPs"), (950, "950 FLOPs"), (0, "0 FLOPs"),
    (4.56e9, "4.6 billion FLOPs"), (2e36, "2,000 decillion FLOPs"),
])
def test_format_flops_in_words(value, text) -> None:
    assert format_flops(value) == text


@pytest.mark.parametrize("seconds, text", [
    (0.45, "450 ms"), (0.0123, "12 ms"), (0.0015, "1.5 ms"), (0.000012, "0.012 ms"), (0.9996, "1 s"),
    (1.5, "1.5 s"), (12.3, "12 s"), (59.7, "1 min"), (200, "3 min 20 s"), (120, "2 min"), (3599.8, "1 h"),
    (9000, "2.5 h"), (3.2 * 86400, "3.2 days"), (1.5 * 365.25 * 86400, "1.5 years"), (0, "0 s"),
    (-200, "-3 min 20 s"),
])
def test_format_duration(seconds, text) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("milliseconds, text", [(12.4, "12 ms"), (0.8, "0.8 ms"), (1200, "1.2 s")])
def test_format_ms(milliseconds, text) -> None:
    assert format_ms(milliseconds) == text


@pytest.mark.parametrize("fraction, kwargs, text", [
    (0.882, {}, "88.2%"), (1.0, {}, "100%"), (0.5, {}, "50%"), (0.00004, {}, "0.004%"), (0, {}, "0%"),
    (-0.031, {}, "-3.1%"), (0.031, {"signed": True}, "+3.1%"), (0.8823, {"digits": 2}, "88.23%"),
    (0.8829, {"digits": 0}, "88%"), (12.5, {}, "1,250%"), (0.97, {"fixed": True}, "97.0%"),
    (1.0, {"fixed": True, "digits": 2}, "100.00%"), (0.00004, {"fixed": True}, "0.004%"),
])
def test_format_percent(fraction, kwargs, text) -> None:
    assert format_percent(fraction, **kwargs) == text


@pytest.mark.parametrize("fraction, text", [(0.04, "±4%"), (0.123, "±12%"), (0.005, "±0.5%"), (-0.04, "±4%")])
def test_format_spread(fraction, text) -> None:
    assert format_spread(fraction) == text


def test_unit_cost_per_1k_while_it_reads_a_cent_else_per_1m() -> None:
    assert usd_per_requests_unit([0.0012, 0.00005]) == (1000, "per 1k requests")  # $0.05 per 1k
    assert usd_per_requests_unit([3.36e-06, 0.0012]) == (1_000_000, "per 1M requests")  # $0.0034 per 1k
    assert usd_per_requests_unit([None, math.nan, 0.0]) == (1000, "per 1k requests")
    assert format_usd_per_requests(3.36e-06) == "$3.36 per 1M requests"
    assert format_usd_per_requests(0.0012) == "$1.20 per 1k requests"
    assert format_usd_per_requests(0.0012, requests=1_000_000) == "$1.2k per 1M requests"
    assert format_usd_per_requests(0.01, requests=100) == "$1 per 100 requests"


@pytest.mark.parametrize("formatter", [format_count, format_number, format_flops, format_duration])
def test_digits_below_one_are_refused(formatter) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        formatter(1.0, digits=0)
