"""Cost before sending, and the running spend that stops a run at its budget.

Estimate: prompt tokens counted on the actual messages of every request still to send (cached ones cost
nothing), at most `max_tokens` completion tokens each, at the run's price. No tokenizer of the hosted model
is available offline, so a token is counted per 3 characters (English runs near 4) plus 4 per message and 3
per request (the chat format's overhead): the estimate errs high, never low.

While running, every request reserves its worst-case cost before it is sent and settles at the cost of the
tokens its response reports (`usage`); a request whose reservation would pass the budget is not sent.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from models.errors import EndpointError
from models.planning.api_prices import ApiPrice

CHARS_PER_TOKEN = 3.0
"""Characters counted as one prompt token in the estimate (an overestimate for English)."""
TOKENS_PER_MESSAGE = 4
"""Chat-format tokens added per message (role, separators)."""
TOKENS_PER_REQUEST = 3
"""Tokens added per request (the assistant turn's start)."""


def estimate_prompt_tokens(messages: Sequence[dict[str, str]]) -> int:
    """Prompt tokens of one request, counted high (see the module doc)."""
    chars = sum(len(m.get("content") or "") for m in messages)
    return math.ceil(chars / CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE * len(messages) + TOKENS_PER_REQUEST


def usd(value: float) -> str:
    """Dollars for a message by the rules of analytics.money.format_usd (which models may not import; a test
    keeps the two equal): 3 significant digits, cents written out, k/M suffixes, never e-notation."""
    if not math.isfinite(value):
        return "-"
    if value == 0:
        return "$0"
    sign = "-" if value < 0 else ""
    rounded = float(f"{abs(value):.2e}")
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if rounded >= scale:
            return f"{sign}${_significant(rounded / scale)}{suffix}"
    text = _significant(rounded)
    if "." in text and len(text.split(".")[1]) < 2:
        text += "0"
    return f"{sign}${text}"


def _significant(value: float, digits: int = 3) -> str:
    decimals = max(0, digits - 1 - math.floor(math.log10(value)))
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True)
class CostEstimate:
    """What the requests still to send would cost at most."""

    requests: int
    """Requests to send (cache misses)."""
    cached: int
    """Requests answered from the cache (free)."""
    prompt_tokens: int
    """Prompt tokens of the requests to send, counted high."""
    max_completion_tokens: int
    """Completion tokens at most (requests x max_tokens)."""
    cost_usd: float
    """Upper bound of the dollars they cost."""
    per_request_usd: float
    """Mean upper bound per request."""
    smallest_request_usd: float
    """Upper bound of the cheapest single request."""

    def affordable_requests(self, budget_usd: float) -> int:
        """How many requests of the mean estimated cost fit in `budget_usd`."""
        if self.per_request_usd <= 0:
            return self.requests
        return int(budget_usd // self.per_request_usd)


def estimate_cost(request_tokens: Sequence[int], cached: int, max_tokens: int,
                  price: ApiPrice) -> CostEstimate:
    """The estimate for requests with these prompt token counts (the misses), `cached` answered free."""
    costs = [price.cost_usd(t, max_tokens) for t in request_tokens]
    total = sum(costs)
    n = len(costs)
    return CostEstimate(requests=n, cached=cached, prompt_tokens=int(sum(request_tokens)),
                        max_completion_tokens=n * max_tokens, cost_usd=total,
                        per_request_usd=total / n if n else 0.0,
                        smallest_request_usd=min(costs) if costs else 0.0)


def check_budget(estimate: CostEstimate, budget_usd: float, price: ApiPrice, n_total: int) -> None:
    """Refuse, before any request, a run whose estimate is above `budget_usd`; the message says what it would
    cost and what --limit fits. Raises EndpointError."""
    if estimate.requests == 0 or estimate.cost_usd <= budget_usd:
        return
    per_m = f"{usd(price.input_per_m_usd)} / {usd(price.output_per_m_usd)} per million input / output tokens"
    if budget_usd < estimate.smallest_request_usd:
        raise EndpointError(
            f"the budget of {usd(budget_usd)} is below the cost of a single request (up to "
            f"{usd(estimate.smallest_request_usd)} at {per_m}, {price.source}); nothing was sent. Raise "
            f"--budget-usd to at least {usd(estimate.smallest_request_usd)} or lower --max-tokens")
    fits = estimate.affordable_requests(budget_usd)
    raise EndpointError(
        f"{estimate.requests} requests would cost up to {usd(estimate.cost_usd)} "
        f"({estimate.prompt_tokens:,} prompt tokens counted high + up to "
        f"{estimate.max_completion_tokens:,} completion tokens at {per_m}, {price.source}), above "
        f"the budget of {usd(budget_usd)}; nothing was sent. Raise --budget-usd to "
        f"{usd(estimate.cost_usd)}, or score fewer examples: --limit {max(fits + estimate.cached, 1)} fits "
        f"(of {n_total})")


class SpendTracker:
    """Thread-safe running spend: reserve a request's worst case before sending, settle it after."""

    def __init__(self, budget_usd: float, price: ApiPrice) -> None:
        self.budget_usd = budget_usd
        self.price = price
        self.spent_usd = 0.0
        self._reserved = 0.0
        self._lock = threading.Lock()

    def reserve(self, worst_case_usd: float) -> bool:
        """True (and the amount held) when it fits beside what is spent and held; False: do not send."""
        with self._lock:
            if self.spent_usd + self._reserved + worst_case_usd > self.budget_usd + 1e-12:
                return False
            self._reserved += worst_case_usd
            return True

    def settle(self, reserved_usd: float, actual_usd: float) -> None:
        """Release a reservation and add what the request really cost."""
        with self._lock:
            self._reserved = max(0.0, self._reserved - reserved_usd)
            self.spent_usd += actual_usd
