"""Run ingest: exactly once, all-or-nothing (crash between 'run finished' and 'ingested'), ingest_all for
runs that finished while the app was down, resumed failures, exact rows from list_runs and run_detail."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics import db
from analytics.errors import RunIngestError, RunNotFoundError
from analytics.ingest.churn_runs import read_scores
from analytics.ingest.generation_runs import generation_rows
from analytics.ingest.runs import (
    ingest_all,
    ingest_run,
    list_runs,
    run_detail,
)
from analytics.ingest.serving import read_serving_file

CONFIG = {"method": "full", "model": "all-MiniLM-L6-v2", "dataset": "banking77", "epochs": 2}


def make_run(root: Path, name: str, *, state: str | None = "succeeded",
             finished_at: str = "2026-03-01T10:00:05+00:00", accuracy: float = 2 / 3) -> Path:
    """A run folder of the models/runs.py shape; state None leaves it unfinished (no status.json)."""
    run = root / name
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps(CONFIG))
    (run / "environment.json").write_text(
        json.dumps({"hardware": "CPU x2", "recorded_at": "2026-03-01T09:59:00Z"}))
    events = [
        {"kind": "start", "device": "cpu", "total_steps": 4, "time": "2026-03-01T10:00:00+00:00"},
        {"kind": "step", "step": 1, "epoch": 0.5, "loss": 2.0, "samples_per_s": 10.0},
        {"kind": "step", "step": 2, "epoch": 1.0 - 1e-9, "loss": 1.0, "samples_per_s": 30.0},
        {"kind": "epoch", "epoch": 1, "step": 2, "val_loss": 0.9, "val_accuracy": 0.5, "improved": True},
        {"kind": "step", "step": 3, "epoch": 1.5, "loss": 0.5, "samples_per_s": 20.0},
        {"kind": "epoch", "epoch": 2, "step": 4, "val_loss": 0.95, "val_accuracy": 0.4, "improved": False},
        {"kind": "epoch", "epoch": 2, "step": 4, "val_loss": 0.7, "val_accuracy": 0.6, "improved": True},
    ]
    (run / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events) + '{"kind": "st')
    if state is None:
        return run
    if state == "succeeded":
        (run / "eval.json").write_text(json.dumps({
            "n": 3, "accuracy": accuracy, "accuracy_ci95": [0.2, 0.94], "macro_f1": 0.5,
            "macro_f1_ci95": [0.1, 0.9], "per_class": [{"label": "a", "f1": 0.8}]}))
        pd.DataFrame({"text_id": ["t1", "t2", "t3"], "true_label": ["a", "b", "a"],
                      "pred_label": ["a", "a", "a"], "confidence": [0.9, 0.8, 0.6],
                      "correct": [True, False, True],
                      "probs": [[0.9, 0.1], [0.8, 0.2], [0.6, 0.4]]}).to_parquet(run / "predictions.parquet")
    status = {"state": state, "finished_at": finished_at, "train_seconds": 5.0, "memory_bytes": 1_000_000}
    if state != "succeeded":
        status["error"] = "TrainingError: loss became nan at step 3"
    (run / "status.json").write_text(json.dumps(status))
    return run


def counts(ws) -> tuple[int, int, int]:
    return tuple(ws.scalar(f"select count(*) from {t}") for t in ("runs", "run_epochs", "run_predictions"))


def test_run_tables_are_app_owned_and_migrated(empty_ws) -> None:
    assert {"runs", "run_epochs", "run_predictions"} <= set(empty_ws.table_names())
    assert {"runs", "run_epochs", "run_predictions"} <= db.APP_TABLES
    assert empty_ws.scalar("select max(version) from schema_migrations") >= 2


def test_ingest_run_exactly_once_with_exact_rows(empty_ws, tmp_path: Path) -> None:
    run = make_run(tmp_path / "runs", "r1")
    assert ingest_run(empty_ws, run) is True
    assert ingest_run(empty_ws, run) is False
    assert counts(empty_ws) == (1, 2, 3)
    row = list_runs(empty_ws).iloc[0].to_dict()
    assert {k: row[k] for k in ("run_id", "job_id", "method", "model", "dataset", "state", "train_seconds",
                                "hardware", "device", "accuracy_ci_low", "accuracy_ci_high", "macro_f1",
                                "macro_f1_ci_low", "macro_f1_ci_high", "n_test", "samples_per_s",
                                "peak_memory_bytes")} == {
        "run_id": "r1", "job_id": None, "method": "full", "model": "all-MiniLM-L6-v2", "dataset": "banking77",
        "state": "succeeded", "train_seconds": 5.0, "hardware": "CPU x2", "device": "cpu",
        "accuracy_ci_low": 0.2, "accuracy_ci_high": 0.94, "macro_f1": 0.5, "macro_f1_ci_low": 0.1,
        "macro_f1_ci_high": 0.9, "n_test": 3, "samples_per_s": 20.0, "peak_memory_bytes": 1_000_000}
    assert row["accuracy"] == pytest.approx(2 / 3)
    assert row["started_at"] == pd.Timestamp("2026-03-01 10:00:00")
    assert row["finished_at"] == pd.Timestamp("2026-03-01 10:00:05")
    assert pd.isna(row["error"])


def test_unfinished_run_is_not_ingested(empty_ws, tmp_path: Path) -> None:
    assert ingest_run(empty_ws, make_run(tmp_path / "runs", "r1", state=None)) is False
    assert counts(empty_ws) == (0, 0, 0)


def test_crash_between_run_finished_and_ingested_writes_nothing_then_ingests_once(
        empty_ws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs = tmp_path / "runs"
    make_run(runs, "r1")
    original = db.Transaction.insert_frame

    def crash_on_predictions(tx, table, frame):
        if table == "run_predictions":
            raise RuntimeError("simulated crash while inserting predictions")
        original(tx, table, frame)

    monkeypatch.setattr(db.Transaction, "insert_frame", crash_on_predictions)
    with pytest.raises(RuntimeError, match="simulated crash"):
        ingest_run(empty_ws, runs / "r1")
    assert counts(empty_ws) == (0, 0, 0)  # runs and run_epochs rows were rolled back too
    monkeypatch.setattr(db.Transaction, "insert_frame", original)
    assert ingest_all(empty_ws, runs) == ["r1"]
    assert ingest_all(empty_ws, runs) == []
    assert counts(empty_ws) == (1, 2, 3)


def test_ingest_all_takes_finished_runs_skips_unfinished_and_broken(empty_ws, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    make_run(runs, "a", finished_at="2026-03-01T10:00:00Z")
    make_run(runs, "b", state="failed", finished_at="2026-03-02T10:00:00Z")
    make_run(runs, "c", state=None)
    (make_run(runs, "d") / "eval.json").unlink()  # succeeded but incomplete: skipped, not half-written
    assert ingest_all(empty_ws, runs) == ["a", "b"]
    assert list(list_runs(empty_ws)["run_id"]) == ["b", "a"]  # newest first
    (runs / "c" / "status.json").write_text(
        json.dumps({"state": "cancelled", "finished_at": "2026-03-03T00:00:00Z"}))
    assert ingest_all(empty_ws, runs) == ["c"]
    assert ingest_all(empty_ws, runs) == []
    assert ingest_all(empty_ws, tmp_path / "nowhere") == []
    with pytest.raises(RunIngestError, match="eval.json is missing"):
        ingest_run(empty_ws, runs / "d")
    assert counts(empty_ws) == (3, 6, 3)


def test_resumed_failed_run_replaces_its_rows_but_succeeded_never_changes(empty_ws, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    run = make_run(runs, "r1", state="failed", finished_at="2026-03-01T10:00:00Z")
    assert ingest_run(empty_ws, run) is True
    assert ingest_run(empty_ws, run) is False  # same attempt: once
    assert counts(empty_ws) == (1, 2, 0)
    (run / "status.json").unlink()
    fresh = make_run(tmp_path / "other", "r1", finished_at="2026-03-02T10:00:00Z")
    for name in ("eval.json", "predictions.parquet", "status.json"):
        (run / name).write_bytes((fresh / name).read_bytes())
    assert ingest_all(empty_ws, runs) == ["r1"]
    assert counts(empty_ws) == (1, 2, 3)
    assert list_runs(empty_ws)["state"].tolist() == ["succeeded"]
    (run / "status.json").write_text(
        json.dumps({"state": "succeeded", "finished_at": "2026-04-01T00:00:00Z"}))
    assert ingest_run(empty_ws, run) is False


def test_concurrent_ingest_of_one_run_writes_it_once(empty_ws, tmp_path: Path) -> None:
    run = make_run(tmp_path / "runs", "r1")
    barrier = threading.Barrier(4)
    results: list[bool] = []

    def ingest() -> None:
        barrier.wait()
        results.append(ingest_run(empty_ws, run))

    threads = [threading.Thread(target=ingest) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]
    assert counts(empty_ws) == (1, 2, 3)


def test_run_detail_epochs_predictions_and_blobs(empty_ws, tmp_path: Path) -> None:
    run = make_run(tmp_path / "runs", "r1")
    (run / "job.json").write_text(json.dumps({"job_id": "20260301-100000-train-abc123", "kind": "train"}))
    ingest_run(empty_ws, run)
    detail = run_detail(empty_ws, "r1")
    assert detail.summary["job_id"] == "20260301-100000-train-abc123"
    assert "config_json" not in detail.summary
    assert detail.config == CONFIG and detail.environment["hardware"] == "CPU x2"
    assert detail.evaluation["per_class"] == [{"label": "a", "f1": 0.8}]
    epochs = detail.epochs
    assert epochs["epoch"].tolist() == [1, 2] and epochs["step"].tolist() == [2, 4]
    assert epochs["train_loss"].tolist() == [1.5, 0.5]  # mean step loss within each epoch
    assert epochs["val_accuracy"].tolist() == [0.5, 0.6]  # epoch 2 logged twice (resume): the last one kept
    preds = detail.predictions
    assert preds["text_id"].tolist() == ["t2", "t1", "t3"]  # the confident mistake first
    assert preds["correct"].tolist() == [False, True, True]
    assert [list(p) for p in preds["probs"]] == [[0.8, 0.2], [0.9, 0.1], [0.6, 0.4]]
    with pytest.raises(RunNotFoundError, match="no ingested run 'nope'"):
        run_detail(empty_ws, "nope")


@pytest.mark.slow
def test_ingest_accepts_the_model_engines_own_files(empty_ws, tmp_path: Path) -> None:
    """The real writer (models.core.runs) and evaluator (models.core.evaluate) produce folders the
    ingest reads."""
    from models.core.config import TrainConfig
    from models.core.evaluate import evaluate_predictions, predictions_frame
    from models.core.runs import RunWriter

    config = TrainConfig(method="classic", runs_dir=str(tmp_path / "runs"))
    writer = RunWriter(tmp_path / "runs" / "real")
    writer.run_dir.mkdir(parents=True)
    writer.write_json("config.json", config.to_dict())
    writer.write_json("environment.json", {"hardware": "CPU x2"})
    y_true = [0, 1, 1, 0]
    probs = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.8, 0.2]])
    writer.write_json("eval.json", evaluate_predictions(y_true, probs, ("neg", "pos"), n_bootstrap=50))
    writer.write_predictions(predictions_frame(["e1", "e2", "e3", "e4"], y_true, probs, ("neg", "pos")))
    writer.finish("succeeded", train_seconds=0.5)
    assert ingest_run(empty_ws, writer.run_dir) is True
    row = list_runs(empty_ws).iloc[0]
    assert (row["model"], row["device"], row["n_test"], row["accuracy"]) == ("tfidf", "cpu", 4, 0.75)
    assert row["accuracy_ci_low"] < 0.75 < row["accuracy_ci_high"]
    preds = run_detail(empty_ws, "real").predictions
    e3 = preds.set_index("text_id").loc["e3", ["true_label", "pred_label", "correct"]]
    assert e3.tolist() == ["pos", "neg", False]


def inference_record(measured_at: str, p50_ms: float, **extra: object) -> dict:
    """An inference.json of the measure-job shape (models.serving.benchmark_record)."""
    return {"measured_at": measured_at, "measured_by": "measure job: after training", "hardware": "CPU x2",
            "p50_ms": p50_ms, "p50_best_ms": p50_ms * 0.9, "p50_spread": 0.08, "p95_ms": p50_ms * 2,
            "throughput_per_s": 250.0, "throughput_best_per_s": 260.0, "throughput_spread": 0.05,
            "repeats": 5, "threads": 2, "busy": False, "load_average_1m_start": 1.5, "load_average_1m": 2.1,
            "others_cpu_share": 0.04, "cpu_count": 2, **extra}


def test_inference_repeats_busy_and_a_re_measure_land_in_the_workspace(empty_ws, tmp_path: Path) -> None:
    import os
    import time

    from analytics.ingest.runs import attach_pending_inference

    run = make_run(tmp_path, "r1")
    (run / "inference.json").write_text(json.dumps(inference_record("2026-03-01T10:01:00+00:00", 12.0)))
    old = pd.Timestamp("2026-03-01T10:01:00Z").timestamp()
    os.utime(run / "inference.json", (old, old))  # written when it was measured
    assert ingest_all(empty_ws, tmp_path) == ["r1"]
    columns = ("p50_ms, p50_best_ms, p50_spread, throughput_per_s, throughput_best_per_s, throughput_spread, "
               "inference_repeats, inference_threads, inference_busy, inference_measured_by, "
               "inference_load_average_start, inference_load_average, inference_others_cpu_share")
    assert empty_ws.rows(f"select {columns} from runs") == [
        (12.0, 10.8, 0.08, 250.0, 260.0, 0.05, 5, 2, False, "measure job: after training", 1.5, 2.1, 0.04)]
    assert attach_pending_inference(empty_ws, tmp_path) == []  # unchanged file: nothing to do
    time.sleep(0.01)
    (run / "inference.json").write_text(json.dumps(inference_record(
        pd.Timestamp.now(tz="UTC").isoformat(), 20.0, busy=True, measured_by="measure job: re-measure")))
    assert ingest_all(empty_ws, tmp_path) == []  # the run is not ingested again, its figures are replaced
    assert empty_ws.rows("select p50_ms, inference_busy, inference_measured_by from runs") == [
        (20.0, True, "measure job: re-measure")]
    assert attach_pending_inference(empty_ws, tmp_path) == []


def test_an_old_inference_record_leaves_the_new_columns_null(empty_ws, tmp_path: Path) -> None:
    run = make_run(tmp_path, "r1")
    (run / "inference.json").write_text(json.dumps({"measured_at": "2026-03-01T10:01:00+00:00",
                                                    "p50_ms": 3.0, "throughput_per_s": 9.0, "cpu_count": 2}))
    assert ingest_all(empty_ws, tmp_path) == ["r1"]
    assert empty_ws.rows("select p50_ms, p50_spread, inference_repeats, inference_busy from runs") == [
        (3.0, None, None, None)]


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "cannot read .*config.json"),
    ("[1, 2]", "config.json must hold a JSON object"),
])
def test_a_broken_run_file_is_refused_by_name_and_nothing_is_written(empty_ws, tmp_path: Path, text: str,
                                                                     message: str) -> None:
    run = make_run(tmp_path / "runs", "broken")
    (run / "config.json").write_text(text)
    with pytest.raises(RunIngestError, match=message):
        ingest_run(empty_ws, run)
    assert counts(empty_ws) == (0, 0, 0)


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "cannot read .*serving.json"),
    ("[]", "serving.json must hold a JSON object"),
    ('{"levels": []}', r'serving.json must hold \{"records": \[...\]\}'),
])
def test_a_broken_serving_file_is_refused_by_name(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "serving.json").write_text(text)
    with pytest.raises(RunIngestError, match=message):
        read_serving_file(tmp_path)
    assert read_serving_file(tmp_path / "absent").empty


@pytest.mark.parametrize("file", ["predictions.parquet", "generations.parquet", "scores.parquet"])
def test_a_torn_or_foreign_parquet_table_is_refused_by_name(empty_ws, tmp_path: Path, file: str) -> None:
    """Each parquet table the ingest reads: a torn file and one without the needed columns say so, by path
    (a run's predictions through ingest_run, which then writes nothing)."""
    run = make_run(tmp_path / "runs", "r1")
    readers = {"predictions.parquet": lambda d: ingest_run(empty_ws, d),
               "generations.parquet": lambda d: generation_rows(d, required=True),
               "scores.parquet": read_scores}
    (run / file).write_bytes(b"PAR1 torn")
    with pytest.raises(RunIngestError, match=f"cannot read .*{file}"):
        readers[file](run)
    pd.DataFrame({"other": [1]}).to_parquet(run / file)
    with pytest.raises(RunIngestError, match=rf"{file} lacks columns \[.*\]; it has: other"):
        readers[file](run)
    assert counts(empty_ws) == (0, 0, 0)
