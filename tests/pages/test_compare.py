"""AppTest of the Compare page: empty state, a filled leaderboard with charts, refused price edits, API
form."""

from __future__ import annotations

import pytest

from analytics.db import Workspace
from tests.analytics.compare_fixtures import insert_predictions, insert_run
from tests.pages.apptest import new_app
from tests.readable import figure_texts, unreadable


def fill(workspace_file) -> None:
    ws = Workspace.open(workspace_file)
    try:
        insert_run(ws, "r-classic", method="classic", model="tfidf", accuracy=0.8, n_test=4, train_seconds=36,
                   throughput_per_s=1000, per_class=10, api_input_tokens=500.0, api_output_tokens=5.0,
                   api_tokenizer="SmolLM2-135M BPE")
        insert_run(ws, "r-full", method="full", model="all-MiniLM-L6-v2", accuracy=0.9, n_test=4,
                   train_seconds=360, throughput_per_s=100, p50_ms=10, per_class=20, model_params=22_700_000,
                   tokens_per_request=16.0)
        insert_predictions(ws, "r-classic", [0.9, 0.2, 0.6, 0.4], [True, False, True, False])
        insert_predictions(ws, "r-full", [0.9, 0.2, 0.6, 0.4], [True, True, False, True])
    finally:
        ws.close()


def button(at, label: str):
    matches = [b for b in at.button if b.label.startswith(label)]
    assert matches, f"no button {label!r}; buttons: {[b.label for b in at.button]}"
    return matches[0]


@pytest.mark.slow
def test_empty_workspace_says_how_to_get_candidates(app_env):
    at = new_app("pages/compare.py")
    assert not at.exception
    assert any("No measured candidates yet" in i.value for i in at.info)
    assert button(at, "Run the quick demo").label.startswith("Run the quick demo")
    assert [t.label for t in at.tabs] == ["Leaderboard & charts", "Cascade", "Learning curve", "Prices",
                                          "Scaling planner", "Memo"]
    assert not at.get("plotly_chart")  # no chart without a measurement


@pytest.mark.slow
def test_leaderboard_charts_and_recommendation_render(app_env):
    fill(app_env)
    at = new_app("pages/compare.py")
    assert not at.exception, at.exception
    assert [t.label for t in at.tabs] == ["Leaderboard & charts", "Cascade", "Learning curve", "Prices",
                                          "Scaling planner", "Memo"]
    assert any(m.value.startswith("**Recommendation.** At 1,000,000 requests per month, choose")
               for m in at.markdown)
    assert any(c.value == "2 candidates on banking77: 2 runs, 0 API · 2 on the cost-accuracy frontier"
               for c in at.caption)
    board = at.dataframe[0].value
    assert set(board["candidate"].str.removeprefix("★ ").str.split(" ·").str[0]) == {"classic", "fine-tune"}
    assert list(board.columns) == ["candidate", "accuracy", "95% CI", "p50", "$ 1M", "$ a month", "12 months"]
    # frontier, latency, total cost, projection, cascade, learning curve
    assert len(at.get("plotly_chart")) >= 6
    assert at.get("download_button")
    at.number_input(key="cmp_volume").set_value(0).run()
    assert any("requests per month must be more than zero" in e.value for e in at.error)


@pytest.mark.slow
def test_bad_price_edit_is_refused_in_place(app_env):
    fill(app_env)
    at = new_app("pages/compare.py")
    at.session_state["cmp_price_editor"] = {"edited_rows": {"0": {"hourly_usd": -3.0}, "1": {"source": None}},
                                            "added_rows": [], "deleted_rows": []}
    at.text_input(key="cmp_price_note").set_value("typo test")
    at.run()
    button(at, "Save price edits").click().run()
    assert not at.exception
    refused = [e.value for e in at.error if "Refused, not saved" in e.value]
    assert len(refused) == 2, refused
    assert "hourly_usd must be more than zero" in refused[0] and "source = None" in refused[1]
    ws = Workspace.open(app_env)
    try:
        assert ws.scalar("select count(*) from price_edits") == 0
        assert ws.scalar("select min(hourly_usd) from prices") > 0
    finally:
        ws.close()


@pytest.mark.slow
def test_api_candidate_without_source_is_refused(app_env):
    fill(app_env)
    at = new_app("pages/compare.py")
    form_inputs = {n.label: n for n in at.number_input}
    form_inputs["Accuracy (%)"].set_value(70.0)
    form_inputs["Measured on how many texts"].set_value(500)
    next(t for t in at.text_input if t.label == "Name").set_value("gpt-4o-mini")
    at.button(key="FormSubmitter:cmp_api_form-Add candidate").click().run()
    assert any("say where the accuracy comes from" in e.value for e in at.error)
    next(t for t in at.text_input if t.label.startswith("Source")).set_value("own eval, 500 texts")
    at.button(key="FormSubmitter:cmp_api_form-Add candidate").click().run()
    assert not at.exception
    assert "gpt-4o-mini (API)" in set(at.dataframe[0].value["candidate"].str.removeprefix("★ "))


