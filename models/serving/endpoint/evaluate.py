"""Evaluate an OpenAI-compatible endpoint on a catalog dataset's test split; the result is a run folder.

    result = evaluate_endpoint(EndpointConfig(base_url=..., model=..., dataset="banking77", limit=200),
                               api_key=os.environ["OPENAI_API_KEY"])
    result.run_dir, result.metrics["accuracy"], result.metrics["cost_usd"]

Order of work: the price (override, else zero for an endpoint on this machine, else the genai-prices list
price, else refuse), the data and the prompts, the cache lookups, the cost estimate of the misses against
the budget (refused before any request), then the run folder and the requests (bounded concurrency, our
retries, the running spend). A run stopped by its budget, by failures or by an interrupt writes what it
measured (predictions.parquet, partial) and status.json "failed" with the reason, then raises
EndpointRunFailed naming the folder; a rerun sends only the requests the cache lacks.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from models.errors import ConfigError, EndpointError
from models.planning.api_prices import ApiPrice, list_price, local_price, override_price
from models.serving.endpoint.budget import (
    SpendTracker,
    check_budget,
    estimate_cost,
    estimate_prompt_tokens,
    usd,
)
from models.serving.endpoint.cache import CachedResponse, ResponseCache, request_key
from models.serving.endpoint.client import (
    EndpointClient,
    FatalEndpointError,
    RequestFailed,
    Scrubber,
    StructuredRefused,
    WaitBudget,
)
from models.serving.endpoint.config import EndpointConfig, is_loopback
from models.serving.endpoint.prompts import (
    LabelParser,
    classification_messages,
    few_shot_examples,
    response_format,
)

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
"""progress(done, total, message): called from the calling thread as answers arrive."""
UNPARSEABLE_EXAMPLES = 5
"""Unparseable answers quoted in eval.json (text id, answer)."""


class EndpointRunFailed(EndpointError):
    """The run started and stopped early (budget, failures, interrupt); `result` holds what it measured."""

    def __init__(self, message: str, result: EndpointResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class EndpointResult:
    """What `evaluate_endpoint` returns; the run folder holds the full record."""

    run_dir: Path
    """The run's folder (config.json, environment.json, eval.json, predictions.parquet, status.json)."""
    metrics: dict[str, Any]
    """eval.json (a failed run: the partial figures written to status.json)."""
    state: str = "succeeded"
    """succeeded or failed."""
    reason: str | None = None
    """Why a failed run stopped."""
    price: ApiPrice | None = None
    """The price the run was costed at, with its source."""
    extra: dict[str, Any] = field(default_factory=dict)
    """requests_sent, cache_hits, spent_usd, estimate_usd."""


@dataclass
class _Item:
    index: int
    text_id: str
    label: int
    messages: list[dict[str, str]]
    prompt_estimate: int = 0
    response: CachedResponse | None = None
    cached: bool = False
    error: str | None = None
    pred: int | None = None


def resolve_price(config: EndpointConfig) -> ApiPrice:
    """The run's price: the override, zero for a loopback endpoint, the list price, or ConfigError."""
    if config.input_price_per_m is not None and config.output_price_per_m is not None:
        return override_price(config.input_price_per_m, config.output_price_per_m, config.price_source or "")
    if is_loopback(config.base_url):
        return local_price()
    price = list_price(config.model, config.base_url)
    if price is None:
        raise ConfigError(
            f"genai-prices has no list price for model {config.model!r} at {config.base_url}, so the budget "
            "cannot be enforced; give the price: --input-price-per-m P --output-price-per-m Q "
            "--price-source 'where it comes from' (USD per million tokens)")
    return price


def _test_subset(labels: tuple[int, ...], limit: int | None, seed: int) -> list[int]:
    """Positions of the scored test rows: all, or `limit` of them stratified by label (seeded)."""
    n = len(labels)
    if limit is None or limit >= n:
        return list(range(n))
    from models.data.splits import stratified_split

    if limit <= n - len(set(labels)):
        return stratified_split(labels, limit, seed)[1]
    import random

    return sorted(random.Random(seed).sample(range(n), limit))


def _load(config: EndpointConfig) -> Any:
    from models.data.catalog import get_entry
    from models.data.user_files import load_for_config

    entry = get_entry(config.dataset)
    if entry.task != "classification":
        raise ConfigError(f"{entry.name} is a {entry.task} corpus without labels; choose a classification "
                          "dataset (python -m models datasets)")
    return load_for_config(entry.name, seed=config.seed)


