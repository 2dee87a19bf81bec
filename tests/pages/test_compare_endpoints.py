"""AppTest of Compare's endpoint and serving parts: an ingested endpoint run and a served row on the
leaderboard with what priced them, the served-concurrency picker, genai-prices list prices on the Prices tab,
and "Add an endpoint": refusals before anything is queued, a queued job that holds the key's NAME only, a
failed job's message shown as the job wrote it. The queue is not ticked (no job process starts): the job
itself is tested in tests/models/test_endpoint_jobs.py."""

from __future__ import annotations

import json

import pytest
import streamlit as st

from analytics.db import Workspace
from models.jobs import queue
from tests.analytics.compare_fixtures import insert_run
from tests.analytics.endpoint_fixtures import RUN_ID, level, make_endpoint_run, record, write_serving
from tests.pages.apptest import new_app

KEY_VALUE = "sk-test-0123456789abcdef"
KEY_NAME = "HC_TEST_ENDPOINT_KEY"


@pytest.fixture
def compare_env(app_env, tmp_path, monkeypatch):
    """A trained run with a load test and an endpoint run in the app's runs folder; the queue never starts a
    process here."""
    monkeypatch.setattr(queue, "tick", lambda *args, **kwargs: [])
    runs = tmp_path / "runs"
    make_endpoint_run(runs)
    ws = Workspace.open(app_env)
    try:
        insert_run(ws, "r-full", method="full", model="all-MiniLM-L6-v2", accuracy=0.9, n_test=8,
                   train_seconds=360, throughput_per_s=100, p50_ms=10)
    finally:
        ws.close()
    write_serving(runs / "r-full", [record("2026-12-01T13:00:00+00:00", [level(1, 20.0, 40.0),
                                                                          level(16, 64.0, 200.0)])])
    return tmp_path


def form_button(at):
    return next(b for b in at.button if b.label == "Measure this endpoint")


@pytest.mark.slow
def test_endpoint_and_served_rows_and_the_add_endpoint_form(compare_env, monkeypatch):
    at = new_app("pages/compare.py")
    assert not at.exception, at.exception
    assert at.selectbox(key="cmp_served").value == 16
    assert any(c.value.startswith("3 candidates on banking77: 1 runs, 1 served, 1 API · ")
               for c in at.caption), [c.value for c in at.caption]
    board = at.dataframe[0].value
    names = set(board["candidate"].str.removeprefix("★ "))
    assert "gpt-4o-mini @ api.openai.com" in names
    assert any(n.startswith("served c16 · ") for n in names), names
    provenance = next(d.value for d in at.dataframe if "priced by" in d.value.columns)
    priced = dict(zip(provenance["candidate"], provenance["priced by"], strict=True))
    assert priced["gpt-4o-mini @ api.openai.com"].startswith("catalog: pydantic/genai-prices")
    assert not [d for d in at.dataframe if "catalog" in d.value.columns]  # list prices only on request
    at.toggle(key="cmp_list_prices").set_value(True).run()
    listed = next(d.value for d in at.dataframe if {"catalog", "model"} <= set(d.value.columns))
    assert "gpt-4o-mini" in set(listed["model"])

    # refusals: no key name, a missing variable, a zero budget; nothing is queued
    at.text_input(key="cmp_ep_url").set_value("https://api.openai.com/v1")
    at.text_input(key="cmp_ep_model").set_value("gpt-4o-mini")
    form_button(at).click().run()
    assert any("Name the environment variable that holds the key" in e.value for e in at.error)
    monkeypatch.delenv(KEY_NAME, raising=False)
    at.text_input(key="cmp_ep_key_name").set_value(KEY_NAME)
    form_button(at).click().run()
    assert any(f"the environment variable {KEY_NAME} is not set where the app runs" in e.value
               for e in at.error), [e.value for e in at.error]
    at.number_input(key="cmp_ep_budget").set_value(0.0)
    form_button(at).click().run()
    assert any("A budget of $0 cannot pay for a single request" in e.value for e in at.error)
    jobs_dir = compare_env / "jobs"
    assert not list(jobs_dir.glob("*/job.json"))

    # a price override without its source is refused by the endpoint's own config check
    monkeypatch.setenv(KEY_NAME, KEY_VALUE)
    at.number_input(key="cmp_ep_budget").set_value(0.5)
    at.number_input(key="cmp_ep_price_in").set_value(0.2)
    at.number_input(key="cmp_ep_price_out").set_value(0.8)
    form_button(at).click().run()
    assert any("need a source" in e.value for e in at.error), [e.value for e in at.error]
    assert not list(jobs_dir.glob("*/job.json"))

    at.text_input(key="cmp_ep_price_source").set_value("our contract, 2026-12")
    form_button(at).click().run()
    assert not at.exception, at.exception
    assert any(s.value.startswith("Queued (job ") for s in at.success), [s.value for s in at.success]
    [job_file] = list(jobs_dir.glob("*/job.json"))
    job = json.loads(job_file.read_text())
    assert job["kind"] == "endpoint" and job["config"]["api_key_env"] == KEY_NAME
    assert job["config"]["input_price_per_m"] == 0.2
    assert job["config"]["price_source"] == "our contract, 2026-12"
    for path in job_file.parent.iterdir():
        assert KEY_VALUE not in path.read_text(), path

    # the job fails with the endpoint's message: shown as it is, without the exception's class name
    queue.transition(job_file.parent, "running")
    queue.transition(job_file.parent, "failed", error="EndpointError: the estimate $3.10 is above the budget "
                                                      "$0.50 for 200 requests; nothing was sent")
    st.cache_data.clear()  # the page lists jobs through a 3 s cache
    at.run()
    shown = "gpt-4o-mini** at https://api.openai.com/v1 on banking77: the estimate $3.10 is above the budget"
    assert any(shown in e.value for e in at.error), [e.value for e in at.error]


@pytest.mark.slow
def test_an_empty_workspace_offers_add_an_endpoint(app_env, monkeypatch):
    monkeypatch.setattr(queue, "tick", lambda *args, **kwargs: [])
    at = new_app("pages/compare.py")
    assert not at.exception, at.exception
    assert any(b.label == "Measure this endpoint" for b in at.button)
    assert f"run:{RUN_ID}" not in str(at.dataframe)  # nothing measured yet