def shown_texts(at) -> list[str]:
    """Every string the Compare page puts on screen in AppTest: text elements, metric values, the cells of
    every table as displayed (a Styler's display values), every chart's strings, widget labels."""
    import json

    import plotly.graph_objects as go
    import pyarrow as pa

    texts = [e.value for kind in ("markdown", "caption", "info", "warning", "error", "success")
             for e in at.get(kind)]
    texts += [f"{m.label} {m.value}" for m in at.metric]
    texts += [e.label for e in at.expander] + [b.label for b in at.button]
    for frame in at.dataframe:
        arrow = frame.proto.arrow_data
        styled = arrow.styler.display_values if arrow.HasField("styler") else b""
        data = pa.ipc.open_stream(styled).read_pandas() if styled else frame.value
        texts += [str(v) for v in data.astype(str).to_numpy().ravel()]
    for chart in at.get("plotly_chart"):
        texts += list(figure_texts(go.Figure(json.loads(chart.proto.spec))))
    return texts


@pytest.mark.slow
def test_no_e_notation_or_zero_dollars_anywhere_on_the_page(app_env):
    fill(app_env)
    at = new_app("pages/compare.py")
    assert not at.exception, at.exception
    texts = shown_texts(at)
    assert any("$0.0403" in t for t in texts)  # the classic run's $ per 1M as a cell, written by format_usd
    assert not unreadable(texts), unreadable(texts)
    # the planner's FLOPs in words, not a 21-digit integer or 1.2e+20
    assert any(m.value == "120 quintillion FLOPs" for m in at.metric)
    # one volume that tells the options apart: a month at 1M requests is the headline
    assert any(m.label == "a month at 1M requests" for m in at.metric)


@pytest.mark.slow
def test_a_busy_run_is_one_expander_with_a_remeasure_button(app_env, monkeypatch):
    fill(app_env)
    ws = Workspace.open(app_env)
    try:
        insert_run(ws, "r-busy", method="linear_probe", model="all-MiniLM-L6-v2", accuracy=0.85, n_test=4,
                   train_seconds=20, throughput_per_s=30, p50_ms=300, inference_load_average=9.0,
                   inference_cpu_count=2)
    finally:
        ws.close()
    queued = []

    def fake_submit(run_dir, jobs_dir=None, **_):
        queued.append((run_dir.name, jobs_dir))
        from types import SimpleNamespace
        return SimpleNamespace(job_id="measure-1")

    import models.jobs.measure as measure
    monkeypatch.setattr(measure, "submit_measure", fake_submit)
    at = new_app("pages/compare.py")
    assert not at.exception, at.exception
    assert not [w for w in at.warning if "busy" in w.value]  # no yellow box for a busy measurement
    boxes = [e for e in at.expander if "to repeat" in e.label]
    assert len(boxes) == 1 and boxes[0].label.startswith("1 latency measurement to repeat")
    board = at.dataframe[0].value
    assert board.set_index("candidate").loc["probe · MiniLM-L6", "p50"] == "300 ms ⚠"
    remeasure = [b for b in at.button if b.label == "Re-measure"]
    assert len(remeasure) == 1
    remeasure[0].click().run()
    assert queued == [("r-busy", None)]
    assert any("Queued (job measure-1)" in s.value for s in at.success)


def test_the_watcher_syncs_once_more_after_the_last_job_ended(app_env, monkeypatch):
    # The last measure job ends between two watcher passes: one more pass must attach its inference.json,
    # or the page shows "no benchmark yet" until a reload. With nothing watched, no extra pass runs.
    from pages._shared import runs as runs_view

    calls = []
    monkeypatch.setattr(runs_view, "sync_inference", lambda: calls.append(1) or [])
    at = new_app("pages/compare.py")
    assert not at.exception
    assert len(calls) == 1  # the page's own sync at load; no job was ever watched
    calls.clear()
    at.session_state["cmp_watching"] = True  # a job was running at the previous pass and has ended since
    at.run()
    assert not at.exception
    assert len(calls) == 2  # the page's sync and the watcher's last pass
    assert at.session_state["cmp_watching"] is False


def test_a_generation_run_makes_a_reply_leaderboard(app_env, tmp_path):
    from analytics.ingest.runs import ingest_run
    from tests.analytics.generation_fixtures import make_sft_run

    ws = Workspace.open(app_env)
    try:
        ingest_run(ws, make_sft_run(tmp_path / "sft-runs"))
    finally:
        ws.close()
    at = new_app("pages/compare.py")
    assert not at.exception, at.exception
    assert at.selectbox(key="cmp_dataset").value == "replies:bitext_customer_support"
    assert any(m.value.startswith("**Recommendation.** At 100,000 replies a month, the best measured "
                                  "candidate is LoRA SFT · SmolLM2-135M-Instruct: ROUGE-L 71.7")
               for m in at.markdown)
    board = at.dataframe[0].value.set_index("candidate")
    assert board.loc["★ LoRA SFT · SmolLM2-135M-Instruct", "ROUGE-L"] == "71.7 (95% CI 45.0-90.0)"
    assert board.loc["gpt-4o-mini (API)", "ROUGE-L"] == "not measured"
    assert len(at.get("plotly_chart")) == 2
    texts = shown_texts(at)
    assert any("$0.169" in t for t in texts)  # the fine-tuned model's $ per 1k replies at 50% utilisation
    assert not unreadable(texts), unreadable(texts)
    at.radio(key="cmp_reply_quality").set_value("intent_match").run()
    assert not at.exception
    assert at.dataframe[0].value.set_index("candidate").loc["★ LoRA SFT · SmolLM2-135M-Instruct",
                                                              "intent match"] == "83.3% (95% CI 50.0%-100.0%)"