def _run_id(config: EndpointConfig) -> str:
    import re

    if config.run_name:
        slug = re.sub(r"[^a-z0-9._-]+", "-", config.run_name.lower()).strip("-.")
        return slug[:80] or "endpoint"
    model = re.sub(r"[^a-z0-9._-]+", "-", config.model.lower().split("/")[-1]).strip("-.")[:60] or "model"
    return f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-endpoint-{model}"


def _new_run_dir(config: EndpointConfig) -> Path:
    """Create the run folder: run_name's (which must be new), or a timestamped one (-2, -3... on a clash)."""
    root = config.resolved_runs_dir
    base = _run_id(config)
    for n in range(1, 100):
        run_dir = root / (base if n == 1 else f"{base}-{n}")
        try:
            run_dir.mkdir(parents=True)
            return run_dir
        except FileExistsError:
            if config.run_name:
                break
        except OSError as e:
            raise EndpointError(f"cannot create run folder {run_dir}: {e.strerror}") from e
    raise EndpointError(f"run folder {root / base} already exists; choose another run name")


def _config_json(config: EndpointConfig, price: ApiPrice, structured: bool) -> dict[str, Any]:
    return {"method": "endpoint", "model": config.model, "dataset": config.dataset, "task": config.task,
            "seed": config.seed,
            "endpoint": {"base_url": config.base_url, "api_key_env": config.api_key_env,
                         "shots": config.shots, "limit": config.limit, "budget_usd": config.budget_usd,
                         "concurrency": config.concurrency, "temperature": 0,
                         "max_tokens": config.resolved_max_tokens, "structured": structured,
                         "structured_mode": config.structured, "timeout_s": config.timeout_s,
                         "max_retries": config.max_retries},
            "price": price.to_dict()}


class _Runner:
    """The request phase of one run: the pool, the spend, the stop reasons."""

    def __init__(self, config: EndpointConfig, client: EndpointClient, cache: ResponseCache,
                 spend: SpendTracker, waits: WaitBudget, params: dict[str, Any],
                 label_texts: list[str]) -> None:
        self.config, self.client, self.cache, self.spend, self.waits = config, client, cache, spend, waits
        self.params = params
        self.label_texts = label_texts
        self.sent = 0
        self.successes = 0
        self.consecutive_failures = 0
        self.stop_reason: str | None = None
        self.token_ratio = 1.0
        """Highest reported / counted prompt tokens so far (reservations grow with it)."""
        self._lock = threading.Lock()

    def key(self, item: _Item, params: dict[str, Any] | None = None) -> str:
        return request_key(self.config.base_url, self.config.model, params or self.params, item.messages)

    def worst_case(self, item: _Item) -> float:
        """The most `item` can cost: its counted prompt tokens, scaled up when the endpoint has reported
        more tokens than we counted, and max_tokens of completion."""
        prompt = item.prompt_estimate * max(1.0, self.token_ratio)
        return self.spend.price.cost_usd(prompt, self.config.resolved_max_tokens)

    def stop(self, reason: str) -> None:
        with self._lock:
            if self.stop_reason is None:
                self.stop_reason = reason
        self.waits.stop.set()

    def send(self, item: _Item) -> None:
        """Ask for one item (budget permitting); records the answer or the failure on the item."""
        if self.waits.stop.is_set():
            return
        reserve = self.worst_case(item)
        if not self.spend.reserve(reserve):
            self.stop(f"stopped at the budget of {usd(self.config.budget_usd)}: {usd(self.spend.spent_usd)} "
                      f"spent, the next request could cost up to {usd(reserve)}")
            return
        with self._lock:
            self.sent += 1
        try:
            response = self.client.complete(item.messages, self.params)
        except RequestFailed as e:
            self.spend.settle(reserve, reserve if e.maybe_billed else 0.0)
            item.error = str(e)
            with self._lock:
                self.consecutive_failures += 1
                limit = self.config.max_consecutive_failures if self.successes else 1
                failing = self.consecutive_failures >= limit and not self.waits.stop.is_set()
            if failing:
                self.stop(f"{self.config.base_url} keeps failing: {self.consecutive_failures} request(s) "
                          f"in a row failed, the last with {e}")
            return
        except (StructuredRefused, FatalEndpointError):
            self.spend.settle(reserve, 0.0)  # refused: nothing was processed
            raise
        except BaseException:
            self.spend.settle(reserve, reserve)  # interrupted mid-request: count it as paid
            raise
        prompt = response.prompt_tokens if response.prompt_tokens is not None else item.prompt_estimate
        completion = (response.completion_tokens if response.completion_tokens is not None
                      else self.config.resolved_max_tokens)
        self.spend.settle(reserve, self.spend.price.cost_usd(prompt, completion))
        self.cache.put(self.key(item), response)
        item.response = response
        with self._lock:
            self.token_ratio = max(self.token_ratio, prompt / max(item.prompt_estimate, 1))
            self.successes += 1
            self.consecutive_failures = 0


