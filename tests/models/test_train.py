"""models.training.train: loading data from the config, dispatch to every method, failure records,
resume_run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from models.core.config import TrainConfig
from models.core.runs import read_events, run_status
from models.data.loading import load_training_data
from models.data.types import DataSplits
from models.errors import DatasetNotFoundError, RunFolderError
from models.training import train as train_module
from models.training.train import resume_run, train


@pytest.fixture(autouse=True)
def keep_torch_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_load_training_data_limits_examples_per_class() -> None:
    config = TrainConfig(dataset="sentiment_labelled_sentences", train_examples_per_class=7, seed=3)
    data = load_training_data(config)
    assert len(data.train) == 14
    assert sorted(data.train.labels) == [0] * 7 + [1] * 7
    assert len(data.test) == 300 and data.meta["train_examples_per_class"] == 7


def test_load_training_data_reads_a_user_file_with_pii_scrubbing(tmp_path: Path) -> None:
    rows = [f"ticket {i}: card broken, call me at +44 20 7946 {i:04d}" for i in range(30)]
    rows += [f"question {i}: how do I change my address? mail me at user{i}@example.com" for i in range(30)]
    labels = ["card"] * 30 + ["address"] * 30
    path = tmp_path / "tickets.csv"
    lines = [f'"{t}",{y}' for t, y in zip(rows, labels, strict=True)]
    path.write_text("body,topic\n" + "\n".join(lines) + "\n")
    config = TrainConfig(dataset=str(path), text_column="body", label_column="topic", pii_scrub=True)
    data = load_training_data(config)
    assert sorted(data.label_names) == ["address", "card"]
    assert len(data.train) + len(data.validation) + len(data.test) == 60
    every_text = data.train.texts + data.validation.texts + data.test.texts
    assert not any("@example.com" in t for t in every_text)


@pytest.mark.slow
def test_train_loads_the_dataset_and_records_it(tmp_path: Path, tiny_model: str) -> None:
    config = TrainConfig(method="full", model=tiny_model, dataset="sentiment_labelled_sentences",
                         train_examples_per_class=8, epochs=1, batch_size=8, max_length=32, num_threads=1,
                         runs_dir=str(tmp_path), run_name="from-config")
    result = train(config)
    assert result.run_dir == tmp_path / "from-config"
    assert result.extra["steps"] == 2  # 16 training rows / batch 8
    assert torch.get_num_threads() == 1
    described = json.loads((result.run_dir / "data.json").read_text())
    assert described["rows"] == {"train": 16, "validation": 300, "test": 300}
    assert described["meta"]["licence"]
    assert json.loads((result.run_dir / "config.json").read_text())["train_examples_per_class"] == 8


def test_train_dispatches_classic(tmp_path: Path, sentences: DataSplits) -> None:
    result = train(TrainConfig(method="classic", runs_dir=str(tmp_path), run_name="classic"), sentences)
    assert result.method == "classic"
    assert run_status(result.run_dir)["state"] == "succeeded"
    assert 0.0 <= result.metrics["accuracy"] <= 1.0


def test_failure_is_recorded_in_status(tmp_path: Path) -> None:
    config = TrainConfig(method="classic", dataset="no-such-dataset", runs_dir=str(tmp_path), run_name="bad")
    with pytest.raises(DatasetNotFoundError):
        train(config)
    status = run_status(tmp_path / "bad")
    assert status["state"] == "failed" and "no-such-dataset" in status["error"]
    assert status["error"].startswith("DatasetNotFoundError")


def test_interrupt_marks_the_run_cancelled(tmp_path: Path, sentences: DataSplits,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "run_method", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(method="classic", runs_dir=str(tmp_path), run_name="stop"), sentences)
    assert run_status(tmp_path / "stop")["state"] == "cancelled"


def test_existing_run_folder_is_refused_without_resume(tmp_path: Path, sentences: DataSplits) -> None:
    config = TrainConfig(method="classic", runs_dir=str(tmp_path), run_name="twice")
    train(config, sentences)
    with pytest.raises(RunFolderError, match="already exists"):
        train(config, sentences)


def test_resume_run_refuses_finished_and_foreign_folders(tmp_path: Path, sentences: DataSplits) -> None:
    done = train(TrainConfig(method="classic", runs_dir=str(tmp_path), run_name="done"), sentences)
    with pytest.raises(RunFolderError, match="already succeeded"):
        resume_run(done.run_dir, sentences)
    with pytest.raises(RunFolderError, match="not a run folder"):
        resume_run(tmp_path / "nothing-here")


def test_resume_run_restarts_a_failed_classic_run(tmp_path: Path, sentences: DataSplits,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from models.training import classic
    real = classic.train_classic

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(classic, "train_classic", broken)
    with pytest.raises(RuntimeError):
        train(TrainConfig(method="classic", runs_dir=str(tmp_path), run_name="again"), sentences)
    assert run_status(tmp_path / "again")["state"] == "failed"
    monkeypatch.setattr(classic, "train_classic", real)

    result = resume_run(tmp_path / "again", sentences)
    assert run_status(result.run_dir)["state"] == "succeeded"
    assert any(e.kind == "resume" for e in read_events(result.run_dir))
