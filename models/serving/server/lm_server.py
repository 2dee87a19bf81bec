"""Causal-LM runs (sft, sft_lora) and registry LLMs behind `transformers serve` (or vLLM on GPUs).

`transformers serve <folder>` pins the server to that local folder (`force_model`: loaded before the
server listens, so /health answering means the model is ready; requests must name the model as the
folder's path, which /v1/models lists). `--continuous-batching` turns on paged attention with continuous
batching. We start it as `python -c "...app()" serve ...` rather than the `transformers` script, whose
main() first asks the network for a newer version.

`transformers serve` has no authentication, so a non-loopback host is refused here (ServingError with how
to expose it safely: an SSH tunnel, or a reverse proxy that checks a password and terminates TLS). Putting
our own check in front would mean a proxy hop inside every measured latency.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from models.errors import ServingError

SERVER_TRANSFORMERS = "transformers serve"
SERVER_VLLM = "vllm"

_TRANSFORMERS_CLI = "from transformers.cli.transformers import app; app()"


def vllm_usable() -> bool:
    """vLLM importable and a CUDA GPU present."""
    if importlib.util.find_spec("vllm") is None:
        return False
    import torch

    return torch.cuda.is_available()


def transformers_serve_command(model_dir: Path, host: str, port: int, *, continuous_batching: bool = False,
                               device: str = "auto") -> list[str]:
    """The `transformers serve` command line pinned to `model_dir`."""
    command = [sys.executable, "-c", _TRANSFORMERS_CLI, "serve", str(Path(model_dir).resolve()),
               "--host", host, "--port", str(port), "--device", device, "--log-level", "warning"]
    if continuous_batching:
        command.append("--continuous-batching")
    return command


def lm_command(model_dir: Path, host: str, port: int, *, continuous_batching: bool = False,
               model_name: str | None = None, threads: int | None = None) -> tuple[list[str], str, str]:
    """(command, server kind, model name requests must send) for serving `model_dir`."""
    if vllm_usable():
        import torch

        from models.serving.server.plan import vllm_command

        name = model_name or str(Path(model_dir).resolve())
        return (vllm_command(model_dir, torch.cuda.device_count(), port, host=host, served_model_name=name),
                SERVER_VLLM, name)
    return (transformers_serve_command(model_dir, host, port, continuous_batching=continuous_batching),
            SERVER_TRANSFORMERS, str(Path(model_dir).resolve()))


def lm_environment(threads: int | None) -> dict[str, str]:
    """The server's environment: offline hub, quiet progress bars, the thread count when given."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HUB_DISABLE_PROGRESS_BARS="1",
               TOKENIZERS_PARALLELISM="false")
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    return env


def run_lm_server(command: list[str], threads: int | None = None) -> int:
    """Run the server in the foreground until it exits; SIGTERM/SIGINT are passed on to it (uvicorn
    finishes in-flight requests) and a server stopped that way returns 0."""
    try:
        process = subprocess.Popen(command, env=lm_environment(threads))
    except OSError as e:
        raise ServingError(f"cannot start {command[0]}: {e}; is the serving extra installed "
                           "(pip install 'transformers[serving]')?") from e
    stopping: list[int] = []

    def forward(signum: int, _frame: Any) -> None:
        stopping.append(signum)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        code = process.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0 if stopping else code
