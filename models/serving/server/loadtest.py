"""Load-test any OpenAI-compatible chat endpoint: latency percentiles, requests/s, tokens/s, errors.

    record = load_test("http://127.0.0.1:8000/v1", "my-run", concurrency=(1, 4, 16), duration_s=30)
    write_serving_record(run_dir, record)      # <run_dir>/serving.json, a list of records kept

Per concurrency level C: C threads share one official `openai` client (max_retries=0: a failure is counted,
never hidden by a retry) and send chat requests back to back, each thread taking the next prompt in turn,
until `duration_s` passes or `max_requests` were sent (both bounds apply; a request in flight at the
deadline is waited for, up to the client timeout). One untimed warm-up request precedes the first level.

Figures of a level: p50/p95/p99 latency of the successful requests (ms, client-measured, the whole round
trip), requests/s and tokens/s (successful requests and their completion tokens, from each response's
`usage`, over the level's wall time), error rate (failed / sent), mean prompt and completion tokens.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from models.errors import ServingError

log = logging.getLogger(__name__)

SERVING_FILE = "serving.json"

DEFAULT_PROMPTS = (
    "My card has not arrived yet, it has been two weeks.",
    "How do I change the PIN of my debit card?",
    "I was charged twice for the same purchase.",
    "Can I top up my account with a bank transfer?",
    "Why was my transfer declined?",
    "The app says my identity verification failed.",
    "What exchange rate do you use for payments abroad?",
    "I want to close my account.",
)
"""Short customer-support requests (the kind both our classifiers and our reply models see)."""


@dataclass(frozen=True)
class LevelResult:
    """The figures of one concurrency level."""

    concurrency: int
    """Client threads sending at once."""
    requests: int
    """Requests sent (successes + errors)."""
    errors: int
    """Requests that failed (HTTP error, timeout, connection error, malformed answer)."""
    error_rate: float
    """errors / requests."""
    p50_ms: float | None
    """Median latency of the successful requests (client round trip), ms; None without a success."""
    p95_ms: float | None
    """95th percentile latency, ms."""
    p99_ms: float | None
    """99th percentile latency, ms."""
    requests_per_s: float
    """Successful requests per second of the level's wall time."""
    tokens_per_s: float
    """Completion tokens (from `usage`) of the successful requests per second of wall time."""
    prompt_tokens_mean: float | None
    """Mean prompt tokens per successful request (from `usage`)."""
    completion_tokens_mean: float | None
    """Mean completion tokens per successful request."""
    seconds: float = 0.0
    """Wall time of the level."""
    first_error: str | None = None
    """The first error's message (secrets scrubbed), to say what went wrong."""


@dataclass(frozen=True)
class ServingRecord:
    """One load test of one endpoint: the levels and how the server was set up (contract: serving.json)."""

    measured_at: str
    """UTC ISO time the test started."""
    base_url: str
    """The endpoint's base URL (…/v1)."""
    model: str
    """The model name the requests sent."""
    server: str
    """litserve, transformers serve, vllm or external."""
    hardware: str | None
    """The serving machine (this machine's environment_info hardware for a loopback URL; else None)."""
    threads: int | None
    """Server CPU threads when known."""
    continuous_batching: bool | None
    """transformers serve's --continuous-batching; None when not applicable or unknown."""
    max_batch_size: int | None
    """LitServe's dynamic-batching limit; None when not applicable or unknown."""
    duration_s: float
    """The time bound of each level."""
    levels: tuple[LevelResult, ...] = field(default_factory=tuple)
    """One entry per concurrency level, in the order run."""
    max_requests: int | None = None
    """The request bound of each level, when given."""
    max_tokens: int | None = None
    """max_tokens sent with each request."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in serving.json."""
        out = asdict(self)
        out["levels"] = [asdict(level) for level in self.levels]
        return out


def parse_concurrency(text: str) -> tuple[int, ...]:
    """'1,4,16' -> (1, 4, 16); ServingError for anything that is not positive integers."""
    try:
        levels = tuple(int(part) for part in str(text).split(",") if part.strip())
    except ValueError as e:
        raise ServingError(f"--concurrency takes positive integers separated by commas, got {text!r}") from e
    if not levels or min(levels) < 1 or max(levels) > 100:
        raise ServingError(f"--concurrency takes integers from 1 to 100 separated by commas, got {text!r}")
    return levels


