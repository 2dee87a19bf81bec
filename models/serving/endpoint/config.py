"""What an endpoint evaluation does: `EndpointConfig`, frozen and checked when built.

    from models.serving.endpoint.config import EndpointConfig
    config = EndpointConfig(base_url="https://api.openai.com/v1", model="gpt-4o-mini", dataset="banking77",
                            api_key_env="OPENAI_API_KEY", limit=200, budget_usd=0.50)

The key itself is never part of the config (only the NAME of the variable that holds it), so config.json,
logs and error messages cannot carry it.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from analytics.settings import settings
from models.core.checks import finite as _finite
from models.core.checks import whole as _whole
from models.errors import ConfigError

TASKS = ("classification", "generation")
"""What an endpoint is asked to do: pick a label, or write a reply (Bitext customer support)."""
STRUCTURED_MODES = ("auto", "on", "off")
"""Structured output: auto (JSON schema first; plain text when the endpoint refuses it), on, off."""
DEFAULT_MAX_TOKENS = {"classification": 40, "generation": 256}
"""Completion tokens allowed per request when `max_tokens` is None (a label, or one reply)."""
MAX_CONCURRENCY = 64
"""Most requests in flight at once."""
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def normalise_base_url(url: str) -> str:
    """`url` as scheme://host[:port]/path, lower-case scheme and host, no trailing slash, no user:password,
    no query or fragment. Raises ConfigError for anything that is not an http(s) URL with a host."""
    text = (url or "").strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as e:
        raise ConfigError(f"base URL {_safe_url(text)!r} is not a URL ({e}); give e.g. "
                          "https://api.openai.com/v1 or http://127.0.0.1:8000/v1") from e
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"base URL {_safe_url(text)!r} must start with http:// or https:// and name a "
                          "host, e.g. https://api.openai.com/v1 or http://127.0.0.1:8000/v1")
    if parts.username or parts.password:
        raise ConfigError("the base URL must not hold a user name or password; put the key in an "
                          "environment variable and pass its name with --api-key-env")
    if parts.query:
        raise ConfigError(f"the base URL must not hold a query string (got ...?{'*' * 3}); "
                          "an API key in a URL would be written to logs")
    host = parts.hostname.lower()
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path.rstrip("/"), "", ""))


def _safe_url(text: str) -> str:
    """`text` without user info and query: what a message may show of a URL that failed the checks."""
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        return urlunsplit((parts.scheme, host, parts.path, "", ""))[:200]
    except ValueError:
        return "<not a URL>"


def is_loopback(base_url: str) -> bool:
    """True when the URL's host is this machine (localhost, 127.0.0.0/8, ::1)."""
    host = (urlsplit(base_url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class EndpointConfig:
    """One evaluation of an OpenAI-compatible chat endpoint on a catalog dataset's test split."""

    base_url: str
    """The endpoint's API root, e.g. https://api.openai.com/v1 or http://127.0.0.1:8000/v1 (normalised)."""
    model: str
    """Model name the endpoint serves, sent as `model` in every request."""
    dataset: str = "banking77"
    """Catalog dataset whose test split is scored (banking77, sst2, trec, bitext_customer_support...)."""
    api_key_env: str | None = None
    """NAME of the environment variable holding the key (the key itself is never stored); None: no key
    (local servers)."""
    task: str = "classification"
    """classification (pick one label) or generation (write the reply; Bitext customer support)."""
    limit: int | None = None
    """Score at most this many test examples (a seeded subset stratified by label); None: the whole split."""
    shots: int = 0
    """Few-shot examples per label in the prompt, from the TRAIN split only (0: zero-shot)."""
    budget_usd: float = 1.0
    """Most dollars this run may spend; refused before any request when the estimate is above it."""
    concurrency: int = 4
    """Requests in flight at once."""
    max_tokens: int | None = None
    """Completion tokens allowed per request; None: 40 for classification, 256 for generation."""
    structured: str = "auto"
    """Structured output (a JSON schema with an enum of labels): auto, on or off."""
    input_price_per_m: float | None = None
    """Override: USD per million prompt tokens (wins over the genai-prices list price); with
    output_price_per_m and price_source."""
    output_price_per_m: float | None = None
    """Override: USD per million completion tokens."""
    price_source: str | None = None
    """Where the override prices come from (a pricing page URL, a contract...): recorded in the run."""
    runs_dir: Path | None = None
    """Where the run folder is written; None: settings().runs_dir."""
    cache_dir: Path | None = None
    """Response cache folder; None: endpoint-cache/ beside the dataset cache (data/cache/endpoint-cache)."""
    run_name: str | None = None
    """Run folder name; None: '<time>-endpoint-<model>'."""
    seed: int = 42
    """Seed of the dataset split, the scored subset, the few-shot examples and the retry jitter."""
    timeout_s: float = 60.0
    """Seconds one request may take before it counts as timed out (and is retried)."""
    max_retries: int = 4
    """Retries of one request on 429, 5xx, timeouts and connection errors (exponential backoff)."""
    backoff_base_s: float = 0.5
    """First retry waits up to this many seconds (full jitter), doubling each retry up to backoff_max_s."""
    backoff_max_s: float = 20.0
    """Longest single wait between retries (a Retry-After header is honoured up to this too)."""
    max_total_wait_s: float = 120.0
    """Most seconds all retry waits of the run may add up to; beyond it the run stops."""
    max_consecutive_failures: int = 5
    """The run stops after this many requests in a row failed (after their retries), keeping what it has."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", normalise_base_url(self.base_url))
        if not isinstance(self.model, str) or not self.model.strip():
            raise ConfigError("model must name the model the endpoint serves, e.g. --model gpt-4o-mini")
        object.__setattr__(self, "model", self.model.strip())
        if not isinstance(self.dataset, str) or not self.dataset.strip():
            raise ConfigError("dataset must be a catalog name, e.g. banking77 (python -m models datasets)")
        if self.api_key_env is not None and not _ENV_NAME.match(self.api_key_env):
            raise ConfigError("api_key_env must be the NAME of an environment variable (letters, digits, "
                              f"_), e.g. OPENAI_API_KEY; got something else ({len(self.api_key_env)} "
                              "characters); never pass the key itself")
        if self.task not in TASKS:
            raise ConfigError(f"task must be one of {', '.join(TASKS)}, got {self.task!r}")
        if self.structured not in STRUCTURED_MODES:
            raise ConfigError(f"structured must be one of {', '.join(STRUCTURED_MODES)}, "
                              f"got {self.structured!r}")
        _whole("limit", self.limit, 1, 1_000_000, optional=True)
        _whole("shots", self.shots, 0, 32)
        _whole("concurrency", self.concurrency, 1, MAX_CONCURRENCY)
        _whole("max_tokens", self.max_tokens, 1, 32_768, optional=True)
        _whole("max_retries", self.max_retries, 0, 20)
        _whole("max_consecutive_failures", self.max_consecutive_failures, 1, 1000)
        _whole("seed", self.seed, 0, 2**32 - 1)
        if not _finite(self.budget_usd) or self.budget_usd <= 0:
            raise ConfigError(f"budget_usd must be a positive number of dollars, got {self.budget_usd!r}; "
                              "a run with no budget could not send a single request (e.g. --budget-usd 0.50)")
        for name in ("timeout_s", "backoff_max_s"):
            value = getattr(self, name)
            if not _finite(value) or not 0 < value <= 3600:
                raise ConfigError(f"{name} must be between 0 and 3600 seconds, got {value!r}")
        for name in ("backoff_base_s", "max_total_wait_s"):
            value = getattr(self, name)
            if not _finite(value) or not 0 <= value <= 3600:
                raise ConfigError(f"{name} must be between 0 and 3600 seconds, got {value!r}")
        self._check_prices()
        for name in ("runs_dir", "cache_dir"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, Path(value))

    def _check_prices(self) -> None:
        given = [self.input_price_per_m is not None, self.output_price_per_m is not None]
        if any(given) and not all(given):
            raise ConfigError("give both --input-price-per-m and --output-price-per-m (USD per million "
                              "tokens), or neither to use the genai-prices list price")
        if all(given):
            for name in ("input_price_per_m", "output_price_per_m"):
                value = getattr(self, name)
                if not _finite(value) or not 0 <= value <= 10_000:
                    raise ConfigError(f"{name} must be between 0 and 10000 USD per million tokens, "
                                      f"got {value!r}")
            if not (self.price_source or "").strip():
                raise ConfigError("prices given by hand need a source: --price-source 'pricing page URL, "
                                  "date' (it is shown next to every figure they price)")
        elif self.price_source is not None:
            raise ConfigError("--price-source goes with --input-price-per-m and --output-price-per-m")

    @property
    def resolved_max_tokens(self) -> int:
        """`max_tokens`, or the task's default."""
        return self.max_tokens if self.max_tokens is not None else DEFAULT_MAX_TOKENS[self.task]

    @property
    def resolved_runs_dir(self) -> Path:
        """`runs_dir`, or settings().runs_dir."""
        return self.runs_dir if self.runs_dir is not None else settings().runs_dir

    @property
    def resolved_cache_dir(self) -> Path:
        """`cache_dir`, or endpoint-cache/ beside settings().dataset_cache."""
        if self.cache_dir is not None:
            return self.cache_dir
        return settings().dataset_cache.parent / "endpoint-cache"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (paths as text)."""
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}
