"""Run labels for pickers: dataset, method and model, accuracy and time; duplicates told apart."""

from __future__ import annotations

from datetime import datetime, timezone

from analytics.compute.run_labels import dataset_words, model_words, run_label, run_labels

NOW = datetime(2026, 3, 1, 18, 0, tzinfo=timezone.utc)
ROW = {"run_id": "r1", "dataset": "banking77", "method": "full", "model": "all-MiniLM-L6-v2",
       "state": "succeeded", "accuracy": 0.852, "finished_at": "2026-03-01T12:41:09+00:00"}


def test_label_reads_dataset_method_model_accuracy_and_time() -> None:
    assert run_label(ROW, now=NOW) == "banking77 · full MiniLM-L6-v2 · 85.2% · 12:41"
    assert run_label(ROW, with_dataset=False, now=NOW) == "full MiniLM-L6-v2 · 85.2% · 12:41"
    yesterday = {**ROW, "finished_at": "2026-02-28T09:05:00+00:00"}
    assert run_label(yesterday, now=NOW).endswith(" · Feb 28 09:05")


def test_methods_failed_runs_and_uploads() -> None:
    assert model_words("classic", None) == "classic TF-IDF"
    assert model_words("linear_probe", "sentence-transformers/all-MiniLM-L6-v2") == "probe MiniLM-L6-v2"
    assert model_words("zero_shot", "SmolLM2-135M-Instruct") == "zero-shot SmolLM2-135M-Instruct"
    failed = {**ROW, "state": "failed", "accuracy": float("nan")}
    assert run_label(failed, now=NOW) == "banking77 · full MiniLM-L6-v2 · failed · 12:41"
    assert dataset_words("/data/uploads/3fa9c0d1e2b4-tickets.csv") == "3fa9c0d1e2b4-tickets.csv"


def test_labels_that_would_read_the_same_get_their_run_id() -> None:
    twin = {**ROW, "run_id": "r2"}
    other = {**ROW, "run_id": "r3", "accuracy": 0.5}
    assert run_labels([ROW, twin, other], now=NOW) == [
        "banking77 · full MiniLM-L6-v2 · 85.2% · 12:41 · r1",
        "banking77 · full MiniLM-L6-v2 · 85.2% · 12:41 · r2",
        "banking77 · full MiniLM-L6-v2 · 50.0% · 12:41"]
