"""Checks a plan must pass before it is written: each finding names the stage and says what to change.

Readings where the issue is silent:
- a stage's end date is its last working day (inclusive), so a one-day stage starts and ends the same day;
- a dependency must END BEFORE its dependent STARTS (strictly: the day after at the earliest). A stage that
  depends on a stage ending on or after its own start is refused;
- a cycle of dependencies is named in order ('Data -> Prototype -> Data').
"""

from __future__ import annotations

import math
from graphlib import CycleError, TopologicalSorter

from analytics.compute.roadmap.plan import (
    LINK_KINDS,
    BudgetLink,
    Milestone,
    Plan,
    Risk,
    RoadmapInputError,
    Stage,
)
from analytics.money import format_number


def problems(plan: Plan) -> list[str]:
    """Every reason `plan` cannot be saved, each with what to change (empty: the plan is consistent)."""
    found: list[str] = []
    names = [s.name.strip() for s in plan.stages]
    for name in sorted({n for n in names if names.count(n) > 1}):
        found.append(f"two stages are called {name!r}: rename one of them")
    for stage in plan.stages:
        found += _stage_problems(stage)
    found += _dependency_problems(plan)
    found += _cycle_problems(plan)
    for risk in plan.risks:
        found += _risk_problems(plan, risk)
    for milestone in plan.milestones:
        found += _milestone_problems(plan, milestone)
    for link in plan.links:
        found += _link_problems(plan, link)
    return found


def check_plan(plan: Plan) -> Plan:
    """Return `plan` when it is consistent; else raise RoadmapInputError listing every problem."""
    found = problems(plan)
    if found:
        if len(found) == 1:
            raise RoadmapInputError(f"{found[0]} (nothing was saved)", found)
        raise RoadmapInputError(f"{len(found)} problems, nothing was saved: " + "; ".join(found), found)
    return plan


def _stage_problems(stage: Stage) -> list[str]:
    label = f"stage {stage.name.strip()!r}" if stage.name.strip() else f"stage {stage.stage_id}"
    found = []
    if not stage.name.strip():
        found.append(f"{label} has no name: give it one, e.g. 'Beta'")
    if stage.start_date is None or stage.end_date is None:
        dates = (("start", stage.start_date), ("end", stage.end_date))
        missing = " and ".join(w for w, d in dates if d is None)
        found.append(f"{label} has no {missing} date: pick one (a stage needs both dates to be planned)")
    elif stage.end_date < stage.start_date:
        found.append(f"{label} ends {stage.end_date} before it starts {stage.start_date}: move the end date "
                     f"to {stage.start_date} or later, or the start date earlier")
    if not _finite(stage.budget_usd) or stage.budget_usd < 0:
        found.append(f"{label} has a budget of {format_number(stage.budget_usd)} USD: a budget cannot be "
                     f"negative; enter 0 or more")
    if stage.people is not None and (not _finite(stage.people) or stage.people < 0):
        found.append(f"{label} has {format_number(stage.people)} people: enter a headcount of 0 or more (1.5 "
                     f"for one full-time and one half-time person)")
    return found


def _dependency_problems(plan: Plan) -> list[str]:
    found = []
    by_id = {s.stage_id: s for s in plan.stages}
    for stage in plan.stages:
        for dep_id in stage.depends_on:
            dep = by_id.get(dep_id)
            if dep_id == stage.stage_id:
                found.append(f"stage {stage.name!r} depends on itself: remove it from its own dependencies")
            elif dep is None:
                found.append(f"stage {stage.name!r} depends on stage id {dep_id}, which is not in the plan: "
                             f"remove the dependency")
            elif None not in (dep.end_date, stage.start_date) and dep.end_date >= stage.start_date:
                found.append(f"stage {stage.name!r} starts {stage.start_date} but depends on {dep.name!r}, "
                             f"which ends {dep.end_date}: a dependency must end before its dependent starts; "
                             f"start {stage.name!r} after {dep.end_date} or end {dep.name!r} before "
                             f"{stage.start_date}, or remove the dependency")
    return found


def _cycle_problems(plan: Plan) -> list[str]:
    """A cycle of dependencies, named in order (graphlib finds one when there is any)."""
    known = {s.stage_id for s in plan.stages}
    graph = {s.stage_id: {d for d in s.depends_on if d in known and d != s.stage_id} for s in plan.stages}
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as e:
        cycle = list(reversed(e.args[1]))  # graphlib lists it dependency-first; read it as 'x needs y'
        path = " -> ".join(plan.names.get(i, str(i)) for i in cycle)
        return [f"the dependencies form a cycle: {path} (each needs the next to finish first); remove one of "
                f"these dependencies"]
    return []


def _risk_problems(plan: Plan, risk: Risk) -> list[str]:
    title = risk.title.strip()
    label = f"risk {title!r}" if title else f"risk {risk.risk_id}"
    found = []
    if not title:
        found.append(f"{label} has no title: say what could go wrong")
    if risk.stage_id not in plan.names:
        found.append(f"{label} belongs to stage id {risk.stage_id}, which is not in the plan: pick a stage")
    for what, value, scale in (("likelihood", risk.likelihood, "1 = rare, 5 = almost certain"),
                               ("impact", risk.impact, "1 = minor, 5 = severe")):
        if not _whole(value) or not 1 <= value <= 5:
            found.append(f"{label} has {what} {value!r}: enter a whole number from 1 to 5 ({scale})")
    return found


def _milestone_problems(plan: Plan, milestone: Milestone) -> list[str]:
    name = milestone.name.strip()
    label = f"milestone {name!r}" if name else f"milestone {milestone.milestone_id}"
    found = []
    if not name:
        found.append(f"{label} has no name: say what is reached, e.g. 'private beta opens'")
    if milestone.stage_id not in plan.names:
        found.append(f"{label} belongs to stage id {milestone.stage_id}, which is not in the plan: pick a "
                     f"stage")
    if milestone.due_date is None:
        found.append(f"{label} has no due date: pick one")
    return found


def _link_problems(plan: Plan, link: BudgetLink) -> list[str]:
    label = f"budget line {link.label.strip()!r}" if link.label.strip() else f"budget line {link.link_id}"
    found = []
    if not link.label.strip():
        found.append(f"{label} has no label: say what it pays for, e.g. 'serving during beta'")
    if link.stage_id not in plan.names:
        found.append(f"{label} belongs to stage id {link.stage_id}, which is not in the plan: pick a stage")
    if link.kind not in LINK_KINDS:
        found.append(f"{label} has kind {link.kind!r}: use 'training' (a run's training $) or 'serving' (a "
                     f"Compare candidate's monthly $)")
    if link.kind == "training" and not link.run_id:
        found.append(f"{label} links a training cost but names no run: pick a run")
    if link.kind == "serving":
        if not link.dataset:
            found.append(f"{label} links a serving cost but names no evaluation set: pick one on which "
                         f"Compare has candidates")
        rpm = link.requests_per_month
        if rpm is None or not _finite(rpm) or rpm <= 0:
            found.append(f"{label} needs a volume above 0 requests per month to price serving (e.g. "
                         f"1,000,000)")
    if link.estimate_usd is not None and (not _finite(link.estimate_usd) or link.estimate_usd < 0):
        found.append(f"{label} has an estimate of {format_number(link.estimate_usd)} USD: enter 0 or more, "
                     f"or leave it empty")
    return found


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value: object) -> bool:
    return _finite(value) and float(value).is_integer()
