"""One chat request with our retry policy, through the official `openai` client (its own retries off).

Policy: retry 429, 408, 409, 5xx, timeouts, dropped connections and malformed (cut-off JSON) answers, at most
`max_retries` times, waiting `Retry-After` when the server sends one (up to backoff_max_s), else full jitter:
uniform(0, min(backoff_max_s, backoff_base_s * 2**attempt)). All waits of a run share one cap
(max_total_wait_s). 401/403 (the key), 404 (model or URL), other 4xx and an answer that is not JSON at all
(an HTML page: not an API root) are not retried: they end the run at once (`FatalEndpointError`).
Every message passes through `scrub`, so the key cannot reach a log or an error even if a server echoes it.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from models.errors import EndpointError
from models.serving.endpoint.cache import CachedResponse
from models.serving.endpoint.config import EndpointConfig

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 409, 429})
"""HTTP statuses below 500 that are retried."""
NO_KEY = "no-key"
"""api_key sent to endpoints that need none (the openai client requires some value)."""


class FatalEndpointError(EndpointError):
    """Retrying cannot help (the key, the model name, the URL): the run stops at once."""


class RequestFailed(EndpointError):
    """One request failed after its retries; `maybe_billed` when it may have been processed (a timeout)."""

    def __init__(self, message: str, maybe_billed: bool = False) -> None:
        super().__init__(message)
        self.maybe_billed = maybe_billed


class StructuredRefused(EndpointError):
    """The endpoint answered 400/422 to a request with response_format (no structured output there)."""


class Scrubber:
    """Replaces the key's value (and nothing else) with '***' in text."""

    def __init__(self, secret: str | None) -> None:
        self._secret = secret if secret and len(secret) >= 4 and secret != NO_KEY else None

    def __call__(self, text: object) -> str:
        value = str(text)
        return value.replace(self._secret, "***") if self._secret else value


