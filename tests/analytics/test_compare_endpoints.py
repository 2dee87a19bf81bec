"""Endpoint runs and serving records on Compare: ingest from contract-shaped folders (endpoint_fixtures), the
API price each endpoint run is priced at and which kept source priced it, paired comparisons through
run_predictions, served throughput at a chosen concurrency next to the in-process figure, re-ingest of a
rewritten serving.json, genai-prices list prices."""

from __future__ import annotations

import json
import math
import os

import pandas as pd
import pytest

from analytics.compute.compare.cascade import cascade
from analytics.compute.compare.leaderboard import CompareSettings, leaderboard
from analytics.errors import CostInputError
from analytics.ingest import prices
from analytics.ingest.runs import ingest_all, read_run_folder
from analytics.ingest.serving import attach_pending_serving, serving_levels
from tests.analytics.compare_fixtures import insert_predictions, insert_run, price_id
from tests.analytics.endpoint_fixtures import (
    COMPLETION_TOKENS,
    CORRECT,
    PROMPT_TOKENS,
    RUN_ID,
    level,
    make_endpoint_run,
    record,
    write_serving,
)

CPU_2 = 0.0725  # $/h of 'CPU 2 vCPU (Graviton3)' in data/prices.csv
MINI_IN, MINI_OUT = 0.15, 0.60  # gpt-4o-mini in data/prices.csv


def settings(**changes) -> CompareSettings:
    return CompareSettings(**{"dataset": "banking77", "requests_per_month": 1_000_000, **changes})


def row(board, key: str) -> pd.Series:
    return board.table.set_index("key").loc[key]


@pytest.fixture
def runs_dir(tmp_path):
    return tmp_path / "runs"


@pytest.fixture
def seeded(empty_ws):
    prices.seed_prices(empty_ws)
    return empty_ws


def test_endpoint_run_is_a_measured_api_candidate_priced_from_its_tokens(seeded, runs_dir) -> None:
    make_endpoint_run(runs_dir)
    assert ingest_all(seeded, runs_dir) == [RUN_ID]
    stored = seeded.rows("select method, model, p50_ms, p95_ms, inference_measured_by, n_test from runs")[0]
    assert stored == ("endpoint", "gpt-4o-mini", 310.0, 620.0, "client: evaluate-endpoint", len(CORRECT))
    assert seeded.scalar("select count(*) from run_predictions where run_id = ?", [RUN_ID]) == len(CORRECT)
    board = leaderboard(seeded, settings())
    endpoint = row(board, f"run:{RUN_ID}")
    assert endpoint["kind"] == "api" and endpoint["candidate"] == "gpt-4o-mini @ api.openai.com"
    by_hand = (PROMPT_TOKENS * MINI_IN + COMPLETION_TOKENS * MINI_OUT) / 1e6 * 1000
    assert endpoint["cost_per_1k_usd"] == pytest.approx(by_hand)
    assert endpoint["monthly_usd"] == pytest.approx(by_hand * 1000)
    assert endpoint["accuracy"] == pytest.approx(6 / 8)
    assert (endpoint["accuracy_ci_low"], endpoint["accuracy_ci_high"]) == (0.4, 0.93)  # eval.json's own
    assert endpoint["p50_ms"] == 310.0 and endpoint["training_usd"] == 0.0
    basis = endpoint["accuracy_basis"]
    assert basis.startswith("measured: endpoint api.openai.com, 2026-12-01, 8 requests; ")
    assert "1 unparseable answers counted wrong" in endpoint["accuracy_basis"]
    assert endpoint["price_source"] == ("catalog: pydantic/genai-prices prices/providers/openai.yml, "
                                        "as of 2025-07-04")
    assert "price: catalog: pydantic/genai-prices" in endpoint["cost_basis"]
    assert "measured by the client over HTTP" in endpoint["latency_basis"]
    assert price_id(seeded, "gpt-4o-mini") in board.price_ids
    assert not endpoint["flag"]
    # the client's own machine is not a hardware to price
    assert "CPU x2" not in board.hardware_prices


