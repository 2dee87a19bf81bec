"""The measure job's benchmark: pinned threads, warm-up, R repeats, median of medians, best and spread;
the busy flag from other processes' CPU time (models.serving.benchmark, models.serving.benchmark_record)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from models.errors import ConfigError
from models.serving import benchmark_record
from models.serving.benchmark import available_cores, repeated_benchmark, spread


class ScriptedPredictor:
    """Single calls sleep per repeat as scripted (repeat r: delays[r] s); batch calls are quick."""

    def __init__(self, delays: list[float], per_repeat: int) -> None:
        self.delays, self.per_repeat, self.calls, self.singles = delays, per_repeat, [], 0
        self.threads_seen: set[int] = set()

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        self.calls.append(len(texts))
        self.threads_seen.add(torch.get_num_threads())
        if len(texts) == 1 and len(self.calls) > 6:  # after warm-up (5 singles + 1 batch)
            time.sleep(self.delays[min(self.singles // self.per_repeat, len(self.delays) - 1)])
            self.singles += 1
        return np.zeros((len(texts), 2))


def test_spread_is_the_interquartile_range_over_the_median() -> None:
    assert spread([9.0, 10.0, 12.0]) == pytest.approx((11.0 - 9.5) / 10.0)
    assert spread([5.0]) == 0.0
    # one slow repeat of five (something redrew beside the job) hardly widens it; the range would read 55%
    assert spread([2.57, 2.49, 2.51, 3.82, 2.36]) < 0.05


def test_repeats_report_the_median_of_medians_the_best_and_the_spread() -> None:
    delays = [0.004, 0.002, 0.003, 0.010, 0.003]  # one slow repeat (something competed)
    predictor = ScriptedPredictor(delays, per_repeat=4)
    before = torch.get_num_threads()
    result = repeated_benchmark(predictor, ["a", "b", "c"], repeats=5, threads=1, seconds_per_repeat=0.0,
                                min_iterations_per_repeat=4, warmup=5, batch_warmup_texts=2)
    assert predictor.calls == [1] * 5 + [2] + ([1] * 4 + [3]) * 5  # warm-up, then 5 x (singles, batch)
    assert predictor.threads_seen == {1} and torch.get_num_threads() == before  # pinned, then restored
    medians = result["latency_p50_repeats_ms"]
    assert len(medians) == 5 and result["repeats"] == 5 and result["torch_threads"] == 1
    assert result["latency_p50_ms"] == pytest.approx(float(np.median(medians)))
    assert result["latency_p50_best_ms"] == min(medians) and 2.0 <= min(medians) < 3.5
    assert result["latency_p50_ms"] < 5.0  # the slow repeat does not move the median
    q1, q3 = np.percentile(medians, [25, 75])
    assert result["latency_p50_spread"] == pytest.approx((q3 - q1) / np.median(medians))
    rates = result["throughput_repeats"]
    assert result["throughput_best_per_s"] == max(rates)
    assert result["throughput_samples_per_s"] == pytest.approx(float(np.median(rates)))
    assert result["single_iterations"] == 20 and result["batch_passes"] == 5 and result["batch_texts"] == 3


def test_threads_default_to_the_available_cores_and_bad_repeats_are_refused() -> None:
    result = repeated_benchmark(ScriptedPredictor([0.0], 1), ["a"], repeats=2, seconds_per_repeat=0.0,
                                min_iterations_per_repeat=1, warmup=1)
    assert result["torch_threads"] == available_cores() >= 1
    with pytest.raises(ConfigError, match="repeats must be at least 1"):
        repeated_benchmark(ScriptedPredictor([0.0], 1), ["a"], repeats=0)
    with pytest.raises(ConfigError, match="at least one text"):
        repeated_benchmark(ScriptedPredictor([0.0], 1), [])


@pytest.mark.parametrize("others_s, busy", [(0.1, False), (1.5, True)])
def test_busy_means_other_processes_used_the_cpu(monkeypatch: pytest.MonkeyPatch, others_s: float,
                                                 busy: bool) -> None:
    """2 cores, a 2 s window: our process used 1.0 s; the machine's busy time grew by 1.0 + others_s."""
    clock = iter([100.0, 102.0])
    own = iter([5.0, 6.0])
    machine = iter([(1000.0, 2), (1001.0 + others_s, 2)])
    monkeypatch.setattr(benchmark_record.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(benchmark_record, "_own_cpu_seconds", lambda: next(own))
    monkeypatch.setattr(benchmark_record, "_machine_busy_seconds", lambda: next(machine))
    monkeypatch.setattr(benchmark_record, "_load_average", lambda: 1.5)
    found = benchmark_record.MachineWatch().stop()
    assert found == {"load_average_1m_start": 1.5, "load_average_1m": 1.5,
                     "others_cpu_share": round(others_s / 4, 3), "busy": busy}


def test_busy_falls_back_to_the_load_average_without_proc_stat(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(benchmark_record, "_machine_busy_seconds", lambda: None)
    monkeypatch.setattr(benchmark_record.os, "cpu_count", lambda: 2)
    for load, busy in ((2.5, False), (3.5, True)):
        monkeypatch.setattr(benchmark_record, "_load_average", lambda load=load: load)
        watch = benchmark_record.MachineWatch()
        assert watch.stop()["busy"] is busy and watch.stop()["others_cpu_share"] is None


def test_machine_busy_seconds_reads_proc_stat() -> None:
    found = benchmark_record._machine_busy_seconds()
    if found is None:
        pytest.skip("no /proc/stat on this system")
    busy_s, cores = found
    assert busy_s > 0 and cores >= 1


def test_the_measurement_waits_for_other_processes_to_leave_the_cpu(monkeypatch) -> None:
    from models.serving import benchmark_record

    shares = iter([0.9, 0.8, 0.1])  # two busy windows (a browser redrawing), then quiet

    class FakeWatch:
        def stop(self):
            return {"others_cpu_share": next(shares)}

    monkeypatch.setattr(benchmark_record, "MachineWatch", FakeWatch)
    waited = benchmark_record.wait_for_quiet(max_wait_s=5.0, window_s=0.01)
    assert 0.03 <= waited < 1.0
    with pytest.raises(StopIteration):
        next(shares)  # all three windows were looked at: it stopped at the first quiet one

    class BusyWatch:
        def stop(self):
            return {"others_cpu_share": 1.0}

    monkeypatch.setattr(benchmark_record, "MachineWatch", BusyWatch)  # never quiet: it gives up in time
    assert 0.2 <= benchmark_record.wait_for_quiet(max_wait_s=0.2, window_s=0.01) < 1.0
