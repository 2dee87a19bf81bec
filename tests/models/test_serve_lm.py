"""`serve` of a causal-LM run with `transformers serve` on 127.0.0.1, end to end (slow: about 15 s to start,
two processes importing torch and transformers)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from models.core.config import TrainConfig
from models.core.runs import write_json_atomic


@pytest.mark.slow
def test_sft_run_served_by_transformers_serve(tiny_lm_dir: Path, tmp_path: Path) -> None:
    from openai import OpenAI

    from models.serving.server.launch import serve_run
    from models.serving.server.loadtest import load_test

    run = tmp_path / "sft-tiny"
    shutil.copytree(tiny_lm_dir, run / "model")
    write_json_atomic(run / "config.json", TrainConfig(method="sft", model=str(tiny_lm_dir),
                                                       runs_dir=str(tmp_path), dataset="toy").to_dict())
    write_json_atomic(run / "status.json", {"state": "succeeded"})
    with serve_run(run, port=0, threads=1, startup_timeout_s=300, log_dir=tmp_path) as server:
        assert server.server == "transformers serve" and server.model == str((run / "model").resolve())
        client = OpenAI(base_url=server.base_url, api_key="none", max_retries=0, timeout=60)
        assert [m.id for m in client.models.list().data] == [server.model]
        reply = client.chat.completions.create(model=server.model, max_tokens=4,
                                               messages=[{"role": "user", "content": "hello"}])
        assert reply.usage.completion_tokens == 4 and reply.usage.prompt_tokens > 1
        record = load_test(server.base_url, server.model, (2,), duration_s=30, max_requests=4, max_tokens=4)
        level = record.levels[0]
        assert level.errors == 0 and level.requests == 4
        assert level.tokens_per_s == pytest.approx(4 * level.requests_per_s)
        stopped = server.stop()
    assert stopped == 0
