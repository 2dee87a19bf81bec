"""Churn runs ingested from contract-shaped fake run folders, and the results the Churn and Business case
pages read: exact rows of churn_models, churn_at_risk and churn_expected, the best model, expected churn by
hand.

The fake scores (tests/analytics/churn_fixtures.py SCORES): accounts 1-4 with scores 0.5, 0.1, 0.25, 0.8 and
MRR $100, $50, $0, $10. By hand: mean score 1.65 / 4 = 0.4125; over paying accounts (1, 2, 4) 1.4 / 3; MRR at
risk 50 + 5 + 0 + 8 = $63 of $160.
"""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from analytics.compute.churn import results as churn_results
from analytics.db import Workspace
from analytics.errors import RunIngestError
from analytics.ingest import churn_runs
from analytics.ingest.runs import ingest_all
from tests.analytics import churn_fixtures as fx
from tests.analytics.test_churn import seed

PREFIX = "20261201-110000-churn"


def _ingested(root):
    ws = Workspace.open(root / "ws.duckdb", seed_demo=False)
    seed(ws)
    fx.make_churn_set(root / "runs", PREFIX)
    assert ingest_all(ws, root / "runs") == [f"{PREFIX}-{m}" for m in ("gbm", "logreg", "mlp")]
    return ws, root / "runs"


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    """One workspace with the three fake runs ingested, shared by the tests that only read it."""
    ws, runs = _ingested(tmp_path_factory.mktemp("churn"))
    yield ws, runs
    ws.close()


@pytest.fixture
def own(tmp_path):
    """A private copy of `ingested` for tests that write."""
    ws, runs = _ingested(tmp_path)
    yield ws, runs
    ws.close()


def test_a_churn_run_lands_in_runs_and_its_scores_in_churn_scores(ingested):
    ws, _ = ingested
    run = ws.sql("select method, model, dataset, task, accuracy, n_test from runs where run_id = ?",
                 [f"{PREFIX}-gbm"]).iloc[0].tolist()
    assert run == ["churn_gbm", "hist-gradient-boosting", fx.DATASET, "tabular", 0.9, 40]
    info = ws.sql("select dataset, cutoff, horizon_days, score_cutoff, n_scored, scored_mrr_usd "
                  "from churn_runs where run_id = ?", [f"{PREFIX}-gbm"]).iloc[0].tolist()
    assert info[0] == fx.DATASET and pd.Timestamp(info[1]).date() == date(2025, 6, 30)
    assert info[2:3] == [30] and pd.Timestamp(info[3]).date() == date(2025, 7, 31) and info[4:] == [4, 160.0]
    assert ws.rows("select account_id, score, mrr_usd from churn_scores where run_id = ? order by account_id",
                   [f"{PREFIX}-gbm"]) == [(1, 0.5, 100.0), (2, 0.1, 50.0), (3, 0.25, 0.0), (4, 0.8, 10.0)]
    assert ws.scalar("select count(*) from run_predictions where run_id = ?", [f"{PREFIX}-gbm"]) == 2


def test_ingest_is_once_only(own):
    ws, runs = own
    assert ingest_all(ws, runs) == []
    assert churn_runs.attach_pending_scores(ws, runs) == []
    assert churn_runs.ingest_scores(ws, runs / f"{PREFIX}-gbm") is False
    assert ws.scalar("select count(*) from churn_scores") == 12


