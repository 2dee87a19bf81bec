"""Decisions from a leaderboard: break-even volumes, total cost curves and the one-sentence recommendation."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from analytics.compute import costs
from analytics.compute.compare.leaderboard import Leaderboard
from analytics.money import format_count, format_percent, format_usd, format_usd_per_requests

MIN_BREAK_EVEN_REQUESTS = 1.0
"""Break-even volumes below one request a month are not decisions anyone faces; they are left out."""


def break_even_points(board: Leaderboard) -> pd.DataFrame:
    """Monthly volumes (at least one request) at which two frontier candidates cost the same over the
    horizon.

    Columns: a, b, requests_per_month, total_usd (the shared total there). Pairs that never cross are left
    out.
    """
    frontier = board.priced[board.priced["on_frontier"]]
    months = board.settings.months
    out = []
    records = frontier.to_dict("records")
    for i, a in enumerate(records):
        for b in records[i + 1:]:
            fixed_a, fixed_b = _fixed(a), _fixed(b)
            volume = costs.break_even_requests_per_month(fixed_a, a["cost_per_1k_usd"], fixed_b,
                                                         b["cost_per_1k_usd"], months)
            if volume is not None and volume >= MIN_BREAK_EVEN_REQUESTS:
                total = fixed_a + months * a["cost_per_1k_usd"] * volume / 1000.0
                out.append({"a": a["candidate"], "b": b["candidate"], "requests_per_month": volume,
                            "total_usd": total})
    return pd.DataFrame(out, columns=["a", "b", "requests_per_month", "total_usd"])


def _fixed(row: Mapping[str, object]) -> float:
    training = float(row["training_usd"])
    return 0.0 if math.isnan(training) else training


def total_cost_curves(board: Leaderboard, volumes: Sequence[float] | None = None) -> pd.DataFrame:
    """Total cost over the horizon for each priced candidate at each monthly volume (long format):
    candidate, requests_per_month, total_usd, on_frontier."""
    grid = np.asarray(volumes if volumes is not None else np.logspace(0, 9, 73), dtype=float)
    months = board.settings.months
    parts = [pd.DataFrame({"candidate": r["candidate"], "requests_per_month": grid,
                           "total_usd": _fixed(r) + months * r["cost_per_1k_usd"] * grid / 1000.0,
                           "on_frontier": bool(r["on_frontier"])}) for r in board.priced.to_dict("records")]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["candidate", "requests_per_month", "total_usd", "on_frontier"])


def recommended(board: Leaderboard) -> pd.Series | None:
    """The row `recommend` names: the cheapest over the horizon meeting the target, the best value on the
    frontier without a target; None when nothing is priced or nothing meets the target."""
    priced = board.priced
    if priced.empty:
        return None
    target = board.settings.accuracy_target
    if target is None:
        return _best_value(priced)
    eligible = priced[priced["accuracy"] >= target]
    if eligible.empty:
        return None
    return eligible.sort_values(["total_usd", "accuracy"], ascending=[True, False]).iloc[0]


def recommend(board: Leaderboard) -> str:
    """One sentence: the cheapest candidate (total over the horizon) that meets the accuracy target, or the
    best value on the frontier when no target is set; says so plainly when nothing qualifies."""
    priced = board.priced
    volume = f"{format_count(board.settings.requests_per_month)} requests per month"
    requests, _ = board.unit
    if priced.empty:
        return (f"No recommendation yet: no candidate has both a measured accuracy and a cost at {volume}; "
                f"resolve the flags below (missing prices or benchmarks) or run the quick demo.")
    target = board.settings.accuracy_target
    eligible = priced if target is None else priced[priced["accuracy"] >= target]
    if eligible.empty:
        best = priced.sort_values(["accuracy", "total_usd"], ascending=[False, True]).iloc[0]
        return (f"No candidate reaches the {format_percent(target, fixed=True)} accuracy target; the most "
                f"accurate is {best['candidate']} at {_pct(best)}, costing {format_usd(best['monthly_usd'])} "
                f"a month at {volume}: collect more labels or try a larger model before deciding.")
    months = board.settings.months
    if target is None:
        choice = _best_value(priced)
        why = ("the highest of any priced candidate," if choice["accuracy"] >= priced["accuracy"].max()
               else "statistically level with the most accurate candidate (95% intervals overlap),")
        sentence = (f"At {volume}, choose {choice['candidate']}: accuracy {_pct(choice)}, {why} for the "
                    f"lowest ")
    else:
        choice = eligible.sort_values(["total_usd", "accuracy"], ascending=[True, False]).iloc[0]
        sentence = (f"At {volume}, choose {choice['candidate']}: accuracy {_pct(choice)} meets the "
                    f"{format_percent(target, fixed=True)} target at the lowest ")
    sentence += (f"cost, {format_usd(choice['monthly_usd'])} a month "
                 f"({format_usd_per_requests(choice['cost_per_1k_usd'] / 1000.0, requests)}; "
                 f"{format_usd(choice['total_usd'])} over {months} months with training)")
    better = priced[priced["accuracy_ci_low"] > choice["accuracy_ci_high"]]
    if not better.empty:
        alt = better.sort_values("total_usd").iloc[0]
        sentence += (f"; {alt['candidate']} is significantly more accurate ({_pct(alt)}) for "
                     f"{format_usd(alt['monthly_usd'] - choice['monthly_usd'])} more a month")
    return sentence + "."


def _best_value(priced: pd.DataFrame) -> pd.Series:
    """Without a target: the most accurate frontier candidate whose accuracy is not significantly below the
    best's (CIs overlap), cheapest among those."""
    frontier = priced[priced["on_frontier"]]
    top = frontier.sort_values("accuracy", ascending=False).iloc[0]
    close = frontier[frontier["accuracy_ci_high"].fillna(frontier["accuracy"]) >= top["accuracy_ci_low"]]
    return close.sort_values(["total_usd", "accuracy"], ascending=[True, False]).iloc[0]


def _pct(row: Mapping[str, object]) -> str:
    low, high = float(row["accuracy_ci_low"]), float(row["accuracy_ci_high"])
    known = math.isfinite(low) and math.isfinite(high)
    ci = f" (95% CI {format_percent(low, fixed=True)}-{format_percent(high, fixed=True)})" if known else ""
    return f"{format_percent(float(row['accuracy']), fixed=True)}{ci}"
