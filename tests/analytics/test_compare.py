"""Compare leaderboard on hand-inserted runs and API candidates: exact dollars, flags, refusals, cascade
against a brute-force loop over run_predictions, learning curve, break-even, recommendation, scaling
plans."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from analytics.compute.compare.candidates import add_api_candidate, data_signature, import_api_predictions
from analytics.compute.compare.cascade import cascade
from analytics.compute.compare.leaderboard import CompareSettings, Leaderboard, leaderboard
from analytics.compute.compare.pricing import match_price
from analytics.compute.compare.recommend import break_even_points, recommend
from analytics.compute.compare.scaling import learning_curve, projections, scaling_plans
from analytics.compute.stats import wilson_interval
from analytics.errors import CostInputError
from analytics.ingest.prices import seed_prices
from tests.analytics.compare_fixtures import insert_predictions, insert_run, price_id

CPU_2 = 0.0725  # $/h of 'CPU 2 vCPU (Graviton3)' in data/prices.csv
MINI_IN, MINI_OUT = 0.15, 0.60  # gpt-4o-mini $ per 1M tokens


@pytest.fixture
def filled(empty_ws):
    seed_prices(empty_ws)
    insert_run(empty_ws, "r-classic", method="classic", model="tfidf", accuracy=0.8, n_test=100,
               train_seconds=36, throughput_per_s=1000, per_class=10, api_input_tokens=500.0,
               api_output_tokens=5.0, api_tokenizer="SmolLM2-135M BPE")
    insert_run(empty_ws, "r-full", method="full", model="all-MiniLM-L6-v2", accuracy=0.9, n_test=100,
               train_seconds=360, throughput_per_s=100, p50_ms=10, per_class=20, model_params=22_700_000,
               tokens_per_request=16.0)
    return empty_ws


def settings(**changes) -> CompareSettings:
    return CompareSettings(**{"dataset": "banking77", "requests_per_month": 1_000_000, **changes})


def row(board: Leaderboard, key: str) -> pd.Series:
    return board.table.set_index("key").loc[key]


def test_self_hosted_dollars_match_hand_computation(filled) -> None:
    board = leaderboard(filled, settings(utilisation=0.5))
    classic = row(board, "run:r-classic")
    # $0.0725/h / 3600 s / (1000 req/s x 0.5) x 1000 requests
    per_1k = CPU_2 / 3600 / (1000 * 0.5) * 1000
    assert classic["cost_per_1k_usd"] == pytest.approx(per_1k, rel=1e-12)
    assert classic["training_usd"] == pytest.approx(36 / 3600 * CPU_2, rel=1e-12)  # 0.000725
    assert classic["monthly_usd"] == pytest.approx(per_1k * 1000, rel=1e-12)
    assert classic["total_usd"] == pytest.approx(36 / 3600 * CPU_2 + 12 * per_1k * 1000, rel=1e-12)
    assert classic["total_usd"] == pytest.approx(0.4840583333, rel=1e-9)
    assert classic["price_label"] == "CPU 2 vCPU (Graviton3) · AWS c7g.large us-east-1"
    assert "1,000 requests/s measured x 50% utilisation" in classic["cost_basis"]
    assert classic["accuracy_basis"].startswith("measured on 100 test texts of banking77, run r-classic")
    full = row(board, "run:r-full")
    assert full["cost_per_1k_usd"] == pytest.approx(CPU_2 / 3600 / 50 * 1000, rel=1e-12)
    assert list(board.table["key"]) == ["run:r-classic", "run:r-full"]  # frontier, cheapest first
    assert board.table["on_frontier"].all()
    assert board.flags == ()


def test_api_cost_uses_the_test_texts_token_counts(filled) -> None:
    add_api_candidate(filled, name="gpt-4o-mini zero-shot", dataset="banking77",
                              price_id=price_id(filled, "gpt-4o-mini"), accuracy=0.7, n_eval=500,
                              accuracy_source="own eval of 500 texts")
    board = leaderboard(filled, settings())
    api = board.table[board.table["kind"] == "api"].iloc[0]
    per_1k = (500 * MINI_IN + 5 * MINI_OUT) / 1e6 * 1000  # 0.078
    assert api["cost_per_1k_usd"] == pytest.approx(0.078, rel=1e-12) == pytest.approx(per_1k)
    assert api["total_usd"] == pytest.approx(12 * 0.078 * 1000)  # 936, no training
    assert api["training_usd"] == 0.0 and math.isnan(api["p50_ms"])
    low, high = wilson_interval(0.7 * 500, 500)
    assert (api["accuracy_ci_low"], api["accuracy_ci_high"]) == (low, high)
    assert 0.65 < low < 0.7 < high < 0.75
    assert "counted on the test texts with the SmolLM2-135M BPE tokenizer" in api["cost_basis"]
    assert not api["on_frontier"]  # dearer and less accurate than both runs


def test_hardware_without_price_is_flagged_not_hidden(filled) -> None:
    insert_run(filled, "r-h200", method="lora", model="all-MiniLM-L6-v2", accuracy=0.85, n_test=100,
               train_seconds=30, hardware="NVIDIA H200", throughput_per_s=5000)
    board = leaderboard(filled, settings())
    lora = row(board, "run:r-h200")
    assert math.isnan(lora["cost_per_1k_usd"]) and not lora["on_frontier"]
    assert board.flags == ("LoRA · all-MiniLM-L6-v2: no price for hardware 'NVIDIA H200': "
                           "pick a price row for it under 'Hardware prices'",)
    assert "run:r-h200" not in set(board.priced["key"])
    chosen = leaderboard(filled, settings(hardware_prices=(("NVIDIA H200", price_id(filled, "H100 SXM")),)))
    assert row(chosen, "run:r-h200")["cost_per_1k_usd"] == pytest.approx(6.88 / 3600 / (5000 * 0.5) * 1000)
    assert chosen.flags == ()


def test_missing_benchmark_and_token_counts_are_flagged(empty_ws) -> None:
    seed_prices(empty_ws)
    insert_run(empty_ws, "r-old", method="classic", model="tfidf", accuracy=0.8, n_test=100, train_seconds=36)
    add_api_candidate(empty_ws, name="haiku", dataset="banking77", price_id=price_id(empty_ws,
                              "claude-haiku-4-5"), accuracy=0.9, n_eval=200, accuracy_source="vendor blog")
    board = leaderboard(empty_ws, settings())
    assert board.priced.empty
    assert any("no inference benchmark" in f for f in board.flags)
    assert any("haiku (API): no token count" in f for f in board.flags)
    assert recommend(board).startswith("No recommendation yet")


@pytest.mark.parametrize(("changes", "message"), [
    ({"requests_per_month": 0}, "requests per month must be more than zero"),
    ({"requests_per_month": -5}, "requests per month must be more than zero"),
    ({"utilisation": 0}, "utilisation must be more than zero"),
    ({"utilisation": 1.5}, "implausibly large"),
    ({"accuracy_target": 87}, "between 0 and 100%"),
])
def test_settings_refuse_nonsense(changes, message) -> None:
    with pytest.raises(CostInputError, match=message):
        settings(**changes)


@pytest.mark.parametrize(("changes", "message"), [
    ({"accuracy_source": "   "}, "say where the accuracy comes from"),
    ({"accuracy_source": None}, "say where the accuracy comes from"),
    ({"accuracy": 87.0}, "fraction between 0 and 1"),
    ({"accuracy": -0.1}, "zero or more"),
    ({"n_eval": 0}, "whole number >= 1"),
    ({"name": ""}, "give the API candidate a name"),
    ({"input_tokens_per_request": 0}, "input tokens per request must be more than zero"),
])
def test_api_candidate_refusals(filled, changes, message) -> None:
    values = {"name": "x", "dataset": "banking77", "price_id": price_id(filled, "gpt-4o-mini"),
              "accuracy": 0.7, "n_eval": 100, "accuracy_source": "eval"} | changes
    with pytest.raises(CostInputError, match=message):
        add_api_candidate(filled, **values)
    assert filled.scalar("select count(*) from api_candidates") == 0


def test_api_candidate_needs_an_api_price_and_a_free_name(filled) -> None:
    with pytest.raises(CostInputError, match="is a cpu price"):
        add_api_candidate(filled, name="x", dataset="banking77",
                          price_id=price_id(filled, "CPU 2 vCPU (Graviton3)"), accuracy=0.7, n_eval=10,
                          accuracy_source="s")
    values = {"name": "x", "dataset": "banking77", "price_id": price_id(filled, "gpt-4o-mini"),
              "accuracy": 0.7, "n_eval": 10, "accuracy_source": "s"}
    add_api_candidate(filled, **values)
    with pytest.raises(CostInputError, match="already exists"):
        add_api_candidate(filled, **values)


def test_imported_predictions_give_accuracy_and_a_cascade_fallback(filled) -> None:
    insert_predictions(filled, "r-classic", [0.9, 0.2, 0.6, 0.4], [True, False, True, False])
    mini = price_id(filled, "gpt-4o-mini")
    with pytest.raises(CostInputError, match="not in run r-classic's test set"):
        import_api_predictions(filled, name="api", price_id=mini, run_id="r-classic", file_name="p.csv",
                               predictions=pd.DataFrame({"text_id": ["t0", "zz"], "pred_label": ["a", "a"]}))
    with pytest.raises(CostInputError, match="missing pred_label"):
        import_api_predictions(filled, name="api", price_id=mini, run_id="r-classic", file_name="p.csv",
                               predictions=pd.DataFrame({"text_id": ["t0"]}))
    frame = pd.DataFrame({"text_id": ["t0", "t1", "t2", "t3"], "pred_label": ["a", "a", "b", "a"]})
    cid = import_api_predictions(filled, name="api", price_id=mini, run_id="r-classic",
                                 predictions=frame, file_name="api_preds.csv")
    stored = filled.rows(
        "select accuracy, n_eval, accuracy_source from api_candidates where candidate_id = ?", [cid])
    assert stored == [(0.75, 4, "imported predictions: api_preds.csv")]
    board = leaderboard(filled, settings())
    result = cascade(filled, board, "run:r-classic", f"api:{cid}")
    assert result.n_examples == 4 and result.big_alone[0] == 0.75


def brute_force_cascade(small: pd.DataFrame, big: pd.DataFrame, threshold: float, small_cost: float,
                        big_cost: float) -> tuple[float, float]:
    """(accuracy, $/1k) by looping over examples one by one."""
    correct, deferred = 0, 0
    big_by_id = dict(zip(big["text_id"], big["correct"], strict=True))
    for r in small.itertuples():
        if r.confidence < threshold:
            deferred += 1
            correct += bool(big_by_id[r.text_id])
        else:
            correct += bool(r.correct)
    return correct / len(small), small_cost + deferred / len(small) * big_cost


def test_cascade_matches_brute_force_over_run_predictions(filled) -> None:
    confidences = [0.95, 0.2, 0.6, 0.4, 0.6, 0.85, 0.1, 0.5]
    insert_predictions(filled, "r-classic", confidences, [True, False, True, False, False, True, False, True])
    insert_predictions(filled, "r-full", [0.9] * 8, [True, True, False, True, True, True, True, False])
    board = leaderboard(filled, settings())
    result = cascade(filled, board, "run:r-classic", "run:r-full")
    small = filled.sql("select text_id, confidence, correct from run_predictions where run_id = 'r-classic'")
    big = filled.sql("select text_id, correct from run_predictions where run_id = 'r-full'")
    small_cost = row(board, "run:r-classic")["cost_per_1k_usd"]
    big_cost = row(board, "run:r-full")["cost_per_1k_usd"]
    assert len(result.curve) == len(set(confidences)) + 2  # 0, every distinct confidence, just above 1
    for r in result.curve.itertuples():
        accuracy, cost = brute_force_cascade(small, big, r.threshold, small_cost, big_cost)
        assert r.accuracy == pytest.approx(accuracy) and r.cost_per_1k_usd == pytest.approx(cost)
    # threshold 0.6 defers the 4 texts below it (0.2, 0.4, 0.1, 0.5): t1, t3, t6 fixed by the big model,
    # t7 lost
    at_06 = result.curve[result.curve["threshold"] == 0.6].iloc[0]
    assert at_06["accuracy"] == 6 / 8 and at_06["deferred_share"] == 4 / 8
    assert result.curve["best"].any()
    assert (result.curve.loc[result.curve["best"], "accuracy"].max() == result.curve["accuracy"].max())
    with pytest.raises(CostInputError, match="api:1 is not a candidate"):
        cascade(filled, board, "api:1", "run:r-full")


def test_learning_curve_prices_the_labels(filled) -> None:
    board = leaderboard(filled, settings())
    curve = learning_curve(board, cost_per_label_usd=0.25)
    # fixture runs have 4 labels: 10/class -> 40 labels -> $10; 20/class -> 80 labels -> $20
    shown = curve[["series", "examples_per_class", "labels", "labelling_usd", "accuracy"]]
    assert shown.to_dict("records") == [
        {"series": "classic · TF-IDF", "examples_per_class": 10.0, "labels": 40.0, "labelling_usd": 10.0,
         "accuracy": 0.8},
        {"series": "fine-tune · all-MiniLM-L6-v2", "examples_per_class": 20.0, "labels": 80.0,
         "labelling_usd": 20.0, "accuracy": 0.9}]
    with pytest.raises(CostInputError):
        learning_curve(board, -1)


def test_break_even_and_recommendation(filled) -> None:
    # an API that is more accurate than both runs and needs no training: cheaper at tiny volumes only
    add_api_candidate(filled, name="big api", dataset="banking77", price_id=price_id(filled, "gpt-4o-mini"),
                      accuracy=0.97, n_eval=2000, accuracy_source="own eval", input_tokens_per_request=100,
                      output_tokens_per_request=0)
    board = leaderboard(filled, settings(requests_per_month=1000))
    api_per_1k = 100 * MINI_IN / 1e6 * 1000  # 0.015
    full = row(board, "run:r-full")
    points = break_even_points(board)
    pair = points[(points["a"] == full["candidate"]) | (points["b"] == full["candidate"])]
    expected = 1000 * (full["training_usd"] - 0) / (12 * (api_per_1k - full["cost_per_1k_usd"]))
    assert pair["requests_per_month"].iloc[0] == pytest.approx(expected)
    sentence = recommend(board)
    assert sentence.startswith("At 1,000 requests per month, choose big api (API): accuracy 97.0%")
    target = recommend(leaderboard(filled, settings(accuracy_target=0.85)))
    assert "meets the 85.0% target" in target
    none = recommend(leaderboard(filled, settings(accuracy_target=0.99)))
    assert none.startswith("No candidate reaches the 99.0% accuracy target; "
                           "the most accurate is big api (API)")


def test_match_price_defaults(filled) -> None:
    from analytics.ingest.prices import price_table

    catalog = price_table(filled)
    names = catalog.set_index("price_id")["name"]
    assert names[match_price("CPU x2", catalog)] == "CPU 2 vCPU (Graviton3)"
    assert names[match_price("CPU x8", catalog)] == "CPU 8 vCPU (Graviton3)"
    assert match_price("CPU x16", catalog) is None
    assert names[match_price("NVIDIA H100 80GB HBM3", catalog)].startswith("H100")
    assert names[match_price("NVIDIA A100-SXM4-80GB", catalog)].startswith("A100")
    assert names[match_price("Tesla T4", catalog)] == "T4"
    assert match_price("NVIDIA H200", catalog) is None


def test_scaling_plans_and_projections(filled) -> None:
    plans = scaling_plans(filled, 1e9, 2e10, "full", 0.4).set_index("gpu")
    h100 = plans.loc["H100 SXM · RunPod community"]
    assert h100["flops"] == 6 * 1e9 * 2e10
    assert h100["gpus"] == 1 and h100["memory_per_gpu_gb"] == pytest.approx(18.0)
    assert h100["wall_hours"] == pytest.approx(1.2e20 / (989e12 * 0.4) / 3600)
    assert h100["cost_usd"] == pytest.approx(h100["wall_hours"] * 2.69)
    big = scaling_plans(filled, 70e9, 1.4e12, "full").set_index("gpu")
    assert big.loc["T4 · Modal", "gpus"] == math.ceil(70e9 * 18 / 1e9 / (16 * 0.8))
    with pytest.raises(CostInputError, match="method must be one of"):
        scaling_plans(filled, 1e9, 1e9, "adapter")
    board = leaderboard(filled, settings())
    projection = projections(filled, board, mfu=0.3)
    assert set(projection["candidate"]) == {row(board, "run:r-full")["candidate"]}  # classic has no params
    t4 = projection[projection["gpu"] == "T4 · Modal"].iloc[0]
    assert t4["requests_per_s"] == pytest.approx(65e12 * 0.3 / (2 * 22_700_000 * 16))
    assert t4["basis"].startswith("estimate, compute-bound")


def test_data_signature_moves_with_every_writer(filled) -> None:
    from analytics.ingest.prices import update_price

    before = data_signature(filled)
    assert before == (2, 2, 0, 0, 0, 0)
    add_api_candidate(filled, name="x", dataset="banking77", price_id=price_id(filled, "gpt-4o-mini"),
                              accuracy=0.7, n_eval=10, accuracy_source="s")
    update_price(filled, price_id(filled, "gpt-4o-mini"), "input_per_m_usd", 0.2, "new price page")
    assert data_signature(filled) == (2, 2, 1, 1, 0, 0)


def test_migration_005_keeps_candidates_and_lets_prices_change(tmp_path, monkeypatch) -> None:
    import shutil

    from analytics import db
    from analytics.ingest.prices import update_price

    old = tmp_path / "migrations"
    old.mkdir()
    for path in sorted(db.MIGRATIONS_DIR.glob("00[1-4]_*.sql")):
        shutil.copy(path, old / path.name)
    monkeypatch.setattr(db, "MIGRATIONS_DIR", old)
    ws = db.Workspace.open(tmp_path / "w.duckdb", seed_demo=False)
    seed_prices(ws)
    mini = price_id(ws, "gpt-4o-mini")
    add_api_candidate(ws, name="x", dataset="banking77", price_id=mini, accuracy=0.7, n_eval=10,
                              accuracy_source="s")
    ws.close()
    monkeypatch.undo()
    ws = db.Workspace.open(tmp_path / "w.duckdb", seed_demo=False)  # applies 005
    try:
        assert ws.rows("select name, price_id, accuracy from api_candidates") == [("x", mini, 0.7)]
        update_price(ws, mini, "input_per_m_usd", 0.2, "new price page")
        assert ws.scalar("select input_per_m_usd from prices where price_id = ?", [mini]) == 0.2
    finally:
        ws.close()


def test_a_busy_benchmark_gets_one_note_and_a_remeasure_entry_not_a_flag(filled) -> None:
    insert_run(filled, "r-busy", method="linear_probe", model="all-MiniLM-L6-v2", accuracy=0.88, n_test=100,
               train_seconds=100, throughput_per_s=24.5, p50_ms=320, inference_load_average=10.5,
               inference_cpu_count=2)
    board = leaderboard(filled, settings())
    busy = row(board, "run:r-busy")
    assert busy["latency_basis"].endswith("; machine busy while measured (load 10.5 on 2 cores)")
    assert busy["measure_note"] == "machine busy while measured (load 10.5 on 2 cores)"
    assert busy["flag"] == "" and not any("busy" in f for f in board.flags)  # a note, not a warning box
    assert [(r.key, r.run_id) for r in board.remeasure] == [("run:r-busy", "r-busy")]
    assert math.isfinite(busy["cost_per_1k_usd"])  # still priced: noted, not hidden
    assert row(board, "run:r-full")["measure_note"] == ""  # an idle measurement says nothing


@pytest.mark.parametrize("fields, note", [
    # the robust measurement's own verdict wins over the load average
    ({"busy": False, "p50_spread": 0.04, "throughput_spread": 0.03, "inference_load_average": 3.0}, ""),
    ({"busy": True, "p50_spread": 0.04, "throughput_spread": 0.03, "inference_load_average": 3.0},
     "machine busy while measured (load 3 on 2 cores)"),
    # spreads are interquartile range / median: ± half of that
    ({"busy": False, "p50_spread": 0.34, "throughput_spread": 0.03}, "p50 varied ±17% between repeats"),
    ({"busy": False, "p50_spread": 0.28, "throughput_spread": 0.18}, ""),
    ({"busy": False, "p50_spread": 0.05, "throughput_spread": 0.24},
     "throughput varied ±12% between repeats"),
    # older benchmarks: load above the core count
    ({"inference_load_average": 2.5}, "machine busy while measured (load 2.5 on 2 cores)"),
    ({"inference_load_average": 1.5}, ""),
])
def test_measurement_note_only_when_the_measurement_is_unreliable(fields, note) -> None:
    from analytics.compute.compare.leaderboard import measurement_note

    run = {"inference_cpu_count": 2, **fields}
    assert measurement_note(run, fields.get("p50_spread", math.nan),
                            fields.get("throughput_spread", math.nan)) == note


def test_robust_figures_read_through_from_new_runs_columns(filled) -> None:
    """Columns a later migration adds to runs (spreads, repeats, busy) reach the leaderboard: compare_runs
    selects every runs column."""
    with filled.transaction() as tx:
        for column, kind in (("p50_spread", "double"), ("throughput_spread", "double"),
                             ("repeats", "integer")):
            tx.execute(f"alter table runs add column if not exists {column} {kind}")
    insert_run(filled, "r-robust", method="linear_probe", model="all-MiniLM-L6-v2", accuracy=0.88,
               n_test=100, train_seconds=100, throughput_per_s=240, p50_ms=12, p50_spread=0.04,
               throughput_spread=0.02, repeats=5)
    robust = row(leaderboard(filled, settings()), "run:r-robust")
    assert robust["p50_spread"] == pytest.approx(0.04)
    assert "(repeats within ±2% p50, ±1% throughput; 5 repeats)" in robust["latency_basis"]


def test_candidate_names_are_short_and_unique(filled) -> None:
    for run_id in ("20261201-112818-linear_probe-all-minilm-l6-v2", "20261201-113500-linear_probe-x"):
        insert_run(filled, run_id, method="linear_probe", model="sentence-transformers/all-MiniLM-L6-v2",
                   accuracy=0.84, n_test=100, train_seconds=20, throughput_per_s=50, per_class=16)
    names = set(leaderboard(filled, settings()).table["candidate"])
    assert names == {"classic · TF-IDF, 10/class", "fine-tune · all-MiniLM-L6-v2, 20/class",
                     "linear probe · all-MiniLM-L6-v2, 16/class (run of 12-01 11:28:18)",
                     "linear probe · all-MiniLM-L6-v2, 16/class (run of 12-01 11:35:00)"}