def test_a_price_override_wins_over_the_catalog_and_a_list_price_does_not(seeded, runs_dir) -> None:
    make_endpoint_run(runs_dir, "ep-override", price={"input_per_m_usd": 1.0, "output_per_m_usd": 2.0,
                                                      "source": "our contract with OpenAI",
                                                      "as_of": "2026-11-30"})
    make_endpoint_run(runs_dir, "ep-listed", price={"input_per_m_usd": 9.0, "output_per_m_usd": 9.0,
                                                    "source": "genai-prices 0.2.3", "as_of": "2026-11-01"})
    ingest_all(seeded, runs_dir)
    board = leaderboard(seeded, settings())
    override = row(board, "run:ep-override")
    assert override["cost_per_1k_usd"] == pytest.approx((PROMPT_TOKENS * 1.0 + COMPLETION_TOKENS * 2.0) / 1e3)
    assert override["price_source"] == "override: our contract with OpenAI, as of 2026-11-30"
    listed = row(board, "run:ep-listed")  # the catalog is the override a user edits: it beats the list price
    assert listed["price_source"].startswith("catalog: ")
    assert any("Price of gpt-4o-mini: $1 in / $2 out per 1M tokens (override: our contract" in a
               for a in board.assumptions)


def test_models_the_catalog_lacks_are_priced_by_genai_prices_or_flagged(seeded, runs_dir) -> None:
    make_endpoint_run(runs_dir, "ep-haiku", model="claude-haiku-5-5", base_url="https://api.anthropic.com/v1")
    make_endpoint_run(runs_dir, "ep-own", model="our-minilm", base_url="http://127.0.0.1:8000/v1")
    ingest_all(seeded, runs_dir)
    board = leaderboard(seeded, settings())
    haiku = row(board, "run:ep-haiku")
    listed = prices.genai_list_price("claude-haiku-5-5", "https://api.anthropic.com/v1")
    assert listed is not None and listed.origin == "genai-prices"
    assert haiku["price_source"].startswith(f"genai-prices: genai-prices {prices.genai_prices_version()} "
                                            f"(bundled data), as of ")
    assert haiku["cost_per_1k_usd"] == pytest.approx(
        (PROMPT_TOKENS * listed.input_per_m_usd + COMPLETION_TOKENS * listed.output_per_m_usd) / 1e3)
    own = row(board, "run:ep-own")
    assert own["candidate"] == "our-minilm @ 127.0.0.1:8000"
    assert math.isnan(own["cost_per_1k_usd"]) and own["price_source"] == ""
    assert "no price for model 'our-minilm': add an API row named 'our-minilm'" in own["flag"]
    assert any(f.startswith("our-minilm @ 127.0.0.1:8000: no price") for f in board.flags)


def test_endpoint_predictions_pair_with_runs_in_a_cascade(seeded, runs_dir) -> None:
    insert_run(seeded, "r-classic", method="classic", model="tfidf", accuracy=0.5, n_test=8, train_seconds=10,
               throughput_per_s=1000)
    insert_predictions(seeded, "r-classic", [0.9, 0.2, 0.8, 0.3, 0.95, 0.1, 0.7, 0.4],
                       [True, False, True, False, True, False, True, False])
    make_endpoint_run(runs_dir)
    ingest_all(seeded, runs_dir)
    board = leaderboard(seeded, settings())
    result = cascade(seeded, board, "run:r-classic", f"run:{RUN_ID}")
    assert result.n_examples == len(CORRECT)
    # threshold 0: the classic run answers all; above every confidence: the endpoint answers all
    assert result.curve["accuracy"].min() <= 0.5 + 1e-9 and result.curve["accuracy"].max() >= 0.75 - 1e-9


def test_a_failed_endpoint_run_keeps_its_partial_predictions_off_the_leaderboard(seeded, runs_dir) -> None:
    make_endpoint_run(runs_dir, "ep-stopped", state="failed")
    record_ = read_run_folder(runs_dir / "ep-stopped")
    assert record_ is not None and record_.state == "failed" and len(record_.predictions) == len(CORRECT)
    ingest_all(seeded, runs_dir)
    assert "run:ep-stopped" not in set(leaderboard(seeded, settings()).table["key"])


