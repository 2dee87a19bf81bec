"""Errors of the experiments package (subclasses of the analytics base, so pages catch AnalyticsError)."""

from __future__ import annotations

from analytics.errors import AnalyticsError


class ExperimentError(AnalyticsError):
    """An experiment cannot be designed or analysed; the message says what to change."""


class ExperimentInputError(ExperimentError, ValueError):
    """A design input, a column mapping or the experiment's data is unusable (one variant only, a variant
    without units, a conversion column that is not 0/1, dates out of order...); nothing was computed."""
