"""AppTest of the Churn page: results of contract-shaped fake churn runs, refusals in place, and the train
button writing a feature folder and queueing a job (the job's submission faked: no training in page tests)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

from analytics.compute.churn.features import churn_span
from analytics.db import Workspace
from tests.analytics import churn_fixtures as fx
from tests.pages.apptest import new_app
from tests.support import ROOT

PAGE = "pages/churn.py"


def _app():
    """The Churn page under AppTest: through app.py's navigation once it lists the page, else on its own."""
    if PAGE in (ROOT / "app.py").read_text(encoding="utf-8"):
        return new_app(PAGE)
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / PAGE), default_timeout=30)
    at.run()
    return at


def _span(path: Path):
    ws = Workspace.open(path)
    try:
        return churn_span(ws)
    finally:
        ws.close()


def test_results_of_fake_runs(app_env, tmp_path):
    fx.make_churn_set(tmp_path / "runs")
    at = _app()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == "Churn"
    assert any("Sample data" in i.value for i in at.info)
    kpis = {m.label: m.value for m in at.metric}
    # the fake scores by hand (tests/analytics/churn_fixtures): 1.65 expected cancels, $63 of $160 at risk
    # monthly: 1 - (1 - 0.4125) ** (30.4375 / 30) = 0.41703
    assert kpis == {"Best ROC-AUC": "80.0%", "Expected cancels": "1.65", "MRR at risk": "$63",
                    "Monthly churn": "41.7%"}
    assert len(at.get("plotly_chart")) == 4
    models, at_risk = (d.value for d in at.dataframe)
    assert models["model"].tolist() == ["Gradient boosting", "MLP", "Logistic regression"]
    assert models["ROC-AUC (95% CI)"].iloc[0] == "80.0% (70% to 85%)"
    assert at_risk["MRR at risk"].tolist() == ["$50", "$8", "$5", "$0"]
    assert any("table churn_scores" in c.value for c in at.caption)
    assert not at.warning


def test_refusals_in_place_and_too_few_churned(app_env, tmp_path):
    span = _span(app_env)
    last = span.last_day
    at = _app()
    assert not at.exception, at.exception
    assert any("No churn model trained yet" in i.value for i in at.info)
    button = at.button[0]
    assert button.label == "Build features and train" and not button.disabled
    assert at.date_input[0].value == last - timedelta(days=90)  # the default: the last day minus the horizon
    at.date_input[0].set_value(last).run()
    assert "leaves no later data" in at.warning[0].value and at.button[0].disabled
    at.date_input[0].set_value(last - timedelta(days=40)).run()
    assert "past the data's last day" in at.warning[0].value and at.button[0].disabled
    at.date_input[0].set_value(span.first_signup - timedelta(days=1)).run()
    assert "no account exists on cut-off" in at.warning[0].value and at.button[0].disabled
    at.date_input[0].set_value(last - timedelta(days=90)).run()
    assert not at.warning
    at.button[0].click().run()  # the 30,000-event sample has a handful of churned accounts: refused
    assert not at.exception, at.exception
    assert "the models need at least 20 churned" in at.error[0].value
    assert not (tmp_path / "jobs" / "churn-features").exists()  # refused before anything was written


def test_train_button_writes_the_features_and_queues_the_job(app_env, tmp_path, monkeypatch):
    submitted = []

    def fake_submit(features_dir, runs_dir, jobs_dir=None, **_):
        submitted.append((Path(features_dir), Path(runs_dir)))
        return SimpleNamespace(job_id="20261201-120000-churn-abc123", state="queued", is_active=True)

    monkeypatch.setattr("models.jobs.churn.submit_churn", fake_submit)
    monkeypatch.setattr("pages._shared.churn.min_class_accounts", lambda: 1)
    at = _app()
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert "Queued job 20261201-120000-churn-abc123" in at.success[0].value
    (folder, runs_dir), = submitted
    assert runs_dir == tmp_path / "runs" and folder.parent == tmp_path / "jobs" / "churn-features"
    assert sorted(p.name for p in folder.iterdir()) == ["features.json", "score.parquet", "train.parquet"]
    meta = json.loads((folder / "features.json").read_text(encoding="utf-8"))
    assert meta["horizon_days"] == 90 and meta["workspace"] == str(app_env)
