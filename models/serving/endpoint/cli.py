"""Command-line subcommands of this package for `python -m models` (models/cli.py registers them).

    python -m models evaluate-endpoint --base-url https://api.openai.com/v1 --model gpt-4o-mini \\
        --api-key-env OPENAI_API_KEY --dataset banking77 --limit 200 --budget-usd 0.50

The key is read from the environment variable --api-key-env names (never from a flag, so it stays out of
shell history and process lists). Prints one JSON line of the headline figures; errors print one
`error: ...` line (models/cli.py) and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from models.errors import ConfigError

EPILOG = """\
examples:
  export OPENAI_API_KEY=...        # the key stays in the environment; only its NAME is recorded
  python -m models evaluate-endpoint --base-url https://api.openai.com/v1 --model gpt-4o-mini \\
      --api-key-env OPENAI_API_KEY --dataset banking77 --limit 200 --budget-usd 0.50
  python -m models evaluate-endpoint --base-url http://127.0.0.1:8000/v1 --model my-run --dataset banking77
  python -m models evaluate-endpoint --base-url http://127.0.0.1:8000/v1 --model smollm2-sft \
      --dataset bitext_customer_support --task generation --limit 50
  python -m models evaluate-endpoint ... --input-price-per-m 0.20 --output-price-per-m 0.80 \\
      --price-source "provider pricing page, 2026-12-01"

A rerun of the same command sends only the requests the cache lacks (nothing is paid twice).
"""

SUMMARY_KEYS = ("accuracy", "accuracy_ci95", "macro_f1", "rouge_l", "intent_match", "n_test_scored",
                "unparseable", "latency_p50_ms",
                "latency_p95_ms", "prompt_tokens_mean", "completion_tokens_mean", "cost_usd", "spent_usd",
                "requests_sent", "cache_hits", "structured", "price_source")
"""eval.json keys printed by the command."""


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def add_parsers(sub: Any) -> None:
    """Register this package's subcommands on `sub` (argparse subparsers)."""
    p = sub.add_parser("evaluate-endpoint", help="evaluate an OpenAI-compatible endpoint on a dataset",
                       description="Score a hosted or served model on a dataset's test split through its "
                                   "OpenAI-compatible API: accuracy with CIs, client latency, real token "
                                   "usage and cost, as a run folder Compare reads. Refuses before sending "
                                   "anything when the estimate is above the budget.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base-url", required=True, help="API root, e.g. https://api.openai.com/v1")
    p.add_argument("--model", required=True, help="model name the endpoint serves")
    p.add_argument("--api-key-env", metavar="VAR",
                   help="NAME of the environment variable holding the key (omit for local servers)")
    p.add_argument("--dataset", default="banking77", help="catalog dataset (default: banking77)")
    p.add_argument("--task", default="classification", choices=("classification", "generation"),
                   help="pick a label, or write the reply (bitext_customer_support; default classification)")
    p.add_argument("--limit", type=_whole, help="score this many test examples (seeded, stratified)")
    p.add_argument("--shots", type=_whole, default=0,
                   help="few-shot examples per label, from the train split (default 0)")
    p.add_argument("--budget-usd", type=_number, default=1.0, help="most dollars to spend (default 1.00)")
    p.add_argument("--concurrency", type=_whole, default=4, help="requests in flight (default 4)")
    p.add_argument("--max-tokens", type=_whole, help="completion tokens per request (default 40)")
    p.add_argument("--structured", default="auto", choices=("auto", "on", "off"),
                   help="JSON-schema structured output (default auto: plain text where refused)")
    p.add_argument("--input-price-per-m", type=_number, help="USD per million prompt tokens (override)")
    p.add_argument("--output-price-per-m", type=_number, help="USD per million completion tokens (override)")
    p.add_argument("--price-source", help="where the override prices come from (required with them)")
    p.add_argument("--runs-dir", help="where the run folder goes (default: STRATLAB_RUNS_DIR)")
    p.add_argument("--run-name", help="run folder name (default: <time>-endpoint-<model>)")
    p.add_argument("--timeout", type=_number, default=60.0, help="seconds per request (default 60)")
    p.add_argument("--seed", type=_whole, default=42, help="seed of the subset and examples (default 42)")


def read_api_key(variable: str | None) -> str | None:
    """The key held by environment variable `variable`; None when no variable is named.

    Raises ConfigError (naming the variable, never a value) when it is unset or empty."""
    if variable is None:
        return None
    value = os.environ.get(variable, "").strip()
    if not value:
        raise ConfigError(f"environment variable {variable} is not set (or empty); export it with the key, "
                          f"or leave out --api-key-env for an endpoint that needs none")
    return value


def _progress(done: int, total: int, message: str) -> None:
    if sys.stderr.isatty():
        sys.stderr.write(f"\r{message}   ")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def cmd_evaluate_endpoint(args: argparse.Namespace) -> int:
    """`evaluate-endpoint`: build the config, read the key, run, print the headline figures as JSON."""
    from models.serving.endpoint.config import EndpointConfig
    from models.serving.endpoint.evaluate import evaluate_endpoint

    config = EndpointConfig(
        base_url=args.base_url, model=args.model, dataset=args.dataset, task=args.task,
        api_key_env=args.api_key_env,
        limit=args.limit, shots=args.shots, budget_usd=args.budget_usd, concurrency=args.concurrency,
        max_tokens=args.max_tokens, structured=args.structured, input_price_per_m=args.input_price_per_m,
        output_price_per_m=args.output_price_per_m, price_source=args.price_source,
        runs_dir=Path(args.runs_dir) if args.runs_dir else None, run_name=args.run_name,
        timeout_s=args.timeout, seed=args.seed)
    result = evaluate_endpoint(config, api_key=read_api_key(args.api_key_env), progress=_progress)
    summary = {"run": str(result.run_dir), **{k: result.metrics.get(k) for k in SUMMARY_KEYS}}
    print(json.dumps(summary, default=str))  # noqa: T201 - the command's output
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"evaluate-endpoint": cmd_evaluate_endpoint}
"""Subcommand name -> handler returning the exit status."""
