"""A served SmolLM2 (`transformers serve`): tokens/s at concurrency 8 against 1, with and without
--continuous-batching.

    python bench/serve_llm.py                 # SmolLM2-135M-Instruct (the packaged GGUF, converted)
    python bench/serve_llm.py --model data/runs/<sft-run>/model --duration 15
    python bench/serve_llm.py --only-cb       # just the continuous-batching server

For each mode a fresh server (models.serving.server.launch.serve_run: `python -m models serve --model ...`),
one untimed warm-up request, then concurrency 1 and the high level with the official openai client
(models.serving.server.loadtest.run_level): the same short support questions, max_tokens per reply,
temperature 0, each level bounded by --duration seconds and --requests. tokens/s = completion tokens of the
successful replies (their `usage`) / the level's wall time. About 2-3 minutes on 2 CPU cores.
Last line: cb_speedup=<tokens/s at 8 / at 1, continuous batching> plain_speedup=<same without>
cb_tokens_per_s_8=<x> plain_tokens_per_s_8=<y>
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="SmolLM2-135M-Instruct", help="a registry causal LM or its folder")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per level (upper bound)")
    parser.add_argument("--requests", type=int, default=32, help="requests per level (upper bound)")
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--only-cb", action="store_true", help="only the continuous-batching server")
    args = parser.parse_args(argv)

    from models.core.runs import environment_info
    from models.serving.server.launch import serve_run
    from models.serving.server.loadtest import DEFAULT_PROMPTS, make_client, run_level

    load_before = os.getloadavg()
    tmp = tempfile.TemporaryDirectory(prefix="bench-serve-llm-")
    results: dict[bool, dict[int, float]] = {}
    for cb in ((True,) if args.only_cb else (False, True)):
        with serve_run(model=args.model, port=0, continuous_batching=cb, log_dir=Path(tmp.name),
                       startup_timeout_s=300) as server:
            client = make_client(server.base_url, None, 120.0)
            client.chat.completions.create(model=server.model, max_tokens=8,
                                           messages=[{"role": "user", "content": DEFAULT_PROMPTS[0]}])
            results[cb] = {}
            for c in (1, args.concurrency):
                level = run_level(client, server.model, DEFAULT_PROMPTS, c, args.duration, args.requests,
                                  args.max_tokens)
                results[cb][c] = level.tokens_per_s
                mode = "continuous batching" if cb else "plain"
                print(f"{mode:>19}, concurrency {c}: {level.requests} requests, {level.errors} errors, "
                      f"{level.tokens_per_s:.1f} tokens/s, {level.requests_per_s:.2f} replies/s, "
                      f"p50 {level.p50_ms or 0:.0f} ms, completion tokens mean "
                      f"{level.completion_tokens_mean or 0:.1f}")
            client.close()
    load_after = os.getloadavg()
    print(f"{args.model} on {environment_info()['hardware']}, max_tokens {args.max_tokens}; load average "
          f"{load_before[0]:.2f} before, {load_after[0]:.2f} after")
    tmp.cleanup()

    def ratio(cb: bool) -> str:
        if cb not in results or not results[cb].get(1):
            return "nan"
        return f"{results[cb][args.concurrency] / results[cb][1]:.2f}"

    high = args.concurrency
    print(f"cb_speedup={ratio(True)} plain_speedup={ratio(False)} "
          f"cb_tokens_per_s_{high}={results[True][high]:.1f} "
          f"plain_tokens_per_s_{high}={results.get(False, {}).get(high, float('nan')):.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
