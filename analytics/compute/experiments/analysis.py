"""Reading a finished (or running) two-variant conversion test: conversion per variant with 95% CIs, the
absolute and relative lift with their CIs, the two-proportion z-test, a sample-ratio-mismatch check against
the planned split, a warning about peeking before the planned sample, and the verdict in one sentence.

All statistics are statsmodels' or scipy's: `proportions_ztest` (pooled standard error),
`confint_proportions_2indep` (difference: Newcombe's score interval; ratio: log-adjusted),
`proportion_confint` (Wilson) and `scipy.stats.chisquare`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import pandas as pd
from scipy.stats import chisquare
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint, proportions_ztest

from analytics.compute.experiments.errors import ExperimentInputError
from analytics.compute.experiments.source import Source, daily_units, prepare_units
from analytics.db import Workspace
from analytics.money import format_count, format_p_value, format_percent, format_points

SRM_ALPHA = 0.001
"""p-value of the chi-square test below which the split is called a sample-ratio mismatch (the usual
threshold: an SRM check runs on every experiment, so it must rarely fire by chance)."""
CONFIDENCE = 0.95
"""Confidence level of every interval shown."""


@dataclass(frozen=True)
class AnalysisPlan:
    """What an analysis compares and against which plan."""

    control: str
    """Variant value of the control (the current experience)."""
    treatment: str
    """Variant value of the treatment (the change tested)."""
    treatment_share: float = 0.5
    """Planned share of units in the treatment, in (0, 1): the sample-ratio check's expectation."""
    planned_control_units: int | None = None
    """Units the design asked for in the control (None: no plan, no peeking check)."""
    alpha: float = 0.05
    """Significance level of the two-sided test."""
    start: date | None = None
    """First assignment day analysed (inclusive); None = from the first."""
    end: date | None = None
    """Last assignment day analysed (inclusive); None = to the last."""

    def __post_init__(self) -> None:
        if not 0 < self.treatment_share < 1:
            raise ExperimentInputError(f"the planned treatment share must be between 0 and 1 (exclusive), "
                                       f"got {self.treatment_share!r}; 0.5 is an even split")
        if not 0 < self.alpha < 1:
            raise ExperimentInputError(f"alpha must be between 0 and 1 (exclusive), got {self.alpha!r}")
        if self.planned_control_units is not None and self.planned_control_units < 1:
            raise ExperimentInputError(f"the planned units per variant must be at least 1, got "
                                       f"{self.planned_control_units}; leave it empty when there is no plan")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ExperimentInputError(f"dates out of order: the end {self.end} is before the start "
                                       f"{self.start}; pick an end on or after the start")

    @property
    def planned_treatment_units(self) -> int | None:
        """Units the design asked for in the treatment (control x share / (1 - share), rounded up)."""
        if self.planned_control_units is None:
            return None
        ratio = self.treatment_share / (1 - self.treatment_share)
        return math.ceil(self.planned_control_units * ratio - 1e-9)


@dataclass(frozen=True)
class ExperimentResult:
    """Everything the Analysis tab shows."""

    variants: pd.DataFrame
    """role (control / treatment), variant, units, conversions, rate, ci_low, ci_high (Wilson 95%),
    first_assigned, last_assigned; control first."""
    plan: AnalysisPlan
    """What was compared."""
    absolute_lift: float
    """Treatment rate - control rate (share points)."""
    absolute_ci: tuple[float, float]
    """95% CI of the difference (Newcombe)."""
    relative_lift: float | None
    """Treatment rate / control rate - 1 (None when the control never converted)."""
    relative_ci: tuple[float, float] | None
    """95% CI of the relative lift (ratio CI, log-adjusted, minus 1)."""
    z: float
    """Two-proportion z statistic (pooled standard error)."""
    p_value: float
    """Two-sided p-value of the z-test."""
    srm_p_value: float
    """Chi-square p-value of the observed split against the planned treatment share."""
    daily_units: pd.DataFrame
    """day, units: assignments per day."""
    source: str
    """Where the units come from (table, experiment id)."""
    other_variants: tuple[str, ...]
    """Variants in the data that are neither control nor treatment (left out)."""

    @property
    def significant(self) -> bool:
        """p-value below alpha."""
        return self.p_value < self.plan.alpha

    @property
    def sample_ratio_mismatch(self) -> bool:
        """The split differs from the plan beyond chance (srm_p_value < SRM_ALPHA)."""
        return self.srm_p_value < SRM_ALPHA

    @property
    def observed_treatment_share(self) -> float:
        """Share of the compared units in the treatment."""
        units = self.variants.set_index("role")["units"]
        return float(units["treatment"] / units.sum())

    @property
    def planned_reached(self) -> bool | None:
        """Both variants have their planned units (None without a plan)."""
        if self.plan.planned_control_units is None:
            return None
        units = self.variants.set_index("role")["units"]
        return bool(units["control"] >= self.plan.planned_control_units
                    and units["treatment"] >= (self.plan.planned_treatment_units or 0))

    def warnings(self) -> list[str]:
        """Plain warnings a founder must read before acting (sample ratio, peeking, left-out variants)."""
        out = []
        if self.sample_ratio_mismatch:
            out.append(
                f"Sample ratio mismatch: {format_percent(self.observed_treatment_share)} of units are in the "
                f"treatment, the plan was {format_percent(self.plan.treatment_share)} (chi-square p = "
                f"{format_p_value(self.srm_p_value)}). Assignment or logging is broken somewhere; fix that "
                f"before trusting any result.")
        if self.planned_reached is False:
            units = self.variants.set_index("role")["units"]
            out.append(
                f"Peeking: the plan needs {format_count(self.plan.planned_control_units)} units in the "
                f"control and {format_count(self.plan.planned_treatment_units)} in the treatment; there are "
                f"{format_count(units['control'])} and {format_count(units['treatment'])} so far. Reading "
                f"the p-value before the planned sample (and stopping when it looks good) makes false wins "
                f"far more likely than {format_percent(self.plan.alpha)}: let the test run to its plan.")
        if self.other_variants:
            out.append(f"Left out: variant(s) {', '.join(map(repr, self.other_variants))} (only "
                       f"{self.plan.control!r} and {self.plan.treatment!r} are compared).")
        return out

    def verdict(self) -> str:
        """The result in one plain sentence."""
        rates = self.variants.set_index("role")["rate"]
        c, t = self.plan.control, self.plan.treatment
        low, high = (format_points(x).removesuffix(" points") for x in self.absolute_ci)
        numbers = (f"{format_percent(rates['treatment'])} vs {format_percent(rates['control'])}, "
                   f"{format_points(self.absolute_lift)} (95% CI {low} to {high} points), "
                   f"p = {format_p_value(self.p_value)}")
        if self.sample_ratio_mismatch:
            return (f"Do not act on this test yet: its split is off plan, so the comparison of {t!r} with "
                    f"{c!r} ({numbers}) cannot be trusted.")
        early = " (but the planned sample is not reached yet)" if self.planned_reached is False else ""
        if not self.significant:
            return (f"No clear difference between {t!r} and {c!r}{early}: {numbers}; the true effect could "
                    f"be as small as zero or either way.")
        better = "converts better" if self.absolute_lift > 0 else "converts worse"
        return (f"{t!r} {better} than {c!r}{early}: {numbers}; a difference this large is unlikely to be "
                f"chance at the {format_percent(1 - self.plan.alpha)} level.")


