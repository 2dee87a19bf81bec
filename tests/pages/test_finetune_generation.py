"""Fine-tune page, Draft replies (SFT) in AppTest: the task renders with its CPU defaults and causal LMs, a
bad conversation file shows the validator's message and disables Launch (nothing saved), a good one shows the
detected mapping and is saved, a launch queues an sft_lora job through the same queue, and a finished SFT run
(a fixture folder in the contract's format, ingested) shows its scores with CIs and the best/worst table."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pandas as pd
import pytest

from models.jobs import queue as jobs
from tests.pages.apptest import new_app
from tests.readable import unreadable

PAGE = "pages/finetune.py"


CHECKED = {"stats": {"n_train": 1026, "n_validation": 226, "n_judged": 200, "mean_tokens": 193.7,
                     "mean_prompt_tokens": 36.4, "mean_reply_tokens": 156.9},
           "params": 134_515_008, "fallback_template": False, "errors": [],
           "warnings": ["7 of 1,703 examples are longer than max_length 320 tokens"],
           "token_stats": {"min": 60, "median": 190, "p95": 300, "max": 359}}
"""What models.planning.sft_check reports for the page's default Bitext config (measured: 1,026
conversations, 193.7 tokens each on average)."""


@pytest.fixture
def page_env(app_env: Path, monkeypatch: pytest.MonkeyPatch):
    """app_env plus one job at a time, a queue that never starts a job process (tests here only check
    what is submitted), a canned tokenizer check (its real process is tested in tests/models), and no job
    process left behind."""
    from models.planning import sft_check

    monkeypatch.setenv("STRATLAB_MAX_JOBS", "1")
    monkeypatch.setattr(jobs, "tick", lambda *a, **k: None)
    monkeypatch.setattr(sft_check, "check_sft", lambda config: sft_check.SftCheck(
        sft_check.SftDataStats(**CHECKED["stats"]), CHECKED["params"], False, (), tuple(CHECKED["warnings"]),
        CHECKED["token_stats"]))
    yield app_env
    for info in jobs.list_jobs():
        if info.state == "running" and info.pid:
            jobs.signal_group(info.pid, signal.SIGKILL)
            jobs.reap(info.pid)


def _draft(at=None):
    at = at or new_app(PAGE)
    at.radio(key="ft_task").set_value("draft").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _upload(name: str, data: bytes):
    at = _draft()
    at.radio(key="ft_gen_source").set_value("Upload a file").run()
    at.file_uploader(key="ft_gen_upload").set_value((name, data, "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _launch(at):
    (button,) = [b for b in at.button if b.label == "Launch"]
    return button


def _saved_uploads() -> list[Path]:
    folder = Path(os.environ["STRATLAB_UPLOADS_DIR"])
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


GOOD = b"question,answer,intent\n" + b"".join(
    b"where is my %s %d,Your %s %d is on its way.,%s\n" % (kind, i, kind, i, kind)
    for kind in (b"order", b"refund") for i in range(15))


def test_draft_replies_renders_with_cpu_defaults_then_a_good_file_is_mapped_saved_and_launched(
        page_env: Path) -> None:
    at = _draft()
    assert at.radio(key="ft_gen_method").value == "sft_lora"
    assert at.radio(key="ft_gen_method").options == ["SFT (all weights)", "SFT with LoRA"]
    models = at.selectbox(key="ft_gen_model_sft_lora").options
    assert models and all("MiniLM" not in m for m in models), models  # causal LMs only
    assert any("SmolLM2-135M-Instruct" in m for m in models), models
    values = {key: at.number_input(key=key).value for key in (
        "ft_gen_epochs", "ft_gen_per_intent", "ft_gen_eval_limit", "ft_gen_max_length")}
    assert values == {"ft_gen_epochs": 1, "ft_gen_per_intent": 38, "ft_gen_eval_limit": 200,
                      "ft_gen_max_length": 320}
    assert at.selectbox(key="ft_gen_dataset").value == "bitext_customer_support"
    assert not _launch(at).disabled and not at.error, [e.value for e in at.error]

    [b for b in at.button if b.label == "Check and estimate"][0].click().run()  # canned check: no process
    assert not at.exception and not at.error, [e.value for e in at.error]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Training conversations"] == "1,026", metrics
    # by hand, SftRates on CHECKED: 257 steps x 4 x 193.7 tokens / 115 tokens/s = 1,731 s; 226 x 193.7 / 280 =
    # 156 s; 400 replies x (156.9 / 33.5 + 36.4 / 350) = 1,915 s; 180 s fixed: 3,983 s
    assert metrics["Time (estimate)"] == "1.1 h", metrics
    captions = " ".join(c.value for c in at.caption)
    assert "a CPU run trains on a subset: 1,026 conversations, 200 requests judged" in captions, captions
    assert "median 190, 95% under 300, longest 359; Max tokens is 320" in captions, captions
    assert [w.value for w in at.warning] == ["7 of 1,703 examples are longer than max_length 320 tokens"]
    assert unreadable(captions.split(" · ")) == [] and jobs.list_jobs() == []

    at.radio(key="ft_gen_source").set_value("Upload a file").run()
    at.file_uploader(key="ft_gen_upload").set_value(("support.csv", GOOD, "text/csv")).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="ft_gen_col_prompt").value == "question"
    assert at.selectbox(key="ft_gen_col_response").value == "answer"
    assert at.selectbox(key="ft_gen_col_intent").value == "intent"
    assert at.selectbox(key="ft_gen_col_system").value == "(none)"
    captions = " ".join(c.value for c in at.caption)
    assert "a request column and a reply column" in captions and "30 conversations" in captions, captions
    (saved,) = _saved_uploads()
    assert saved.name.endswith("-support.csv") and saved.read_bytes() == GOOD
    _launch(at).click().run()  # the same queue as classifier runs
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    (info,) = jobs.list_jobs()
    config = info.config
    assert (config["method"], config["text_column"], config["response_column"], config["label_column"],
            config["data_format"]) == ("sft_lora", "question", "answer", "intent", "prompt_response")
    assert (config["epochs"], config["train_examples_per_class"], config["eval_limit"],
            config["max_length"]) == (1, 38, 200, 320)
    assert config["dataset"] == str(saved)
    assert "Queued job" in " ".join(s.value for s in at.success)


NO_REPLY_COLUMN = b"question,intent\n" + b"".join(b"where is my order %d,order\n" % i for i in range(30))
EMPTY_REPLIES = b"prompt,response\n" + b"".join(b"where is my order %d,\n" % i for i in range(30))


def test_bad_conversation_files_show_the_validator_and_disable_launch_until_a_good_one(
        page_env: Path) -> None:
    at = _upload("support.csv", NO_REPLY_COLUMN)
    errors = [e.value for e in at.error]
    assert any("choose two different columns for the prompt and the reply" in e for e in errors), errors
    assert at.selectbox(key="ft_gen_col_response").value == "(choose a column)"
    assert _launch(at).disabled
    at.file_uploader(key="ft_gen_upload").set_value(("support.csv", EMPTY_REPLIES, "text/csv")).run()
    errors = [e.value for e in at.error]
    assert any("every reply is empty" in e and "choose the column that holds the replies" in e
               for e in errors), errors
    assert _launch(at).disabled
    assert at.selectbox(key="ft_gen_col_intent").value == "(none)"
    assert _saved_uploads() == [], "a refused file must not be kept"
    at.file_uploader(key="ft_gen_upload").set_value(("support.csv", GOOD, "text/csv")).run()
    assert at.selectbox(key="ft_gen_col_intent").value == "intent"  # its own suggestion, not '(none)'
    assert not at.error and not _launch(at).disabled, [e.value for e in at.error]
    assert jobs.list_jobs() == []


# ---------------------------------------------------------------- a finished SFT run


EVAL = {
    "task": "generation", "method": "sft_lora", "n_test_scored": 6, "n_test_total": 451, "val_loss": 0.8,
    "perplexity": 2.2255, "rouge_l": 0.4213, "rouge_l_ci_low": 0.3981, "rouge_l_ci_high": 0.4452,
    "intent_match": 0.9, "intent_match_ci_low": 0.85, "intent_match_ci_high": 0.95,
    "mean_prompt_tokens": 40.5, "mean_reply_tokens": 88.26, "mean_reference_tokens": 95.0,
    "placeholder_rate": 0.5, "prefill_tokens_per_s": 900.0, "decode_tokens_per_s": 0.000012,
    "generation_seconds": 61.0, "generation_device": "cpu",
    "base_rouge_l": 0.2104, "base_rouge_l_ci_low": 0.19, "base_rouge_l_ci_high": 0.231,
    "base_intent_match": 0.4, "base_intent_match_ci_low": 0.3, "base_intent_match_ci_high": 0.5,
    "base_mean_reply_tokens": 140.0, "base_placeholder_rate": 0.0, "base_decode_tokens_per_s": 31.0,
}


def make_sft_run(root: Path, name: str = "20260301-100000-sft_lora-a") -> Path:
    """A finished sft_lora run folder in the issue-12 contract's format (6 judged requests)."""
    run = root / name
    (run / "model").mkdir(parents=True)
    (run / "model" / "README.md").write_text("# model card\n")
    config = {"method": "sft_lora", "model": "SmolLM2-135M-Instruct", "dataset": "bitext_customer_support",
              "epochs": 1, "seed": 42, "runs_dir": str(root)}
    (run / "config.json").write_text(json.dumps(config))
    (run / "environment.json").write_text(json.dumps({"hardware": "CPU x2",
                                                      "recorded_at": "2026-03-01T09:59:00Z"}))
    events = [{"kind": "start", "device": "cpu", "total_steps": 4, "time": "2026-03-01T10:00:00+00:00"},
              {"kind": "step", "step": 2, "epoch": 0.5, "loss": 2.0, "tokens_per_s": 150.0},
              {"kind": "step", "step": 4, "epoch": 0.99, "loss": 1.2, "tokens_per_s": 160.0},
              {"kind": "epoch", "epoch": 1, "step": 4, "val_loss": 0.8, "val_perplexity": 2.2255,
               "improved": True},
              {"stage": "evaluated"}]
    (run / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (run / "data.json").write_text(json.dumps({"name": "bitext_customer_support", "task": "generation",
                                               "rows": {"train": 20, "validation": 2, "test": 6},
                                               "intents": ["order", "refund"], "meta": {}}))
    (run / "eval.json").write_text(json.dumps(EVAL))
    scores = [0.9, 0.1, 0.5, 0.7, 0.3, 0.05]
    rows = [{"id": f"test-{i:05d}", "intent": "order" if i % 2 else "refund", "prompt": f"request {i}",
             "reference": f"reference reply {i}", "reply": f"fine-tuned reply {i}", "prompt_tokens": 10,
             "reply_tokens": 20, "latency_s": 0.5, "rouge_l": score, "intent_pred": "order",
             "intent_match": bool(i % 2), "placeholders": i % 2, "base_reply": f"base reply {i}",
             "base_reply_tokens": 30, "base_latency_s": 0.7, "base_rouge_l": score / 2,
             "base_intent_pred": "refund", "base_intent_match": not i % 2}
            for i, score in enumerate(scores)]
    pd.DataFrame(rows).to_parquet(run / "generations.parquet")
    (run / "status.json").write_text(json.dumps({"state": "succeeded", "finished_at": "2026-03-01T10:05:00Z",
                                                 "train_seconds": 250.0, "train_tokens_per_s": 155.5,
                                                 "fallback_chat_template": True}))
    return run


def test_a_finished_sft_run_shows_scores_with_cis_and_best_and_worst_replies(page_env: Path) -> None:
    run = make_sft_run(Path(os.environ["STRATLAB_RUNS_DIR"]))
    at = new_app(PAGE)
    assert not at.exception, [e.value for e in at.exception]
    picker = at.selectbox(key="ft_result_run")
    assert picker.value == run.name
    assert picker.format_func(run.name) == ("bitext_customer_support · SFT-LoRA SmolLM2-135M-Instruct · "
                                            "ROUGE-L 42.1 · Mar 01 10:05")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["ROUGE-L"] == "42.1" and metrics["Intent match"] == "90.0%", metrics
    assert metrics["Val. perplexity"] == "2.23" and metrics["Requests judged"] == "6", metrics
    (delta,) = [m.proto.delta for m in at.metric if m.label == "ROUGE-L"]
    assert delta == "+21.1 points"
    captions = " ".join(c.value for c in at.caption)
    assert "95% CI 39.8 – 44.5" in captions and "95% CI 85.0% – 95.0%" in captions, captions
    assert "6 of 451 test requests" in captions and "(156 training tokens/s)" in captions, captions
    assert any("no chat template of its own" in i.value for i in at.info)
    tables = [d.value for d in at.dataframe]
    (scores,) = [t for t in tables if "base model" in t.columns]
    by_measure = scores.set_index("metric")
    assert by_measure.loc["ROUGE-L (points)", "fine-tuned"] == "42.1 (95% CI 39.8-44.5)"
    assert by_measure.loc["ROUGE-L (points)", "base model"] == "21.0 (95% CI 19.0-23.1)"
    assert by_measure.loc["intent match", "fine-tuned"] == "90.0% (95% CI 85.0%-95.0%)"
    assert by_measure.loc["replies with a {{placeholder}}", "fine-tuned"] == "50.0%"
    assert "The reference replies average 95 tokens" in captions
    best, worst = [t for t in tables if "fine-tuned reply" in t.columns]
    assert best["ROUGE-L"].tolist() == ["90", "70", "50", "30", "10"]
    assert worst["ROUGE-L"].tolist() == ["5"], "a reply is listed once"
    assert best.loc[0, "request"] == "request 0" and best.loc[0, "reference"] == "reference reply 0"
    assert best.loc[0, "base reply"] == "base reply 0"
    shown = [m.value for m in at.markdown] + [c.value for c in at.caption] + list(metrics.values()) + [
        cell for t in tables for cell in t.astype(str).to_numpy().ravel()]
    assert unreadable(shown) == [], unreadable(shown)  # decode 0.000012 tokens/s is written out
    codes = " ".join(c.value for c in at.code)
    assert f"vllm serve {run / 'model'}" in codes and f"transformers serve {run / 'model'}" in codes
    assert len(at.get("plotly_chart")) == 1  # validation loss and perplexity per epoch
