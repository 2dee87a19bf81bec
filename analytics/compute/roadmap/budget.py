"""Budget lines linked to measured costs, and the plan's totals.

A 'training' line is a run's training $ as Compare's leaderboard prices it (measured training seconds x the
hourly price of the machine it trained on). A 'serving' line is a Compare candidate's monthly serving $ at the
line's volume x the stage's months; with no candidate named it follows whichever candidate Compare recommends
now, so the plan's compute budget drops when a cheaper model wins. A line whose cost is not measured
yet counts the planner's estimate (labelled 'your estimate'), or nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from analytics.compute.compare.leaderboard import CompareSettings, Leaderboard, leaderboard
from analytics.compute.compare.recommend import recommended
from analytics.compute.roadmap.plan import BudgetLink, Plan, Stage
from analytics.db import Workspace
from analytics.errors import AnalyticsError
from analytics.money import format_count, format_number, format_usd

LINE_COLUMNS = ("link_id", "stage", "label", "kind", "amount_usd", "measured", "candidate", "run_id",
                "provenance", "price_source")
"""Columns of `LinkedBudget.lines`. amount_usd: the measured cost, else the estimate, else 0."""
TRAINING_VOLUME = 1_000_000
"""Volume of the leaderboard a training line reads (training $ does not depend on it)."""


@dataclass(frozen=True)
class LinkedBudget:
    """Every linked line of the plan, priced now."""

    lines: pd.DataFrame
    """One row per line (LINE_COLUMNS), in stage order."""

    @property
    def measured_usd(self) -> float:
        """Sum of the lines whose cost is measured."""
        return float(self.lines.loc[self.lines["measured"].astype(bool), "amount_usd"].sum())

    @property
    def total_usd(self) -> float:
        """Sum of every line (measured, or the estimate)."""
        return float(self.lines["amount_usd"].sum())


def linked_budget(ws: Workspace, plan: Plan) -> LinkedBudget:
    """Price each linked line of `plan` from the Compare machinery, with its provenance."""
    boards: dict[tuple[str, float], Leaderboard | str] = {}
    rows = []
    for link in sorted(plan.links, key=lambda b: (_position(plan, b.stage_id), b.link_id)):
        stage = plan.stage(link.stage_id)
        row = _training_line(ws, link, boards) if link.kind == "training" else _serving_line(
            ws, link, stage, boards)
        if not row["measured"]:
            row = _fallback(link, row)
        rows.append({"link_id": link.link_id, "stage": stage.name, "label": link.label, "kind": link.kind,
                     **row})
    return LinkedBudget(pd.DataFrame(rows, columns=list(LINE_COLUMNS)))


def _position(plan: Plan, stage_id: int) -> int:
    return next((s.position for s in plan.stages if s.stage_id == stage_id), 0)


def _board(ws: Workspace, dataset: str, volume: float,
           boards: dict[tuple[str, float], Leaderboard | str]) -> Leaderboard | str:
    """The leaderboard of `dataset` at `volume` (once per call), or the reason it cannot be computed."""
    key = (dataset, float(volume))
    if key not in boards:
        try:
            boards[key] = leaderboard(ws, CompareSettings(dataset=dataset, requests_per_month=float(volume)))
        except AnalyticsError as e:
            boards[key] = f"Compare could not price {dataset}: {e}"
    return boards[key]


def _training_line(ws: Workspace, link: BudgetLink, boards: dict) -> dict[str, object]:
    dataset = ws.scalar("select dataset from runs where run_id = ?", [link.run_id])
    if dataset is None:
        return _unmeasured(f"run {link.run_id} is not in this workspace (train it on Fine-tune, or link "
                           f"another run)", run_id=link.run_id)
    board = _board(ws, str(dataset), TRAINING_VOLUME, boards)
    if isinstance(board, str):
        return _unmeasured(board, run_id=link.run_id)
    match = board.table[board.table["key"] == f"run:{link.run_id}"]
    if match.empty:
        return _unmeasured(f"run {link.run_id} is not a succeeded run with an accuracy on {dataset}",
                           run_id=link.run_id)
    row = match.iloc[0]
    if not math.isfinite(float(row["training_usd"])):
        why = row["training_basis"] or row["flag"] or "its training machine has no price"
        return _unmeasured(f"run {link.run_id}: {why}", run_id=link.run_id, candidate=str(row["candidate"]))
    return {"amount_usd": float(row["training_usd"]), "measured": True, "candidate": str(row["candidate"]),
            "run_id": link.run_id, "provenance": f"run {link.run_id}: {row['training_basis']}",
            "price_source": str(row["price_source"] or "")}


def _serving_line(ws: Workspace, link: BudgetLink, stage: Stage, boards: dict) -> dict[str, object]:
    volume = float(link.requests_per_month or 0)
    board = _board(ws, str(link.dataset), volume, boards)
    if isinstance(board, str):
        return _unmeasured(board)
    if link.candidate_key:
        match = board.table[board.table["key"] == link.candidate_key]
        if match.empty:
            return _unmeasured(f"candidate {link.candidate_key} is not on {link.dataset} any more: pick "
                               f"another "
                               f"candidate or 'the recommended one'")
        row, how = match.iloc[0], "chosen"
    else:
        row, how = recommended(board), "recommended on Compare now"
        if row is None:
            return _unmeasured(f"no priced candidate on {link.dataset} yet: train a run or add an API "
                               f"candidate "
                               f"on Compare")
    monthly = float(row["monthly_usd"])
    if not math.isfinite(monthly):
        return _unmeasured(f"{row['candidate']} has no serving price: {row['flag']}",
                           candidate=str(row["candidate"]))
    run_id = None if pd.isna(row["run_id"]) else str(row["run_id"])
    source = f"run {run_id}, {how}" if run_id else how
    provenance = (f"{row['candidate']} ({source}): {format_usd(monthly)} a month at "
                  f"{format_count(volume)} requests a month on {link.dataset} ({row['cost_basis']}) x "
                  f"{format_number(stage.months)} months of {stage.name}")
    return {"amount_usd": monthly * stage.months, "measured": True, "candidate": str(row["candidate"]),
            "run_id": run_id, "provenance": provenance, "price_source": str(row["price_source"] or "")}


def _unmeasured(reason: str, *, run_id: str | None = None, candidate: str = "") -> dict[str, object]:
    return {"amount_usd": 0.0, "measured": False, "candidate": candidate, "run_id": run_id,
            "provenance": f"not measured yet: {reason}", "price_source": ""}


def _fallback(link: BudgetLink, row: dict[str, object]) -> dict[str, object]:
    if link.estimate_usd is None:
        return {**row, "provenance": f"{row['provenance']}; counted as $0"}
    return {**row, "amount_usd": float(link.estimate_usd),
            "provenance": f"your estimate {format_usd(link.estimate_usd)} ({row['provenance']})"}


@dataclass(frozen=True)
class Totals:
    """The plan's money and people."""

    stages_usd: float
    """Sum of the stages' own budgets (your input)."""
    linked_usd: float
    """Sum of the linked lines (measured, or your estimate)."""
    measured_usd: float
    """Of the linked lines, the part that is measured."""
    people: float
    """Sum of the stages' headcounts (full-time equivalents; a person on two stages counts twice)."""

    @property
    def total_usd(self) -> float:
        """Stages' budgets + linked lines."""
        return self.stages_usd + self.linked_usd


