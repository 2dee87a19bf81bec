"""Cascades: a small model answers when it is confident and defers to a big one otherwise, from stored
predictions."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.compute import costs
from analytics.compute.compare.leaderboard import Leaderboard
from analytics.db import Workspace
from analytics.errors import CostInputError


@dataclass(frozen=True)
class Cascade:
    """`cascade()`'s result."""

    curve: pd.DataFrame
    """threshold, deferred_share, accuracy, cost_per_1k_usd, best (on the cascade's own frontier)."""
    small: str
    """Leaderboard name of the model that answers first."""
    big: str
    """Leaderboard name of the model that answers when the small one is unsure."""
    n_examples: int
    """Test texts both candidates scored (the curve is computed on these)."""
    small_alone: tuple[float, float]
    """(accuracy, $/1k) of the small model alone on those texts."""
    big_alone: tuple[float, float]
    """(accuracy, $/1k) of the big model alone on those texts."""


def cascade(ws: Workspace, board: Leaderboard, small_key: str, big_key: str) -> Cascade:
    """Simulate 'small answers when its confidence >= threshold, else big answers' from stored predictions.

    `small_key` must be a run (it needs confidences); `big_key` a run or an API candidate with imported
    predictions. Costs come from the leaderboard (small always runs; big only on deferred texts).
    Raises CostInputError when a candidate has no cost, no predictions, or the two share no test texts.
    """
    rows = board.table.set_index("key")
    for key in (small_key, big_key):
        if key not in rows.index:
            raise CostInputError(f"{key} is not a candidate on {board.settings.dataset}")
        if not math.isfinite(float(rows.loc[key, "cost_per_1k_usd"])):
            raise CostInputError(f"{rows.loc[key, 'candidate']} has no cost per request yet: "
                                 f"{rows.loc[key, 'flag']}")
    if not small_key.startswith("run:"):
        raise CostInputError("the first model of a cascade must be one of your runs (it needs a confidence "
                             "score)")
    big_run = big_key.removeprefix("run:") if big_key.startswith("run:") else None
    big_api = int(big_key.removeprefix("api:")) if big_key.startswith("api:") else None
    pairs = ws.query("compare_cascade_pairs", small_run_id=small_key.removeprefix("run:"), big_run_id=big_run,
                     big_candidate_id=big_api)
    if pairs.empty:
        raise CostInputError("the two candidates share no scored test texts (an API needs imported "
                             "predictions on the same test set); pick another pair")
    small_cost = float(rows.loc[small_key, "cost_per_1k_usd"])
    big_cost = float(rows.loc[big_key, "cost_per_1k_usd"])
    curve = costs.cascade_curve(pairs["small_confidence"], pairs["small_correct"], pairs["big_correct"],
                                small_cost, big_cost)
    curve["best"] = costs.pareto_mask(curve["cost_per_1k_usd"], curve["accuracy"])
    return Cascade(curve=curve, small=str(rows.loc[small_key, "candidate"]),
                   big=str(rows.loc[big_key, "candidate"]), n_examples=len(pairs),
                   small_alone=(float(pairs["small_correct"].mean()), small_cost),
                   big_alone=(float(pairs["big_correct"].mean()), big_cost))


def cascade_operating_points(result: Cascade, max_points: int = 5) -> pd.DataFrame:
    """A few best thresholds to show: the cheapest that matches the big model's accuracy (if any), the most
    accurate, and evenly spaced frontier points in between."""
    best = result.curve[result.curve["best"]].sort_values("cost_per_1k_usd")
    if len(best) <= max_points:
        return best.reset_index(drop=True)
    picks = set(np.linspace(0, len(best) - 1, max_points).round().astype(int))
    matches = np.flatnonzero(best["accuracy"].to_numpy() >= result.big_alone[0])
    if len(matches):
        picks.add(int(matches[0]))
    return best.iloc[sorted(picks)].reset_index(drop=True)
