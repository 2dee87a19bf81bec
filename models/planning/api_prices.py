"""Hosted-API list prices from a kept source (the `genai-prices` package), and the user's override.

    list_price("gpt-4o-mini", "https://api.openai.com/v1")
    -> ApiPrice(input_per_m_usd=0.15, output_per_m_usd=0.6, source='genai-prices 0.2.3 (looked up
                2026-12-01)', as_of='2026-10-14', provider='openai')

genai-prices ships its price data inside the package (no network here); the bundled data carries no
snapshot date of its own. `as_of` is therefore the date the data gives for the price in force (its start
date, for a model whose price changed), else the newest price change anywhere in the data (the data is at
least that recent; analytics.ingest.prices dates the Prices tab the same way); `source` names the package
version, which pins the data, and the day it was looked up. A price the user gives (`override_price`) wins
and is recorded with the source they name.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from models.errors import ConfigError

log = logging.getLogger(__name__)

SOURCE_PREFIX = "genai-prices"
"""`ApiPrice.source` of list prices starts with this, then the package version."""
LOCAL_SOURCE = "local endpoint: no per-token price (price it from served throughput)"
"""`ApiPrice.source` of an endpoint on this machine without an override: tokens cost nothing per token."""
_MILLION = 1_000_000


@dataclass(frozen=True)
class ApiPrice:
    """What one million tokens cost at an endpoint, and where that figure comes from."""

    input_per_m_usd: float
    """USD per million prompt (input) tokens."""
    output_per_m_usd: float
    """USD per million completion (output) tokens."""
    source: str
    """'genai-prices <version>', the user's own source text, or LOCAL_SOURCE."""
    as_of: str
    """ISO date the price applies to (the lookup day for genai-prices; the day it was entered otherwise)."""
    provider: str | None = None
    """genai-prices provider id ('openai', 'anthropic'...); None for an override."""

    def __post_init__(self) -> None:
        for name in ("input_per_m_usd", "output_per_m_usd"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ConfigError(f"{name} must be a non-negative number of dollars, got {value!r}")

    def cost_usd(self, prompt_tokens: float, completion_tokens: float) -> float:
        """Dollars for this many prompt and completion tokens."""
        return (prompt_tokens * self.input_per_m_usd + completion_tokens * self.output_per_m_usd) / _MILLION

    def to_dict(self) -> dict[str, Any]:
        """The run folder's `price` object: input_per_m_usd, output_per_m_usd, source, as_of, provider."""
        return asdict(self)


def genai_prices_version() -> str:
    """The installed genai-prices version ('0.2.3'), or 'unknown'."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("genai-prices")
    except PackageNotFoundError:
        return "unknown"


def _price_date(model_info: Any) -> str:
    """The start date of the price in force for this genai-prices model, else the data's newest price
    change that is not in the future (ISO dates)."""
    from genai_prices import data_snapshot, types

    today = datetime.now(timezone.utc).date()

    def started(prices: Any) -> list[Any]:
        return [c.constraint.start_date for c in prices if isinstance(c.constraint, types.StartDateConstraint)
                and c.constraint.start_date <= today] if isinstance(prices, list) else []

    own = started(getattr(model_info, "prices", None))
    if own:
        return max(own).isoformat()
    every = [d for p in data_snapshot.get_snapshot().providers for m in p.models for d in started(m.prices)]
    return max(every).isoformat() if every else _today()


def _today() -> str:
    return datetime.now(timezone.utc).date().isoformat()


def list_price(model: str, base_url: str | None = None) -> ApiPrice | None:
    """The genai-prices list price of `model` (matched as genai-prices matches model names: 'gpt-4o-mini',
    'claude-3-5-haiku-latest', 'gemini-1.5-flash'...), at the provider `base_url` points to when it knows
    that URL, else at the provider it guesses from the name. None when it knows no such model (self-hosted
    models, unknown providers): the caller asks the user for a price.
    """
    try:
        from genai_prices import Usage, calc_price
    except ImportError:  # pragma: no cover - a dependency; kept so the app starts without it
        log.warning("genai-prices is not installed; no list prices")
        return None
    usage = Usage(input_tokens=_MILLION, output_tokens=_MILLION)
    attempts: list[dict[str, Any]] = [{"provider_api_url": base_url}] if base_url else []
    attempts.append({})
    for where in attempts:
        try:
            price = calc_price(usage, model, **where)
        except (LookupError, ValueError) as e:
            log.debug("genai-prices has no price for %r (%s): %s", model, where or "any provider", e)
            continue
        return ApiPrice(input_per_m_usd=float(price.input_price), output_per_m_usd=float(price.output_price),
                        source=f"{SOURCE_PREFIX} {genai_prices_version()} (looked up {_today()})",
                        as_of=_price_date(getattr(price, "model", None)),
                        provider=getattr(price.provider, "id", None))
    return None


def override_price(input_per_m_usd: float, output_per_m_usd: float, source: str) -> ApiPrice:
    """A price the user typed (CLI flags, the Compare page): it wins over the list price."""
    if not (source or "").strip():
        raise ConfigError("a price typed by hand needs its source (a pricing page URL and date, a contract)")
    return ApiPrice(input_per_m_usd=float(input_per_m_usd), output_per_m_usd=float(output_per_m_usd),
                    source=source.strip(), as_of=_today(), provider=None)


def local_price() -> ApiPrice:
    """Zero per-token price for an endpoint on this machine (its cost is the machine's, priced elsewhere)."""
    return ApiPrice(0.0, 0.0, LOCAL_SOURCE, _today(), None)
