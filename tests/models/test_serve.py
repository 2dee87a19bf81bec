"""`serve` and `loadtest` against a real LitServe server on 127.0.0.1 (one per module, a tiny random model).

The server runs with the app's password set, so one server shows both the password being enforced and a
client that sends it getting its label; the refusals (non-loopback without a password, unfinished run, port
in use) are raised before any process starts.
"""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from models.core.config import TrainConfig
from models.core.runs import write_json_atomic
from models.errors import ServingError

PASSWORD = "serve-test-password-1234"


def _write_run(run: Path, encoder_dir: Path, state: str = "succeeded") -> Path:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from models.core.outputs import write_label_names

    model = AutoModelForSequenceClassification.from_pretrained(encoder_dir, num_labels=2)
    model.save_pretrained(run / "model")
    AutoTokenizer.from_pretrained(encoder_dir).save_pretrained(run / "model")
    write_label_names(run / "model", ("neg", "pos"))
    config = TrainConfig(method="full", model=str(encoder_dir), runs_dir=str(run.parent), eval_batch_size=4,
                         max_length=32, dataset="toy")
    write_json_atomic(run / "config.json", config.to_dict())
    if state:
        write_json_atomic(run / "status.json", {"state": state})
    return run


@pytest.fixture(scope="module")
def run_dir(tiny_encoder_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_run(tmp_path_factory.mktemp("serve-runs") / "tiny-full", tiny_encoder_dir)


@pytest.fixture(scope="module")
def server(run_dir: Path) -> Iterator[object]:
    from models.serving.server.launch import serve_run

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STRATLAB_PASSWORD", PASSWORD)
        handle = serve_run(run_dir, port=0, threads=1, max_batch_size=16, batch_timeout_ms=50,
                           startup_timeout_s=300, log_dir=run_dir.parent)
        try:
            yield handle
        finally:
            handle.stop()


def _client(server: object, api_key: str | None = PASSWORD) -> object:
    from openai import OpenAI

    return OpenAI(base_url=server.base_url, api_key=api_key or "none", max_retries=0, timeout=60)


def _ask(client: object, model: str, text: str) -> object:
    return client.chat.completions.create(model=model, messages=[
        {"role": "system", "content": "classify"}, {"role": "user", "content": text}])


def test_health_needs_no_password_and_models_lists_the_run(server: object, run_dir: Path) -> None:
    from models.serving.server.launch import health_ok

    assert health_ok(server.url)
    assert server.model == run_dir.name and server.api_key == PASSWORD
    assert [m.id for m in _client(server).models.list().data] == [run_dir.name]


def test_chat_completion_returns_a_label_and_usage(server: object) -> None:
    response = _ask(_client(server), server.model, "love this so much")
    assert response.choices[0].message.content in ("neg", "pos")
    assert response.model == server.model and response.choices[0].finish_reason == "stop"
    usage = response.usage
    assert usage.prompt_tokens == 6 and usage.completion_tokens == 1  # [CLS] love this so much [SEP]
    assert usage.total_tokens == 7


def test_json_schema_answer_fills_the_label_field(server: object) -> None:
    schema = {"type": "object", "properties": {"label": {"type": "string", "enum": ["Neg", "Pos"]}},
              "required": ["label"]}
    response = _client(server).chat.completions.create(
        model=server.model, messages=[{"role": "user", "content": "hate it"}],
        response_format={"type": "json_schema", "json_schema": {"name": "c", "schema": schema}})
    assert json.loads(response.choices[0].message.content)["label"] in ("Neg", "Pos")


def test_password_is_enforced(server: object) -> None:
    import openai

    with pytest.raises(openai.AuthenticationError, match="Authorization: Bearer"):
        _ask(_client(server, api_key="wrong"), server.model, "love it")
    request = urllib.request.Request(f"{server.url}/v1/models")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert info.value.code == 401
    assert PASSWORD not in info.value.read().decode()


def test_unknown_model_and_missing_user_text_are_rejected(server: object) -> None:
    import openai

    client = _client(server)
    with pytest.raises(openai.NotFoundError, match="not served here"):
        _ask(client, "gpt-5", "love it")
    with pytest.raises(openai.UnprocessableEntityError, match="no user message with text"):
        client.chat.completions.create(model=server.model, messages=[{"role": "system", "content": "x"}])
    with pytest.raises(openai.UnprocessableEntityError, match="stream=false"):
        client.chat.completions.create(model=server.model, messages=[{"role": "user", "content": "x"}],
                                       stream=True)


def test_concurrent_requests_are_batched(server: object) -> None:
    client = _client(server)
    texts = [f"text number {i}" for i in range(48)]
    with ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(lambda t: _ask(client, server.model, t).choices[0].message.content, texts))
    assert set(replies) <= {"neg", "pos"} and len(replies) == 48
    request = urllib.request.Request(f"{server.url}/v1/stats",
                                     headers={"Authorization": f"Bearer {PASSWORD}"})
    stats = json.loads(urllib.request.urlopen(request, timeout=10).read())
    assert stats["max_batch_seen"] > 1
    assert stats["batches"] < stats["requests"]


