"""Cost model against hand-computed numbers; Pareto with ties; cascade against brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analytics.compute import costs
from analytics.errors import CostInputError


def test_training_cost_is_hours_times_price():
    # 1,800 s on a $6.88/h H100 = 0.5 h x 6.88 = $3.44
    assert costs.training_cost_usd(1800, 6.88) == pytest.approx(3.44)
    assert costs.training_cost_usd(3600, 2.0, devices=8) == pytest.approx(16.0)


def test_cost_per_1k_from_throughput():
    # $3.60/h = $0.001/s; 100 req/s -> $0.00001 per request -> $0.01 per 1k
    assert costs.cost_per_1k_requests_usd(100, 3.60) == pytest.approx(0.01)
    # at 50% utilisation it costs twice as much
    assert costs.cost_per_1k_requests_usd(100, 3.60, utilisation=0.5) == pytest.approx(0.02)


def test_api_cost_per_1k():
    # gpt-4o-mini: $0.15 in, $0.60 out per 1M; 120 in + 5 out tokens per request
    # per request: (120 x 0.15 + 5 x 0.60) / 1e6 = 21 / 1e6 -> per 1k: $0.021
    assert costs.api_cost_per_1k_requests_usd(120, 5, 0.15, 0.60) == pytest.approx(0.021)


def test_monthly_and_total():
    assert costs.monthly_cost_usd(0.021, 1_000_000) == pytest.approx(21.0)
    assert costs.monthly_cost_usd(0.01, 500_000, fixed_per_month_usd=100) == pytest.approx(105.0)
    # $3.44 training + 12 x $21
    assert costs.total_cost_usd(3.44, 0.021, 1_000_000) == pytest.approx(255.44)


def test_break_even():
    # A: $100 training, $0.01/1k; B (API): $0 fixed, $0.05/1k. Over 12 months:
    # 100 + 12 x 0.01 x v/1000 = 12 x 0.05 x v/1000 -> v = 100 x 1000 / (12 x 0.04) = 208,333.3
    assert costs.break_even_requests_per_month(100, 0.01, 0, 0.05) == pytest.approx(208_333.333, rel=1e-6)
    assert costs.break_even_requests_per_month(0, 0.01, 0, 0.01) is None  # parallel lines
    assert costs.break_even_requests_per_month(100, 0.05, 0, 0.01) is None  # A dearer at every volume


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), None, "abc"])
def test_bad_prices_are_refused(bad):
    with pytest.raises(CostInputError):
        costs.cost_per_1k_requests_usd(100, bad)


def test_absurd_price_is_refused():
    with pytest.raises(CostInputError, match="implausibly large"):
        costs.training_cost_usd(10, 50_000)


def test_zero_volume_is_refused():
    with pytest.raises(CostInputError, match="requests per month"):
        costs.monthly_cost_usd(0.01, 0)


def test_projection_takes_the_slower_bound():
    # 22M params, 16 tokens, 989e12 peak at 40% -> compute bound 989e12 x 0.4 / (2 x 22e6 x 16)
    # = 561,931.8 req/s
    fig = costs.projected_throughput_per_s(22e6, 16, 989e12, 0.4)
    assert fig.kind == "estimate"
    assert fig.value == pytest.approx(989e12 * 0.4 / (2 * 22e6 * 16))
    # with bandwidth 3.35e12 B/s, bf16 weights (44 MB) and batch 32: 32 / (44e6 / 3.35e12) = 2,436,363 req/s,
    # still above the compute bound, so compute binds.
    assert costs.projected_throughput_per_s(22e6, 16, 989e12, 0.4, 3.35e12).basis.startswith("compute")
    # batch 1 -> 76,136 req/s: bandwidth binds
    fig = costs.projected_throughput_per_s(22e6, 16, 989e12, 0.4, 3.35e12, batch_size=1)
    assert fig.basis.startswith("bandwidth") and fig.value == pytest.approx(1 / (44e6 / 3.35e12))


def test_pareto_with_ties_and_equal_costs():
    cost = [1.0, 1.0, 2.0, 3.0, 3.0, 0.5]
    acc = [0.80, 0.85, 0.85, 0.90, 0.90, 0.70]
    # 0 dominated by 1 (same cost, more accurate); 2 dominated by 1 (cheaper, same accuracy);
    # 3 and 4 tie exactly -> both kept; 5 cheapest -> kept.
    assert costs.pareto_mask(cost, acc).tolist() == [False, True, False, True, True, True]


def test_cascade_matches_brute_force():
    rng = np.random.default_rng(0)
    n = 40
    conf = rng.random(n).round(2)
    small_ok = rng.random(n) < conf
    big_ok = rng.random(n) < 0.9
    curve = costs.cascade_curve(conf, small_ok, big_ok, small_per_1k_usd=0.01, big_per_1k_usd=1.0)
    for row in curve.itertuples():
        correct = deferred = 0
        for i in range(n):
            if conf[i] < row.threshold:
                deferred += 1
                correct += bool(big_ok[i])
            else:
                correct += bool(small_ok[i])
        assert row.accuracy == pytest.approx(correct / n)
        assert row.deferred_share == pytest.approx(deferred / n)
        assert row.cost_per_1k_usd == pytest.approx(0.01 + deferred / n * 1.0)
    assert curve["deferred_share"].iloc[0] == 0.0 and curve["deferred_share"].iloc[-1] == 1.0


def test_plan_training_by_hand():
    # 1B params, 20B tokens, full on 80 GB H100s at 989 TFLOP/s, 40%, $4/h
    plan = costs.plan_training(1e9, 20e9, "full", 80, 989e12, 4.0, utilisation=0.4)
    assert plan.flops == pytest.approx(1.2e20)
    # 18 GB of state fits one GPU (64 GB usable)
    assert plan.gpus == 1 and plan.memory_per_gpu_gb == pytest.approx(18.0)
    hours = 1.2e20 / (989e12 * 0.4) / 3600
    assert plan.wall_hours == pytest.approx(hours)
    assert plan.cost_usd == pytest.approx(hours * 4.0)
    assert plan.chinchilla_tokens == pytest.approx(20e9)
    # 7B full: 126 GB of state -> 2 GPUs of 80 GB (64 usable each)
    assert costs.plan_training(7e9, 1e9, "full", 80, 989e12, 4.0).gpus == 2
    assert math.isclose(costs.plan_training(7e9, 1e9, "qlora", 24, 121e12, 0.8).memory_per_gpu_gb, 3.85)


def test_figure_kind_is_checked():
    with pytest.raises(CostInputError):
        costs.Figure(1.0, "usd", "guess", "vibes")
