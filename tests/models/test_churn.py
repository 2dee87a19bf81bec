"""Churn models (models.training.churn): each model beats chance on a learnable synthetic signal, the run
folders follow the churn contract (and the run ingest reads them), the figures agree with their own
predictions, and what the feature folder check refuses."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from models.errors import ConfigError
from models.training.churn.config import ChurnConfig
from models.training.churn.data import FeatureFolderError, read_feature_folder
from models.training.churn.train import train_churn
from tests.models.churn_fixtures import FEATURES, write_feature_folder

MODELS = ("logreg", "gbm", "mlp")
RUN_FILES = {"config.json", "environment.json", "events.jsonl", "model", "eval.json", "predictions.parquet",
             "scores.parquet", "status.json"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The three models trained once on a 400-account synthetic folder (100 held out, 60 to score)."""
    root = tmp_path_factory.mktemp("churn")
    folder = write_feature_folder(root / "features")
    config = ChurnConfig(features_dir=str(folder), runs_dir=str(root / "runs"), run_prefix="t",
                         n_bootstrap=200, epochs=40)
    results = {r.method.removeprefix("churn_"): r for r in train_churn(config)}
    return folder, config, results


def test_every_model_beats_chance_with_its_interval(trained) -> None:
    _, _, results = trained
    assert sorted(results) == sorted(MODELS)
    for name, result in results.items():
        m = result.metrics
        assert result.state == "succeeded", name
        assert 0.5 < m["roc_auc_ci_low"] < m["roc_auc"] < m["roc_auc_ci_high"] <= 1.0, (name, m["roc_auc"])
        assert m["pr_auc_ci_low"] < m["pr_auc"] < m["pr_auc_ci_high"], name
        assert m["pr_auc"] > m["base_rate"], name  # above a random ranking's average precision
        assert m["brier"] < m["base_rate"] * (1 - m["base_rate"]), name  # beats always saying the base rate


def test_run_folders_follow_the_contract(trained) -> None:
    folder, config, results = trained
    meta = json.loads((folder / "features.json").read_text())
    for name, result in results.items():
        run = result.run_dir
        assert run.name == f"t-{name}" and {p.name for p in run.iterdir()} == RUN_FILES
        saved = json.loads((run / "config.json").read_text())
        assert saved["method"] == f"churn_{name}" and saved["model"] == config.model_name(name)
        assert (saved["task"], saved["dataset"]) == ("tabular", meta["dataset"])
        assert ChurnConfig.from_dict(saved).models == MODELS
        ev = json.loads((run / "eval.json").read_text())
        assert ev["task"] == "tabular" and ev["threshold"] == 0.5
        assert (ev["n_train"], ev["n_test"], ev["cutoff"], ev["horizon_days"]) == (300, 100, "2026-06-30", 60)
        assert len(ev["features_sha256"]) == 64 and ev["sql_sha256"] == meta["sql_sha256"]
        assert sum(b["n"] for b in ev["calibration"]) == 100 and len(ev["calibration"]) == 10
        assert set(ev["calibration"][0]) == {"bin", "predicted", "observed", "n"}
        assert sorted(i["feature"] for i in ev["importance"]) == sorted(FEATURES)
        means = [i["mean"] for i in ev["importance"]]
        assert means == sorted(means, reverse=True)
        assert ev["importance"][0]["feature"] in ("activity_trend_4w_12w", "downgrades"), name
        assert ev["accuracy_ci_low"] < ev["accuracy"] < ev["accuracy_ci_high"]
        status_mtime = (run / "status.json").stat().st_mtime_ns
        assert all(p.stat().st_mtime_ns <= status_mtime for p in run.iterdir())  # status.json written last


def test_figures_agree_with_the_run_own_predictions(trained) -> None:
    folder, _, results = trained
    train = pd.read_parquet(folder / "train.parquet").set_index("account_id")
    splits = []
    for result in results.values():
        pred = pd.read_parquet(result.run_dir / "predictions.parquet")
        assert list(pred.columns) == ["text_id", "true_label", "pred_label", "confidence", "correct", "probs"]
        splits.append(tuple(pred["text_id"]))
        truth = train.loc[pred["text_id"].astype(int), "label"].to_numpy()
        assert list(pred["true_label"]) == ["churned" if t else "stayed" for t in truth]
        p = np.array([row[1] for row in pred["probs"]])
        m = result.metrics
        assert m["roc_auc"] == pytest.approx(roc_auc_score(truth, p))
        assert m["pr_auc"] == pytest.approx(average_precision_score(truth, p))
        assert m["brier"] == pytest.approx(brier_score_loss(truth, p))
        assert m["accuracy"] == pytest.approx(pred["correct"].mean())
        assert list(pred["pred_label"]) == ["churned" if q > 0.5 else "stayed" for q in p]
        assert m["positives_test"] == int(truth.sum()) and m["base_rate"] == pytest.approx(truth.mean())
    assert len(set(splits)) == 1  # one seeded split, every model evaluated on the same accounts
    test_rate = results["logreg"].metrics["base_rate"]
    assert test_rate == pytest.approx(train["label"].mean(), abs=0.01)  # stratified