def test_loadtest_writes_a_serving_record(server: object, run_dir: Path, tmp_path: Path) -> None:
    from models.serving.server.loadtest import load_test, read_serving_records, write_serving_record

    record = load_test(server.base_url, server.model, (1, 4), duration_s=20, max_requests=8,
                       api_key=PASSWORD, server="litserve", max_batch_size=16, threads=1)
    write_serving_record(tmp_path, record)
    write_serving_record(tmp_path, record)
    records = read_serving_records(tmp_path)
    assert len(records) == 2
    stored = records[0]
    assert {"measured_at", "base_url", "model", "server", "hardware", "threads", "continuous_batching",
            "max_batch_size", "duration_s", "levels"} <= set(stored)
    assert [level["concurrency"] for level in stored["levels"]] == [1, 4]
    for level in stored["levels"]:
        assert level["requests"] == 8 and level["errors"] == 0 and level["error_rate"] == 0
        assert 0 < level["p50_ms"] <= level["p95_ms"] <= level["p99_ms"]
        assert level["requests_per_s"] > 0 and level["tokens_per_s"] == pytest.approx(level["requests_per_s"])
        assert level["completion_tokens_mean"] == 1 and level["prompt_tokens_mean"] > 2
    assert PASSWORD not in (tmp_path / "serving.json").read_text()


def test_loadtest_counts_errors_and_refuses_a_dead_endpoint(server: object) -> None:
    from models.serving.server.loadtest import load_test, run_level

    wrong_key = _client(server, api_key="wrong")
    level = run_level(wrong_key, server.model, ["love it"], 2, 20.0, 4, None, secret="wrong")
    assert level.requests == 4 and level.errors == 4 and level.error_rate == 1.0 and level.p50_ms is None
    assert "401" in (level.first_error or "") and "wrong" not in (level.first_error or "")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    with pytest.raises(ServingError, match="warm-up request"):
        load_test(f"http://127.0.0.1:{dead}/v1", "m", (1,), duration_s=1, max_requests=1, timeout_s=5)


