"""Experiments against independent calculations: the design's sample size against statsmodels' own power
routes, the analysis against a two-proportion z-test written out by hand, the sample-ratio check against the
chi-square statistic by hand, the peeking warning, the verdicts, and the page's number formats."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pandas as pd
import pytest
from scipy.stats import chi2, norm
from statsmodels.stats.power import NormalIndPower, zt_ind_solve_power
from statsmodels.stats.proportion import proportion_effectsize, samplesize_proportions_2indep_onetail

from analytics.charts.experiments import conversion_chart, daily_units_chart, sample_size_curve
from analytics.compute.experiments.analysis import AnalysisPlan, analyse
from analytics.compute.experiments.design import DesignInput, sample_size
from analytics.db import Workspace
from analytics.money import format_p_value, format_points
from tests.readable import figure_texts, unreadable

CASES = [  # (baseline, absolute MDE, power, alpha): hand-picked, a high, a low and a falling rate
    (0.64, 0.04, 0.80, 0.05),
    (0.10, 0.02, 0.90, 0.05),
    (0.30, -0.05, 0.80, 0.01),
]


@pytest.mark.parametrize(("baseline", "mde", "power", "alpha"), CASES)
def test_sample_size_agrees_with_statsmodels_power_routes(baseline, mde, power, alpha):
    size = sample_size(DesignInput(baseline_rate=baseline, mde=mde, power=power, alpha=alpha))
    h = proportion_effectsize(baseline + mde, baseline)
    direct = NormalIndPower().solve_power(effect_size=abs(h), alpha=alpha, power=power, ratio=1.0,
                                          alternative="two-sided")
    assert size.control_units == size.treatment_units == math.ceil(direct)
    assert zt_ind_solve_power(effect_size=abs(h), alpha=alpha, power=power, ratio=1.0,
                              alternative="two-sided") == pytest.approx(direct, rel=1e-9)
    # an independent route (normal approximation on the rates, not arcsine): within 1%
    other = samplesize_proportions_2indep_onetail(mde, baseline, power, ratio=1.0, alpha=alpha,
                                                  alternative="two-sided")
    assert size.control_units == pytest.approx(other, rel=0.01)
    # the rounded-up sample reaches the power, one unit fewer does not
    reached = NormalIndPower().power(effect_size=abs(h), nobs1=size.control_units, alpha=alpha, ratio=1.0)
    short = NormalIndPower().power(effect_size=abs(h), nobs1=size.control_units - 1, alpha=alpha, ratio=1.0)
    assert short < power <= reached


def test_uneven_split_sizes_the_treatment_by_the_ratio():
    size = sample_size(DesignInput(baseline_rate=0.2, mde=0.03, treatment_share=0.25))
    direct = NormalIndPower().solve_power(effect_size=abs(proportion_effectsize(0.23, 0.2)), alpha=0.05,
                                          power=0.8, ratio=1 / 3)
    assert size.control_units == math.ceil(direct)
    assert size.treatment_units == math.ceil(size.control_units / 3)


def _units(control: tuple[int, int], treatment: tuple[int, int]) -> pd.DataFrame:
    """(units, conversions) per variant as experiment_assignments rows, one unit per minute."""
    rows, start = [], datetime(2026, 5, 1)
    for variant, (n, k) in (("control", control), ("new", treatment)):
        for i in range(n):
            at = start + timedelta(minutes=len(rows))
            rows.append(("synthetic", len(rows) + 1, variant, at, int(i < k), at + timedelta(hours=1) if i < k
                         else None, False))
    frame = pd.DataFrame(rows, columns=["experiment", "user_id", "variant", "assigned_at", "converted",
                                        "converted_at", "is_sample"])
    frame["converted_at"] = pd.to_datetime(frame["converted_at"])
    return frame


@pytest.fixture(scope="module")
def sws(tmp_path_factory: pytest.TempPathFactory):
    """Experiments 'synthetic' (1,000 vs 1,000 units, 600 vs 660 conversions) and 'skewed' (1,100 vs 900)."""
    ws = Workspace.open(tmp_path_factory.mktemp("stats") / "s.duckdb", seed_demo=False)
    with ws.transaction() as tx:
        tx.insert_frame("experiment_assignments", _units((1000, 600), (1000, 660)))
        tx.insert_frame("experiment_assignments", _units((1100, 550), (900, 450)).assign(experiment="skewed"))
    yield ws
    ws.close()


def test_analysis_matches_a_hand_computed_two_proportion_z_test(sws):
    result = analyse(sws, "synthetic", AnalysisPlan(control="control", treatment="new",
                                                     planned_control_units=1000))
    p1, p2, n1, n2 = 660 / 1000, 600 / 1000, 1000, 1000
    pooled = (660 + 600) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))  # pooled standard error, written out
    z = (p1 - p2) / se
    assert result.z == pytest.approx(z, rel=1e-12)
    assert result.p_value == pytest.approx(2 * norm.sf(abs(z)), rel=1e-9)
    assert result.absolute_lift == pytest.approx(0.06, abs=1e-12)
    assert result.relative_lift == pytest.approx(0.10, abs=1e-12)
    low, high = result.absolute_ci
    assert low < 0.06 < high and low > 0  # significant at 5%: the CI excludes zero
    assert result.relative_ci[0] < 0.10 < result.relative_ci[1]
    assert list(result.variants["units"]) == [1000, 1000]
    assert list(result.variants["conversions"]) == [600, 660]
    assert result.significant and not result.sample_ratio_mismatch and result.planned_reached
    assert result.warnings() == []
    assert result.verdict().startswith("'new' converts better than 'control': 66% vs 60%, +6 points (95% CI ")
    assert f"p = {format_p_value(result.p_value)}" in result.verdict()


def test_sample_ratio_mismatch_against_a_hand_computed_chi_square(sws):
    result = analyse(sws, "skewed", AnalysisPlan(control="control", treatment="new"))
    statistic = (1100 - 1000) ** 2 / 1000 + (900 - 1000) ** 2 / 1000
    assert result.srm_p_value == pytest.approx(chi2.sf(statistic, df=1), rel=1e-9)
    assert result.sample_ratio_mismatch
    assert result.verdict().startswith("Do not act on this test yet: its split is off plan")
    assert any(w.startswith("Sample ratio mismatch: 45% of units are in the treatment, the plan was 50%")
               for w in result.warnings())
    # the same split is what was planned when the plan says 45% treatment
    planned = analyse(sws, "skewed", AnalysisPlan(control="control", treatment="new", treatment_share=0.45))
    assert not planned.sample_ratio_mismatch and planned.srm_p_value == pytest.approx(1.0)


def test_peeking_warning_before_the_planned_sample(sws):
    result = analyse(sws, "synthetic", AnalysisPlan(control="control", treatment="new",
                                                     planned_control_units=5000))
    assert result.planned_reached is False
    [warning] = result.warnings()
    assert warning.startswith("Peeking: the plan needs 5,000 units in the control and 5,000 in the "
                              "treatment; there are 1,000 and 1,000 so far")
    assert "(but the planned sample is not reached yet)" in result.verdict()
    no_effect = analyse(sws, "skewed", AnalysisPlan(control="control", treatment="new", treatment_share=0.45))
    assert no_effect.verdict().startswith("No clear difference between 'new' and 'control'")


def test_charts_are_readable_and_carry_the_intervals(sws):
    result = analyse(sws, "synthetic", AnalysisPlan(control="control", treatment="new"))
    fig = conversion_chart(result)
    bar = fig.data[0]
    assert list(bar.text) == ["60%", "66%"]
    upper = result.variants["ci_high"] - result.variants["rate"]
    assert list(bar.error_y.array) == pytest.approx(list(upper))
    for figure in (fig, daily_units_chart(result),
                   sample_size_curve(sample_size(DesignInput(baseline_rate=0.02, mde=0.001)))):
        assert not unreadable(figure_texts(figure))


def test_points_and_p_values_read_plainly():
    assert format_points(0.052) == "+5.2 points"
    assert format_points(-0.0031) == "-0.31 points"
    assert format_p_value(3e-9) == "< 0.0001"
    assert format_p_value(0.04213) == "0.042"
    assert format_p_value(float("nan")) == "–"
