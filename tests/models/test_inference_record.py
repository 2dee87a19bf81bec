"""inference.json after every succeeded run: measured latency/throughput, token counts; never fails a run.

train() itself does not benchmark: `python -m models train` calls
models.serving.benchmark_record.record_after_training once train() has returned, as `train_then_record` does;
in the queue the job runner queues a measure job (models.jobs.measure) instead.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from models.core.config import TrainConfig
from models.core.runs import RunResult, run_status
from models.data.types import DataSplits, LabelledTexts

TEXTS = ("love it", "hate it", "love this", "hate this") * 3


def toy_data() -> DataSplits:
    split = LabelledTexts(ids=tuple(f"r{i}" for i in range(len(TEXTS))), texts=TEXTS, labels=(1, 0, 1, 0) * 3)
    return DataSplits("toy", ("not_happy", "happy"), split, split, split)


def train_then_record(config: TrainConfig) -> RunResult:
    """What the job runner and the train command do: train, then the post-run benchmark."""
    from models.serving.benchmark_record import record_after_training
    from models.training.train import train

    data = toy_data()
    result = train(config, data)
    record_after_training(result.run_dir, data)
    return result


@pytest.mark.slow  # the first predictor load imports torch: ~10 s on a busy 2-core machine
def test_classic_run_gets_an_inference_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRATLAB_INFERENCE_BENCH_S", "0.05")
    result = train_then_record(TrainConfig(method="classic", runs_dir=str(tmp_path), run_name="c"))
    record = json.loads((result.run_dir / "inference.json").read_text())
    assert record["hardware"].startswith("CPU x") and record["device"] == "cpu"
    assert record["method"] == "classic"
    assert record["single_iterations"] >= 20 and record["batch_texts"] == len(TEXTS)
    assert 0 < record["p50_ms"] <= record["p95_ms"] and record["throughput_per_s"] > 0
    assert record["model_params"] is None and record["tokens_per_request"] is None
    assert record["cpu_count"] >= 1 and record["load_average_1m"] >= 0
    assert record["measured_by"] == "train command" and record["repeats"] == 5
    assert record["threads"] == record["torch_threads"] >= 1 and isinstance(record["busy"], bool)
    assert record["p50_best_ms"] <= record["p50_ms"] and record["p50_spread"] >= 0
    assert record["throughput_best_per_s"] >= record["throughput_per_s"] and record["throughput_spread"] >= 0
    assert len(record["p50_repeats_ms"]) == len(record["throughput_repeats"]) == 5
    api = record["api_prompt"]
    # the answer is a label name ('not happy' / 'happy') plus an end token
    assert api["tokenizer"] == "SmolLM2-135M BPE" and api["n_texts"] == len(TEXTS)
    assert api["input_tokens_mean"] > api["prompt_overhead_tokens"] > 10
    assert 2 <= api["output_tokens_mean"] <= 4


def test_switched_off_benchmark_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRATLAB_INFERENCE_BENCH_S", "0")
    result = train_then_record(TrainConfig(method="classic", runs_dir=str(tmp_path), run_name="c"))
    assert not (result.run_dir / "inference.json").exists()
    assert run_status(result.run_dir)["state"] == "succeeded"


def test_a_failing_benchmark_never_fails_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from models.serving import benchmark_record as inference_record

    def broken(*args, **kwargs):
        raise KeyboardInterrupt("cancelled during the benchmark")

    monkeypatch.setattr(inference_record, "record_inference", broken)
    result = train_then_record(TrainConfig(method="classic", runs_dir=str(tmp_path), run_name="c"))
    assert result.state == "succeeded" and run_status(result.run_dir)["state"] == "succeeded"
    assert not (result.run_dir / "inference.json").exists()


def test_train_itself_leaves_the_benchmark_to_its_callers(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from models.training.train import train

    monkeypatch.setenv("STRATLAB_INFERENCE_BENCH_S", "0.05")
    result = train(TrainConfig(method="classic", runs_dir=str(tmp_path), run_name="c"), toy_data())
    assert run_status(result.run_dir)["state"] == "succeeded"
    assert not (result.run_dir / "inference.json").exists()


@pytest.mark.parametrize("state", ["succeeded", "failed"])
def test_the_job_runner_queues_a_measure_job_for_a_succeeded_run(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 state: str) -> None:
    """In the queue the benchmark is not timed inside the training job: a measure job is queued instead."""
    from models.jobs import queue, runner
    from models.serving import benchmark_record

    config = TrainConfig(method="classic", runs_dir=str(tmp_path / "runs"), run_name="job")
    recorded: list[Path] = []

    def fake_train(config: TrainConfig, *, resume: bool, run_id: str) -> RunResult:
        run_dir = tmp_path / "runs" / run_id
        (run_dir / "model").mkdir(parents=True)
        (run_dir / "config.json").write_text(json.dumps(config.to_dict()))
        (run_dir / "status.json").write_text(json.dumps({"state": state}))
        return RunResult(run_dir=run_dir, method="classic", model="tfidf", metrics={},
                         train_seconds=0.1, state=state)

    monkeypatch.setattr(runner, "train_function", lambda: fake_train)
    monkeypatch.setattr(benchmark_record, "record_after_training",
                        lambda run_dir, *args, **kwargs: recorded.append(run_dir))
    job = {"kind": "train", "config": config.to_dict(), "run_id": "job", "resume": False}
    assert runner.run_train_job(job, tmp_path / "jobs") == state
    assert recorded == []
    queued = queue.list_jobs(tmp_path / "jobs")
    if state == "succeeded":
        assert [(j.kind, j.state, j.run_id) for j in queued] == [("measure", "queued", "job")]
        assert json.loads((queued[0].job_dir / "job.json").read_text())["reason"] == "after training"
    else:
        assert queued == []


def test_ingest_attaches_an_inference_record_that_lands_late(tmp_path: Path, empty_ws, monkeypatch) -> None:
    from analytics.ingest.runs import ingest_all

    monkeypatch.setenv("STRATLAB_INFERENCE_BENCH_S", "0")
    result = train_then_record(TrainConfig(method="classic", runs_dir=str(tmp_path), run_name="late"))
    assert ingest_all(empty_ws, tmp_path) == ["late"]
    assert empty_ws.scalar("select p50_ms from runs where run_id = 'late'") is None
    (result.run_dir / "inference.json").write_text(json.dumps({
        "measured_at": "2026-03-01T10:00:00+00:00", "hardware": "CPU x2", "p50_ms": 3.5, "p95_ms": 7.0,
        "throughput_per_s": 250.0, "model_params": 22_713_216, "tokens_per_request": 14.5, "cpu_count": 2,
        "load_average_1m": 3.5,
        "api_prompt": {"input_tokens_mean": 460.5, "output_tokens_mean": 4.5,
                       "tokenizer": "SmolLM2-135M BPE"}}))
    assert ingest_all(empty_ws, tmp_path) == []  # the run itself is not ingested twice...
    row = empty_ws.rows("select p50_ms, p95_ms, throughput_per_s, inference_hardware, model_params, "
                        "tokens_per_request, api_input_tokens, api_output_tokens, api_tokenizer, "
                        "inference_load_average, inference_cpu_count from runs")
    assert row == [(3.5, 7.0, 250.0, "CPU x2", 22_713_216, 14.5, 460.5, 4.5, "SmolLM2-135M BPE", 3.5, 2)]