def evaluate_endpoint(config: EndpointConfig, *, api_key: str | None = None,
                      progress: Progress | None = None) -> EndpointResult:
    """Score `config.dataset`'s test split (or `limit` of it) through the endpoint; write the run folder.

    api_key: the key's value (from the variable config.api_key_env names, or Streamlit secrets); None for
    endpoints that need none. It is sent as the Bearer token and never written anywhere.
    Raises ConfigError (no price, bad dataset), EndpointError (over budget: nothing sent), or
    EndpointRunFailed (stopped early; `.result` holds the run folder with what was measured).
    """
    scrub = Scrubber(api_key)
    price = resolve_price(config)
    base_params: dict[str, Any] = {"temperature": 0, "max_tokens": config.resolved_max_tokens}
    structured_params = base_params
    if config.task == "generation":
        from models.serving.endpoint import replies

        data = replies.load_chat(config)
        examples_judged = replies.test_requests(data, config.limit, config.seed)
        items = [_Item(i, ex.id, -1, replies.request_messages(ex)) for i, ex in enumerate(examples_judged)]
        label_texts: list[str] = []
    else:
        data = _load(config)
        label_texts = _label_texts(data.label_names)
        examples = few_shot_examples(data.train, data.label_names, config.shots, config.seed)
        rows = _test_subset(data.test.labels, config.limit, config.seed)
        items = [_Item(i, data.test.ids[r], data.test.labels[r],
                       classification_messages(data.test.texts[r], label_texts, examples))
                 for i, r in enumerate(rows)]
        structured_params = {**base_params, "response_format": response_format(label_texts)}
    cache = ResponseCache(config.resolved_cache_dir)

    structured = config.task == "classification" and _choose_structured(config, items, cache, base_params,
                                                                         structured_params)
    params = structured_params if structured else base_params
    schema_tokens = estimate_prompt_tokens([{"content": json.dumps(params.get("response_format", ""))}])
    for item in items:
        item.prompt_estimate = estimate_prompt_tokens(item.messages) + (schema_tokens if structured else 0)
        hit = cache.get(request_key(config.base_url, config.model, params, item.messages))
        if hit is not None:
            item.response, item.cached = hit, True
    misses = [item for item in items if item.response is None]
    estimate = estimate_cost([m.prompt_estimate for m in misses], len(items) - len(misses),
                             config.resolved_max_tokens, price)
    check_budget(estimate, config.budget_usd, price, len(data.test))

    from models.core.runs import RunWriter, cpu_environment_info, write_json_atomic

    run_dir = _new_run_dir(config)
    writer = RunWriter(run_dir)
    write_json_atomic(run_dir / "config.json", _config_json(config, price, structured))
    write_json_atomic(run_dir / "environment.json", {**cpu_environment_info(), "role": "endpoint client"})
    log.info("evaluating %s at %s on %d %s examples (%d cached, up to %s to spend)", config.model,
             config.base_url, len(items), config.dataset, len(items) - len(misses), usd(estimate.cost_usd))

    waits = WaitBudget(config.max_total_wait_s, config.seed)
    spend = SpendTracker(config.budget_usd, price)
    client = EndpointClient(config, api_key, waits)
    runner = _Runner(config, client, cache, spend, waits, params, label_texts)
    started = time.monotonic()
    interrupted: BaseException | None = None
    try:
        asked_structured = structured
        structured = _probe(runner, misses, config, base_params, structured)
        if structured != asked_structured:
            write_json_atomic(run_dir / "config.json", _config_json(config, price, structured))
        _send_all(runner, [m for m in misses if m.response is None and m.error is None], items, progress)
    except FatalEndpointError as e:
        runner.stop(scrub(e))
    except (KeyboardInterrupt, SystemExit) as e:
        interrupted = e
        runner.stop("interrupted")
    finally:
        waits.stop.set()
        client.close()
    elapsed = time.monotonic() - started

    if config.task == "generation":
        frame, metrics = _generation_outputs(items, data, examples_judged, config)
        from models.core.runs import atomic_path

        with atomic_path(run_dir / "generations.parquet") as tmp:
            frame.to_parquet(tmp, index=False)
    else:
        frame, y_true, y_pred = _predictions(items, LabelParser(tuple(data.label_names)), data.label_names)
        writer.write_predictions(frame)
        metrics = _metrics(y_true, y_pred, items, data, config, structured)
    metrics.update(_usage_metrics(items, config, price, runner, estimate.cost_usd, elapsed))
    extra = {"requests_sent": runner.sent, "cache_hits": sum(i.cached for i in items),
             "spent_usd": spend.spent_usd, "estimate_usd": estimate.cost_usd}
    reason = runner.stop_reason
    if reason is None and any(i.response is None for i in items):
        reason = f"{sum(i.response is None for i in items)} request(s) failed after their retries"
    if reason is not None:
        reason = scrub(reason)
        answered = len(frame)
        writer.finish("failed", reason=reason, partial=metrics, answered=answered, total=len(items))
        result = EndpointResult(run_dir, metrics, "failed", reason, price, extra)
        if interrupted is not None:
            raise interrupted
        raise EndpointRunFailed(
            f"{reason}; kept the {answered} answer(s) of {len(items)} in {run_dir} (status failed); rerun "
            "the same command to send only the missing requests", result)
    writer.write_json("eval.json", metrics)
    headline = ({"rouge_l": metrics.get("rouge_l"), "intent_match": metrics.get("intent_match")}
                if config.task == "generation" else {"accuracy": metrics["accuracy"]})
    writer.finish("succeeded", requests_sent=runner.sent, cache_hits=extra["cache_hits"],
                  spent_usd=spend.spent_usd, **headline)
    log.info("endpoint run %s: %s, %d requests sent, %d cached, %s spent", run_dir.name, headline,
             runner.sent, extra["cache_hits"], usd(spend.spent_usd))
    return EndpointResult(run_dir, metrics, "succeeded", None, price, extra)