def read_prompts(path: Path) -> tuple[str, ...]:
    """Prompts from a file: JSONL rows with 'prompt' or 'text' (or a JSON string), else one per line."""
    try:
        lines = [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError as e:
        raise ServingError(f"cannot read the prompt file {path}: {e}") from e
    prompts = []
    for line in lines:
        if line.startswith(("{", '"')):
            try:
                value = json.loads(line)
            except ValueError:
                value = line
            if isinstance(value, dict):
                value = value.get("prompt") or value.get("text")
            if isinstance(value, str) and value.strip():
                prompts.append(value)
                continue
        prompts.append(line)
    if not prompts:
        raise ServingError(f"the prompt file {path} has no prompts: one per line, or JSONL with 'prompt'")
    return tuple(prompts)


class _Level:
    """Shared state of one level's threads."""

    def __init__(self, prompts: Sequence[str], deadline: float, max_requests: int | None) -> None:
        self.prompts, self.deadline, self.max_requests = prompts, deadline, max_requests
        self.lock = threading.Lock()
        self.sent = 0
        self.latencies: list[float] = []
        self.prompt_tokens: list[int] = []
        self.completion_tokens: list[int] = []
        self.errors = 0
        self.first_error: str | None = None

    def next_prompt(self) -> str | None:
        with self.lock:
            if time.monotonic() >= self.deadline:
                return None
            if self.max_requests is not None and self.sent >= self.max_requests:
                return None
            prompt = self.prompts[self.sent % len(self.prompts)]
            self.sent += 1
            return prompt


def _one_request(client: Any, model: str, prompt: str, max_tokens: int | None) -> tuple[int, int]:
    """(prompt tokens, completion tokens) of one chat completion; raises on any failure."""
    kwargs: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": prompt}],
                              "temperature": 0}
    if max_tokens:
        kwargs["max_tokens"] = max_tokens
    response = client.chat.completions.create(**kwargs)
    if not response.choices:
        raise ServingError("the endpoint answered without choices")
    usage = response.usage
    return (int(usage.prompt_tokens or 0), int(usage.completion_tokens or 0)) if usage else (0, 0)