def totals(plan: Plan, linked: LinkedBudget) -> Totals:
    """The plan's budget: the stages' own budgets plus the linked lines, and how much of it is measured."""
    return Totals(stages_usd=float(sum(s.budget_usd for s in plan.stages)), linked_usd=linked.total_usd,
                  measured_usd=linked.measured_usd,
                  people=float(sum(s.people or 0.0 for s in plan.stages)))


def run_choices(ws: Workspace) -> list[tuple[str, str]]:
    """(run_id, 'run_id · method model on dataset') of the succeeded runs a training line can link, newest
    first."""
    rows = ws.rows("select run_id, method, model, dataset from runs where state = 'succeeded' "
                   "order by finished_at desc nulls last, run_id")
    return [(str(r), f"{r} · {m} {model} on {d}") for r, m, model, d in rows]


def candidate_choices(ws: Workspace, dataset: str, requests_per_month: float) -> list[tuple[str, str]]:
    """(leaderboard key, candidate name) of the candidates on `dataset` with a serving price at
    `requests_per_month`, cheapest first; empty when Compare cannot price the set."""
    board = _board(ws, dataset, requests_per_month, {})
    if isinstance(board, str):
        return []
    priced = board.priced.sort_values(["monthly_usd", "candidate"])
    return [(str(k), str(c)) for k, c in zip(priced["key"], priced["candidate"], strict=True)]