def _label_texts(label_names: tuple[str, ...]) -> list[str]:
    """Readable label names, unique (a raw name is kept where two would read the same)."""
    from models.modeling.prompts import readable_label

    texts = [readable_label(name) for name in label_names]
    if len(set(texts)) < len(texts):
        return [str(name) for name in label_names]
    return texts


def _choose_structured(config: EndpointConfig, items: list[_Item], cache: ResponseCache,
                       base: dict[str, Any], structured: dict[str, Any]) -> bool:
    """Structured output on or off; in auto mode, whichever the cache already holds answers for (else on,
    and the first request finds out)."""
    if config.structured != "auto":
        return config.structured == "on"
    for item in items:
        if cache.get(request_key(config.base_url, config.model, structured, item.messages)) is not None:
            return True
        if cache.get(request_key(config.base_url, config.model, base, item.messages)) is not None:
            return False
    return True


def _probe(runner: _Runner, misses: list[_Item], config: EndpointConfig, base: dict[str, Any],
           structured: bool) -> bool:
    """Send the first miss alone: in auto mode an endpoint refusing response_format switches the run to plain
    text (and the cache lookups with it). Returns whether structured output is used."""
    if not misses:
        return structured
    try:
        runner.send(misses[0])
        return structured
    except StructuredRefused as e:
        if config.structured == "on":
            raise FatalEndpointError(f"{config.base_url} does not support structured output ({e}); use "
                                     "--structured auto or off") from None
        log.info("%s refused response_format (%s); asking for plain text", config.base_url, e)
    runner.params = base
    for item in misses:
        hit = runner.cache.get(runner.key(item, base))
        if hit is not None:
            item.response, item.cached = hit, True
    if misses[0].response is None:
        runner.send(misses[0])
    return False


def _send_all(runner: _Runner, todo: list[_Item], items: list[_Item], progress: Progress | None) -> None:
    total = len(items)
    done = sum(i.response is not None for i in items)
    if progress is not None:
        progress(done, total, f"{done} of {total} answered ({total - done - len(todo)} failed)")
    if not todo:
        return
    with ThreadPoolExecutor(max_workers=runner.config.concurrency, thread_name_prefix="endpoint") as pool:
        pending: set[Future[None]] = set()
        queue = iter(todo)
        try:
            for item in queue:
                pending.add(pool.submit(runner.send, item))
                if len(pending) >= runner.config.concurrency * 2:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    done += _collect(finished, progress, done, total)
                if runner.waits.stop.is_set():
                    break
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                done += _collect(finished, progress, done, total)
        except BaseException:
            runner.waits.stop.set()  # the workers still queued return at once; the caller names the reason
            for future in pending:
                future.cancel()
            raise


