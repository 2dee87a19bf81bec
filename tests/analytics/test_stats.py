"""The one Wilson interval (statsmodels), shared by evaluation and Compare."""

from __future__ import annotations

import math

import pytest

from analytics.compute.stats import wilson_interval


def test_hand_computed() -> None:
    # 8 of 10, z = 1.96: centre (0.8 + 0.19208) / 1.38416 = 0.716827, half 0.226... -> [0.4902, 0.9433]
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4901624, abs=1e-6)
    assert hi == pytest.approx(0.9433178, abs=1e-6)
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0)
    assert wilson_interval(0, 10)[0] == pytest.approx(0.0)


def test_a_rate_times_n_equals_the_count() -> None:
    assert wilson_interval(0.7 * 500, 500) == pytest.approx(wilson_interval(350, 500))


def test_no_examples_no_interval() -> None:
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
