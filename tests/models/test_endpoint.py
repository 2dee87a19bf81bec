"""evaluate-endpoint against a real (fault-injecting) OpenAI-compatible server on 127.0.0.1.

One server per module (tests.models.endpoint_fakes.FakeEndpoint) counts the requests it receives: the
cache is proven by counting them on a rerun and after a run killed midway, the budget refusal by seeing
none arrive. Runs score 8-20 BANKING77 test examples with millisecond backoffs, so the module takes seconds.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from models.errors import ConfigError, EndpointError
from models.serving.endpoint.config import EndpointConfig
from models.serving.endpoint.evaluate import EndpointRunFailed, evaluate_endpoint
from tests.models.endpoint_fakes import FakeEndpoint, closed_port

SECRET = "sk-test-SECRET-4b1d-9f2e-c0ffee"
"""The key the tests send; no file, log line or message may hold it."""
PREDICTION_COLUMNS = {"text_id", "true_label", "pred_label", "confidence", "correct", "probs", "answer",
                      "parsed", "latency_ms", "prompt_tokens", "completion_tokens", "cached"}
EVAL_KEYS = {"accuracy", "accuracy_ci95", "macro_f1", "n_test_scored", "n_test_total", "unparseable",
             "latency_p50_ms", "latency_p95_ms", "prompt_tokens_mean", "completion_tokens_mean", "cost_usd",
             "cost_per_1k_requests_usd", "requests_sent", "cache_hits", "method", "measured_at"}


@pytest.fixture(scope="module")
def banking() -> Any:
    from models.data.user_files import load_for_config

    return load_for_config("banking77", seed=42)


@pytest.fixture(scope="module")
def fake(banking: Any) -> Any:
    """The server: answers each test text with its true label, except the plan's wrong and foreign ones."""
    answers = {text: banking.label_names[y] for text, y in zip(banking.test.texts, banking.test.labels,
                                                              strict=True)}
    with FakeEndpoint(answers=answers) as server:
        yield server


@pytest.fixture
def make_config(fake: Any, tmp_path: Path) -> Any:
    counter = iter(range(1000))

    def make(**overrides: Any) -> EndpointConfig:
        values: dict[str, Any] = dict(base_url=fake.base_url, model="fake-model", dataset="banking77",
                                      limit=8, concurrency=2, runs_dir=tmp_path / "runs",
                                      cache_dir=tmp_path / "cache",
                                      run_name=f"run-{next(counter)}", timeout_s=5.0, max_retries=2,
                                      backoff_base_s=0.001, backoff_max_s=0.01, api_key_env="FAKE_KEY")
        values.update(overrides)
        return EndpointConfig(**values)

    fake.reset()
    return make


def _files_text(*folders: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for folder in folders if folder.exists()
                     for p in sorted(folder.rglob("*")) if p.is_file())


def test_run_folder_then_rerun_sends_nothing(fake: Any, make_config: Any, banking: Any) -> None:
    config = make_config(limit=20, concurrency=4)
    scored_ids = None
    result = evaluate_endpoint(config, api_key=SECRET)
    assert fake.count == 20
    assert result.state == "succeeded"
    assert set(fake.auth_headers) == {f"Bearer {SECRET}"}
    frame = pd.read_parquet(result.run_dir / "predictions.parquet")
    assert PREDICTION_COLUMNS <= set(frame.columns) and len(frame) == 20
    assert frame["parsed"].all() and frame["correct"].all() and not frame["cached"].any()
    eval_json = json.loads((result.run_dir / "eval.json").read_text())
    assert EVAL_KEYS <= set(eval_json)
    assert eval_json["accuracy"] == 1.0 and eval_json["requests_sent"] == 20 and eval_json["cache_hits"] == 0
    assert eval_json["accuracy_ci95"][0] < 1.0
    assert eval_json["prompt_tokens_mean"] > 100  # the server's `usage`, not a count of ours
    cfg = json.loads((result.run_dir / "config.json").read_text())
    assert cfg["method"] == "endpoint" and cfg["endpoint"]["api_key_env"] == "FAKE_KEY"
    assert cfg["endpoint"]["structured"] is True and cfg["endpoint"]["temperature"] == 0
    assert json.loads((result.run_dir / "status.json").read_text())["state"] == "succeeded"
    # the subset is stratified: 20 rows spread over labels, not the first 20 of the file
    scored_ids = list(frame["text_id"])
    assert len(set(frame["true_label"])) > 10

    again = evaluate_endpoint(make_config(limit=20, concurrency=4), api_key=SECRET)
    assert fake.count == 20  # nothing new was sent
    assert again.metrics["cache_hits"] == 20 and again.metrics["requests_sent"] == 0
    assert again.metrics["latency_p50_ms"] is None  # cache hits are no latency measurement
    assert again.metrics["cached_latency_p50_ms"] == pytest.approx(eval_json["latency_p50_ms"])
    rerun = pd.read_parquet(again.run_dir / "predictions.parquet")
    assert list(rerun["text_id"]) == scored_ids and rerun["cached"].all()
    assert list(rerun["pred_label"]) == list(frame["pred_label"])


