"""Field checks shared by the frozen configs' `__post_init__` (training, churn, endpoint evaluation): each
raises ConfigError naming the field, the allowed range and the value it got."""

from __future__ import annotations

import math

from models.errors import ConfigError


def finite(value: object) -> bool:
    """True for a real int or float that is neither NaN nor infinite (a bool is not a number here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def whole(name: str, value: object, low: int, high: int, *, optional: bool = False) -> None:
    """`value` must be an int from `low` to `high` (or None when `optional`)."""
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        none = " or None" if optional else ""
        raise ConfigError(f"{name} must be a whole number from {low} to {high}{none}, got {value!r}")