def test_served_throughput_is_priced_next_to_the_in_process_figure(seeded, runs_dir) -> None:
    insert_run(seeded, "r-full", method="full", model="all-MiniLM-L6-v2", accuracy=0.9, n_test=100,
               train_seconds=360, throughput_per_s=100, p50_ms=10)
    write_serving(runs_dir / "r-full", [record("2026-12-01T13:00:00+00:00",
                                               [level(1, 20.0, 40.0), level(16, 64.0, 200.0, errors=2)])])
    assert attach_pending_serving(seeded, runs_dir) == ["r-full"]
    assert attach_pending_serving(seeded, runs_dir) == []  # unchanged file: not read again
    plain = leaderboard(seeded, settings())
    assert list(plain.table["kind"]) == ["self-hosted"]  # no served row unless a concurrency is chosen
    board = leaderboard(seeded, settings(served_concurrency=16))
    assert list(board.table.sort_values("key")["key"]) == ["run:r-full", "served:r-full:16"]
    served, in_process = row(board, "served:r-full:16"), row(board, "run:r-full")
    assert served["kind"] == "served" and served["candidate"] == "served c16 · fine-tune · all-MiniLM-L6-v2"
    assert served["cost_per_1k_usd"] == pytest.approx(CPU_2 / 3600 / (64.0 * 0.5) * 1000)
    assert in_process["cost_per_1k_usd"] == pytest.approx(CPU_2 / 3600 / (100 * 0.5) * 1000)
    assert served["p50_ms"] == 200.0 and served["training_usd"] == in_process["training_usd"]
    assert served["latency_basis"].startswith("served, concurrency 16, litserve, 2026-12-01 on CPU x2: p50 ")
    assert "2 errors of 200 requests" in served["latency_basis"]
    assert "measured served, concurrency 16, litserve, 2026-12-01" in served["cost_basis"]
    assert served["price_source"].startswith("catalog: skypilot-org")
    assert "served:r-full:4" not in set(leaderboard(seeded, settings(served_concurrency=4)).table["key"])


def test_a_newer_load_test_replaces_the_figures_and_a_bad_file_is_skipped(seeded, runs_dir) -> None:
    insert_run(seeded, "r-full", method="full", model="all-MiniLM-L6-v2", accuracy=0.9, n_test=100,
               train_seconds=360, throughput_per_s=100, p50_ms=10)
    path = write_serving(runs_dir / "r-full", [record("2026-12-01T13:00:00Z", [level(16, 64.0, 200.0)])])
    attach_pending_serving(seeded, runs_dir)
    write_serving(runs_dir / "r-full", [record("2026-12-01T13:00:00Z", [level(16, 64.0, 200.0)]),
                                        record("2026-12-01T14:00:00Z", [level(16, 80.0, 150.0)])])
    later = path.stat().st_mtime + 5
    os.utime(path, (later, later))
    assert attach_pending_serving(seeded, runs_dir) == ["r-full"]
    latest = serving_levels(seeded, ["r-full"])
    assert list(latest["requests_per_s"]) == [80.0]  # the newest record per level
    assert seeded.scalar("select count(*) from serving_levels") == 2  # both records kept
    (runs_dir / "broken").mkdir()
    (runs_dir / "broken" / "serving.json").write_text("{\"records\": 3}")
    assert attach_pending_serving(seeded, runs_dir) == []  # logged and skipped, nothing raised
    (runs_dir / "r-full" / "serving.json").write_text(json.dumps({"records": [{"levels": []}]}))
    os.utime(path, (later + 5, later + 5))
    assert attach_pending_serving(seeded, runs_dir) == []  # no usable record: the old rows stay
    assert list(serving_levels(seeded, ["r-full"])["requests_per_s"]) == [80.0]


def test_served_concurrency_must_be_a_level(seeded) -> None:
    for bad in (0, -4, 2.5, True):
        with pytest.raises(CostInputError, match="served concurrency must be a whole number"):
            settings(served_concurrency=bad)


def test_list_prices_come_from_genai_prices_with_dates(seeded) -> None:
    listed = prices.genai_list_price("gpt-4o-mini", "https://api.openai.com/v1")
    assert listed is not None and (listed.provider, listed.origin) == ("OpenAI", "genai-prices")
    assert listed.input_per_m_usd > 0 and listed.as_of is not None
    assert prices.genai_list_price("no-such-model-anywhere") is None
    table = prices.genai_price_table(["gpt-4o-mini"], providers=("openai",))
    assert table.iloc[0]["model"] == "gpt-4o-mini" and table["as_of"].notna().all()
    assert set(table["provider"]) == {"OpenAI"} and len(table) > 5
    catalog = prices.price_table(seeded)
    chosen = prices.api_price(catalog, "openai/gpt-4o-mini", "https://api.openai.com/v1")
    assert chosen is not None and chosen.origin == "catalog" and chosen.price_id == price_id(seeded,
                                                                                              "gpt-4o-mini")
    prices.update_price(seeded, chosen.price_id, "input_per_m_usd", 0.2, "negotiated")
    edited = prices.api_price(prices.price_table(seeded), "gpt-4o-mini")
    assert edited is not None and edited.input_per_m_usd == 0.2 and edited.label.startswith("catalog: ")
