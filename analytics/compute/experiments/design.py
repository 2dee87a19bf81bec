"""Designing an A/B test on a conversion step: units per variant (statsmodels' power calculation on Cohen's h)
and how long the step's daily traffic takes to deliver them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import pandas as pd
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

from analytics.compute.experiments.errors import ExperimentInputError
from analytics.compute.experiments.source import ExperimentMapping, daily_units, prepare_units
from analytics.db import Workspace
from analytics.money import format_percent, format_points

MDE_KINDS = ("absolute", "relative")
"""How a minimum detectable effect is given: 'absolute' in share points (0.04 = +4 percentage points),
'relative' as a share of the baseline (0.10 = +10% of the baseline rate)."""
MAX_UNITS_PER_VARIANT = 1_000_000_000
"""Largest sample the design accepts; a smaller effect needs more units than any product has."""


def _open_unit(name: str, value: float, example: str) -> None:
    """Refuse `value` unless 0 < value < 1."""
    if not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 < value < 1:
        shown = format_percent(value) if isinstance(value, (int, float)) else repr(value)
        raise ExperimentInputError(f"{name} must be above 0% and below 100%, got {shown}; e.g. {example}")


@dataclass(frozen=True)
class DesignInput:
    """What the design of a two-variant conversion test is asked for (two-sided test)."""

    baseline_rate: float
    """Conversion rate of the control today, a share in (0, 1): 0.62 = 62% of units convert."""
    mde: float
    """Minimum detectable effect: the smallest change worth detecting, in the unit `mde_kind` says; may be
    negative (a change that lowers the rate)."""
    mde_kind: str = "absolute"
    """'absolute' (share points: 0.04 = +4 percentage points) or 'relative' (0.10 = +10% of the baseline)."""
    power: float = 0.8
    """Chance of detecting an effect of exactly `mde` when it is real, in (0, 1)."""
    alpha: float = 0.05
    """Significance level of the two-sided test: the false-positive rate when there is no effect."""
    treatment_share: float = 0.5
    """Planned share of the experiment's units that get the treatment, in (0, 1)."""

    def __post_init__(self) -> None:
        _open_unit("baseline rate", self.baseline_rate, "62% converting today (0.62)")
        _open_unit("power", self.power, "80% (0.8)")
        _open_unit("significance level (alpha)", self.alpha, "5% (0.05)")
        _open_unit("treatment share", self.treatment_share, "50% (0.5) for an even split")
        if self.mde_kind not in MDE_KINDS:
            raise ExperimentInputError(f"mde_kind must be one of {', '.join(MDE_KINDS)}, "
                                       f"got {self.mde_kind!r}")
        if not isinstance(self.mde, (int, float)) or not math.isfinite(self.mde) or self.mde == 0:
            raise ExperimentInputError(f"the minimum detectable effect must be a non-zero number, got "
                                       f"{self.mde!r}; e.g. 3 points (0.03) for 62% -> 65%")
        target = self.target_rate
        if not 0 < target < 1:
            raise ExperimentInputError(
                f"a {format_percent(self.baseline_rate)} baseline with a minimum effect of "
                f"{self._mde_text()} gives a target rate of {format_percent(target)}, outside 0%..100%; "
                f"choose a smaller effect "
                f"(between {self._mde_text(self._mde_limit(-1))} and {self._mde_text(self._mde_limit(1))})")

    @property
    def mde_absolute(self) -> float:
        """The effect in share points (target rate - baseline rate)."""
        return self.mde if self.mde_kind == "absolute" else self.mde * self.baseline_rate

    @property
    def target_rate(self) -> float:
        """The treatment's rate if the effect is exactly the MDE."""
        return self.baseline_rate + self.mde_absolute

    def _mde_limit(self, direction: int) -> float:
        """The largest effect upwards (direction 1) or downwards (-1) that keeps the target inside 0..1."""
        room = 1 - self.baseline_rate if direction > 0 else -self.baseline_rate
        return room if self.mde_kind == "absolute" else room / self.baseline_rate

    def _mde_text(self, mde: float | None = None) -> str:
        value = self.mde if mde is None else mde
        if self.mde_kind == "absolute":
            return format_points(value)
        return f"{format_percent(value, signed=True)} of the baseline"


@dataclass(frozen=True)
class SampleSize:
    """Units the test needs (per variant and in all) for one design."""

    design: DesignInput
    """The inputs."""
    effect_size_h: float
    """Cohen's h of target vs baseline (statsmodels.stats.proportion.proportion_effectsize)."""
    control_units_exact: float
    """statsmodels' NormalIndPower().solve_power answer for the control, before rounding up."""
    control_units: int
    """Units the control needs (rounded up)."""
    treatment_units: int
    """Units the treatment needs (control x treatment_share / (1 - treatment_share), rounded up)."""

    @property
    def total_units(self) -> int:
        """Units of both variants together."""
        return self.control_units + self.treatment_units

    @property
    def per_variant(self) -> int:
        """The larger variant's units (equal to both under an even split)."""
        return max(self.control_units, self.treatment_units)


