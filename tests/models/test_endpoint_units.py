"""The pieces of evaluate-endpoint without a server: parsing, Retry-After, backoff, prices, budget, config."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import numpy as np
import pytest

from models.errors import ConfigError, EndpointError
from models.planning.api_prices import list_price, local_price, override_price
from models.serving.endpoint.budget import (
    SpendTracker,
    check_budget,
    estimate_cost,
    estimate_prompt_tokens,
    usd,
)
from models.serving.endpoint.cache import CachedResponse, ResponseCache, request_key
from models.serving.endpoint.client import EndpointClient, Scrubber, WaitBudget, retry_after_seconds
from models.serving.endpoint.config import EndpointConfig, is_loopback, normalise_base_url
from models.serving.endpoint.evaluate import macro_f1_with_misses
from models.serving.endpoint.prompts import LabelParser, classification_messages, response_format

LABELS = ("card_arrival", "card_linking", "exchange_rate", "card", "Refund_not_showing_up")


@pytest.mark.parametrize(("answer", "expected"), [
    ("card_arrival", 0), ("Card Arrival", 0), ("card arrival.", 0), ('{"label": "exchange rate"}', 2),
    ("card", 3), ("card link", 1),  # a unique prefix
    ("refund not showing up", 4), ("The category is: exchange rate", 2),
    ("card_arrival\nbecause the card has not come", 0),
    ("It is about the card arrival and the card linking", None),  # two labels named equally: ambiguous
    ("Je ne sais pas", None), ("", None), (None, None), ("ca", None),
])
def test_parse_label(answer: str | None, expected: int | None) -> None:
    assert LabelParser(LABELS).parse(answer) == expected


def test_messages_put_the_text_last_and_alone() -> None:
    messages = classification_messages("where is my card?", ["card arrival", "card linking"],
                                       [("I linked it", "card linking")])
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[-1]["content"] == "where is my card?" and "- card arrival" in messages[0]["content"]
    schema = response_format(["a", "b"])["json_schema"]["schema"]
    assert schema["properties"]["label"]["enum"] == ["a", "b"] and schema["required"] == ["label"]


def test_retry_after_header_forms() -> None:
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 25 < retry_after_seconds({"retry-after": when}) <= 30
    assert retry_after_seconds({"retry-after": "soon"}) is None and retry_after_seconds({}) is None


def test_backoff_is_capped_jittered_and_honours_retry_after() -> None:
    config = EndpointConfig(base_url="http://127.0.0.1:9/v1", model="m", backoff_base_s=1.0,
                            backoff_max_s=4.0)
    client = EndpointClient(config, None, WaitBudget(10.0, seed=0))
    waits = [client._wait_seconds(attempt, None) for attempt in range(8) for _ in range(20)]
    assert max(waits) <= 4.0 and min(waits) >= 0.0 and len(set(waits)) > 100  # full jitter, capped
    assert max(client._wait_seconds(0, None) for _ in range(50)) <= 1.0  # first retry: up to base
    assert client._wait_seconds(0, 2.5) == 2.5 and client._wait_seconds(0, 60.0) == 4.0
    budget = WaitBudget(1.0, seed=0)
    assert budget.take(0.6) and not budget.take(0.6) and budget.waited_s == 0.6
    client.close()


def test_scrubber_hides_only_the_key() -> None:
    scrub = Scrubber("sk-abcdef123")
    assert scrub("Bearer sk-abcdef123 failed") == "Bearer *** failed"
    assert Scrubber(None)("sk-abcdef123") == "sk-abcdef123"


def test_list_price_from_genai_prices_and_override() -> None:
    price = list_price("gpt-4o-mini", "https://api.openai.com/v1")
    assert price is not None and price.source.startswith("genai-prices ") and price.provider == "openai"
    assert 0 < price.input_per_m_usd < price.output_per_m_usd
    from analytics.ingest.prices import genai_snapshot_date

    # no start date of its own: dated by the data's newest price change (as the Prices tab dates it)
    assert price.as_of == genai_snapshot_date().isoformat()
    assert f"looked up {datetime.now(timezone.utc).date().isoformat()}" in price.source
    assert list_price("my-own-finetune-xyz", "http://10.0.0.5:8000/v1") is None
    mine = override_price(1.0, 2.0, "contract")
    assert mine.source == "contract" and mine.cost_usd(1_000_000, 500_000) == 2.0
    assert local_price().cost_usd(10**9, 10**9) == 0.0
    with pytest.raises(ConfigError, match="source"):
        override_price(1.0, 2.0, " ")


def test_budget_estimate_counts_high_and_refuses_with_numbers() -> None:
    messages = [{"role": "system", "content": "x" * 300}, {"role": "user", "content": "y" * 30}]
    assert estimate_prompt_tokens(messages) == 110 + 8 + 3
    price = override_price(10.0, 30.0, "test")
    estimate = estimate_cost([1000] * 100, cached=5, max_tokens=40, price=price)
    assert estimate.cost_usd == pytest.approx(100 * (1000 * 10 + 40 * 30) / 1e6)
    check_budget(estimate, 2.0, price, 200)  # fits: no error
    too_many = r"100 requests would cost up to \$1.12.*--limit 49 fits \(of 200\)"
    with pytest.raises(EndpointError, match=too_many):
        check_budget(estimate, 0.5, price, 200)
    with pytest.raises(EndpointError, match=r"below the cost of a single request \(up to \$0.0112"):
        check_budget(estimate, 0.01, price, 200)
    spend = SpendTracker(0.03, price)
    assert spend.reserve(0.02) and not spend.reserve(0.02)
    spend.settle(0.02, 0.01)
    assert spend.reserve(0.02) and spend.spent_usd == 0.01


def test_usd_follows_the_screen_formatter() -> None:
    from analytics.money import format_usd

    for value in (0, 0.6, 0.15, 0.000228, 0.4581, 0.01, 12.5, 999.96, 1234.5, 2.5e6, -3.1, 1e-7):
        assert usd(value) == format_usd(value), value


def test_macro_f1_with_misses_matches_sklearn() -> None:
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 5, size=200)
    y_pred = np.where(rng.random(200) < 0.2, -1, rng.integers(0, 5, size=200))
    present = sorted(set(y_true) | set(y_pred[y_pred >= 0]))
    expected = f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)
    assert macro_f1_with_misses(y_true[None, :], y_pred[None, :], 5)[0] == pytest.approx(expected)


def test_cache_round_trip_and_key(tmp_path) -> None:
    cache = ResponseCache(tmp_path)
    key = request_key("http://h/v1", "m", {"temperature": 0}, [{"role": "user", "content": "hi"}])
    assert key != request_key("http://h/v1", "m", {"temperature": 0}, [{"role": "user", "content": "hi!"}])
    assert key != request_key("http://h/v1", "m2", {"temperature": 0}, [{"role": "user", "content": "hi"}])
    assert cache.get(key) is None
    cache.put(key, CachedResponse("card", 10, 2, 5.0))
    assert cache.get(key) == CachedResponse("card", 10, 2, 5.0)
    cache.path(key).write_text("{torn")
    assert cache.get(key) is None  # an unreadable file is a miss, asked again


@pytest.mark.parametrize(("fields", "message"), [
    ({"base_url": "ftp://host/v1"}, "must start with http"),
    ({"base_url": "https://user:pw@host/v1"}, "must not hold a user name or password"),
    ({"base_url": "https://host/v1?key=abc"}, "must not hold a query string"),
    ({"api_key_env": "sk-live-123"}, "NAME of an environment variable"),
    ({"input_price_per_m": 1.0}, "give both"),
    ({"input_price_per_m": 1.0, "output_price_per_m": 2.0}, "need a source"),
    ({"concurrency": 0}, "concurrency"), ({"limit": 0}, "limit"), ({"task": "ranking"}, "task"),
    ({"budget_usd": float("nan")}, "budget_usd"),
])
def test_config_refuses(fields: dict, message: str) -> None:
    values = {"base_url": "https://api.openai.com/v1", "model": "gpt-4o-mini", **fields}
    with pytest.raises(ConfigError, match=message):
        EndpointConfig(**values)


def test_config_normalises_the_url() -> None:
    assert normalise_base_url("HTTP://LocalHost:8000/v1/") == "http://localhost:8000/v1"
    assert is_loopback("http://127.0.0.1:8000/v1") and is_loopback("http://[::1]:8000/v1")
    assert not is_loopback("https://api.openai.com/v1")
