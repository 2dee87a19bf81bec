"""The decision memo: self-contained (plotly.js inlined once, no external script), recommendation, every
candidate, assumptions and provenance; saved atomically."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from analytics.compute.compare.candidates import add_api_candidate
from analytics.compute.compare.leaderboard import CompareSettings, leaderboard
from analytics.compute.compare.recommend import recommend
from analytics.errors import MemoError
from analytics.ingest.prices import seed_prices
from analytics.report import memo
from tests.analytics.compare_fixtures import insert_run, price_id


@pytest.fixture
def board(empty_ws):
    seed_prices(empty_ws)
    insert_run(empty_ws, "r-classic", method="classic", model="tfidf", accuracy=0.8, n_test=100,
               train_seconds=36, throughput_per_s=1000, per_class=10, api_input_tokens=500.0,
               api_output_tokens=5.0, api_tokenizer="SmolLM2-135M BPE")
    insert_run(empty_ws, "r-full", method="full", model="all-MiniLM-L6-v2", accuracy=0.9, n_test=100,
               train_seconds=360, throughput_per_s=100, p50_ms=10, per_class=20)
    insert_run(empty_ws, "r-h200", method="lora", model="all-MiniLM-L6-v2", accuracy=0.85, n_test=100,
               train_seconds=30, hardware="NVIDIA H200", throughput_per_s=5000)
    add_api_candidate(empty_ws, name="gpt-4o-mini <zero-shot>", dataset="banking77",
                              price_id=price_id(empty_ws, "gpt-4o-mini"), accuracy=0.7, n_eval=500,
                              accuracy_source="own eval & notes")
    return leaderboard(empty_ws, CompareSettings(dataset="banking77", requests_per_month=250_000))


def test_memo_is_self_contained_and_complete(board) -> None:
    text = memo.memo_html(board, memo.standard_figures(board))
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert not re.search(r"<script[^>]*\bsrc\s*=", text, re.IGNORECASE)  # nothing fetched from outside
    assert not re.search(r"<link[^>]*\bhref\s*=\s*[\"']https?:", text, re.IGNORECASE)
    assert len(re.findall(r"<script[^>]*>", text)) == 1 + 3  # plotly.js once, then one call per chart
    assert text.count("plotly.js v") >= 1 and len(text) > 3_000_000  # the library itself is inlined
    assert html.escape(recommend(board)) in text
    for name in board.table["candidate"]:
        assert html.escape(name) in text
    assert "gpt-4o-mini &lt;zero-shot&gt; (API)" in text and "<zero-shot>" not in text  # escaped
    assert "own eval &amp; notes" in text  # the accuracy's source is in the provenance table
    assert "no price for hardware &#x27;NVIDIA H200&#x27;" in text  # open issues are shown, not hidden
    assert "250,000 requests per month" in text
    # price source and date
    assert "pydantic/genai-prices prices/providers/openai.yml, as of 2025-07-04" in text


def test_save_memo_is_atomic_and_refuses_other_suffixes(board, tmp_path: Path) -> None:
    text = memo.memo_html(board, {})
    saved = memo.save_memo(text, tmp_path / "memos" / "decision.html")
    assert saved.read_text(encoding="utf-8") == text
    assert [p.name for p in saved.parent.iterdir()] == ["decision.html"]  # no temporary file left
    with pytest.raises(MemoError, match=r"\.html file"):
        memo.save_memo(text, tmp_path / "decision.txt")
    blocked = tmp_path / "file"
    blocked.write_text("x")
    with pytest.raises(MemoError, match="cannot write the memo"):
        memo.save_memo(text, blocked / "decision.html")


def test_memo_filename() -> None:
    from datetime import datetime

    settings = CompareSettings(dataset="BANKING 77/test", requests_per_month=1)
    assert memo.memo_filename(settings, datetime(2026, 3, 1)) == "decision-memo-banking-77-test-20260301.html"


def test_memo_numbers_read_at_a_glance(board, empty_ws) -> None:
    """No e-notation and no '$0.0000' anywhere a reader looks: the memo's text and every chart string;
    dollars per 1M requests when per 1k is below a cent; prices with their date or 'undated' once, in the
    price table; the busy note only when a measurement was busy."""
    from analytics.ingest.prices import price_table
    from tests.readable import figure_texts, unreadable, visible_html_text

    figures = memo.standard_figures(board)
    text = memo.memo_html(board, figures, catalog=price_table(empty_ws).set_index("price_id", drop=False))
    visible = visible_html_text(text)
    assert not unreadable([visible])
    for name, fig in figures.items():
        assert not unreadable(figure_texts(fig)), name
    assert "$ per 1M requests" in visible  # the CPU runs cost fractions of a cent per 1k
    assert "<h2>Prices used</h2>" in text and "undated" in visible
    assert "as of undated" not in visible
    assert "busy" not in visible  # no measurement was busy


def test_memo_lists_a_busy_measurement_once(empty_ws) -> None:
    from tests.readable import visible_html_text

    seed_prices(empty_ws)
    insert_run(empty_ws, "r-busy", method="linear_probe", model="all-MiniLM-L6-v2", accuracy=0.88, n_test=100,
               train_seconds=100, throughput_per_s=24.5, p50_ms=320, inference_load_average=10.5,
               inference_cpu_count=2)
    board = leaderboard(empty_ws, CompareSettings(dataset="banking77", requests_per_month=1_000_000))
    visible = visible_html_text(memo.memo_html(board, {}))
    assert visible.count("machine busy while measured (load 10.5 on 2 cores)") == 2  # the list + provenance
    assert "Open issues" not in visible  # a busy measurement is a note, not an open issue
