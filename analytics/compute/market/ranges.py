"""Low/high ranges of the sizing inputs for the tornado: each input carries its own range and says where it
came from.

SOM is a product of its inputs, so moving every input by the same ±20 % moves SOM by the same amount for
each: a tornado of equal bars that ranks nothing. Each input therefore gets its own range:

- from the data (`kind='data'`): ACV, adoption and growth scale a column of the segments table, so their
  range is that column's spread across the served segments. The statistic: each segment's value divided by
  the median of its company size (SMB ACV is not compared with Enterprise ACV), then the 25th and 75th
  percentiles of those ratios (the middle half of the segments), times the current multiplier.
- typed by the user (`kind='typed'`) with a note of where it comes from ("analyst range, Gartner 2026").
- otherwise assumed (`kind='assumed'`): ±20 % of the current value, said as such, for the inputs the
  workspace holds no data on (obtainable share, reach, win rate, reachable accounts, adoption gain).

Values are in the assumptions' own units: shares 0..1, multipliers, accounts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.compute.market.sizing import MarketAssumptions, served_mask
from analytics.errors import AssumptionError

ASSUMED_DELTA = 0.2
"""Relative half-width of an assumed range (0.2 = ±20 %)."""
PERCENTILES = (25.0, 75.0)
"""Percentiles of the data's spread that make a data range (the interquartile range)."""
MIN_SEGMENTS = 4
"""Fewest served segments with a value whose spread counts as data; fewer falls back to the assumed range."""
NO_SOURCE = "yours (no source given)"
"""Source shown for a typed range whose note was left empty."""
KIND_LEGEND = ("data = the middle half (P25–P75) of the served segments' values, each against the median of "
               "its company size; typed = your range and its source; assumed = ±20 % where the workspace "
               "holds no data on the input")
"""What the three kinds of range mean, for captions."""

DATA_COLUMNS = {"acv_multiplier": "acv_usd", "adoption_multiplier": "adoption_rate",
                "growth_multiplier": "growth_rate"}
"""Inputs that scale a column of the segments table, and that column."""

BOUNDS = {"obtainable_share": (0.0, 1.0), "reach_rate": (0.0, 1.0), "win_rate": (0.0, 1.0),
          "acv_multiplier": (1e-9, 10.0), "adoption_multiplier": (0.0, 10.0),
          "reachable_accounts": (0.0, float("inf")), "growth_multiplier": (0.0, 10.0),
          "adoption_gain_per_year": (0.0, 1.0)}
"""Valid values of each input (MarketAssumptions' checks)."""

UNITS = {"obtainable_share": "%", "reach_rate": "%", "win_rate": "%", "adoption_gain_per_year": "points",
         "acv_multiplier": "×", "adoption_multiplier": "×", "growth_multiplier": "×",
         "reachable_accounts": "accounts"}
"""How each input is typed on the page: percent (shares x 100), percentage points, a multiplier, accounts."""

_KINDS = ("data", "typed", "assumed")