def test_cli_loadtest_writes_serving_json_into_out(server: object, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from models.cli import main

    monkeypatch.setenv("SERVE_TEST_KEY", PASSWORD)
    code = main(["loadtest", "--base-url", server.base_url, "--model", server.model, "--concurrency", "2",
                 "--duration", "20", "--max-requests", "4", "--out", str(tmp_path),
                 "--api-key-env", "SERVE_TEST_KEY"])
    assert code == 0
    record = json.loads((tmp_path / "serving.json").read_text())["records"][0]
    assert record["server"] == "external" and record["levels"][0]["requests"] == 4
    assert record["hardware"]  # a loopback URL: this machine's hardware


def test_refusals_before_any_process(run_dir: Path, tiny_encoder_dir: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from models.serving.server.launch import serve_run

    monkeypatch.delenv("STRATLAB_PASSWORD", raising=False)
    with pytest.raises(ServingError, match="STRATLAB_PASSWORD"):
        serve_run(run_dir, host="0.0.0.0", port=0)
    unfinished = _write_run(tmp_path / "unfinished", tiny_encoder_dir, state="")
    with pytest.raises(ServingError, match="unfinished"):
        serve_run(unfinished, port=0)
    with pytest.raises(ServingError, match="not a run folder"):
        serve_run(tmp_path, port=0)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(ServingError, match=f"port {taken.getsockname()[1]} .*not free"):
            serve_run(run_dir, port=taken.getsockname()[1])


def test_lm_server_is_never_exposed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from models.serving.server.launch import ServeTarget, check_exposure

    monkeypatch.setenv("STRATLAB_PASSWORD", PASSWORD)
    target = ServeTarget("lm", tmp_path, str(tmp_path))
    check_exposure(target, "127.0.0.1", None)
    with pytest.raises(ServingError, match="SSH tunnel"):
        check_exposure(target, "0.0.0.0", PASSWORD)


def test_evaluate_endpoint_on_our_own_server_gives_the_in_process_predictions(
        server: object, run_dir: Path, tmp_path: Path) -> None:
    """End to end on 127.0.0.1: `serve` (LitServe, the app's password) scored by `evaluate-endpoint` through
    the openai client; every served answer parses to the label the run predicts in-process, a rerun is
    answered from the cache, and the password never reaches the run folder."""
    import pandas as pd

    from models.data.catalog import load_dataset
    from models.serving.endpoint.config import EndpointConfig
    from models.serving.endpoint.evaluate import evaluate_endpoint
    from models.serving.predictors import load_predictor

    config = EndpointConfig(base_url=server.base_url, model=server.model,
                            dataset="sentiment_labelled_sentences", api_key_env="SERVE_TEST_KEY",
                            limit=12, concurrency=4, runs_dir=tmp_path / "runs",
                            cache_dir=tmp_path / "cache", max_retries=1, backoff_base_s=0.01)
    result = evaluate_endpoint(config, api_key=PASSWORD)  # the CLI reads it from $SERVE_TEST_KEY
    assert result.state == "succeeded" and result.metrics["unparseable"] == 0
    assert result.metrics["requests_sent"] == 12 and result.metrics["latency_p50_ms"] > 0
    served = pd.read_parquet(result.run_dir / "predictions.parquet")
    data = load_dataset("sentiment_labelled_sentences", seed=42)
    texts = dict(zip(data.test.ids, data.test.texts, strict=True))
    probs = load_predictor(run_dir, device="cpu").predict_proba([texts[i] for i in served["text_id"]])
    in_process = [("negative", "positive")[int(p.argmax())] for p in probs]  # the run's neg / pos
    assert list(served["pred_label"]) == in_process
    again = evaluate_endpoint(config, api_key=PASSWORD)
    assert again.metrics["requests_sent"] == 0 and again.metrics["cache_hits"] == 12
    for path in (tmp_path / "runs").rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path


def test_graceful_stop_finishes_requests_in_flight(run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM while 16 requests wait in the server's batch window (a server of its own that waits up to 2 s
    for a batch of 64, so the requests are surely received and not yet answered when the signal comes, even
    on a busy machine): every one is answered and the server exits 0."""
    import time

    from models.serving.server.launch import serve_run

    monkeypatch.setenv("STRATLAB_PASSWORD", PASSWORD)
    server = serve_run(run_dir, port=0, threads=1, max_batch_size=64, batch_timeout_ms=2000,
                       startup_timeout_s=300, log_dir=run_dir.parent)
    try:
        client = _client(server)
        with ThreadPoolExecutor(16) as pool:  # 16 pooled connections, accepted by the server
            list(pool.map(lambda i: _ask(client, server.model, f"warm {i}"), range(16)))
        go = threading.Barrier(17)
        results: list[str] = []
        failures: list[BaseException] = []

        def send(i: int) -> None:
            go.wait(30)
            try:
                results.append(_ask(client, server.model, f"request {i}").choices[0].message.content)
            except Exception as e:  # noqa: BLE001 - reported by the assertion below
                failures.append(e)

        threads = [threading.Thread(target=send, args=(i,)) for i in range(16)]
        for thread in threads:
            thread.start()
        go.wait(30)
        began = time.monotonic()
        time.sleep(0.6)  # well inside the 2 s batch window: sent, received, not answered
        code = server.stop()
        for thread in threads:
            thread.join(60)
        assert failures == [] and len(results) == 16
        assert time.monotonic() - began >= 0.6 and code == 0 and server.process.poll() == 0
        assert server.stop() == 0  # stopping twice is harmless
    finally:
        server.stop()
