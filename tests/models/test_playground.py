"""models/playground.py: timed single predictions, batch tables, timed LLM streams and template filling."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd
import pytest

from models.errors import ConfigError, RunFolderError
from pages._shared.playground_calls import (
    TimedStream,
    batch_texts,
    fill_template,
    predict_batch,
    predict_one,
    run_folder,
)


class Fixed:
    """Always the same probabilities; counts calls."""

    label_names = ("a", "b", "c")

    def __init__(self, probs: Sequence[float]) -> None:
        self.probs, self.calls = np.asarray(probs), 0

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        return np.tile(self.probs, (len(texts), 1))


def test_predict_one_sorts_labels_and_keeps_the_fastest_call() -> None:
    model = Fixed([0.2, 0.5, 0.3])
    result = predict_one(model, "hello", calls=3)
    assert model.calls == 3 and result.calls == 3
    assert result.label == "b"
    assert result.probabilities["label"].tolist() == ["b", "c", "a"]
    assert result.probabilities["probability"].tolist() == pytest.approx([0.5, 0.3, 0.2])
    assert 0 <= result.latency_ms < 1000
    with pytest.raises(ConfigError, match="empty"):
        predict_one(model, "  ")


def test_batch_texts_and_predict_batch() -> None:
    frame = pd.DataFrame({"id": [1, 2, 3], "msg": ["x", None, "z"]})
    texts = batch_texts(frame, "msg")
    assert texts == ["x", "", "z"]
    table, seconds = predict_batch({"m1": Fixed([0.1, 0.1, 0.8]), "m2": Fixed([0.6, 0.3, 0.1])}, texts)
    assert table.columns.tolist() == ["text", "m1 label", "m1 confidence", "m2 label", "m2 confidence"]
    assert table["m1 label"].tolist() == ["c"] * 3 and table["m2 label"].tolist() == ["a"] * 3
    assert table["m1 confidence"].tolist() == pytest.approx([0.8] * 3)
    assert set(seconds) == {"m1", "m2"}
    with pytest.raises(ConfigError, match="column 'text' not found; columns are: id, msg"):
        batch_texts(frame, "text")
    with pytest.raises(ConfigError, match="at most 2"):
        batch_texts(frame, "msg", max_rows=2)


def test_timed_stream_passes_pieces_and_measures() -> None:
    def pieces() -> Iterator[str]:
        time.sleep(0.05)
        yield "Hello"
        time.sleep(0.05)
        yield " world"

    class Words:
        def __call__(self, text: str, add_special_tokens: bool = False) -> dict:
            return {"input_ids": text.split()}

    stream = TimedStream(pieces())
    with pytest.raises(ConfigError, match="not finished"):
        stream.stats(Words())
    assert list(stream) == ["Hello", " world"]
    stats = stream.stats(Words())
    assert stream.text == "Hello world" and stats.new_tokens == 2
    assert 40 <= stats.time_to_first_token_ms < 1000
    assert stats.total_s >= 0.09
    assert stats.tokens_per_s == pytest.approx(1 / (stats.total_s - stats.time_to_first_token_ms / 1000))


def test_fill_template_keeps_braces_in_user_text() -> None:
    template = "Labels: {labels}\nText: {text}"
    assert fill_template(template, "a {b} c", ["x", "y"]) == "Labels: x, y\nText: a {b} c"
    assert "(no labels given)" in fill_template(template, "t")


def test_run_folder_prefers_the_current_runs_dir(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    current, recorded = tmp_path / "current", tmp_path / "recorded"
    for root in (current, recorded):
        (root / "r1").mkdir(parents=True)
        (root / "r1" / "config.json").write_text("{}")
    monkeypatch.setenv("STRATLAB_RUNS_DIR", str(current))
    assert run_folder("r1", str(recorded)) == current.resolve() / "r1"
    monkeypatch.setenv("STRATLAB_RUNS_DIR", str(tmp_path / "elsewhere"))
    assert run_folder("r1", str(recorded)) == recorded / "r1"
    with pytest.raises(RunFolderError, match="train it again"):
        run_folder("r2", str(recorded))