def _collect(finished: set[Future[None]], progress: Progress | None, done: int, total: int) -> int:
    for future in finished:
        future.result()  # re-raises FatalEndpointError from a worker
    if progress is not None:
        progress(done + len(finished), total, f"{done + len(finished)} of {total} requests done")
    return len(finished)


def _predictions(items: list[_Item], parser: LabelParser,
                 label_names: tuple[str, ...]) -> tuple[Any, np.ndarray, np.ndarray]:
    """predictions.parquet's frame (answered items only), its true and predicted indices (-1: unparseable)."""
    import pandas as pd

    k = len(label_names)
    rows = []
    for item in items:
        if item.response is None:
            continue
        item.pred = pred = parser.parse(item.response.answer)
        one_hot = [0.0] * k
        if pred is not None:
            one_hot[pred] = 1.0
        rows.append({"text_id": item.text_id, "true_label": label_names[item.label],
                     "pred_label": label_names[pred] if pred is not None else None,
                     "confidence": 1.0 if pred is not None else 0.0, "correct": pred == item.label,
                     "probs": one_hot if pred is not None else [], "answer": item.response.answer,
                     "parsed": pred is not None, "latency_ms": item.response.latency_ms,
                     "prompt_tokens": item.response.prompt_tokens,
                     "completion_tokens": item.response.completion_tokens, "cached": item.cached})
    columns = ["text_id", "true_label", "pred_label", "confidence", "correct", "probs", "answer", "parsed",
               "latency_ms", "prompt_tokens", "completion_tokens", "cached"]
    frame = pd.DataFrame(rows, columns=columns)
    for column, dtype in (("prompt_tokens", "Int64"), ("completion_tokens", "Int64"),
                          ("pred_label", "string"), ("answer", "string"), ("correct", "bool"),
                          ("parsed", "bool"), ("cached", "bool"),
                          ("latency_ms", "float64"), ("confidence", "float64")):
        frame[column] = frame[column].astype(dtype)
    answered = [i for i in items if i.response is not None]
    y_true = np.asarray([i.label for i in answered], dtype=np.int64)
    y_pred = np.asarray([-1 if i.pred is None else i.pred for i in answered], dtype=np.int64)
    return frame, y_true, y_pred


def macro_f1_with_misses(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """Macro F1 of each row of (batch, n) arrays where -1 marks an unparseable answer (a miss for its true
    class, no class of its own); averaged over the classes present in y_true or the parsed y_pred."""
    batch = y_true.shape[0]
    pred = np.where(y_pred < 0, k, y_pred)
    offsets = (np.arange(batch) * (k + 1))[:, None]
    size = batch * (k + 1)
    true_count = np.bincount((offsets + y_true).ravel(), minlength=size).reshape(batch, k + 1)[:, :k]
    pred_count = np.bincount((offsets + pred).ravel(), minlength=size).reshape(batch, k + 1)[:, :k]
    tp = np.bincount((offsets + y_true)[y_true == pred], minlength=size).reshape(batch, k + 1)[:, :k]
    denominator = true_count + pred_count
    present = denominator > 0
    f1 = np.divide(2 * tp, denominator, out=np.zeros(denominator.shape), where=present)
    return f1.sum(axis=1) / np.maximum(present.sum(axis=1), 1)


def _metrics(y_true: np.ndarray, y_pred: np.ndarray, items: list[_Item], data: Any, config: EndpointConfig,
             structured: bool) -> dict[str, Any]:
    """Classification figures: accuracy (Wilson CI), macro F1 (bootstrap CI), unparseable answers."""
    from analytics.compute.stats import wilson_interval

    n = len(y_true)
    answered = [i for i in items if i.response is not None]
    k = len(data.label_names)
    correct = int((y_true == y_pred).sum())
    metrics: dict[str, Any] = {"method": "endpoint", "task": "classification", "model": config.model,
                               "base_url": config.base_url, "n": n, "n_test_scored": n,
                               "n_test_total": len(data.test), "n_requested": len(items),
                               "structured": structured, "label_names": list(data.label_names)}
    if n:
        f1 = float(macro_f1_with_misses(y_true[None, :], y_pred[None, :], k)[0])
        rng = np.random.default_rng(config.seed)
        sample = rng.integers(0, n, size=(1000, n))
        boot = macro_f1_with_misses(y_true[sample], y_pred[sample], k)
        lo, hi = wilson_interval(correct, n)
        metrics.update(accuracy=correct / n, accuracy_ci95=[lo, hi], macro_f1=f1,
                       macro_f1_ci95=[float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))],
                       ci_method="accuracy: Wilson score interval; macro_f1: percentile bootstrap over test "
                                 f"examples (1000 resamples, seed {config.seed}); unparseable answers count "
                                 "as wrong")
    else:
        metrics.update(accuracy=None, accuracy_ci95=[None, None], macro_f1=None, macro_f1_ci95=[None, None])
    unparsed = [i for i in answered if i.pred is None]
    metrics["unparseable"] = len(unparsed)
    metrics["unparseable_examples"] = [{"text_id": i.text_id, "answer": i.response.answer[:200]}
                                       for i in unparsed[:UNPARSEABLE_EXAMPLES] if i.response is not None]
    return metrics


