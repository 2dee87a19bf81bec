"""The one dollar formatter (analytics.money.format_usd): the rules users expect, one row per rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analytics.money import MISSING, format_usd


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
