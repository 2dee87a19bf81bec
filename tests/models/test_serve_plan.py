"""vLLM multi-GPU command lines (models.serving.server.plan) and the LM server's command line: no process."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from models.errors import ServingError


def _model_dir(tmp_path: Path, heads: int, kv_heads: int | None = None) -> Path:
    folder = tmp_path / "run-42" / "model"
    folder.mkdir(parents=True)
    config = {"num_attention_heads": heads, **({"num_key_value_heads": kv_heads} if kv_heads else {})}
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_tensor_parallel_size_follows_the_gpu_count_and_heads() -> None:
    from models.serving.server.plan import tensor_parallel_size

    assert [tensor_parallel_size(g, 32, 8) for g in (1, 2, 3, 4, 6, 8, 16)] == [1, 2, 2, 4, 4, 8, 8]
    assert tensor_parallel_size(8, 9, 3) == 1  # SmolLM2-135M: 9 heads, 3 KV heads: only 1 divides both
    assert tensor_parallel_size(4, 12, 4) == 4
    assert tensor_parallel_size(4, 12, 2) == 4  # 2 KV heads replicated across 4 ranks
    with pytest.raises(ServingError, match="at least one GPU"):
        tensor_parallel_size(0)


def test_vllm_command_for_four_gpus(tmp_path: Path) -> None:
    from models.serving.server.plan import vllm_command

    folder = _model_dir(tmp_path, 32, 8)
    command = vllm_command(folder, gpus=4, port=9000, api_key_env="SERVE_KEY")
    assert command[:3] == ["vllm", "serve", str(folder)]
    assert command[command.index("--tensor-parallel-size") + 1] == "4"
    assert command[command.index("--served-model-name") + 1] == "run-42"
    assert command[command.index("--port") + 1] == "9000"
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert command[command.index("--api-key") + 1] == "$SERVE_KEY"  # the variable, never a key
    assert "--pipeline-parallel-size" not in command


def test_vllm_command_across_nodes_and_bad_input(tmp_path: Path) -> None:
    from models.serving.server.plan import multi_gpu_plan, vllm_command

    folder = _model_dir(tmp_path, 9, 3)
    command = vllm_command(folder, gpus=8, nodes=2, max_model_len=2048)
    assert command[command.index("--tensor-parallel-size") + 1] == "1"
    assert command[command.index("--pipeline-parallel-size") + 1] == "2"
    assert command[command.index("--distributed-executor-backend") + 1] == "ray"
    assert command[command.index("--max-model-len") + 1] == "2048"
    plan = multi_gpu_plan(folder, gpus=8)
    assert "tensor parallel size 1 on 8 GPUs (9 attention heads" in plan and "run 8 replicas" in plan
    with pytest.raises(ServingError, match="nodes"):
        vllm_command(folder, gpus=2, nodes=0)
    with pytest.raises(ServingError, match="port"):
        vllm_command(folder, gpus=2, port=70000)


def test_transformers_serve_command_pins_the_folder(tmp_path: Path) -> None:
    from models.serving.server.lm_server import transformers_serve_command

    command = transformers_serve_command(tmp_path, "127.0.0.1", 8123, continuous_batching=True)
    assert command[0] == sys.executable and "serve" in command
    assert command[command.index("serve") + 1] == str(tmp_path.resolve())
    assert command[command.index("--port") + 1] == "8123" and command[-1] == "--continuous-batching"
    assert "--continuous-batching" not in transformers_serve_command(tmp_path, "127.0.0.1", 8123)