def test_broken_scores_are_skipped_and_retried(empty_ws, tmp_path):
    runs = tmp_path / "runs"
    run = fx.make_churn_run(runs, "r-missing", write_scores=False)
    fx.make_churn_run(runs, "r-bad", scores=((1, 1.5, 10.0),))
    fx.make_churn_run(runs, "r-failed", state="failed")
    ingest_all(empty_ws, runs)
    assert empty_ws.scalar("select count(*) from runs") == 3
    assert empty_ws.scalar("select count(*) from churn_runs") == 0  # nothing half-written
    with pytest.raises(RunIngestError, match="score outside 0..1"):
        churn_runs.ingest_scores(empty_ws, runs / "r-bad")
    with pytest.raises(RunIngestError, match="not a succeeded churn run"):
        churn_runs.ingest_scores(empty_ws, runs / "r-failed")
    pd.DataFrame({"account_id": [7], "score": [0.3], "mrr_usd": [20.0]}).to_parquet(run / "scores.parquet")
    assert churn_runs.attach_pending_scores(empty_ws, runs) == ["r-missing"]


def test_score_day_falls_back_to_the_feature_folder(empty_ws, tmp_path):
    features = tmp_path / "features"
    features.mkdir()
    (features / "features.json").write_text(json.dumps({"score_cutoff": "2025-08-01"}), encoding="utf-8")
    fx.make_churn_run(tmp_path / "runs", "r1", eval_json=fx.evaluation(0.8, score_cutoff=None),
                      features_dir=str(features))
    ingest_all(empty_ws, tmp_path / "runs")
    assert empty_ws.scalar("select score_cutoff from churn_runs") == date(2025, 8, 1)


def test_models_side_by_side_best_first(ingested):
    ws, _ = ingested
    models = churn_results.churn_models(ws)
    assert models[["run_id", "label", "roc_auc", "roc_auc_ci_low", "roc_auc_ci_high", "pr_auc", "n_test",
                   "positives_test"]].round(9).values.tolist() == [
        [f"{PREFIX}-gbm", "Gradient boosting", 0.8, 0.7, 0.85, 0.4, 40, 4],
        [f"{PREFIX}-mlp", "MLP", 0.75, 0.65, 0.8, 0.375, 40, 4],
        [f"{PREFIX}-logreg", "Logistic regression", 0.7, 0.6, 0.75, 0.35, 40, 4],
    ]


def test_newest_feature_set_comes_first(own):
    ws, runs = own
    fx.make_churn_set(runs, "20261202-churn", dataset="workspace_churn_2025-06-01_30d",
                      finished_at="2026-12-02T09:00:00+00:00")
    ingest_all(ws, runs)
    assert churn_results.churn_datasets(ws) == ["workspace_churn_2025-06-01_30d", fx.DATASET]
    assert churn_results.churn_results(ws).dataset == "workspace_churn_2025-06-01_30d"
    assert len(churn_results.churn_results(ws, fx.DATASET).models) == 3


def test_a_set_trained_again_shows_its_newest_runs(own):
    ws, runs = own
    fx.make_churn_run(runs, "20261203-churn-logreg", method="churn_logreg", roc_auc=0.9,
                      finished_at="2026-12-03T09:00:00+00:00")
    ingest_all(ws, runs)
    models = churn_results.churn_models(ws)
    assert models["run_id"].tolist() == ["20261203-churn-logreg", f"{PREFIX}-gbm", f"{PREFIX}-mlp"]


def test_results_of_the_best_model(ingested):
    ws, _ = ingested
    res = churn_results.churn_results(ws)
    assert res.best_run_id == f"{PREFIX}-gbm"
    assert res.at_risk[["account_id", "account_name", "score", "mrr_usd", "mrr_at_risk_usd"]
                       ].values.tolist() == [[1, "Co 1", 0.5, 100.0, 50.0], [4, "Co 4", 0.8, 10.0, 8.0],
                                             [2, "Co 2", 0.1, 50.0, 5.0], [3, "Co 3", 0.25, 0.0, 0.0]]
    assert res.importance.values.tolist() == [["tenure_days", 0.12, 0.03], ["sessions_4w", 0.02, 0.01],
                                              ["plan_tier", -0.01, 0.005]]
    assert res.calibration["label"].tolist() == ["Gradient boosting"] * 2 + ["MLP"] * 2 + \
        ["Logistic regression"] * 2
    assert res.calibration.iloc[:2][["bin", "predicted", "observed", "n"]].values.tolist() == [
        [0, 0.05, 0.04, 30], [3, 0.6, 0.5, 10]]