def test_scores_cover_the_accounts_to_score_and_the_saved_mlp_reproduces_them(trained) -> None:
    from models.modeling.tabular import load_tabular, mlp_probabilities

    folder, _, results = trained
    score = pd.read_parquet(folder / "score.parquet")
    for result in results.values():
        scores = pd.read_parquet(result.run_dir / "scores.parquet")
        assert list(scores.columns) == ["account_id", "score", "mrr_usd"]
        assert scores["account_id"].tolist() == score["account_id"].tolist()
        assert scores["mrr_usd"].tolist() == score["mrr_usd"].tolist()
        assert scores["score"].between(0, 1).all() and scores["score"].std() > 0
    model, spec = load_tabular(results["mlp"].run_dir / "model")
    again = mlp_probabilities(model, spec.standardiser, score[list(spec.feature_names)].to_numpy(np.float64))
    saved = pd.read_parquet(results["mlp"].run_dir / "scores.parquet")["score"].to_numpy()
    np.testing.assert_allclose(again, saved, rtol=1e-6)


def test_mlp_run_has_the_loop_events_and_the_ingest_reads_it(trained) -> None:
    from analytics.ingest.runs import read_run_folder

    _, _, results = trained
    run = results["mlp"].run_dir
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    kinds = [e.get("kind") or e.get("stage") for e in events]
    assert kinds[:2] == ["train_start", "start"] and kinds[-2:] == ["trained", "evaluated"]
    epochs = [e for e in events if e.get("kind") == "epoch"]
    assert [e["epoch"] for e in epochs] == list(range(1, len(epochs) + 1))
    assert all(np.isfinite(e["val_loss"]) for e in epochs)
    status = json.loads((run / "status.json").read_text())
    assert status["best_epoch"] == min(epochs, key=lambda e: e["val_loss"])["epoch"]
    record = read_run_folder(run)
    row = record.run.iloc[0]
    assert (row["method"], row["model"], row["state"]) == ("churn_mlp", "mlp-64-32", "succeeded")
    assert row["accuracy"] == pytest.approx(results["mlp"].metrics["accuracy"]) and row["n_test"] == 100
    assert len(record.predictions) == 100 and len(record.epochs) == len(epochs)


def test_a_failed_model_keeps_the_others_and_a_resume_trains_only_it(tmp_path, monkeypatch) -> None:
    from models.training.churn import baselines

    folder = write_feature_folder(tmp_path / "features", n=240)
    config = ChurnConfig(features_dir=str(folder), runs_dir=str(tmp_path / "runs"), run_prefix="r",
                         models=("logreg", "gbm"), n_bootstrap=50, gbm_max_iter=20)
    real_fit = baselines.fit_baseline

    def failing(model, *args):
        if model == "gbm":
            raise MemoryError("simulated")
        return real_fit(model, *args)

    monkeypatch.setattr(baselines, "fit_baseline", failing)
    first = train_churn(config)
    assert [r.state for r in first] == ["succeeded", "failed"]
    status = json.loads((tmp_path / "runs" / "r-gbm" / "status.json").read_text())
    assert status["state"] == "failed" and status["error"] == "MemoryError: simulated"
    kept_mtime = (tmp_path / "runs" / "r-logreg" / "eval.json").stat().st_mtime_ns
    monkeypatch.setattr(baselines, "fit_baseline", real_fit)
    again = train_churn(config, resume=True)
    assert [r.state for r in again] == ["succeeded", "succeeded"]
    assert (tmp_path / "runs" / "r-logreg" / "eval.json").stat().st_mtime_ns == kept_mtime
    assert again[0].metrics["roc_auc"] == first[0].metrics["roc_auc"]


