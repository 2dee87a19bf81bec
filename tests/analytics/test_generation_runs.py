"""Generation runs (sft, sft_lora) in the workspace: ingest of a contract-shaped run folder, the Fine-tune
page's summary and best/worst replies, and the Compare reply leaderboard's dollars worked out by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from analytics.charts.compare import reply_frontier_chart, reply_total_cost_chart
from analytics.compute.compare.candidates import evaluation_sets
from analytics.compute.compare.replies import (
    ReplySettings,
    format_usd_per_replies,
    generation_hardware_names,
    reply_break_even,
    reply_leaderboard,
    reply_recommendation,
    self_hosted_cost_per_1k_replies,
)
from analytics.compute.generation import generation_summary, reply_examples
from analytics.errors import CostInputError, RunIngestError, RunNotFoundError
from analytics.ingest.prices import seed_prices
from analytics.ingest.runs import ingest_all, ingest_run
from tests.analytics.generation_fixtures import EVAL, ROUGE, RUN_ID, make_sft_run
from tests.readable import figure_texts, unreadable

CPU_2 = 0.0725  # $/h of 'CPU 2 vCPU (Graviton3)' in data/prices.csv (hardware 'CPU x2')
MINI_IN, MINI_OUT = 0.15, 0.60  # gpt-4o-mini $ per 1M tokens
GROQ_IN, GROQ_OUT = 0.05, 0.08  # llama-3.1-8b-instant on Groq


@pytest.fixture(scope="module")
def gen_ws(tmp_path_factory):
    """One workspace with the fixture run for the read-only tests of this module (opening one takes a
    second)."""
    from analytics.db import Workspace

    root = tmp_path_factory.mktemp("generation")
    workspace = Workspace.open(root / "gen.duckdb", seed_demo=False)
    seed_prices(workspace)
    make_sft_run(root / "runs")
    assert ingest_all(workspace, root / "runs") == [RUN_ID]
    yield workspace
    workspace.close()


def settings(**changes) -> ReplySettings:
    return ReplySettings(**{"dataset": "bitext_customer_support", "replies_per_month": 100_000,
                            "utilisation": 1.0, **changes})


def row(board, key: str) -> pd.Series:
    return board.table.set_index("key").loc[key]


def api_key(ws, name: str) -> str:
    return f"api:{int(ws.scalar('select price_id from prices where name = ?', [name]))}"


# ------------------------------------------------------------------------------------------ ingest


def test_the_fixture_run_folder_is_ingested_whole_and_once(empty_ws, tmp_path):
    run_dir = make_sft_run(tmp_path / "runs")
    assert ingest_run(empty_ws, run_dir) is True
    assert ingest_run(empty_ws, run_dir) is False  # a succeeded run is never written twice
    task, n_test, accuracy, hardware = empty_ws.rows(
        "select task, n_test, accuracy, hardware from runs where run_id = ?", [RUN_ID])[0]
    assert (task, n_test, accuracy, hardware) == ("generation", 6, None, "CPU x2")
    metrics = empty_ws.sql("select * from run_generation_eval").iloc[0]
    for key in ("rouge_l", "intent_match", "mean_prompt_tokens", "mean_reference_tokens",
                "prefill_tokens_per_s", "decode_tokens_per_s", "base_rouge_l", "base_decode_tokens_per_s",
                "base_mean_reply_tokens"):
        assert metrics[key] == pytest.approx(EVAL[key]), key
    assert metrics["n_test_total"] == 451 and metrics["generation_device"] == "cpu"
    assert metrics["tokenizer"] == "HuggingFaceTB/SmolLM2-135M-Instruct tokenizer (chat template)"
    stored = empty_ws.sql("select * from run_generations order by id")
    assert len(stored) == 6 and list(stored["rouge_l"]) == list(ROUGE)
    first = stored.iloc[0]
    assert first["reply"] == "I can help you cancel your order." and first["base_reply"] == "Sure."
    assert first["prompt_tokens"] == 40 and bool(first["intent_match"]) is True
    assert stored["base_intent_match"].sum() == 1
    # the classifier board does not list a generation run
    assert evaluation_sets(empty_ws).empty


def test_a_run_without_base_replies_stores_nulls(empty_ws, tmp_path):
    ingest_run(empty_ws, make_sft_run(tmp_path / "runs", "no-base", base=False))
    metrics = empty_ws.sql("select * from run_generation_eval").iloc[0]
    assert math.isnan(metrics["base_rouge_l"]) and metrics["rouge_l"] == pytest.approx(EVAL["rouge_l"])
    assert empty_ws.scalar("select count(*) from run_generations where base_reply is null") == 6


def test_a_succeeded_run_without_generations_is_refused_and_nothing_written(empty_ws, tmp_path):
    run_dir = make_sft_run(tmp_path / "runs", write_generations=False)
    with pytest.raises(RunIngestError, match="generations.parquet is missing"):
        ingest_run(empty_ws, run_dir)
    assert empty_ws.scalar("select count(*) from runs") == 0
    assert empty_ws.scalar("select count(*) from run_generation_eval") == 0


def test_a_failed_run_has_no_generation_rows(empty_ws, tmp_path):
    run_dir = make_sft_run(tmp_path / "runs", state="failed", write_generations=False)
    (run_dir / "eval.json").unlink()
    assert ingest_run(empty_ws, run_dir) is True
    assert empty_ws.scalar("select task from runs") == "generation"
    assert empty_ws.scalar("select count(*) from run_generation_eval") == 0


def test_a_share_outside_zero_to_one_is_refused(empty_ws, tmp_path):
    run_dir = make_sft_run(tmp_path / "runs", evaluation={**EVAL, "rouge_l": 71.7})
    with pytest.raises(RunIngestError, match="rouge_l = 71.7 is not a share"):
        ingest_run(empty_ws, run_dir)


# ------------------------------------------------------------------------------------------ Fine-tune results


def test_summary_puts_fine_tuned_and_base_side_by_side(gen_ws):
    summary = generation_summary(gen_ws, RUN_ID)
    assert summary.has_base and summary.has_intents and summary.n_scored == 6 and summary.n_total == 451
    rouge = summary.metrics.set_index("key").loc["rouge_l"]
    assert (rouge["fine_tuned"], rouge["base"]) == (EVAL["rouge_l"], EVAL["base_rouge_l"])
    assert rouge["difference"] == pytest.approx(0.7167 - 0.125)
    table = summary.table.set_index("metric")
    assert table.loc["ROUGE-L (points)", "fine-tuned"] == "71.7 (95% CI 45.0-90.0)"
    assert table.loc["ROUGE-L (points)", "base model"] == "12.5 (95% CI 5.0-21.0)"
    assert table.loc["ROUGE-L (points)", "difference"] == "+59.2 points"
    assert table.loc["intent match", "fine-tuned"] == "83.3% (95% CI 50.0%-100.0%)"
    assert "6 held-out test requests" in summary.basis and RUN_ID in summary.basis
    assert not unreadable(list(summary.table.to_numpy().ravel()))
    with pytest.raises(RunNotFoundError):
        generation_summary(gen_ws, "no-such-run")


def test_best_and_worst_replies_by_rouge_with_references(gen_ws):
    examples = reply_examples(gen_ws, RUN_ID, n=2)
    assert list(zip(examples["side"], examples["id"], strict=True)) == [
        ("best", "test-00001"), ("best", "test-00006"), ("worst", "test-00004"), ("worst", "test-00002")]
    worst = examples.iloc[2]
    assert worst["reference"] == "Let me help you track order 42."
    assert worst["reply"] == "Please cancel the order."
    assert worst["base_reply"] == "Order 42 is an order."
    # fewer judged replies than 2 x n: each appears once
    assert sorted(reply_examples(gen_ws, RUN_ID, n=5)["id"]) == sorted(f"test-0000{i}" for i in range(1, 7))


# ------------------------------------------------------------------------------------------ Compare


def test_dollars_per_1k_replies_match_hand_computation(gen_ws):
    board = reply_leaderboard(gen_ws, settings())
    fine = row(board, f"run:{RUN_ID}")
    # $0.0725/h x (200 prompt tokens / 1000 tok/s + 80 reply tokens / 20 tok/s = 4.2 s) / 3600 s x 1000
    assert fine["seconds_per_reply"] == pytest.approx(4.2)
    assert fine["cost_per_1k_usd"] == pytest.approx(CPU_2 * 4.2 / 3600 * 1000, rel=1e-12)  # 0.0845833
    assert fine["training_usd"] == pytest.approx(1800 / 3600 * CPU_2, rel=1e-12)  # 0.03625
    assert fine["monthly_usd"] == pytest.approx(0.0845833333 * 100, rel=1e-9)
    assert fine["total_usd"] == pytest.approx(0.03625 + 12 * 8.458333333, rel=1e-9)
    base = row(board, f"base:{RUN_ID}")
    # the base model: same prompts and prefill speed, its own replies: 200 / 1000 + 40 / 25 = 1.8 s
    assert base["cost_per_1k_usd"] == pytest.approx(CPU_2 * 1.8 / 3600 * 1000, rel=1e-12)
    assert base["training_usd"] == 0.0
    assert base["quality"] == EVAL["base_rouge_l"]
    # half the paid time idle doubles the cost
    half = row(reply_leaderboard(gen_ws, settings(utilisation=0.5)), f"run:{RUN_ID}")
    assert half["cost_per_1k_usd"] == pytest.approx(2 * fine["cost_per_1k_usd"], rel=1e-12)
    assert self_hosted_cost_per_1k_replies(3.6, 100, 100, 10, 10) == pytest.approx(2.0)  # 2 s at $1/1000 s
    assert format_usd_per_replies(fine["cost_per_1k_usd"]) == "$0.0846 per 1k replies"
    assert format_usd_per_replies(0.00963) == "$9.63 per 1M replies"  # per 1k would read below a cent
    assert "4.2 s a reply" in fine["cost_basis"] and "CPU x2" in fine["cost_basis"]
    assert RUN_ID in fine["cost_basis"] and "2026-12-01" in fine["cost_basis"]


def test_apis_are_priced_from_real_tokens_and_not_given_a_quality(gen_ws):
    board = reply_leaderboard(gen_ws, settings())
    mini = row(board, api_key(gen_ws, "gpt-4o-mini"))
    # (200 prompt tokens x $0.15 + 120 reference-reply tokens x $0.60) / 1M x 1000 = $0.102
    assert mini["cost_per_1k_usd"] == pytest.approx((200 * MINI_IN + 120 * MINI_OUT) / 1e6 * 1000, rel=1e-12)
    assert mini["cost_per_1k_usd"] == pytest.approx(0.102)
    assert math.isnan(mini["quality"]) and not mini["on_frontier"]
    assert mini["quality_basis"].startswith("not measured")
    assert "SmolLM2-135M-Instruct tokenizer" in mini["cost_basis"] and "genai-prices" in mini["cost_basis"]
    apis = board.table[board.table["kind"] == "api"]
    assert len(apis) == int(gen_ws.scalar("select count(*) from prices where kind = 'api'"))
    mini_id = int(api_key(gen_ws, "gpt-4o-mini").removeprefix("api:"))
    chosen = reply_leaderboard(gen_ws, settings(api_price_ids=(mini_id,)))
    assert list(chosen.table["kind"]).count("api") == 1


def test_leaderboard_rows_frontier_and_quality_choice(gen_ws):
    board = reply_leaderboard(gen_ws, settings())
    measured = board.table[board.table["kind"] != "api"]
    assert list(measured["key"]) == [f"base:{RUN_ID}", f"run:{RUN_ID}"]  # frontier, cheapest first
    assert measured["on_frontier"].all() and board.flags == ()
    assert list(board.table["kind"])[:2] == ["base model", "fine-tuned"]  # measured before the APIs
    api_costs = board.table[board.table["kind"] == "api"]["cost_per_1k_usd"]
    assert list(api_costs) == sorted(api_costs)
    intents = reply_leaderboard(gen_ws, settings(quality="intent_match"))
    assert row(intents, f"run:{RUN_ID}")["quality"] == pytest.approx(5 / 6)
    assert row(intents, f"base:{RUN_ID}")["quality"] == pytest.approx(1 / 6)
    with pytest.raises(CostInputError, match="quality must be one of"):
        settings(quality="bleu")
    with pytest.raises(CostInputError, match="replies per month must be more than zero"):
        settings(replies_per_month=0)


def test_break_even_against_an_api_by_hand(gen_ws):
    board = reply_leaderboard(gen_ws, settings())
    points = reply_break_even(board).set_index(["candidate", "api"])
    fine, base = row(board, f"run:{RUN_ID}")["candidate"], row(board, f"base:{RUN_ID}")["candidate"]
    # training $0.03625 paid back over 12 months by saving ($0.102 - $0.0845833) per 1k replies
    expected = 0.03625 * 1000 / (12 * (0.102 - CPU_2 * 4.2 / 3.6))
    assert points.loc[(fine, "gpt-4o-mini (API)"), "replies_per_month"] == pytest.approx(expected, rel=1e-9)
    assert expected == pytest.approx(173.44, rel=1e-3)
    assert math.isnan(points.loc[(fine, "llama-3.1-8b-instant (API)"), "replies_per_month"])  # $0.0196 a 1k
    assert points.loc[(base, "gpt-5-nano (API)"), "replies_per_month"] == 0.0  # no training: from reply one
    sentence = reply_recommendation(board)
    assert sentence.startswith("At 100,000 replies a month, the best measured candidate is LoRA SFT")
    assert "71.7 (95% CI 45.0-90.0)" in sentence and "quality not measured" in sentence


def test_unpriced_hardware_is_flagged(empty_ws, tmp_path):
    seed_prices(empty_ws)
    ingest_run(empty_ws, make_sft_run(tmp_path / "runs", hardware="Mystery Accelerator"))
    board = reply_leaderboard(empty_ws, settings())
    assert math.isnan(row(board, f"run:{RUN_ID}")["cost_per_1k_usd"])
    assert any("no price for hardware 'Mystery Accelerator'" in f for f in board.flags)
    cpu = int(empty_ws.scalar("select price_id from prices where name = 'CPU 2 vCPU (Graviton3)'"))
    priced = reply_leaderboard(empty_ws, settings(hardware_prices=(("Mystery Accelerator", cpu),)))
    assert row(priced, f"run:{RUN_ID}")["cost_per_1k_usd"] == pytest.approx(CPU_2 * 4.2 / 3.6)


def test_reply_charts_say_apis_are_not_measured_and_read_cleanly(gen_ws):
    board = reply_leaderboard(gen_ws, settings())
    frontier = reply_frontier_chart(board)
    names = [t.name for t in frontier.data]
    assert "hosted API: priced, quality not measured" in names and "frontier" in names
    total = reply_total_cost_chart(board)
    texts = list(figure_texts(frontier)) + list(figure_texts(total))
    assert not unreadable(texts), unreadable(texts)


def test_a_resumed_run_replaces_its_replies_and_one_base_row_per_base_model(empty_ws, tmp_path):
    import json

    seed_prices(empty_ws)
    run_dir = make_sft_run(tmp_path / "runs", state="failed", finished_at="2026-12-01T10:30:00+00:00")
    assert ingest_run(empty_ws, run_dir) is True
    (run_dir / "status.json").write_text(json.dumps({"state": "succeeded", "finished_at":
                                                     "2026-12-01T11:30:00+00:00", "train_seconds": 1800.0}))
    assert ingest_run(empty_ws, run_dir) is True  # resumed and finished: its rows are replaced, not doubled
    assert empty_ws.scalar("select count(*) from run_generations") == 6
    assert empty_ws.scalar("select count(*) from run_generation_eval") == 1
    ingest_run(empty_ws, make_sft_run(tmp_path / "runs", "20261202-090000-sft-smollm2", method="sft",
                                      finished_at="2026-12-02T10:00:00+00:00"))
    board = reply_leaderboard(empty_ws, settings())
    kinds = list(board.table["kind"])
    assert kinds.count("fine-tuned") == 2 and kinds.count("base model") == 1
    assert set(board.table.loc[board.table["kind"] == "fine-tuned", "candidate"]) == {
        "SFT · SmolLM2-135M-Instruct", "LoRA SFT · SmolLM2-135M-Instruct"}
    assert row(board, "base:20261202-090000-sft-smollm2")["kind"] == "base model"  # the newest run's


def test_a_set_without_intents_says_to_rank_by_rouge(empty_ws, tmp_path):
    seed_prices(empty_ws)
    no_intents = {k: v for k, v in EVAL.items() if "intent_match" not in k}
    ingest_run(empty_ws, make_sft_run(tmp_path / "runs", evaluation=no_intents))
    board = reply_leaderboard(empty_ws, settings(quality="intent_match"))
    fine = row(board, f"run:{RUN_ID}")
    assert math.isnan(fine["quality"]) and not fine["on_frontier"]
    assert math.isfinite(fine["cost_per_1k_usd"])
    assert fine["quality_basis"] == ("not measured: the data has no intent column, so replies were not "
                                     "labelled")
    assert reply_recommendation(board).startswith("This set has no intent column")
    assert generation_summary(empty_ws, RUN_ID).has_intents is False


def test_an_endpoint_judged_on_replies_is_a_measured_api_row_priced_from_its_usage(empty_ws, tmp_path):
    """evaluate-endpoint on a generation set: the reply board shows it measured (quality, CI), priced per
    token from its responses' usage at its override price, never by the client's hardware."""
    import json

    seed_prices(empty_ws)
    ingest_run(empty_ws, make_sft_run(tmp_path / "runs"))
    run_id = "20261201-130000-endpoint-gpt-4o-mini"
    evaluation = dict(EVAL, method="endpoint", rouge_l=0.31, rouge_l_ci_low=0.25, rouge_l_ci_high=0.37,
                      mean_reference_tokens=None, prefill_tokens_per_s=None, prompt_tokens_mean=150.0,
                      completion_tokens_mean=90.0, latency_p50_ms=800.0, requests_sent=6,
                      measured_at="2026-12-01T13:05:00+00:00")
    run_dir = make_sft_run(tmp_path / "runs", run_id, method="endpoint", model="gpt-4o-mini", base=False,
                           hardware="Client Laptop", evaluation=evaluation)
    config = json.loads((run_dir / "config.json").read_text())
    config.update(task="generation", endpoint={"base_url": "https://api.example.com/v1", "shots": 0},
                  price={"input_per_m_usd": 1.0, "output_per_m_usd": 4.0, "source": "your override",
                         "as_of": "2026-12-01"})
    (run_dir / "config.json").write_text(json.dumps(config))
    assert ingest_run(empty_ws, run_dir) is True
    board = reply_leaderboard(empty_ws, settings())
    endpoint = row(board, f"run:{run_id}")
    assert endpoint["kind"] == "api" and endpoint["method"] == "endpoint"
    assert endpoint["candidate"] == "gpt-4o-mini @ api.example.com"
    assert endpoint["quality"] == pytest.approx(0.31) and endpoint["quality_ci_low"] == pytest.approx(0.25)
    assert endpoint["cost_per_1k_usd"] == pytest.approx((150 * 1.0 + 90 * 4.0) / 1e6 * 1000)  # $0.51
    assert endpoint["monthly_usd"] == pytest.approx(0.51 * 100)
    assert "your override" in endpoint["cost_basis"] and "api.example.com" in endpoint["quality_basis"]
    assert not endpoint["flag"]
    assert "Client Laptop" not in generation_hardware_names(empty_ws, "bitext_customer_support")
    assert not any("Client Laptop" in f for f in board.flags)
    assert len(board.measured) == 3  # fine-tuned, base and the endpoint: all on the quality axis
    floor = [t for t in reply_frontier_chart(board).data if "not measured" in str(t.name)]
    assert floor and not any("gpt-4o-mini @" in str(text) for t in floor for text in (t.hovertext or ()))
    measured = [t for t in reply_frontier_chart(board).data if t.name in ("frontier", "dominated")]
    assert any("gpt-4o-mini @" in str(text) for t in measured for text in (t.hovertext or ()))
