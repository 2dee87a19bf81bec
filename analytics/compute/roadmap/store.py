"""Writing a plan: validated first, then every roadmap table replaced in one transaction (all or nothing)."""

from __future__ import annotations

import logging

import pandas as pd

from analytics.compute.roadmap.plan import Plan
from analytics.compute.roadmap.validate import check_plan
from analytics.db import Transaction, Workspace

log = logging.getLogger(__name__)

TABLES = ("roadmap_stages", "roadmap_dependencies", "roadmap_risks", "roadmap_milestones",
          "roadmap_budget_links")
"""The roadmap's tables (migration 010)."""


def save_plan(ws: Workspace, plan: Plan) -> Plan:
    """Validate `plan` and make it the workspace's roadmap; returns it.

    Raises RoadmapInputError (nothing written) when a check fails: a stage without dates, an end before its
    start, a dependency that does not end before its dependent starts, a cycle, a negative budget, a
    likelihood or impact outside 1-5. Raises WorkspaceError / QueryError when the write fails (rolled back).
    """
    check_plan(plan)
    with ws.transaction() as tx:
        write_plan(tx, plan)
    log.info("saved roadmap: %d stages, %d risks, %d milestones, %d budget lines", len(plan.stages),
             len(plan.risks), len(plan.milestones), len(plan.links))
    return plan


def write_plan(tx: Transaction, plan: Plan) -> None:
    """Replace the roadmap tables with `plan` inside the caller's transaction (validate it first)."""
    for table in TABLES:
        tx.execute(f"delete from {table}", label=f"emptying {table}")  # noqa: S608 - fixed table names
    for table, frame in plan_frames(plan).items():
        if len(frame):
            tx.insert_frame(table, frame)


def plan_frames(plan: Plan) -> dict[str, pd.DataFrame]:
    """One DataFrame per roadmap table, in the tables' column names."""
    stages = pd.DataFrame([{
        "stage_id": s.stage_id, "name": s.name.strip(), "position": s.position, "start_date": s.start_date,
        "end_date": s.end_date, "owner": s.owner or None, "people": s.people, "compute": s.compute or None,
        "budget_usd": float(s.budget_usd), "notes": s.notes or None, "is_sample": s.is_sample,
    } for s in plan.stages])
    deps = pd.DataFrame([{"stage_id": s.stage_id, "depends_on": d, "is_sample": s.is_sample}
                         for s in plan.stages for d in s.depends_on])
    risks = pd.DataFrame([{
        "risk_id": r.risk_id, "stage_id": r.stage_id, "title": r.title.strip(),
        "likelihood": int(r.likelihood), "impact": int(r.impact), "mitigation": r.mitigation or None,
        "is_sample": r.is_sample,
    } for r in plan.risks])
    milestones = pd.DataFrame([{
        "milestone_id": m.milestone_id, "stage_id": m.stage_id, "name": m.name.strip(),
        "due_date": m.due_date, "is_sample": m.is_sample,
    } for m in plan.milestones])
    links = pd.DataFrame([{
        "link_id": b.link_id, "stage_id": b.stage_id, "label": b.label.strip(), "kind": b.kind,
        "run_id": b.run_id, "dataset": b.dataset, "candidate_key": b.candidate_key,
        "requests_per_month": b.requests_per_month, "estimate_usd": b.estimate_usd, "is_sample": b.is_sample,
    } for b in plan.links])
    for frame, columns in ((stages, ("start_date", "end_date")), (milestones, ("due_date",))):
        for column in columns:
            if len(frame):
                frame[column] = pd.to_datetime(frame[column]).dt.date
    return dict(zip(TABLES, (stages, deps, risks, milestones, links), strict=True))
