"""Compare charts read at a glance: explicit tick labels from analytics.money (no Plotly SI ticks like
'100µ', no e-notation), accuracy ticks that never repeat, point labels beside their error bars and inside
the plot, dollars in the leaderboard's unit."""

from __future__ import annotations

import math

import pytest

from analytics.charts import compare as charts
from analytics.compute.compare.cascade import cascade
from analytics.compute.compare.leaderboard import CompareSettings, leaderboard
from analytics.compute.compare.scaling import learning_curve, projections
from analytics.ingest.prices import seed_prices
from tests.analytics.compare_fixtures import insert_predictions, insert_run
from tests.readable import figure_texts, unreadable


@pytest.fixture
def board(empty_ws):
    seed_prices(empty_ws)
    # accuracies within two points of each other: Plotly's '.0%' would write 85%, 85%, 86%, 86%
    for run_id, method, accuracy, throughput, p50 in (("r-a", "classic", 0.851, 1330, 7.6),
                                                        ("r-b", "linear_probe", 0.858, 90, 310),
                                                        ("r-c", "full", 0.866, 40, 900)):
        insert_run(empty_ws, run_id, method=method, model="all-MiniLM-L6-v2", accuracy=accuracy, n_test=3080,
                   train_seconds=30, throughput_per_s=throughput, p50_ms=p50, per_class=16,
                   model_params=22_700_000, tokens_per_request=16.0)
        insert_predictions(empty_ws, run_id, [0.9, 0.2, 0.6, 0.4], [True, False, True, True])
    return empty_ws, leaderboard(empty_ws, CompareSettings(dataset="banking77", requests_per_month=1_000_000))


def _log_range_covers(axis_range, values) -> bool:
    return all(axis_range[0] < math.log10(v) < axis_range[1] for v in values)


def test_frontier_ticks_labels_and_unit(board) -> None:
    _, board = board
    fig = charts.pareto_chart(board)
    assert board.unit == (1_000_000, "per 1M requests")  # the TF-IDF run costs $0.03 per 1M
    assert fig.layout.xaxis.title.text == "$ per 1M requests (log)"
    y_ticks = list(fig.layout.yaxis.ticktext)
    assert len(y_ticks) >= 3 and len(set(y_ticks)) == len(y_ticks), y_ticks
    assert all(t.startswith("$") for t in fig.layout.xaxis.ticktext)
    points = [x for trace in fig.data for x in trace.x]
    # every point sits inside the axis with half a decade to spare on each side for its label
    lo, hi = fig.layout.xaxis.range
    assert all(lo + 0.49 < math.log10(x) < hi - 0.49 for x in points)
    low_tick, high_tick = fig.layout.yaxis.range
    assert all(low_tick <= y <= high_tick for trace in fig.data for y in trace.y)
    for trace in fig.data:
        # beside the marker, not centred on it: a centred label sits on the error bar
        assert all(p in ("top right", "top left", "bottom right", "bottom left") for p in trace.textposition)
    assert not unreadable(figure_texts(fig))


def test_latency_and_total_cost_axes(board) -> None:
    _, board = board
    latency = charts.latency_chart(board)
    assert set(latency.layout.xaxis.ticktext) >= {"10 ms", "100 ms", "1 s"}
    total = charts.total_cost_chart(board)
    assert "1M" in total.layout.xaxis.ticktext and "1k" in total.layout.xaxis.ticktext
    assert all(t.startswith("$") for t in total.layout.yaxis.ticktext)
    assert any(a.text == "your volume: 1M" for a in total.layout.annotations)
    volumes = [x for trace in total.data if trace.mode == "lines" for x in trace.x]
    assert min(volumes) == pytest.approx(1_000) and max(volumes) == pytest.approx(1e9)  # ±3 decades
    for fig in (latency, total):
        assert not unreadable(figure_texts(fig))


def test_cascade_learning_curve_and_projection_read(board) -> None:
    ws, board = board
    result = cascade(ws, board, "run:r-a", "run:r-c")
    figures = {"cascade": charts.cascade_chart(result),
               "learning": charts.learning_curve_chart(learning_curve(board, 0.1), 0.1),
               "projection": charts.projection_chart(projections(ws, board))}
    for name, fig in figures.items():
        assert not unreadable(figure_texts(fig)), name
    assert figures["cascade"].layout.xaxis.title.text == "$ per 1M requests"
    legend = {t.name for t in figures["learning"].data}
    assert legend == {"classic · TF-IDF", "linear probe · all-MiniLM-L6-v2", "fine-tune · all-MiniLM-L6-v2"}


def test_detector_would_catch_plotly_defaults(board) -> None:
    """The check above is not vacuous: a hover written with Python's default float format is caught."""
    _, board = board
    fig = charts.pareto_chart(board)
    fig.data[0].hovertext = [f"{v}" for v in (3.36e-06, 1e-7)]
    assert unreadable(figure_texts(fig))


def test_cascade_labels_of_clustered_points_are_not_drawn_on_top_of_each_other() -> None:
    # Three thresholds at nearly one point and one far away: one label for the cluster, one for the far point,
    # and a label repeated at another point is dropped (it would read twice).
    labels = charts._spaced_labels([1.0, 1.01, 1.02, 9.0, 5.0], [0.80, 0.801, 0.80, 0.9, 0.85],
                                   ["t=0.00", "t=0.50", "t=0.51", "t=0.90", "t=0.90"], x_span=8.0, y_span=0.1)
    assert labels == ["t=0.00", "", "", "t=0.90", ""]
    spread = charts._spaced_labels([1.0, 5.0, 9.0], [0.8, 0.85, 0.9], ["a", "b", "c"], x_span=8.0, y_span=0.1)
    assert spread == ["a", "b", "c"]