def _usage_metrics(items: list[_Item], config: EndpointConfig, price: ApiPrice, runner: _Runner,
                   estimate_usd: float, elapsed_s: float) -> dict[str, Any]:
    """Latency, tokens, cost and request counts, for both tasks."""
    answered = [i for i in items if i.response is not None]
    n = len(answered)
    metrics: dict[str, Any] = {}
    fresh = [i.response.latency_ms for i in answered if not i.cached and i.response is not None]
    cached = [i.response.latency_ms for i in answered if i.cached and i.response is not None]
    metrics["latency_n"] = len(fresh)
    metrics["latency_p50_ms"] = float(np.percentile(fresh, 50)) if fresh else None
    metrics["latency_p95_ms"] = float(np.percentile(fresh, 95)) if fresh else None
    # what the cached answers took when they were first asked (another time, maybe another load)
    metrics["cached_latency_p50_ms"] = float(np.percentile(cached, 50)) if cached else None
    prompt = [i.response.prompt_tokens if i.response.prompt_tokens is not None else i.prompt_estimate
              for i in answered if i.response is not None]
    completion = [i.response.completion_tokens if i.response.completion_tokens is not None
                  else config.resolved_max_tokens for i in answered if i.response is not None]
    metrics["usage_reported"] = sum(i.response.prompt_tokens is not None for i in answered
                                    if i.response is not None)
    metrics["prompt_tokens_mean"] = float(np.mean(prompt)) if prompt else None
    metrics["completion_tokens_mean"] = float(np.mean(completion)) if completion else None
    cost = sum(price.cost_usd(p, c) for p, c in zip(prompt, completion, strict=True))
    metrics.update(cost_usd=cost, cost_per_1k_requests_usd=cost / n * 1000 if n else None,
                   spent_usd=runner.spend.spent_usd, estimate_usd=estimate_usd, budget_usd=config.budget_usd,
                   requests_sent=runner.sent, cache_hits=sum(i.cached for i in items),
                   failed_requests=sum(i.response is None and i.error is not None for i in items),
                   price_source=price.source, price_as_of=price.as_of, input_per_m_usd=price.input_per_m_usd,
                   output_per_m_usd=price.output_per_m_usd, wall_s=round(elapsed_s, 3),
                   retry_wait_s=round(runner.waits.waited_s, 3),
                   measured_at=datetime.now(timezone.utc).isoformat())
    return metrics


def _generation_outputs(items: list[_Item], data: Any, examples: Any,
                        config: EndpointConfig) -> tuple[Any, dict[str, Any]]:
    """generations.parquet's frame and the reply metrics (models.core.judge, as for an sft run)."""
    import pandas as pd

    from models.serving.endpoint import replies

    answered = [(ex, item.response) for ex, item in zip(examples, items, strict=True) if item.response]
    metrics: dict[str, Any] = {"method": "endpoint", "task": "generation", "model": config.model,
                               "base_url": config.base_url, "n_test_scored": len(answered),
                               "n_test_total": len(data.test), "n_requested": len(items)}
    if not answered:
        return pd.DataFrame(columns=["id", "intent", "prompt", "reference", "reply"]), metrics
    frame, judged = replies.judge_replies(data, [ex for ex, _ in answered], [r for _, r in answered],
                                          config.seed)
    metrics.update(judged)
    metrics["method"] = "endpoint"
    return frame, metrics
