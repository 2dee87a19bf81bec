"""analytics/playground.py: cost per 1k calls by hand, price defaults, the runs query on an empty
workspace."""

from __future__ import annotations

import pandas as pd
import pytest

from analytics.compute.playground import call_cost, default_price_id, playground_runs

PRICE = {"kind": "cpu", "name": "2 vCPU", "provider": "Test cloud", "hourly_usd": 0.0725, "source": "test",
         "as_of": "2026-11-09", "label": "2 vCPU · Test cloud"}


def test_cost_per_1k_calls_by_hand() -> None:
    run = {"throughput_per_s": 2000.0, "inference_hardware": "CPU x2"}
    cost = call_cost(run, PRICE, utilisation=0.5)
    # 0.0725 $/h / 3600 s/h / (2000 calls/s x 0.5) x 1000 calls
    assert cost.per_1k_usd == pytest.approx(0.0725 / 3600 / 1000 * 1000)
    assert "2,000 calls/s measured batched on CPU x2 x 50% utilisation" in cost.basis
    assert "$0.0725/h (test, as of 2026-11-09)" in cost.basis


def test_cost_is_unknown_without_throughput_or_price() -> None:
    assert call_cost({"throughput_per_s": float("nan")}, PRICE).per_1k_usd is None
    assert "no measured inference throughput" in call_cost({"throughput_per_s": None}, PRICE).basis
    assert call_cost({"throughput_per_s": 10.0}, None).basis == "unknown: choose a hardware price"


def test_default_price_follows_the_measured_hardware() -> None:
    catalog = pd.DataFrame({"price_id": [1, 2, 3], "kind": ["cpu", "cpu", "gpu"],
                            "name": ["4 vCPU", "2 vCPU (Graviton3)", "L4"]})
    runs = pd.DataFrame({"inference_hardware": [None, "CPU x2"], "hardware": ["CPU x4", "CPU x2"]})
    assert default_price_id(runs, catalog) == 2  # measured inference hardware first
    l4_runs = pd.DataFrame({"inference_hardware": ["NVIDIA L4"], "hardware": [None]})
    assert default_price_id(l4_runs, catalog) == 3
    tpu_runs = pd.DataFrame({"inference_hardware": ["TPU"], "hardware": [None]})
    assert default_price_id(tpu_runs, catalog) is None


def test_playground_runs_on_an_empty_workspace(empty_ws) -> None:
    frame = playground_runs(empty_ws)
    assert frame.empty
    assert frame.columns.tolist() == ["run_id", "method", "model", "dataset", "accuracy", "n_test",
                                      "finished_at", "p50_ms", "throughput_per_s", "inference_hardware",
                                      "hardware", "runs_dir", "label"]
