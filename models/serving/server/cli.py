"""Command-line subcommands of this package for `python -m models` (models/cli.py registers them).

    python -m models serve --run data/runs/<id> [--host 127.0.0.1] [--port 8000] [--max-batch-size 16]
        [--batch-timeout-ms 10] [--continuous-batching] [--threads N] [--model-name NAME]
    python -m models serve --model SmolLM2-135M-Instruct            # a registry LLM
    python -m models loadtest --base-url http://127.0.0.1:8000/v1 --model <id> --concurrency 1,4,16
        --duration 30 [--max-requests N] [--run R | --out DIR] [--api-key-env VAR] [--prompt-file F]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from models.errors import ServingError


def cmd_serve(args: argparse.Namespace) -> int:
    """`serve`: run the server in the foreground until SIGTERM / Ctrl+C."""
    from models.serving.server.launch import resolve_target, serve_foreground, stop_with_parent

    target = resolve_target(args.run, args.model, args.model_name)
    if args.stop_with_parent:
        stop_with_parent(args.stop_with_parent)
    return serve_foreground(target, args.host, args.port, max_batch_size=args.max_batch_size,
                            batch_timeout_ms=args.batch_timeout_ms, threads=args.threads,
                            continuous_batching=args.continuous_batching)


def cmd_loadtest(args: argparse.Namespace) -> int:
    """`loadtest`: every concurrency level against the endpoint; serving.json with the run or in --out."""
    from models.serving.server.launch import CLASSIFIER_METHODS, is_loopback
    from models.serving.server.loadtest import (
        load_test,
        local_hardware,
        parse_concurrency,
        read_prompts,
        write_serving_record,
    )

    if args.run is None and args.out is None:
        raise ServingError("say where the serving record goes: --run RUN_DIR (the run served) or --out DIR")
    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            raise ServingError(f"environment variable {args.api_key_env} is not set; export the API key "
                               "in it (its value is never written anywhere)")
    server, folder = args.server, Path(args.out) if args.out else Path(args.run)
    if args.run is not None:
        config_path = Path(args.run) / "config.json"
        if not config_path.is_file():
            raise ServingError(f"{args.run} is not a run folder (no config.json); use --out DIR for an "
                               "endpoint without a run")
        if server is None:
            method = json.loads(config_path.read_text(encoding="utf-8")).get("method")
            server = "litserve" if method in CLASSIFIER_METHODS else "transformers serve"
    from urllib.parse import urlsplit

    host = urlsplit(args.base_url).hostname or ""
    record = load_test(args.base_url, args.model, parse_concurrency(args.concurrency), args.duration,
                       max_requests=args.max_requests, api_key=api_key,
                       prompts=read_prompts(Path(args.prompt_file)) if args.prompt_file else None,
                       max_tokens=args.max_tokens, timeout_s=args.timeout, server=server or "external",
                       hardware=local_hardware() if is_loopback(host) else None, threads=args.threads,
                       continuous_batching=args.continuous_batching, max_batch_size=args.max_batch_size)
    path = write_serving_record(folder, record)
    out = sys.stdout
    out.write(f"{'concurrency':>11} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
              f"{'req/s':>8} {'tokens/s':>9}\n")
    for level in record.levels:
        out.write(f"{level.concurrency:>11} {level.requests:>8} {level.errors:>6} {_ms(level.p50_ms):>8} "
                  f"{_ms(level.p95_ms):>8} {_ms(level.p99_ms):>8} {level.requests_per_s:>8.1f} "
                  f"{level.tokens_per_s:>9.1f}\n")
        if level.first_error:
            sys.stderr.write(f"concurrency {level.concurrency}: first error: {level.first_error}\n")
    out.write(f"serving record: {path}\n")
    return 0 if all(level.errors < level.requests for level in record.levels) else 1


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _optional_bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"serve": cmd_serve, "loadtest": cmd_loadtest}
"""Subcommand name -> handler returning the exit status."""


def add_parsers(sub: Any) -> None:
    """Register this package's subcommands on `sub` (argparse subparsers)."""
    serve = sub.add_parser(
        "serve", help="serve a trained run (or a registry LLM) behind an OpenAI-compatible API",
        description="Classifier runs: LitServe with dynamic batching, POST /v1/chat/completions (the last "
                    "user message is the text, the reply the label), GET /v1/models, GET /health. Causal-LM "
                    "runs (sft, sft_lora) and registry LLMs: transformers serve (vLLM on a GPU when "
                    "installed). Loopback by default; another host needs STRATLAB_PASSWORD, sent by clients "
                    "as the API key. SIGTERM or Ctrl+C stops it after the requests in flight.")
    what = serve.add_mutually_exclusive_group(required=True)
    what.add_argument("--run", metavar="RUN_DIR", help="a succeeded run folder")
    what.add_argument("--model", metavar="NAME", help="a registry causal LM (e.g. SmolLM2-135M-Instruct)")
    serve.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="listen port (default 8000)")
    serve.add_argument("--max-batch-size", type=int, default=16,
                       help="classifiers: most requests per forward pass (default 16)")
    serve.add_argument("--batch-timeout-ms", type=float, default=10.0,
                       help="classifiers: longest wait for a batch to fill, ms (default 10)")
    serve.add_argument("--continuous-batching", action="store_true",
                       help="causal LMs: transformers serve's continuous batching (paged attention)")
    serve.add_argument("--threads", type=int, default=None,
                       help="CPU threads of the model (default: torch's)")
    serve.add_argument("--stop-with-parent", type=int, default=None, help=argparse.SUPPRESS)
    serve.add_argument("--model-name", default=None,
                       help="classifiers: the model name clients send (default: the run id)")

    load = sub.add_parser(
        "loadtest",
        help="load-test an OpenAI-compatible endpoint: latency, requests/s, tokens/s, errors",
        description="Per concurrency level: p50/p95/p99 latency, requests/s, tokens/s and error rate "
                    "with the official openai client, bounded by --duration and --max-requests; stored as "
                    "serving.json with the run (--run) or in --out.")
    load.add_argument("--base-url", required=True, help="the endpoint's base URL, ending in /v1")
    load.add_argument("--model", required=True, help="the model name requests send (GET /v1/models)")
    load.add_argument("--concurrency", default="1,4,16", help="levels, comma-separated (default 1,4,16)")
    load.add_argument("--duration", type=float, default=30.0, help="seconds per level (default 30)")
    load.add_argument("--max-requests", type=int, default=None, help="at most this many requests per level")
    where = load.add_mutually_exclusive_group()
    where.add_argument("--run", metavar="RUN_DIR", help="the run being served: serving.json goes there")
    where.add_argument("--out", metavar="DIR", help="folder for serving.json (an endpoint without a run)")
    load.add_argument("--api-key-env", metavar="VAR", help="environment variable holding the API key")
    load.add_argument("--prompt-file", metavar="FILE",
                      help="prompts, one per line or JSONL with 'prompt'")
    load.add_argument("--max-tokens", type=int, default=16, help="max_tokens per request (default 16)")
    load.add_argument("--timeout", type=float, default=60.0,
                      help="client timeout per request, s (default 60)")
    load.add_argument("--server", default=None,
                      help="server kind for the record: litserve, transformers serve, vllm, external "
                           "(default: from --run's method, else external)")
    load.add_argument("--threads", type=int, default=None, help="record: the server's CPU threads")
    load.add_argument("--max-batch-size", type=int, default=None, help="record: the server's batch limit")
    load.add_argument("--continuous-batching", type=_optional_bool, default=None,
                      help="record: whether the server batches continuously (true/false)")
