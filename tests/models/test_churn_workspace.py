"""Churn end to end on a real sample workspace: the analytics side's feature folder (analytics.compute.churn)
passes the model side's checks, the models train on it, and their run folders are ingested into the
workspace and read back as the Churn page's results and the Business case page's expected churn. A 30k-event
workspace (the tests' `ws`) is too small to train on and is refused with the number needed."""

from __future__ import annotations

import pandas as pd
import pytest

from analytics.compute.churn.features import ChurnRequest, churn_span, new_feature_folder
from analytics.db import Workspace
from models.training.churn.config import ChurnConfig
from models.training.churn.data import FeatureFolderError, read_feature_folder
from models.training.churn.train import train_churn

HORIZON_DAYS = 90


def _folder(ws: Workspace, root) -> object:
    request = ChurnRequest(cutoff=churn_span(ws).default_cutoff(HORIZON_DAYS), horizon_days=HORIZON_DAYS)
    return new_feature_folder(ws, request, root=root)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 150k-event sample workspace (about 500 eligible accounts, 24 churned within 90 days), its feature
    folder, logreg and the MLP trained on it and ingested back."""
    from analytics.ingest.runs import ingest_all

    root = tmp_path_factory.mktemp("churn-ws")
    ws = Workspace.open(root / "ws.duckdb", demo_events=150_000)
    folder = _folder(ws, root / "features")
    config = ChurnConfig(features_dir=str(folder), runs_dir=str(root / "runs"), run_prefix="ws",
                         models=("logreg", "mlp"), n_bootstrap=200, epochs=30)
    results = train_churn(config)
    ingested = ingest_all(ws, root / "runs")
    yield ws, folder, results, ingested
    ws.close()


def test_the_workspace_feature_folder_trains_and_is_read_back(trained) -> None:
    from analytics.compute.churn.results import churn_results, expected_churn

    ws, folder, results, ingested = trained
    assert [r.state for r in results] == ["succeeded", "succeeded"]
    assert sorted(ingested) == ["ws-logreg", "ws-mlp"]
    data = read_feature_folder(folder, ChurnConfig(features_dir=str(folder)))
    assert data.positives >= 20 and "plan_tier" in data.feature_names
    shown = churn_results(ws)
    assert shown is not None and set(shown.models["run_id"]) == {"ws-logreg", "ws-mlp"}
    best = shown.models.iloc[0]
    assert best["run_id"] == shown.best_run_id
    assert best["roc_auc"] == max(r.metrics["roc_auc"] for r in results)
    assert best["n_test"] == results[0].metrics["n_test"] and best["n_scored"] == len(data.score_ids)
    expected = expected_churn(ws)
    scores = pd.read_parquet(results[0].run_dir.parent / shown.best_run_id / "scores.parquet")
    assert expected.run_id == shown.best_run_id
    assert expected.horizon_churn_rate == pytest.approx(scores["score"].mean())
    assert expected.mrr_at_risk_usd == pytest.approx((scores["score"] * scores["mrr_usd"]).sum())


def test_a_sample_too_small_is_refused_with_the_number_needed(ws, tmp_path) -> None:
    folder = _folder(ws, tmp_path / "features")
    data = read_feature_folder(folder, ChurnConfig(features_dir=str(folder), min_positives=2))
    assert 0 < data.positives < 20  # the folder itself passes every structural check
    with pytest.raises(FeatureFolderError, match=rf"only {data.positives} of {len(data.y)} accounts churned; "
                                                 "at least 20 are needed"):
        read_feature_folder(folder, ChurnConfig(features_dir=str(folder)))