def sample_size(design: DesignInput) -> SampleSize:
    """Units per variant for a two-sided two-proportion test at the design's power and alpha.

    Uses statsmodels: the effect as Cohen's h (`proportion_effectsize`) and `NormalIndPower().solve_power`
    with ratio = treatment units / control units. No formula is written out here.
    Raises:
        ExperimentInputError: the effect is too small to detect with any realistic sample.
    """
    h = float(proportion_effectsize(design.target_rate, design.baseline_rate))
    ratio = design.treatment_share / (1 - design.treatment_share)
    exact = float(NormalIndPower().solve_power(effect_size=abs(h), nobs1=None, alpha=design.alpha,
                                               power=design.power, ratio=ratio, alternative="two-sided"))
    if not math.isfinite(exact) or exact * (1 + ratio) > MAX_UNITS_PER_VARIANT:
        raise ExperimentInputError(
            f"detecting {design._mde_text()} from a {format_percent(design.baseline_rate)} "
            f"baseline needs more than {MAX_UNITS_PER_VARIANT:,} units; choose a larger minimum "
            f"detectable effect")
    control = math.ceil(exact - 1e-9)
    return SampleSize(design=design, effect_size_h=h, control_units_exact=exact, control_units=control,
                      treatment_units=math.ceil(control * ratio - 1e-9))


@dataclass(frozen=True)
class Traffic:
    """Units entering the experiment's step per day, with where that number comes from."""

    units_per_day: float
    """Mean units per day over the window."""
    days: int
    """Days averaged (0 for a typed number)."""
    first_day: date | None
    """First day of the window (None for a typed number)."""
    last_day: date | None
    """Last day of the window (None for a typed number)."""
    source: str
    """Provenance: "events table: distinct users with a 'signup' event per day, 2026-10-04 to 2026-10-31 (28
    days)", or "your input"."""


def sample_traffic(ws: Workspace, event_type: str = "signup", days: int = 28) -> Traffic:
    """Daily units into the step from the sample `events` table: distinct users with an `event_type` event
    per day over the `days` days ending on the table's last event day (days without one count as 0).

    Raises:
        ExperimentInputError: days < 1, or the events table has no such events in that window.
    """
    if days < 1:
        raise ExperimentInputError(f"average traffic over at least 1 day, got {days}")
    frame = ws.query("experiment_daily_traffic", event_type=event_type, days=int(days))
    if frame.empty or int(frame["units"].sum()) == 0:
        raise ExperimentInputError(
            f"the events table has no '{event_type}' events in its last {days} days; pick another step event "
            f"or type the daily traffic")
    return _traffic(frame, f"events table: distinct users with a '{event_type}' event per day")


def _traffic(frame: pd.DataFrame, what: str) -> Traffic:
    first, last = pd.Timestamp(frame["day"].min()).date(), pd.Timestamp(frame["day"].max()).date()
    return Traffic(units_per_day=float(frame["units"].mean()), days=len(frame), first_day=first,
                   last_day=last, source=f"{what}, {first} to {last} ({len(frame)} days)")


def daily_units_traffic(frame: pd.DataFrame, what: str) -> Traffic:
    """Traffic from a frame of day, units (e.g. experiment_daily_units over an experiment's units).

    Raises:
        ExperimentInputError: the frame holds no units.
    """
    if frame.empty or int(frame["units"].sum()) == 0:
        raise ExperimentInputError(f"{what} has no units per day to average; type the daily traffic instead")
    return _traffic(frame, what)


def typed_traffic(units_per_day: float) -> Traffic:
    """Traffic the user typed.

    Raises:
        ExperimentInputError: not a positive number.
    """
    if not isinstance(units_per_day, (int, float)) or not math.isfinite(units_per_day) or units_per_day <= 0:
        raise ExperimentInputError(f"daily traffic must be a positive number of units per day, got "
                                   f"{units_per_day!r}")
    return Traffic(units_per_day=float(units_per_day), days=0, first_day=None, last_day=None,
                   source="your input")


@dataclass(frozen=True)
class Duration:
    """How long the test runs to reach its sample."""

    days: int
    """Whole days until both variants have their units (rounded up)."""
    units_per_day: float
    """Units entering the test per day (traffic x exposure)."""
    exposure: float
    """Share of the step's traffic put into the test, in (0, 1]."""
    traffic: Traffic
    """The traffic the duration is computed from."""


def duration(size: SampleSize, traffic: Traffic, exposure: float = 1.0) -> Duration:
    """Days to collect `size.total_units` at `traffic` with `exposure` of it in the test.

    Raises:
        ExperimentInputError: exposure outside (0, 1].
    """
    if not isinstance(exposure, (int, float)) or not 0 < exposure <= 1:
        raise ExperimentInputError(f"the share of traffic in the test must be in (0, 1], got {exposure!r}")
    per_day = traffic.units_per_day * exposure
    return Duration(days=math.ceil(size.total_units / per_day - 1e-9), units_per_day=per_day,
                    exposure=float(exposure), traffic=traffic)


def mapped_traffic(ws: Workspace, mapping: ExperimentMapping) -> Traffic:
    """Daily units from a mapped experiment table of the user's: units first assigned per day, from its first
    to its last assignment day (after the same checks as an analysis).

    Raises:
        ExperimentInputError: the mapping or the table's data is refused (see source.prepare_units).
    """
    prepare_units(ws, mapping)
    what = f"table {mapping.table} (your import): units assigned per day"
    return daily_units_traffic(daily_units(ws), what)
