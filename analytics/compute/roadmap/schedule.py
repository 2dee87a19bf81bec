"""The plan over time: the critical path, where today falls, and the stage table the page and charts draw.

Critical path (a reading where the issue is silent): the chain of stages, each depending on the one before,
whose durations (calendar days, both ends included) add up to the most. It is computed by a dynamic program
over a topological order (graphlib): longest(s) = duration(s) + max(longest(d) for d in s's dependencies).
Ties go to the chain whose last stage comes first in the plan. Slack between stages does not count: the path
says which stages delay the end if they run late, not the calendar span.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from graphlib import TopologicalSorter

import pandas as pd

from analytics.compute.roadmap.plan import Plan, Stage
from analytics.compute.roadmap.validate import check_plan

STATUSES = ("done", "in progress", "ahead")
"""Where a stage stands on a given day: ended before it, runs through it, starts after it."""


@dataclass(frozen=True)
class CriticalPath:
    """The longest chain of dependent stages."""

    stage_ids: tuple[int, ...]
    """From the first stage of the chain to the last."""
    names: tuple[str, ...]
    """The same stages' names."""
    days: int
    """Sum of the chain's stage durations (days, both ends included)."""


def critical_path(plan: Plan) -> CriticalPath:
    """The chain of dependent stages with the largest total duration (empty for an empty plan).

    Raises RoadmapInputError when the plan is inconsistent (a cycle has no longest chain).
    """
    check_plan(plan)
    by_id = {s.stage_id: s for s in plan.stages}
    order = tuple(TopologicalSorter({s.stage_id: set(s.depends_on) for s in plan.stages}).static_order())
    longest: dict[int, int] = {}
    previous: dict[int, int | None] = {}
    for stage_id in order:
        stage = by_id[stage_id]
        deps = sorted(stage.depends_on, key=lambda d: (-longest[d], by_id[d].position, d))
        previous[stage_id] = deps[0] if deps else None
        longest[stage_id] = stage.duration_days + (longest[deps[0]] if deps else 0)
    if not longest:
        return CriticalPath((), (), 0)
    end = min(longest, key=lambda i: (-longest[i], by_id[i].position, i))
    chain: list[int] = []
    node: int | None = end
    while node is not None:
        chain.append(node)
        node = previous[node]
    chain.reverse()
    return CriticalPath(tuple(chain), tuple(by_id[i].name for i in chain), longest[end])


def status_on(stage: Stage, today: date) -> str:
    """'done', 'in progress' or 'ahead' for `stage` on `today`."""
    if stage.end_date is not None and stage.end_date < today:
        return "done"
    if stage.start_date is not None and stage.start_date > today:
        return "ahead"
    return "in progress"


@dataclass(frozen=True)
class TodayPosition:
    """Where `today` falls in the plan."""

    today: date
    """The day asked about."""
    current: tuple[str, ...]
    """Stages in progress on that day (several may overlap)."""
    done: int
    """Stages that ended before it."""
    ahead: int
    """Stages that start after it."""
    elapsed: float | None
    """Share of the plan's calendar span (first start to last end) behind today, 0-1; None without stages."""
    next_milestone: str | None
    """'name (due date, stage)' of the first milestone due on or after today, None when none is left."""


def today_position(plan: Plan, today: date) -> TodayPosition:
    """Which stages are done, in progress and ahead on `today`, the share of the plan elapsed, and the next
    milestone."""
    statuses = [status_on(s, today) for s in plan.stages]
    dated = [s for s in plan.stages if s.start_date and s.end_date]
    elapsed = None
    if dated:
        first, last = min(s.start_date for s in dated), max(s.end_date for s in dated)
        span = (last - first).days + 1
        elapsed = min(1.0, max(0.0, ((today - first).days) / span))
    upcoming = sorted((m for m in plan.milestones if m.due_date and m.due_date >= today),
                      key=lambda m: (m.due_date, m.milestone_id))
    nxt = (f"{upcoming[0].name} ({upcoming[0].due_date}, {plan.names.get(upcoming[0].stage_id, '?')})"
           if upcoming else None)
    return TodayPosition(today=today,
                         current=tuple(s.name for s, st in zip(plan.stages, statuses, strict=True)
                                       if st == "in progress"),
                         done=statuses.count("done"), ahead=statuses.count("ahead"), elapsed=elapsed,
                         next_milestone=nxt)


STAGE_COLUMNS = ("stage_id", "stage", "position", "start_date", "end_date", "days", "owner", "people",
                 "compute", "budget_usd", "depends_on", "status", "critical", "notes", "is_sample")
"""Columns of `stage_table`."""


def stage_table(plan: Plan, today: date) -> pd.DataFrame:
    """One row per stage (STAGE_COLUMNS): dates, duration, dependencies by name, status on `today`, and
    whether it lies on the critical path."""
    critical = set(critical_path(plan).stage_ids)
    rows = [{
        "stage_id": s.stage_id, "stage": s.name, "position": s.position, "start_date": s.start_date,
        "end_date": s.end_date, "days": s.duration_days, "owner": s.owner, "people": s.people,
        "compute": s.compute, "budget_usd": s.budget_usd,
        "depends_on": ", ".join(plan.names[d] for d in s.depends_on if d in plan.names),
        "status": status_on(s, today), "critical": s.stage_id in critical, "notes": s.notes,
        "is_sample": s.is_sample,
    } for s in plan.stages]
    return pd.DataFrame(rows, columns=list(STAGE_COLUMNS))


RISK_COLUMNS = ("risk_id", "stage", "title", "likelihood", "impact", "score", "mitigation", "stage_id")
"""Columns of `risk_table`."""


def risk_table(plan: Plan) -> pd.DataFrame:
    """One row per risk (RISK_COLUMNS), highest score first, with its stage's name."""
    rows = [{"risk_id": r.risk_id, "stage": plan.names.get(r.stage_id, "?"), "title": r.title,
             "likelihood": r.likelihood, "impact": r.impact, "score": r.score, "mitigation": r.mitigation,
             "stage_id": r.stage_id}
            for r in sorted(plan.risks, key=lambda r: (-r.score, r.risk_id))]
    return pd.DataFrame(rows, columns=list(RISK_COLUMNS))


MILESTONE_COLUMNS = ("milestone_id", "milestone", "stage", "due_date", "status", "stage_id")
"""Columns of `milestone_table`."""


def milestone_table(plan: Plan, today: date) -> pd.DataFrame:
    """One row per milestone (MILESTONE_COLUMNS) by due date; status 'due' from today on, else 'past'."""
    rows = [{"milestone_id": m.milestone_id, "milestone": m.name, "stage": plan.names.get(m.stage_id, "?"),
             "due_date": m.due_date, "status": "due" if m.due_date and m.due_date >= today else "past",
             "stage_id": m.stage_id}
            for m in sorted(plan.milestones, key=lambda m: (m.due_date or date.max, m.milestone_id))]
    return pd.DataFrame(rows, columns=list(MILESTONE_COLUMNS))