def test_killed_run_resumes_with_only_the_missing_requests(fake: Any, make_config: Any,
                                                           tmp_path: Path) -> None:
    def kill_after_five(done: int, total: int, message: str) -> None:
        if done >= 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        evaluate_endpoint(make_config(limit=12, concurrency=1), api_key=SECRET, progress=kill_after_five)
    first = fake.count
    cached = len(list((tmp_path / "cache").rglob("*.json")))
    assert 5 <= cached == first < 12
    killed = sorted((tmp_path / "runs").iterdir())[0]
    assert json.loads((killed / "status.json").read_text())["state"] == "failed"
    assert len(pd.read_parquet(killed / "predictions.parquet")) == cached  # what was measured is kept

    fake.count = 0
    result = evaluate_endpoint(make_config(limit=12, concurrency=3), api_key=SECRET)
    assert fake.count == 12 - cached
    assert result.metrics["cache_hits"] == cached and result.metrics["n_test_scored"] == 12


def test_key_is_in_no_file_log_or_message(fake: Any, make_config: Any, tmp_path: Path,
                                          caplog: pytest.LogCaptureFixture, capsys: Any) -> None:
    caplog.set_level(logging.DEBUG)
    evaluate_endpoint(make_config(limit=4), api_key=SECRET)
    fake.mode = "echo"  # the server quotes the Authorization header back in its error
    with pytest.raises(EndpointRunFailed) as failure:
        evaluate_endpoint(make_config(limit=4, cache_dir=tmp_path / "cache2"), api_key=SECRET)
    fake.mode = "401"
    with pytest.raises(EndpointError) as refused:
        evaluate_endpoint(make_config(limit=4, cache_dir=tmp_path / "cache3"), api_key=SECRET)
    assert "refused the key" in str(refused.value) and "FAKE_KEY" in str(refused.value)
    assert "***" in str(failure.value)
    captured = capsys.readouterr()
    everything = "\n".join([_files_text(tmp_path), caplog.text, captured.out, captured.err,
                            str(failure.value), str(refused.value)])
    assert "status.json" in " ".join(p.name for p in tmp_path.rglob("*"))
    assert len(everything) > 1000 and SECRET not in everything


def test_budget_refusals_send_nothing(fake: Any, make_config: Any, tmp_path: Path) -> None:
    priced = dict(input_price_per_m=10.0, output_price_per_m=30.0, price_source="test price list")
    with pytest.raises(ConfigError, match="budget_usd must be a positive"):
        make_config(budget_usd=0.0, **priced)
    with pytest.raises(ConfigError, match="budget_usd must be a positive"):
        make_config(budget_usd=-1.0, **priced)
    single = r"below the cost of a single request \(up to \$0\.0\d+ at \$10 / \$30"
    with pytest.raises(EndpointError, match=single):
        evaluate_endpoint(make_config(budget_usd=0.0001, **priced), api_key=SECRET)
    with pytest.raises(EndpointError) as too_big:
        evaluate_endpoint(make_config(limit=None, budget_usd=0.05, **priced), api_key=SECRET)
    message = str(too_big.value)
    assert "3080 requests would cost up to $" in message and "nothing was sent" in message
    fits = int(message.split("--limit ")[1].split()[0])
    assert 1 <= fits < 3080
    assert fake.count == 0 and not (tmp_path / "runs").exists()


def test_run_stops_at_the_budget_and_keeps_what_it_measured(fake: Any, make_config: Any) -> None:
    fake.prompt_tokens = 5000  # the endpoint bills 10x the tokens we count: reservations must catch up
    try:
        price = dict(input_price_per_m=100.0, output_price_per_m=0.0, price_source="test")
        per_request = 5000 * 100.0 / 1e6
        with pytest.raises(EndpointRunFailed, match="stopped at the budget") as stopped:
            evaluate_endpoint(make_config(limit=12, concurrency=1, budget_usd=3.5 * per_request, **price),
                              api_key=SECRET)
    finally:
        fake.prompt_tokens = None
    result = stopped.value.result
    assert result.state == "failed" and "budget" in (result.reason or "")
    assert 1 <= fake.count < 12
    assert result.extra["spent_usd"] <= 3.5 * per_request + 1e-9
    status = json.loads((result.run_dir / "status.json").read_text())
    assert status["state"] == "failed" and status["answered"] == fake.count
    assert len(pd.read_parquet(result.run_dir / "predictions.parquet")) == fake.count


