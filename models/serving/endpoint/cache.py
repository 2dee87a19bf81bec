"""On-disk cache of endpoint responses: what was paid for once is never asked (or paid) for again.

Key: sha256 of the JSON of (normalised base URL, model, request parameters, messages). One JSON file per
response, `<cache_dir>/<key[:2]>/<key>.json`, written atomically (a killed run leaves complete files or
none), so a rerun or a resume after a crash sends only the requests whose file is missing. Only answers the
endpoint gave (HTTP 200 with a choice) are stored: never a failure, and never the key or headers.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from models.core.runs import atomic_path

log = logging.getLogger(__name__)

CACHE_VERSION = 1
"""Bumped when the key's recipe or the file's fields change (old files are then simply misses)."""


@dataclass(frozen=True)
class CachedResponse:
    """One answer as the endpoint gave it, with what it cost and how long it took."""

    answer: str
    """The reply's message content ('' when it had none)."""
    prompt_tokens: int | None
    """`usage.prompt_tokens` of the response; None when the endpoint reported no usage."""
    completion_tokens: int | None
    """`usage.completion_tokens`; None without usage."""
    latency_ms: float
    """Client-measured time of the request that produced it (the successful attempt)."""
    finish_reason: str | None = None
    """'stop', 'length'...; None when absent."""
    response_model: str | None = None
    """The `model` the endpoint says answered."""
    created_at: str | None = None
    """UTC ISO time the answer was received."""


def request_key(base_url: str, model: str, params: dict[str, Any], messages: list[dict[str, str]]) -> str:
    """sha256 hex of the request's identity (endpoint, model, parameters, prompt)."""
    payload = json.dumps({"v": CACHE_VERSION, "base_url": base_url, "model": model, "params": params,
                          "messages": messages}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class ResponseCache:
    """Responses under `root`, one file per key."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        """Where the response of `key` lives."""
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> CachedResponse | None:
        """The stored response, or None (missing, or unreadable: then it is asked again)."""
        path = self.path(key)
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
            return CachedResponse(**values["response"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.warning("ignoring unreadable cache file %s (%s); the request will be sent again", path, e)
            return None

    def put(self, key: str, response: CachedResponse) -> None:
        """Store `response` atomically."""
        path = self.path(key)
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps({"version": CACHE_VERSION, "response": asdict(response)}, indent=1),
                           encoding="utf-8")
