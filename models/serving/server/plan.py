"""The vLLM command line for serving a causal LM on one or several GPUs (documented and tested, not run here).

One machine with G GPUs: tensor parallelism splits every layer across the G GPUs, so G must divide the
model's attention-head count (and the KV heads); a model that fits one GPU serves fastest as G separate
replicas behind a load balancer instead (`replicas_instead`). Several machines: pipeline parallelism across
nodes on a Ray cluster (`--pipeline-parallel-size` = nodes), tensor parallelism inside each node.

    vllm_command(Path("data/runs/<id>/model"), gpus=4, port=8000)
    -> ['vllm', 'serve', '<dir>', '--served-model-name', '<id>', '--host', '127.0.0.1', '--port', '8000',
        '--tensor-parallel-size', '4', ...]
"""

from __future__ import annotations

import json
from pathlib import Path

from models.errors import ServingError

TENSOR_PARALLEL_SIZES = (1, 2, 4, 8)
"""Tensor-parallel sizes vLLM serves well: powers of two up to one 8-GPU node."""


def attention_heads(model_dir: Path) -> tuple[int | None, int | None]:
    """(attention heads, KV heads) from the model folder's config.json; None where it does not say."""
    path = Path(model_dir) / "config.json"
    if not path.is_file():
        return None, None
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, None
    heads = config.get("num_attention_heads")
    return heads, config.get("num_key_value_heads", heads)


def tensor_parallel_size(gpus: int, heads: int | None = None, kv_heads: int | None = None) -> int:
    """The largest power of two <= gpus (at most 8) that divides the head counts.

    Raises ServingError for fewer than one GPU."""
    if gpus < 1:
        raise ServingError(f"vLLM needs at least one GPU, got gpus={gpus}; serve on the CPU with "
                           "`python -m models serve` (transformers serve) instead")
    for size in sorted(TENSOR_PARALLEL_SIZES, reverse=True):
        if size > gpus:
            continue
        if heads and heads % size:
            continue
        if kv_heads and kv_heads % size and size % kv_heads:
            continue
        return size
    return 1


def vllm_command(model_dir: Path | str, gpus: int, port: int = 8000, *, host: str = "127.0.0.1",
                 served_model_name: str | None = None, nodes: int = 1, max_model_len: int | None = None,
                 api_key_env: str | None = None) -> list[str]:
    """`vllm serve` for `model_dir` on `gpus` GPUs per node (tensor parallel from the GPU count and heads).

    `nodes` > 1: pipeline parallelism across that many nodes (start a Ray cluster first). `api_key_env`:
    the command reads the key from that variable (`--api-key "$VAR"` is written as such, never the key).
    Raises ServingError for a bad GPU, node or port count.
    """
    model_dir = Path(model_dir)
    if nodes < 1:
        raise ServingError(f"nodes must be at least 1, got {nodes}")
    if not 1 <= port <= 65535:
        raise ServingError(f"port must be 1-65535, got {port}")
    heads, kv_heads = attention_heads(model_dir)
    tp = tensor_parallel_size(gpus, heads, kv_heads)
    name = served_model_name or (model_dir.parent.name if model_dir.name == "model" else model_dir.name)
    command = ["vllm", "serve", str(model_dir), "--served-model-name", name, "--host", host,
               "--port", str(port), "--tensor-parallel-size", str(tp), "--dtype", "auto",
               "--gpu-memory-utilization", "0.90", "--enable-prefix-caching"]
    if nodes > 1:
        command += ["--pipeline-parallel-size", str(nodes), "--distributed-executor-backend", "ray"]
    if max_model_len:
        command += ["--max-model-len", str(max_model_len)]
    if api_key_env:
        command += ["--api-key", f"${api_key_env}"]
    return command


def replicas_instead(gpus: int, tp: int) -> int:
    """How many independent replicas of a `tp`-GPU server fit on `gpus` GPUs (data parallel)."""
    return max(gpus // max(tp, 1), 1)


def multi_gpu_plan(model_dir: Path | str, gpus: int, port: int = 8000) -> str:
    """A few lines a founder reads: the command, the tensor-parallel size and why, the replica option."""
    heads, kv_heads = attention_heads(Path(model_dir))
    tp = tensor_parallel_size(gpus, heads, kv_heads)
    why = f"{heads} attention heads" if heads else "the model's head count is unknown"
    lines = [" ".join(vllm_command(model_dir, gpus, port)),
             f"tensor parallel size {tp} on {gpus} GPU{'s' if gpus != 1 else ''} "
             f"({why}; it must divide them)"]
    if tp < gpus:
        lines.append(f"{gpus - tp} GPU(s) left idle by tensor parallelism: run {replicas_instead(gpus, tp)} "
                     f"replicas of a {tp}-GPU server behind a load balancer instead")
    return "\n".join(lines)