@dataclass(frozen=True)
class InputRange:
    """One input's low and high value for the tornado, and where they come from."""

    low: float
    """Low value, in the input's units (a share 0..1, a multiplier, accounts)."""
    high: float
    """High value, at least `low`."""
    source: str
    """Where the range comes from, shown next to it ("P25–P75 of ACV across 72 segments", "Gartner 2026")."""
    kind: str = "typed"
    """'data' (the workspace's spread), 'typed' (by the user) or 'assumed' (±20 %, no data)."""

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise AssumptionError(f"a range's kind is one of {', '.join(_KINDS)}, got {self.kind!r}")
        for name in ("low", "high"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise AssumptionError(f"a range's {name} must be a finite number, got {value!r}")
        if self.low > self.high:
            raise AssumptionError(
                f"a range's low ({self.low:g}) is above its high ({self.high:g}); swap them")
        if not self.source.strip():
            raise AssumptionError(
                "say where a range comes from (a source note such as 'analyst range, 2026')")

    @property
    def tag(self) -> str:
        """One word for chart labels: 'data', 'typed' or 'assumed'."""
        return self.kind


@dataclass(frozen=True)
class InputRanges:
    """The range of every input the tornado varies (hashable: a cache key)."""

    ranges: tuple[tuple[str, InputRange], ...] = ()
    """(assumption name, its range) pairs."""

    def __post_init__(self) -> None:
        unknown = [name for name, _ in self.ranges if name not in BOUNDS]
        if unknown:
            raise AssumptionError(f"no input named {', '.join(unknown)}; inputs are {', '.join(BOUNDS)}")
        for name, item in self.ranges:
            low, high = BOUNDS[name]
            if item.low < low or item.high > high:
                raise AssumptionError(
                    f"the range of {name} must lie within {_shown(name, low)} and {_shown(name, high)}, "
                    f"got {_shown(name, item.low)} – {_shown(name, item.high)}")

    def get(self, name: str) -> InputRange | None:
        """The range of `name`, or None."""
        return dict(self.ranges).get(name)

    def names(self) -> tuple[str, ...]:
        """Inputs with a range, in order."""
        return tuple(name for name, _ in self.ranges)


def _shown(name: str, value: float) -> str:
    if UNITS[name] in ("%", "points"):
        return f"{value * 100:g} %"
    return f"{value:g}"


def _assumed(name: str, base: float) -> InputRange:
    low_bound, high_bound = BOUNDS[name]
    low = float(np.clip(base * (1 - ASSUMED_DELTA), low_bound, high_bound))
    high = float(np.clip(base * (1 + ASSUMED_DELTA), low_bound, high_bound))
    if name == "reachable_accounts":
        low, high = float(round(low)), float(round(high))
    return InputRange(low, high, f"assumed ±{ASSUMED_DELTA:.0%} (no data; type a range)", "assumed")


def spread_ratios(segments: pd.DataFrame, column: str, mask: pd.Series | None = None) -> np.ndarray:
    """Each served segment's `column` divided by the median of its company size (segments with a zero or
    missing median are left out)."""
    frame = segments if mask is None else segments[mask]
    values = frame[column].astype(float)
    medians = values.groupby(frame["company_size"]).transform("median")
    ok = values.notna() & medians.notna() & (medians != 0)
    return (values[ok] / medians[ok]).to_numpy(dtype=float)


def data_range(segments: pd.DataFrame, assumptions: MarketAssumptions, name: str) -> InputRange | None:
    """The range of `name` from the data's spread (module docstring), or None when the data cannot say
    (not a data input, fewer than MIN_SEGMENTS served segments, or no spread at all)."""
    column = DATA_COLUMNS.get(name)
    if column is None:
        return None
    ratios = spread_ratios(segments, column, served_mask(segments, assumptions))
    if ratios.size < MIN_SEGMENTS:
        return None
    low_ratio, high_ratio = (float(v) for v in np.percentile(ratios, PERCENTILES))
    if math.isclose(low_ratio, high_ratio):
        return None
    base = float(getattr(assumptions, name))
    low_bound, high_bound = BOUNDS[name]
    low = float(np.clip(base * low_ratio, low_bound, high_bound))
    high = float(np.clip(base * high_ratio, low_bound, high_bound))
    p_low, p_high = (f"P{p:g}" for p in PERCENTILES)
    source = f"data: {p_low}–{p_high} of {column}, {ratios.size} segments vs. size median"
    return InputRange(low, high, source, "data")


def default_ranges(segments: pd.DataFrame, assumptions: MarketAssumptions,
                   names: Iterable[str] = tuple(BOUNDS)) -> InputRanges:
    """Every input's default range: from the data's spread where the segments hold it, else assumed ±20 %."""
    pairs = []
    for name in names:
        base = getattr(assumptions, name)
        if name == "reachable_accounts" and base is None:
            continue
        pairs.append((name, data_range(segments, assumptions, name) or _assumed(name, float(base))))
    return InputRanges(tuple(pairs))


def with_typed(defaults: InputRanges, typed: Mapping[str, tuple[float, float, str]]) -> InputRanges:
    """`defaults` with the user's typed ranges (name -> (low, high, source note)) in their place; an empty
    note reads NO_SOURCE. Raises AssumptionError for a range out of order or out of bounds."""
    pairs = []
    for name, item in defaults.ranges:
        if name in typed:
            low, high, source = typed[name]
            item = InputRange(float(low), float(high), (source or "").strip() or NO_SOURCE, "typed")
        pairs.append((name, item))
    return InputRanges(tuple(pairs))


# -- the page's table of ranges (typed in display units) --------------------------------------------------
def _to_display(name: str, value: float) -> float:
    return value * 100 if UNITS[name] in ("%", "points") else value


def _from_display(name: str, value: float) -> float:
    return value / 100 if UNITS[name] in ("%", "points") else value


def ranges_table(ranges: InputRanges, labels: Mapping[str, str], names: Iterable[str]) -> pd.DataFrame:
    """The ranges of `names` as an editable table: input (name), label, unit, low, high (display units:
    percent for shares), source."""
    rows = []
    for name in names:
        item = ranges.get(name)
        if item is None:
            continue
        rows.append({"input": name, "label": labels.get(name, name), "unit": UNITS[name],
                     "low": round(_to_display(name, item.low), 4),
                     "high": round(_to_display(name, item.high), 4),
                     "source": item.source})
    return pd.DataFrame(rows, columns=["input", "label", "unit", "low", "high", "source"])


def typed_from_table(edited: pd.DataFrame, defaults: InputRanges) -> dict[str, tuple[float, float, str]]:
    """The rows of an edited `ranges_table` that differ from `defaults` (a low, high or source changed), as
    name -> (low, high, source) in the inputs' units. A changed number with the default's source untouched
    gets NO_SOURCE: the default's note no longer describes it."""
    typed = {}
    for row in edited.itertuples(index=False):
        default = defaults.get(row.input)
        if default is None:
            continue
        try:
            low, high = _from_display(row.input, float(row.low)), _from_display(row.input, float(row.high))
        except (TypeError, ValueError) as e:
            raise AssumptionError(f"the range of {row.label} needs a number in low and high") from e
        if math.isnan(low) or math.isnan(high):
            raise AssumptionError(f"the range of {row.label} needs a number in low and high")
        source = str(row.source or "").strip()
        moved = not (math.isclose(low, default.low, rel_tol=1e-4, abs_tol=1e-9)
                     and math.isclose(high, default.high, rel_tol=1e-4, abs_tol=1e-9))
        if moved or (source and source != default.source):
            if source == default.source:
                source = NO_SOURCE
            typed[row.input] = (low, high, source)
    return typed