def _refusal(folder, capsys, runs) -> str:
    from models.cli import main

    code = main(["train-churn", "--features", str(folder), "--runs-dir", str(runs), "--models", "logreg"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ")
    return err[0]


def test_cli_refusals_are_one_line_and_write_nothing(tmp_path, capsys) -> None:
    runs = tmp_path / "runs"
    assert "does not exist" in _refusal(tmp_path / "absent", capsys, runs)
    half = write_feature_folder(tmp_path / "half", n=120)
    (half / "score.parquet").unlink()
    assert "lacks score.parquet" in _refusal(half, capsys, runs)
    one_class = write_feature_folder(tmp_path / "one", n=120, label=np.zeros(120))
    assert "the label has one class" in _refusal(one_class, capsys, runs)
    few = write_feature_folder(tmp_path / "few", n=120, label=(np.arange(120) < 8))
    assert "only 8 of 120 accounts churned; at least 20 are needed" in _refusal(few, capsys, runs)
    text = write_feature_folder(tmp_path / "text", n=120)
    frame = pd.read_parquet(text / "train.parquet").assign(plan_tier=lambda f: f["plan_tier"].map(str))
    frame.to_parquet(text / "train.parquet", index=False)
    message = _refusal(text, capsys, runs)
    assert "feature columns must be numeric; plan_tier (" in message and "one-hot encode" in message
    labels = write_feature_folder(tmp_path / "labels", n=120)
    frame = pd.read_parquet(labels / "train.parquet").assign(label=2)
    frame.to_parquet(labels / "train.parquet", index=False)
    assert "label must be 0 (stayed) or 1 (churned)" in _refusal(labels, capsys, runs)
    assert not runs.exists()


def test_cli_trains_and_prints_one_line_per_model(tmp_path, capsys) -> None:
    from models.cli import main

    folder = write_feature_folder(tmp_path / "features", n=200)
    code = main(["train-churn", "--features", str(folder), "--runs-dir", str(tmp_path / "runs"),
                 "--models", "logreg", "--n-bootstrap", "50", "--run-prefix", "cli"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and len(lines) == 1 and lines[0].startswith("churn_logreg  ROC-AUC 0.")
    assert str(tmp_path / "runs" / "cli-logreg") in lines[0]
    assert main(["train-churn", "--features", str(folder), "--models", "svm"]) == 2
    assert "models must be some of logreg, gbm, mlp" in capsys.readouterr().err


def test_config_refusals_say_what_to_change() -> None:
    with pytest.raises(ConfigError, match="test_share must be a share from 0.05 to 0.5"):
        ChurnConfig(features_dir="f", test_share=0.9)
    with pytest.raises(ConfigError, match="hidden_sizes must be 1 to 8 layer widths"):
        ChurnConfig(features_dir="f", hidden_sizes=(64, 0))
    with pytest.raises(ConfigError, match="lists a model twice"):
        ChurnConfig(features_dir="f", models="mlp,mlp")
    with pytest.raises(ConfigError, match="dropout must be from 0 to below 1"):
        ChurnConfig(features_dir="f", dropout=1.0)
    with pytest.raises(ConfigError, match="features_dir must name a churn feature folder"):
        ChurnConfig(features_dir=" ")
    config = ChurnConfig(features_dir="f", models="gbm, mlp", hidden_sizes=[16])
    assert config.models == ("gbm", "mlp") and config.model_name("mlp") == "mlp-16"
    assert ChurnConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_feature_folder_refuses_missing_values(tmp_path) -> None:
    folder = write_feature_folder(tmp_path / "nan", n=120)
    frame = pd.read_parquet(folder / "train.parquet")
    frame.loc[:2, "seats"] = np.nan
    frame.to_parquet(folder / "train.parquet", index=False)
    with pytest.raises(FeatureFolderError, match=r"missing or infinite values in seats \(3 rows\)"):
        read_feature_folder(folder, ChurnConfig(features_dir=str(folder)))


def test_bootstrap_metrics_equal_sklearn_with_ties_and_calibration_counts_by_hand() -> None:
    from models.training.churn.evaluate import calibration_table, fast_average_precision, fast_roc_auc

    rng = np.random.default_rng(3)
    for _ in range(20):
        y = rng.integers(0, 2, 40)
        y[:2] = [0, 1]
        p = np.round(rng.random(40), 1)  # coarse scores: many ties
        assert fast_roc_auc(y, p) == pytest.approx(roc_auc_score(y, p))
        assert fast_average_precision(y, p) == pytest.approx(average_precision_score(y, p))
    y = np.array([0, 0, 1, 0, 1, 1, 0, 1])
    p = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9])
    assert calibration_table(y, p, 2) == [
        {"bin": 0, "predicted": pytest.approx(0.25), "observed": 0.25, "n": 4},
        {"bin": 1, "predicted": pytest.approx(0.75), "observed": 0.75, "n": 4}]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_the_mlp_trains_on_the_gpu_with_bf16_autocast(tmp_path) -> None:
    folder = write_feature_folder(tmp_path / "features", n=300)
    config = ChurnConfig(features_dir=str(folder), runs_dir=str(tmp_path / "runs"), models=("mlp",),
                         device="cuda", precision="auto", n_bootstrap=50, epochs=10)
    result = train_churn(config)[0]
    assert result.state == "succeeded" and result.extra["device"].startswith("cuda")
    assert result.extra["mixed_precision"] == ("bf16" if torch.cuda.is_bf16_supported() else "no")
    assert 0 <= result.metrics["roc_auc"] <= 1
    status = json.loads((result.run_dir / "status.json").read_text())
    assert status["device"].startswith("cuda")
