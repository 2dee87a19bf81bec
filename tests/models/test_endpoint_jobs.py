"""Endpoint jobs (models.jobs.endpoint): what is refused before anything is queued, a queued job that holds
only the key's NAME, the job's process reading the key from the environment or Streamlit secrets and handing
it to evaluate_endpoint (a fake here, writing a contract-shaped run folder), and that run on the Compare
leaderboard."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from models.errors import ConfigError
from models.jobs import endpoint as endpoint_jobs
from models.jobs import queue

KEY_NAME = "HC_TEST_ENDPOINT_KEY"
KEY_VALUE = "sk-test-fedcba9876543210"
FIELDS = {"base_url": "https://api.openai.com/v1", "model": "gpt-4o-mini", "dataset": "banking77",
          "api_key_env": KEY_NAME, "limit": 8, "budget_usd": 0.5}


def test_refusals_leave_no_job(tmp_path, monkeypatch) -> None:
    jobs_dir = tmp_path / "jobs"
    monkeypatch.delenv(KEY_NAME, raising=False)
    with pytest.raises(ConfigError, match=f"the environment variable {KEY_NAME} is not set"):
        endpoint_jobs.submit_endpoint({**FIELDS, "runs_dir": tmp_path / "runs"}, jobs_dir)
    monkeypatch.setenv(KEY_NAME, KEY_VALUE)
    with pytest.raises(ConfigError, match="budget_usd must be a positive number"):
        endpoint_jobs.submit_endpoint({**FIELDS, "budget_usd": 0.0, "runs_dir": tmp_path / "runs"}, jobs_dir)
    with pytest.raises(ConfigError, match="not both"):
        endpoint_jobs.submit_endpoint({**FIELDS, "runs_dir": tmp_path / "runs"}, jobs_dir,
                                      api_key_secret="OPENAI")
    with pytest.raises(ConfigError, match="never pass the key itself"):
        endpoint_jobs.submit_endpoint({**FIELDS, "api_key_env": KEY_VALUE + " x", "runs_dir": tmp_path},
                                      jobs_dir)
    assert [p.name for p in jobs_dir.iterdir() if p.is_dir()] == []


def test_a_queued_job_runs_with_the_key_and_its_run_reaches_compare(tmp_path, monkeypatch, empty_ws) -> None:
    from analytics.compute.compare.leaderboard import CompareSettings, leaderboard
    from analytics.ingest.prices import seed_prices
    from analytics.ingest.runs import ingest_all
    from models.serving.endpoint import evaluate
    from tests.analytics.endpoint_fixtures import make_endpoint_run

    monkeypatch.setenv(KEY_NAME, KEY_VALUE)
    jobs_dir, runs_dir = tmp_path / "jobs", tmp_path / "runs"
    info = endpoint_jobs.submit_endpoint({**FIELDS, "runs_dir": runs_dir}, jobs_dir)
    assert info.kind == "endpoint" and info.state == "queued" and info.run_dir == runs_dir / info.run_id
    for path in info.job_dir.iterdir():
        assert KEY_VALUE not in path.read_text()
    job = json.loads((info.job_dir / "job.json").read_text())
    seen = {}

    def fake_evaluate(config, *, api_key=None, progress=None):
        seen.update(key=api_key, model=config.model, run_name=config.run_name)
        progress(1, 1, "done")
        run_dir = make_endpoint_run(config.resolved_runs_dir, config.run_name)
        return SimpleNamespace(run_dir=run_dir, state="succeeded")

    monkeypatch.setattr(evaluate, "evaluate_endpoint", fake_evaluate)
    assert endpoint_jobs.run_endpoint_job(job) == "succeeded"
    assert seen == {"key": KEY_VALUE, "model": "gpt-4o-mini", "run_name": info.run_id}
    seed_prices(empty_ws)
    assert ingest_all(empty_ws, runs_dir) == [info.run_id]
    board = leaderboard(empty_ws, CompareSettings(dataset="banking77", requests_per_month=1_000_000))
    assert list(board.table["key"]) == [f"run:{info.run_id}"]
    assert queue.get_job(info.job_id, jobs_dir).kind == "endpoint"


def test_the_key_can_come_from_streamlit_secrets(tmp_path, monkeypatch) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'password = "app"\nOPENAI = "{KEY_VALUE}"\n')
    monkeypatch.setattr(endpoint_jobs, "secrets_files", lambda: (tmp_path / "absent.toml", secrets))
    assert endpoint_jobs.resolve_key(None, "OPENAI") == KEY_VALUE
    assert endpoint_jobs.key_available(None, "OPENAI") and not endpoint_jobs.key_available(None, "OTHER")
    with pytest.raises(ConfigError, match="no Streamlit secret named OTHER") as refused:
        endpoint_jobs.resolve_key(None, "OTHER")
    assert KEY_VALUE not in str(refused.value)
    info = endpoint_jobs.submit_endpoint({**FIELDS, "api_key_env": None, "runs_dir": tmp_path / "runs"},
                                         tmp_path / "jobs", api_key_secret="OPENAI")
    job = json.loads((info.job_dir / "job.json").read_text())
    assert job["api_key_secret"] == "OPENAI" and KEY_VALUE not in json.dumps(job)
    assert endpoint_jobs.resolve_key(None, None) is None  # a local server without a key
