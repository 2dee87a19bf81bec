"""Experiments: our sample-size figure against statsmodels' own power calculation, and our analysis of the
sample experiment against a two-proportion z-test computed by hand, in the same run.

    python bench/experiments.py                    # the 1M-event sample workspace (built once in bench/out/)
    python bench/experiments.py --events 30000     # a quick run

Part 1, three hand-picked designs (baseline, absolute MDE, power, alpha), two-sided: our
analytics.compute.experiments.design.sample_size (units per variant, rounded up) next to
NormalIndPower().solve_power on Cohen's h, zt_ind_solve_power on the same h, and
samplesize_proportions_2indep_onetail (a different approximation: normal on the rates, not arcsine), plus
the power our sample reaches. They agree when ours = ceil(NormalIndPower), zt_ind_solve_power gives the same
number, the independent route is within 1%, and our sample reaches the power while one unit fewer does not.

Part 2, the sample experiment (onboarding_checklist on the activation step): analytics.compute.experiments
.analysis.analyse next to a pooled two-proportion z-test written out below (the only place the formula is
written): the same z, p-value (to 1e-9 relative) and lift (to 1e-12).

Exits 1 when anything disagrees. Last line: agree=<yes|no> cases=3 p_value=<p> lift_points=<x>
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from statsmodels.stats.power import NormalIndPower, zt_ind_solve_power  # noqa: E402
from statsmodels.stats.proportion import (  # noqa: E402
    proportion_effectsize,
    samplesize_proportions_2indep_onetail,
)

from analytics.compute.experiments.analysis import analyse  # noqa: E402
from analytics.compute.experiments.catalog import stored_plan  # noqa: E402
from analytics.compute.experiments.design import DesignInput, sample_size  # noqa: E402
from analytics.db import Workspace  # noqa: E402
from analytics.ingest.sample_experiment import EXPERIMENT, ensure_sample_experiment  # noqa: E402

OUT_DIR = ROOT / "bench" / "out"
CASES = (  # baseline, absolute MDE, power, alpha
    (0.64, 0.04, 0.80, 0.05),   # the sample experiment's plan: activation within 7 days
    (0.10, 0.02, 0.90, 0.05),   # a trial-to-paid step, higher power
    (0.30, -0.05, 0.80, 0.01),  # a guard-rail test for a drop, stricter alpha
)


def design_case(baseline: float, mde: float, power: float, alpha: float) -> bool:
    """Print one design against statsmodels' routes; True when they agree."""
    ours = sample_size(DesignInput(baseline_rate=baseline, mde=mde, power=power, alpha=alpha)).control_units
    h = abs(proportion_effectsize(baseline + mde, baseline))
    direct = NormalIndPower().solve_power(effect_size=h, alpha=alpha, power=power, ratio=1.0,
                                          alternative="two-sided")
    zt = zt_ind_solve_power(effect_size=h, alpha=alpha, power=power, ratio=1.0, alternative="two-sided")
    other = samplesize_proportions_2indep_onetail(mde, baseline, power, ratio=1.0, alpha=alpha,
                                                  alternative="two-sided")
    reached = NormalIndPower().power(effect_size=h, nobs1=ours, alpha=alpha, ratio=1.0)
    short = NormalIndPower().power(effect_size=h, nobs1=ours - 1, alpha=alpha, ratio=1.0)
    agree = (ours == math.ceil(direct) and abs(zt - direct) <= 1e-9 * direct
             and abs(ours / other - 1) < 0.01 and short < power <= reached)
    print(f"{baseline:>8.2f} {mde:>+6.2f} {power:>5.2f} {alpha:>5.2f} {ours:>9,} {direct:>14.3f} {zt:>14.3f} "
          f"{other:>12.1f} {reached:>9.4f}  {'yes' if agree else 'NO'}")
    return agree


def hand_z_test(c_conv: int, c_n: int, t_conv: int, t_n: int) -> tuple[float, float, float]:
    """(lift, z, two-sided p) of the pooled two-proportion z-test, written out."""
    p_c, p_t = c_conv / c_n, t_conv / t_n
    pooled = (c_conv + t_conv) / (c_n + t_n)
    se = math.sqrt(pooled * (1 - pooled) * (1 / c_n + 1 / t_n))
    z = (p_t - p_c) / se
    p = math.erfc(abs(z) / math.sqrt(2))  # = 2 * (1 - Phi(|z|))
    return p_t - p_c, z, p


def workspace(events: int) -> Workspace:
    """A sample workspace of about `events` events in bench/out/ (built on first use), with the experiment."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"experiments_{events}.duckdb"
    if not path.exists():
        print(f"building {path.name} ({events:,} events)...", flush=True)
    ws = Workspace.open(path, demo_events=events)
    ensure_sample_experiment(ws)  # a file built before migration 011
    return ws


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="sample events of the workspace")
    args = parser.parse_args()

    print("Part 1: units per variant, two-sided, even split")
    print(f"{'baseline':>8} {'MDE':>6} {'power':>5} {'alpha':>5} {'ours':>9} {'NormalIndPower':>14} "
          f"{'zt_ind_solve':>14} {'2indep_1tail':>12} {'power@ours':>9}  agree")
    agree = all([design_case(*case) for case in CASES])

    ws = workspace(args.events)
    try:
        plan, _, _ = stored_plan(ws, EXPERIMENT)
        result = analyse(ws, EXPERIMENT, plan)
    finally:
        ws.close()
    rows = result.variants.set_index("role")
    c_conv, c_n = int(rows.loc["control", "conversions"]), int(rows.loc["control", "units"])
    t_conv, t_n = int(rows.loc["treatment", "conversions"]), int(rows.loc["treatment", "units"])
    lift, z, p = hand_z_test(c_conv, c_n, t_conv, t_n)
    same = (abs(result.p_value - p) <= 1e-9 * max(p, 1e-300) and abs(result.z - z) <= 1e-9 * abs(z)
            and abs(result.absolute_lift - lift) <= 1e-12)
    print(f"\nPart 2: sample experiment {EXPERIMENT!r} ({args.events:,}-event workspace)")
    print(f"  control   {c_conv:,} / {c_n:,} = {c_conv / c_n:.4%}")
    print(f"  treatment {t_conv:,} / {t_n:,} = {t_conv / t_n:.4%}  (planned {plan.planned_control_units:,} "
          f"per variant: {'reached' if result.planned_reached else 'NOT reached'})")
    low, high = (x * 100 for x in result.absolute_ci)
    print(f"  ours: lift {result.absolute_lift * 100:+.4f} points (95% CI {low:+.2f} to {high:+.2f}), "
          f"z {result.z:.6f}, p {result.p_value:.6g}, "
          f"relative {result.relative_lift:+.2%}, SRM p {result.srm_p_value:.3f}")
    print(f"  hand: lift {lift * 100:+.4f} points, z {z:.6f}, p {p:.6g}  -> "
          f"{'same' if same else 'DIFFERENT'}")
    print(f"  verdict: {result.verdict()}")
    ok = agree and same
    print(f"agree={'yes' if ok else 'no'} cases={len(CASES)} p_value={result.p_value:.6g} "
          f"lift_points={result.absolute_lift * 100:.4f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