def test_expected_churn_by_hand(ingested):
    ws, _ = ingested
    exp = churn_results.expected_churn(ws)
    month = 30.4375 / 30
    assert exp.run_id == f"{PREFIX}-gbm" and exp.model == "Gradient boosting" and exp.accounts == 4
    assert exp.horizon_churn_rate == pytest.approx(0.4125)
    assert exp.monthly_churn_rate == pytest.approx(1 - (1 - 0.4125) ** month)
    assert exp.paying_monthly_churn_rate == pytest.approx(1 - (1 - 1.4 / 3) ** month)
    assert exp.monthly_revenue_churn_rate == pytest.approx(1 - (1 - 63 / 160) ** month)
    assert (exp.mrr_at_risk_usd, exp.scored_mrr_usd) == pytest.approx((63.0, 160.0))
    assert (exp.cutoff, exp.horizon_days, exp.score_cutoff) == (date(2025, 6, 30), 30, date(2025, 7, 31))
    assert exp.roc_auc == 0.8 and exp.roc_auc_ci == pytest.approx((0.7, 0.85))
    assert "run 20261201-110000-churn-gbm" in exp.provenance and "table churn_scores" in exp.provenance
    assert "$160" in exp.provenance and "80.0%" in exp.provenance


def test_expected_churn_query_rows(ingested):
    ws, _ = ingested
    row = ws.query("churn_expected", run_id=f"{PREFIX}-mlp").round(9).iloc[0].tolist()
    assert row == [4, 3, 1.65, 0.4125, round(1.4 / 3, 9), 63.0, 160.0]


def test_no_churn_run_yet(empty_ws):
    assert churn_results.expected_churn(empty_ws) is None
    assert churn_results.churn_results(empty_ws) is None
    assert churn_results.churn_datasets(empty_ws) == []


@pytest.mark.parametrize(("rate", "days", "monthly"), [(0.0, 90, 0.0), (1.0, 90, 1.0), (0.1, 30.4375, 0.1),
                                                       (0.19, 60.875, 0.1)])
def test_monthly_rate(rate, days, monthly):
    assert churn_results.monthly_rate(rate, days) == pytest.approx(monthly)


def test_figures_are_readable(ingested):
    from analytics.charts.churn import churn_figures
    from tests.readable import figure_texts, unreadable

    res = churn_results.churn_results(ingested[0])
    figures = churn_figures(res, {"tenure_days": "days from sign-up"})
    for fig in (figures.models, figures.calibration, figures.importance, figures.at_risk):
        texts = list(figure_texts(fig))
        assert not unreadable(texts), unreadable(texts)
    assert [t.name for t in figures.models.data if t.showlegend is not False] == [
        "ROC-AUC", "PR-AUC", "random ranking: ROC-AUC 50%", "churn rate 10%: PR-AUC of a random ranking"]
    assert list(figures.models.data[1].text) == ["80.0%", "75.0%", "70.0%"]  # written above the CI
    assert list(figures.models.data[1].y) == pytest.approx([0.85, 0.8, 0.75])
    assert [t.name for t in figures.calibration.data] == ["perfectly calibrated", "Gradient boosting", "MLP",
                                                          "Logistic regression"]
    assert list(figures.importance.data[0].y) == ["plan_tier", "sessions_4w", "tenure_days"]  # largest on top
    assert list(figures.importance.data[1].text) == ["-1", "2", "12"]  # points of ROC-AUC
    assert "days from sign-up" in figures.importance.data[0].hovertext[-1]
    assert list(figures.at_risk.data[0].text) == ["$0", "$5", "$8", "$50"]
    assert list(figures.at_risk.data[0].y) == ["Co 3", "Co 2", "Co 4", "Co 1"]
