"""Predictors from run folders: round trips, order restoration, int8, evaluation and the benchmark loop."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from models.core.config import TrainConfig
from models.core.runs import RunWriter, read_json, write_json_atomic
from models.data.types import DataSplits, LabelledTexts
from models.errors import ConfigError, RunFolderError

TOY_TEXTS = ("love it", "hate it", "love this so much", "hate this a lot", "really great", "truly awful")
TOY = LabelledTexts(tuple(f"t{i}" for i in range(6)), TOY_TEXTS, (1, 0, 1, 0, 1, 0))
TOY_DATA = DataSplits("toy", ("neg", "pos"), TOY, TOY, TOY)


def _parquet_probs(run_dir: Path) -> np.ndarray:
    return np.stack(pd.read_parquet(run_dir / "predictions.parquet")["probs"].to_list())


@pytest.fixture()
def classic_run(tmp_path: Path) -> Path:
    from models.training.classic import train_classic

    config = TrainConfig(method="classic", runs_dir=str(tmp_path), run_name="classic")
    return train_classic(config, TOY_DATA, RunWriter.create(config)).run_dir


@pytest.fixture(scope="module")
def full_run(tiny_encoder_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder shaped like a finished `full` run, holding a tiny random classifier."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from models.core.outputs import write_label_names

    run = tmp_path_factory.mktemp("runs") / "full"
    model = AutoModelForSequenceClassification.from_pretrained(tiny_encoder_dir, num_labels=2)
    model.save_pretrained(run / "model")
    AutoTokenizer.from_pretrained(tiny_encoder_dir).save_pretrained(run / "model")
    write_label_names(run / "model", ("neg", "pos"))
    config = TrainConfig(method="full", model=str(tiny_encoder_dir), runs_dir=str(run.parent),
                         eval_batch_size=4, max_length=32, dataset="toy")
    write_json_atomic(run / "config.json", config.to_dict())
    write_json_atomic(run / "status.json", {"state": "succeeded"})
    return run


def test_classic_predictor_round_trip_equals_saved_predictions(classic_run: Path) -> None:
    from models.serving.predictors import load_predictor

    predictor = load_predictor(classic_run)
    assert predictor.label_names == ("neg", "pos")
    assert np.allclose(predictor.predict_proba(list(TOY_TEXTS)), _parquet_probs(classic_run))
    assert predictor.predict(["love it"]) == ["pos"]


def test_evaluate_run_matches_eval_json(classic_run: Path) -> None:
    from models.serving.predictors import evaluate_run

    metrics = evaluate_run(classic_run, data=TOY_DATA)
    assert metrics["accuracy"] == read_json(classic_run / "eval.json")["accuracy"] == 1.0
    assert metrics["split"] == "test" and metrics["n"] == 6


def test_probe_predictor_round_trip(tiny_encoder_dir: Path, tmp_path: Path,
                                    small_sentiment: Callable[..., DataSplits]) -> None:
    from models.serving.predictors import load_predictor
    from models.training.probe import train_linear_probe

    data = small_sentiment(n_train=60, n_test=20)
    config = TrainConfig(method="linear_probe", model=str(tiny_encoder_dir), runs_dir=str(tmp_path),
                         run_name="probe", max_length=32, eval_batch_size=8)
    run = train_linear_probe(config, data, RunWriter.create(config)).run_dir
    probs = load_predictor(run, device="cpu").predict_proba(list(data.test.texts))
    assert np.allclose(probs, _parquet_probs(run), atol=1e-6)


def test_transformer_predictor_restores_input_order(full_run: Path) -> None:
    from models.serving.predictors import TransformerPredictor, load_predictor

    predictor = load_predictor(full_run, device="cpu")
    assert isinstance(predictor, TransformerPredictor)
    texts = ["a", "a much longer message about a card that never arrived at my address", "medium length one",
             "b c", "the longest message of them all, with many words, to force a separate batch first"]
    batched = predictor.predict_proba(texts)
    singles = np.concatenate([predictor.predict_proba([t]) for t in texts])
    assert batched.shape == (5, 2)
    assert np.allclose(batched, singles, atol=1e-5)
    assert predictor.predict_proba([]).shape == (0, 2)


def test_int8_predictor_quantises_linear_layers(full_run: Path) -> None:
    from models.serving.predictors import compare_precision, load_predictor

    predictor = load_predictor(full_run, device="cpu", precision="int8")
    linear = [m for m in predictor.model.modules() if type(m).__name__ == "Linear"]
    # every nn.Linear is now dynamic int8
    assert linear and all(type(m) is not torch.nn.Linear for m in linear)
    assert all("quantized.dynamic" in type(m).__module__ for m in linear)
    probs = predictor.predict_proba(list(TOY_TEXTS))
    assert probs.shape == (6, 2) and np.allclose(probs.sum(axis=1), 1.0)
    report = compare_precision(full_run, "int8", data=TOY_DATA)
    assert report["n"] == 6 and 0.0 <= report["agreement"] <= 1.0
    expected = round(100 * (report["accuracy_int8"] - report["accuracy_fp32"]), 3)
    assert report["accuracy_change"] == expected


def test_unfinished_run_and_bad_precision_are_refused(full_run: Path, tmp_path: Path) -> None:
    from models.serving.predictors import load_predictor

    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    write_json_atomic(unfinished / "config.json", TrainConfig(method="classic").to_dict())
    with pytest.raises(RunFolderError, match="unfinished"):
        load_predictor(unfinished)
    with pytest.raises(RunFolderError, match="not a run folder"):
        load_predictor(tmp_path / "nothing")
    with pytest.raises(ConfigError, match="precision"):
        load_predictor(full_run, precision="fp8")


class _SleepyPredictor:
    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        self.calls.append(len(texts))
        time.sleep(0.001)
        return np.zeros((len(texts), 2))


def test_benchmark_warms_up_then_meets_count_and_duration() -> None:
    from models.serving.benchmark import benchmark

    predictor = _SleepyPredictor()
    result = benchmark(predictor, ["a", "b", "c"], warmup=4, min_iterations=7, min_seconds=0.0,
                       batch_passes=3, batch_warmup_texts=2)
    assert predictor.calls == [1] * 4 + [1] * 7 + [2] + [3] * 3
    assert result["single_iterations"] == 7 and result["batch_passes"] == 3
    assert result["latency_p50_ms"] >= 1.0 and result["latency_p50_ms"] <= result["latency_p99_ms"]
    assert result["throughput_samples_per_s"] > 0 and result["peak_rss_bytes"] > 0
    timed = benchmark(_SleepyPredictor(), ["a"], warmup=0, min_iterations=1, min_seconds=0.05, batch_passes=1)
    assert timed["single_iterations"] > 5  # kept going until min_seconds
    assert torch.get_num_threads() == timed["torch_threads"]