@pytest.mark.parametrize(("mode", "expected"), [
    ("html", "did not answer like an OpenAI-compatible API"),
    ("401", "refused the key (HTTP 401)"),
    ("404", "answered 404"),
    ("429", "HTTP 429"),
    ("500", "HTTP 500"),
    ("truncated", "not valid JSON"),
    ("cut", "connection failed"),
])
def test_faults_end_with_a_clear_message(fake: Any, make_config: Any, mode: str, expected: str) -> None:
    fake.mode = mode
    with pytest.raises(EndpointError, match=expected.replace("(", r"\(").replace(")", r"\)")) as failure:
        evaluate_endpoint(make_config(limit=6), api_key=SECRET)
    # nothing ever succeeded, so the first failed request (after its 2 retries) stops the run
    assert fake.count <= 2 * 3
    result = getattr(failure.value, "result", None)
    run_dir = result.run_dir if result else sorted(Path(make_config().runs_dir).iterdir())[-1]
    assert json.loads((run_dir / "status.json").read_text())["state"] == "failed"
    assert (run_dir / "predictions.parquet").exists()


def test_unreachable_endpoint(make_config: Any) -> None:
    config = make_config(base_url=f"http://127.0.0.1:{closed_port()}/v1")
    with pytest.raises(EndpointRunFailed, match=r"connection failed.*after 3 attempts"):
        evaluate_endpoint(config, api_key=SECRET)


def test_retry_after_is_honoured_within_the_wait_cap(fake: Any, make_config: Any) -> None:
    """Backoff alone would wait up to 5 s (over the 0.5 s cap); Retry-After: 0 means no wait at all."""
    fake.mode = "429"
    with pytest.raises(EndpointRunFailed, match="HTTP 429") as failure:
        evaluate_endpoint(make_config(limit=3, concurrency=1, max_retries=3, backoff_base_s=5.0,
                                      backoff_max_s=5.0, max_total_wait_s=0.5), api_key=SECRET)
    assert fake.count == 4 and failure.value.result.metrics["retry_wait_s"] == 0.0


def test_transient_errors_are_retried(fake: Any, make_config: Any) -> None:
    fake.fail_first = 2
    result = evaluate_endpoint(make_config(limit=5, concurrency=1), api_key=SECRET)
    assert result.state == "succeeded" and fake.count == 5 + 2 and result.metrics["requests_sent"] == 5


def test_foreign_answers_are_unparseable_and_counted_wrong(fake: Any, make_config: Any) -> None:
    fake.mode = "foreign"
    result = evaluate_endpoint(make_config(limit=6), api_key=SECRET)
    assert result.metrics["unparseable"] == 6 and result.metrics["accuracy"] == 0.0
    assert result.metrics["macro_f1"] == 0.0
    assert "carte" in result.metrics["unparseable_examples"][0]["answer"]
    frame = pd.read_parquet(result.run_dir / "predictions.parquet")
    assert not frame["parsed"].any() and frame["pred_label"].isna().all()


def test_plain_text_when_structured_output_is_refused(fake: Any, make_config: Any) -> None:
    fake.structured = False
    try:
        result = evaluate_endpoint(make_config(limit=5, concurrency=1), api_key=SECRET)
        assert fake.count == 5 + 1  # the refused probe, then plain text
        assert result.metrics["accuracy"] == 1.0 and result.metrics["structured"] is False
        assert json.loads((result.run_dir / "config.json").read_text())["endpoint"]["structured"] is False
        assert "response_format" not in fake.bodies[-1]
        with pytest.raises(EndpointError, match="does not support structured output"):
            evaluate_endpoint(make_config(limit=5, structured="on", cache_dir=Path(result.run_dir) / "c"),
                              api_key=SECRET)
    finally:
        fake.structured = True


def test_few_shot_examples_come_from_train_only(fake: Any, make_config: Any, banking: Any) -> None:
    evaluate_endpoint(make_config(limit=3, shots=1, concurrency=1), api_key=SECRET)
    messages = fake.bodies[0]["messages"]
    shown = [m["content"] for m in messages[1:-1] if m["role"] == "user"]
    assert len(shown) == banking.num_labels
    train, test = set(t[:200] for t in banking.train.texts), set(t[:200] for t in banking.test.texts)
    assert all(text in train for text in shown) and not any(text in test for text in shown)
    assert messages[-1]["content"] in banking.test.texts  # the text to classify comes last, alone


