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


def test_a_real_endpoint_job_against_a_local_server_lands_priced_on_compare(tmp_path, monkeypatch,
                                                                            empty_ws) -> None:
    """The whole path with the real evaluate_endpoint: a local OpenAI-compatible server, the job's process
    function, the run folder it writes, ingest, the leaderboard row and its price source; then a run over
    budget refused with the endpoint's message and no request sent."""
    from analytics.compute.compare.leaderboard import CompareSettings, leaderboard
    from analytics.ingest.prices import seed_prices
    from analytics.ingest.runs import ingest_all
    from models.data.user_files import load_for_config
    from models.errors import EndpointError
    from tests.models.endpoint_fakes import FakeEndpoint

    banking = load_for_config("banking77", seed=42)
    answers = {t: banking.label_names[y]
               for t, y in zip(banking.test.texts, banking.test.labels, strict=True)}
    monkeypatch.setenv(KEY_NAME, KEY_VALUE)
    runs_dir = tmp_path / "runs"
    quick = {"timeout_s": 5.0, "max_retries": 1, "backoff_base_s": 0.001, "backoff_max_s": 0.01,
             "cache_dir": tmp_path / "cache", "concurrency": 2, "runs_dir": runs_dir}
    with FakeEndpoint(answers=answers) as server:
        fields = {**FIELDS, **quick, "base_url": server.base_url, "model": "our-served-minilm",
                  "input_price_per_m": 0.5, "output_price_per_m": 1.5, "price_source": "test price"}
        info = endpoint_jobs.submit_endpoint(fields, tmp_path / "jobs")
        job = json.loads((info.job_dir / "job.json").read_text())
        assert endpoint_jobs.run_endpoint_job(job) == "succeeded"
        assert server.count == 8 and set(server.auth_headers) == {f"Bearer {KEY_VALUE}"}
        over = endpoint_jobs.submit_endpoint({**fields, "limit": 200, "budget_usd": 1e-6,
                                              "cache_dir": tmp_path / "cache-2"}, tmp_path / "jobs")
        with pytest.raises(EndpointError) as refused:
            endpoint_jobs.run_endpoint_job(json.loads((over.job_dir / "job.json").read_text()))
        assert server.count == 8  # refused before sending anything
    assert "budget" in str(refused.value)
    seed_prices(empty_ws)
    assert info.run_id in ingest_all(empty_ws, runs_dir)
    board = leaderboard(empty_ws, CompareSettings(dataset="banking77", requests_per_month=1_000_000))
    row = board.table.set_index("key").loc[f"run:{info.run_id}"]
    evaluation = json.loads((info.run_dir / "eval.json").read_text())
    tokens_in, tokens_out = evaluation["prompt_tokens_mean"], evaluation["completion_tokens_mean"]
    assert row["cost_per_1k_usd"] == pytest.approx((tokens_in * 0.5 + tokens_out * 1.5) / 1000)
    assert row["price_source"].startswith("override: test price")
    assert row["accuracy"] == 1.0 and row["n_eval"] == 8 and row["p50_ms"] > 0
    assert row["candidate"].startswith("our-served-minilm @ 127.0.0.1:")
    for path in list(runs_dir.rglob("*")) + list((tmp_path / "jobs").rglob("*")):
        if path.is_file():
            assert KEY_VALUE.encode() not in path.read_bytes(), path