def analyse(ws: Workspace, source: Source, plan: AnalysisPlan) -> ExperimentResult:
    """Analyse `source` (an experiment id of experiment_assignments, or a mapped table) under `plan`.

    Raises:
        ExperimentInputError: the data cannot be analysed (see `prepare_units`), only one variant, the
            control and treatment are the same, or one of them has no units in the window.
    """
    where = prepare_units(ws, source, plan.start, plan.end)
    counts = ws.query("experiment_variants")
    present = list(counts["variant"])
    if len(present) == 1:
        raise ExperimentInputError(
            f"{where} holds one variant only ({present[0]!r}); an experiment compares two: map the column "
            f"that holds the variant, or add the other variant's units")
    if plan.control == plan.treatment:
        raise ExperimentInputError(f"control and treatment are both {plan.control!r}; pick two different "
                                   f"variants (present: {', '.join(map(repr, present))})")
    for role, name in (("control", plan.control), ("treatment", plan.treatment)):
        if name not in present:
            raise ExperimentInputError(
                f"the {role} variant {name!r} has no units in {where}"
                f"{_window_text(plan)}; variants with units: {', '.join(map(repr, present))}. Pick one of "
                f"them or widen the dates")
    table = _variant_table(counts, plan)
    others = tuple(v for v in present if v not in (plan.control, plan.treatment))
    return _result(table, plan, ws, where, others)


def _window_text(plan: AnalysisPlan) -> str:
    if plan.start is None and plan.end is None:
        return ""
    return f" between {plan.start or 'the first day'} and {plan.end or 'the last day'}"


def _variant_table(counts: pd.DataFrame, plan: AnalysisPlan) -> pd.DataFrame:
    """Control and treatment rows with role and Wilson CIs."""
    rows = counts.set_index("variant").loc[[plan.control, plan.treatment]].reset_index()
    rows.insert(0, "role", ["control", "treatment"])
    low, high = proportion_confint(rows["conversions"], rows["units"], alpha=1 - CONFIDENCE, method="wilson")
    rows.insert(rows.columns.get_loc("rate") + 1, "ci_low", list(map(float, low)))
    rows.insert(rows.columns.get_loc("ci_low") + 1, "ci_high", list(map(float, high)))
    return rows


def _result(table: pd.DataFrame, plan: AnalysisPlan, ws: Workspace, where: str,
            others: tuple[str, ...]) -> ExperimentResult:
    c_conv, t_conv = (int(v) for v in table["conversions"])
    c_n, t_n = (int(v) for v in table["units"])
    z, p = proportions_ztest([t_conv, c_conv], [t_n, c_n], alternative="two-sided")
    diff_ci = confint_proportions_2indep(t_conv, t_n, c_conv, c_n, compare="diff", alpha=1 - CONFIDENCE)
    rel, rel_ci = None, None
    if c_conv > 0:
        rel = (t_conv / t_n) / (c_conv / c_n) - 1
        ratio_ci = confint_proportions_2indep(t_conv, t_n, c_conv, c_n, compare="ratio", alpha=1 - CONFIDENCE)
        rel_ci = (float(ratio_ci[0]) - 1, float(ratio_ci[1]) - 1)
    total = c_n + t_n
    srm = chisquare([c_n, t_n], f_exp=[total * (1 - plan.treatment_share), total * plan.treatment_share])
    return ExperimentResult(
        variants=table, plan=plan, absolute_lift=t_conv / t_n - c_conv / c_n,
        absolute_ci=(float(diff_ci[0]), float(diff_ci[1])), relative_lift=rel, relative_ci=rel_ci,
        z=_finite(z), p_value=_finite(p, 1.0), srm_p_value=float(srm.pvalue), daily_units=daily_units(ws),
        source=where, other_variants=others)


def _finite(value: float, fallback: float = 0.0) -> float:
    """statsmodels returns NaN when both variants convert always or never (zero variance): no evidence."""
    number = float(value)
    return number if math.isfinite(number) else fallback