def test_override_price_wins_and_is_recorded(fake: Any, make_config: Any) -> None:
    result = evaluate_endpoint(make_config(limit=4, input_price_per_m=1.0, output_price_per_m=2.0,
                                           price_source="contract 2026-11"), api_key=SECRET)
    price = json.loads((result.run_dir / "config.json").read_text())["price"]
    assert price["source"] == "contract 2026-11" and price["input_per_m_usd"] == 1.0
    frame = pd.read_parquet(result.run_dir / "predictions.parquet")
    expected = (frame["prompt_tokens"].sum() * 1.0 + frame["completion_tokens"].sum() * 2.0) / 1e6
    assert result.metrics["cost_usd"] == pytest.approx(expected)
    assert result.metrics["spent_usd"] == pytest.approx(expected)


def test_cli_prints_figures_and_one_line_errors(fake: Any, make_config: Any, tmp_path: Path, capsys: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from models.cli import main

    monkeypatch.setenv("FAKE_KEY", SECRET)
    args = ["evaluate-endpoint", "--base-url", fake.base_url, "--model", "fake-model", "--api-key-env",
            "FAKE_KEY", "--dataset", "banking77", "--limit", "4", "--runs-dir", str(tmp_path / "cli-runs")]
    monkeypatch.setenv("STRATLAB_DATASET_CACHE", str(tmp_path / "datasets"))  # the response cache: beside it
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["accuracy"] == 1.0 and summary["requests_sent"] == 4
    fake.mode = "401"
    assert main([*args, "--seed", "7"]) == 2  # another subset: not in the cache
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and "refused the key" in err[-1] and SECRET not in "\n".join(err)
    monkeypatch.delenv("FAKE_KEY")
    assert main(args) == 2
    assert "FAKE_KEY is not set" in capsys.readouterr().err


def _tiny_chat() -> Any:
    """Two intents, 12 train and 4 test conversations: the judge fits in milliseconds."""
    from models.data.chat import ChatExample, ChatSplits

    replies = {"cancel_order": "I have cancelled order {{Order Number}}; the refund follows in 3 days.",
               "track_refund": "Your refund is on its way; track it under {{Account Section}}."}

    def example(i: int, intent: str, split: str) -> ChatExample:
        request = f"{intent.replace('_', ' ')} please, case {split} {i}"
        return ChatExample(f"{split}-{i:03d}", (("user", request), ("assistant", replies[intent])), intent)

    intents = sorted(replies)
    train = tuple(example(i, intents[i % 2], "train") for i in range(12))
    test = tuple(example(i, intents[i % 2], "test") for i in range(4))
    return ChatSplits("bitext_customer_support", train, (), test, tuple(intents))


def test_generation_replies_judged_like_an_sft_run(fake: Any, make_config: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from models.serving.endpoint import replies

    data = _tiny_chat()
    monkeypatch.setattr(replies, "load_chat", lambda config: data)
    fake.answers.update({ex.request: ex.reference for ex in data.test[:3]})  # the 4th gets a wrong reply
    try:
        result = evaluate_endpoint(make_config(dataset="bitext_customer_support", task="generation",
                                               limit=None), api_key=SECRET)
    finally:
        for ex in data.test:
            fake.answers.pop(ex.request, None)
    assert fake.count == 4 and [m["role"] for m in fake.bodies[0]["messages"]] == ["user"]
    frame = pd.read_parquet(result.run_dir / "generations.parquet")
    from models.core.judge import FRAME_COLUMNS

    assert list(frame.columns) == list(FRAME_COLUMNS) and len(frame) == 4
    assert list(frame["rouge_l"].round(6)) == [1.0, 1.0, 1.0, frame["rouge_l"].iloc[3].round(6)]
    assert frame["rouge_l"].iloc[3] < 0.2 and frame["intent_match"].iloc[:3].all()
    metrics = json.loads((result.run_dir / "eval.json").read_text())
    assert metrics["task"] == "generation" and metrics["method"] == "endpoint"
    assert metrics["rouge_l_ci_low"] <= metrics["rouge_l"] <= metrics["rouge_l_ci_high"]
    assert metrics["intent_match"] == 0.75 and metrics["completion_tokens_mean"] == 5.0
    assert metrics["requests_sent"] == 4 and metrics["latency_p50_ms"] > 0
    assert json.loads((result.run_dir / "config.json").read_text())["task"] == "generation"