def _percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def run_level(client: Any, model: str, prompts: Sequence[str], concurrency: int, duration_s: float,
              max_requests: int | None, max_tokens: int | None, secret: str | None = None) -> LevelResult:
    """One concurrency level (see the module docstring)."""
    begin = time.monotonic()
    state = _Level(prompts, begin + duration_s, max_requests)

    def worker() -> None:
        while (prompt := state.next_prompt()) is not None:
            start = time.perf_counter()
            try:
                tokens = _one_request(client, model, prompt, max_tokens)
            except Exception as e:  # noqa: BLE001 - every failure is a counted error, the message kept
                with state.lock:
                    state.errors += 1
                    if state.first_error is None:
                        message = f"{type(e).__name__}: {e}"
                        state.first_error = message.replace(secret, "***") if secret else message
                continue
            elapsed_ms = (time.perf_counter() - start) * 1000.0
            with state.lock:
                state.latencies.append(elapsed_ms)
                state.prompt_tokens.append(tokens[0])
                state.completion_tokens.append(tokens[1])

    threads = [threading.Thread(target=worker, name=f"loadtest-{concurrency}-{i}", daemon=True)
               for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = max(time.monotonic() - begin, 1e-9)
    ok = len(state.latencies)
    return LevelResult(
        concurrency=concurrency, requests=state.sent, errors=state.errors,
        error_rate=state.errors / state.sent if state.sent else 0.0,
        p50_ms=_percentile(state.latencies, 50), p95_ms=_percentile(state.latencies, 95),
        p99_ms=_percentile(state.latencies, 99), requests_per_s=ok / seconds,
        tokens_per_s=sum(state.completion_tokens) / seconds,
        prompt_tokens_mean=float(np.mean(state.prompt_tokens)) if ok else None,
        completion_tokens_mean=float(np.mean(state.completion_tokens)) if ok else None,
        seconds=seconds, first_error=state.first_error)


def make_client(base_url: str, api_key: str | None, timeout_s: float) -> Any:
    """The official openai client: no retries, the given timeout (its pool keeps 100 connections alive,
    more than any level here needs)."""
    from openai import OpenAI

    return OpenAI(base_url=base_url, api_key=api_key or "none", max_retries=0, timeout=timeout_s)


def load_test(base_url: str, model: str, concurrency: Sequence[int] = (1, 4, 16), duration_s: float = 30.0,
              *, max_requests: int | None = None, api_key: str | None = None,
              prompts: Sequence[str] | None = None, max_tokens: int | None = 16, timeout_s: float = 60.0,
              server: str = "external", hardware: str | None = None, threads: int | None = None,
              continuous_batching: bool | None = None, max_batch_size: int | None = None,
              warmup: int = 1) -> ServingRecord:
    """Run every concurrency level against `base_url` (…/v1) and return the record.

    Raises ServingError when the bounds are wrong or the warm-up request fails (the endpoint is not
    there, refuses the key or does not know `model`); errors during the levels are counted instead.
    """
    levels = tuple(int(c) for c in concurrency)
    if not levels or min(levels) < 1 or max(levels) > 100:
        raise ServingError(f"concurrency levels must be integers from 1 to 100, got {list(concurrency)}")
    if duration_s <= 0 and not max_requests:
        raise ServingError("give a positive --duration (seconds per level) or --max-requests")
    if max_requests is not None and max_requests < 1:
        raise ServingError(f"--max-requests must be at least 1, got {max_requests}")
    duration_s = duration_s if duration_s > 0 else float("inf")
    prompts = tuple(prompts or DEFAULT_PROMPTS)
    measured_at = datetime.now(UTC).isoformat(timespec="seconds")
    client = make_client(base_url, api_key, timeout_s)
    try:
        for _ in range(max(warmup, 0)):
            try:
                _one_request(client, model, prompts[0], max_tokens)
            except Exception as e:  # noqa: BLE001 - the first request says whether the endpoint works at all
                message = f"{type(e).__name__}: {e}"
                message = message.replace(api_key, "***") if api_key else message
                raise ServingError(f"the warm-up request to {base_url} (model {model!r}) failed: {message}; "
                                   "check the URL (it ends in /v1), the model name (GET /v1/models) and the "
                                   "API key") from None
        results = []
        for c in levels:
            result = run_level(client, model, prompts, c, duration_s, max_requests, max_tokens, api_key)
            log.info("concurrency %d: %d requests, %d errors, p50 %s ms, %.1f requests/s, %.1f tokens/s", c,
                     result.requests, result.errors, _fmt(result.p50_ms), result.requests_per_s,
                     result.tokens_per_s)
            results.append(result)
    finally:
        client.close()
    return ServingRecord(measured_at=measured_at, base_url=base_url, model=model, server=server,
                         hardware=hardware, threads=threads, continuous_batching=continuous_batching,
                         max_batch_size=max_batch_size,
                         duration_s=duration_s if duration_s != float("inf") else 0.0,
                         levels=tuple(results), max_requests=max_requests, max_tokens=max_tokens)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def local_hardware() -> str | None:
    """This machine's hardware line (environment_info), for a server on loopback."""
    from models.core.runs import environment_info

    return str(environment_info().get("hardware") or "") or None


def write_serving_record(folder: Path | str, record: ServingRecord) -> Path:
    """Append `record` to <folder>/serving.json (rewritten atomically; earlier records kept)."""
    from models.core.runs import write_json_atomic

    path = Path(folder) / SERVING_FILE
    records: list[Any] = []
    if path.is_file():
        try:
            records = list(json.loads(path.read_text(encoding="utf-8")).get("records", []))
        except (OSError, ValueError, AttributeError) as e:
            raise ServingError(f"{path} is not a serving record file ({e}); move it away and rerun") from e
    records.append(record.to_dict())
    write_json_atomic(path, {"records": records})
    return path


def read_serving_records(folder: Path | str) -> list[dict[str, Any]]:
    """The records of <folder>/serving.json ([] when there is none)."""
    path = Path(folder) / SERVING_FILE
    if not path.is_file():
        return []
    return list(json.loads(path.read_text(encoding="utf-8")).get("records", []))
