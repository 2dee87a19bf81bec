"""Statistics shared by the model engine and the analytics layer: one Wilson interval.

A pure leaf module (statsmodels and the standard library only): `models` may import it, as it imports
`analytics.ingest.sniff` and `analytics.settings` (see the import-linter contracts in pyproject.toml).
"""

from __future__ import annotations

import math

from statsmodels.stats.proportion import proportion_confint

CONFIDENCE = 0.95
"""Confidence level of every interval shown: 95%."""


def wilson_interval(successes: float, trials: int) -> tuple[float, float]:
    """95% Wilson score interval (statsmodels) for `successes` out of `trials`; (nan, nan) when
    `trials` is 0.

    `successes` may be fractional (an accuracy times `trials`, when only the rate is known). No examples
    means no interval: NaN, which tables show as a dash and charts leave without error bars.
    """
    if trials <= 0:
        return (math.nan, math.nan)
    low, high = proportion_confint(successes, trials, alpha=1 - CONFIDENCE, method="wilson")
    return (max(0.0, float(low)), min(1.0, float(high)))