class WaitBudget:
    """The run's shared cap on seconds spent waiting between retries; `stop` wakes every waiter."""

    def __init__(self, cap_s: float, seed: int) -> None:
        self.cap_s = cap_s
        self.waited_s = 0.0
        self.stop = threading.Event()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def jitter(self, ceiling_s: float) -> float:
        with self._lock:
            return self._rng.uniform(0.0, ceiling_s)

    def take(self, seconds: float) -> bool:
        """Account for a wait of `seconds`; False when the cap would be passed (do not wait, give up)."""
        with self._lock:
            if self.waited_s + seconds > self.cap_s:
                return False
            self.waited_s += seconds
            return True


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds a Retry-After (or retry-after-ms) header asks for; None when absent or unreadable."""
    if headers is None:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return max(0.0, float(ms) / 1000.0)
        value = headers.get("retry-after")
    except (AttributeError, ValueError):
        return None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


class EndpointClient:
    """Chat completions against one endpoint with our retry policy."""

    def __init__(self, config: EndpointConfig, api_key: str | None, waits: WaitBudget) -> None:
        from openai import OpenAI

        self.config = config
        self.scrub = Scrubber(api_key)
        self.waits = waits
        self._client = OpenAI(base_url=config.base_url, api_key=api_key or NO_KEY, max_retries=0,
                              timeout=config.timeout_s)
        self._where = f"{config.base_url} (model {config.model!r})"

    def close(self) -> None:
        self._client.close()

    def served_models(self) -> list[str]:
        """Model ids GET /models lists (empty when the endpoint has no such route)."""
        try:
            return [m.id for m in self._client.models.list()][:20]
        except Exception as e:  # noqa: BLE001 - only a hint for a message; any failure means "unknown"
            log.debug("listing models failed: %s", self.scrub(e))
            return []

    def complete(self, messages: list[dict[str, str]], params: dict[str, Any]) -> CachedResponse:
        """The answer to one request, retried by our policy.

        Raises StructuredRefused (400/422 while asking for response_format), FatalEndpointError (stop the
        run) or RequestFailed (this request failed after its retries).
        """
        import openai

        sent = dict(params)
        if "response_format" in sent:  # as raw JSON: the client's typed-dict transform of a 77-label enum
            sent["extra_body"] = {"response_format": sent.pop("response_format")}  # costs ~100 ms a request
        attempt = 0
        while True:
            if self.waits.stop.is_set():
                raise RequestFailed("the run is stopping")
            start = time.perf_counter()
            retry_after: float | None = None
            try:
                response = self._client.chat.completions.create(model=self.config.model, messages=messages,
                                                                **sent)
                latency_ms = (time.perf_counter() - start) * 1000.0
                return self._read(response, latency_ms)
            except openai.APIStatusError as e:
                status = e.status_code
                if status in (401, 403):
                    env = self.config.api_key_env or "the key variable (--api-key-env)"
                    raise FatalEndpointError(
                        f"{self._where} refused the key (HTTP {status}); check that {env} holds a valid key "
                        "for this endpoint") from None
                if status == 404:
                    served = self.served_models()
                    hint = f"; it serves: {', '.join(served)}" if served else ""
                    raise FatalEndpointError(
                        f"{self._where} answered 404 ({self._message(e)}): the model name is unknown there "
                        f"or the base URL is not the API root (usually ends in /v1){hint}") from None
                if status in (400, 422) and "response_format" in params:
                    raise StructuredRefused(self._message(e)) from None
                if status not in RETRY_STATUS and status < 500:
                    raise FatalEndpointError(
                        f"{self._where} refused the request (HTTP {status}: {self._message(e)})") from None
                problem = f"HTTP {status} ({self._message(e)})"
                retry_after = retry_after_seconds(getattr(e.response, "headers", None))
                maybe_billed = False
            except openai.APITimeoutError:
                problem, maybe_billed = f"no answer within {self.config.timeout_s:g} s (timeout)", True
            except openai.APIConnectionError as e:
                cause = e.__cause__ or e
                problem = f"connection failed ({self.scrub(type(cause).__name__)}: {self.scrub(cause)[:160]})"
                maybe_billed = False
            except ValueError as e:  # a 200 whose JSON body is cut off
                problem = f"the answer is not valid JSON ({self.scrub(e)[:120]}; cut off?)"
                maybe_billed = False
            if attempt >= self.config.max_retries:
                raise RequestFailed(f"{problem}, after {attempt + 1} attempts", maybe_billed=maybe_billed)
            wait = self._wait_seconds(attempt, retry_after)
            if not self.waits.take(wait):
                raise FatalEndpointError(
                    f"{self._where} keeps failing ({problem}); the retry waits reached their cap of "
                    f"{self.config.max_total_wait_s:g} s (max_total_wait_s)")
            log.info("retrying in %.2f s after %s (attempt %d of %d)", wait, problem, attempt + 1,
                     self.config.max_retries)
            if self.waits.stop.wait(wait):
                raise RequestFailed("the run is stopping")
            attempt += 1

    def _wait_seconds(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.config.backoff_max_s)
        ceiling = min(self.config.backoff_max_s, self.config.backoff_base_s * 2 ** attempt)
        return self.waits.jitter(ceiling)

    def _message(self, error: Any) -> str:
        body = getattr(error, "body", None)
        text = None
        if isinstance(body, dict):
            inner = body.get("error", body)
            text = inner.get("message") if isinstance(inner, dict) else None
        text = text or getattr(error, "message", None) or type(error).__name__
        return " ".join(self.scrub(text).split())[:200]

    def _read(self, response: Any, latency_ms: float) -> CachedResponse:
        if isinstance(response, str) or not hasattr(response, "choices"):
            preview = " ".join(self.scrub(response).split())[:80]
            raise FatalEndpointError(
                f"{self._where} did not answer like an OpenAI-compatible API (got {type(response).__name__}: "
                f"{preview!r}); the base URL must be the API root, e.g. http://host:8000/v1")
        if not response.choices:
            raise RequestFailed("the answer held no choices")
        choice = response.choices[0]
        content = choice.message.content if choice.message is not None else None
        usage = getattr(response, "usage", None)
        return CachedResponse(
            answer=self.scrub(content or ""),
            prompt_tokens=getattr(usage, "prompt_tokens", None) if usage is not None else None,
            completion_tokens=getattr(usage, "completion_tokens", None) if usage is not None else None,
            latency_ms=round(latency_ms, 3), finish_reason=getattr(choice, "finish_reason", None),
            response_model=getattr(response, "model", None),
            created_at=datetime.now(timezone.utc).isoformat())
