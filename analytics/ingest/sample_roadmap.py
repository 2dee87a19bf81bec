"""The sample roadmap of Lumen Desk (the fictional startup of analytics.ingest.sample_data): seven stages from
research to scale around 2026-12-01 (four done, beta in progress, launch and scale ahead), owners, headcount,
compute, budgets, risks, milestones, and two serving lines linked to Compare's recommended candidate on the
demo evaluation set (banking77), priced from measurements once the quick demo has trained its runs.

Every row is written with is_sample = true; the page labels the plan 'sample'.
"""

from __future__ import annotations

import logging
from datetime import date

from analytics.compute.roadmap.plan import BudgetLink, Milestone, Plan, Risk, Stage
from analytics.compute.roadmap.store import write_plan
from analytics.compute.roadmap.validate import check_plan
from analytics.db import Transaction

log = logging.getLogger(__name__)

SAMPLE_TODAY = date(2026, 12, 1)
"""The day the sample roadmap is written around (beta in progress)."""
SAMPLE_DATASET = "banking77"
"""The evaluation set of the quick demo (models.jobs.demo_plan.DEMO_DATASET) the linked lines price on."""

_STAGES = (  # id, name, start, end, owner, people, compute, budget $, depends on, notes
    (1, "Research", date(2026, 1, 5), date(2026, 3, 27), "Maya Chen (CEO)", 2.0, "laptops",
     30_000.0, (), "market sizing, 25 customer interviews"),
    (2, "Data", date(2026, 3, 30), date(2026, 6, 19), "Ravi Patel (ML lead)", 2.5,
     "1 CPU server, labelling tool", 45_000.0, (1,), "intent taxonomy, 12k labelled tickets"),
    (3, "Prototype", date(2026, 6, 22), date(2026, 9, 25), "Ravi Patel (ML lead)", 3.0,
     "1 GPU for fine-tunes (Fine-tune page)", 60_000.0, (2,), "intent classifier + reply drafts"),
    (4, "Compliance", date(2026, 7, 1), date(2027, 1, 15), "Lena Novak (ops)", 1.0, "none",
     40_000.0, (1,), "SOC 2 type I, DPA templates"),
    (5, "Beta", date(2026, 9, 28), date(2027, 1, 29), "Sam Okafor (product)", 4.0,
     "CPU serving, 2 vCPU", 80_000.0, (3,), "20 design partners"),
    (6, "Launch", date(2027, 2, 1), date(2027, 3, 31), "Maya Chen (CEO)", 5.0, "CPU serving, autoscaled",
     50_000.0, (4, 5), "public launch, self-serve plans"),
    (7, "Scale", date(2027, 4, 1), date(2027, 12, 17), "Sam Okafor (product)", 8.0,
     "CPU serving, autoscaled", 250_000.0, (6,), "enterprise plan, EU region"),
)
_RISKS = (  # id, stage, title, likelihood, impact, mitigation
    (1, 2, "Design partners' labelled tickets arrive late", 3, 4,
     "start on the public banking77 intents; label 2k tickets in-house"),
    (2, 3, "Fine-tuned classifier below 85% accuracy", 2, 4, "compare LoRA and a linear probe on Compare"),
    (3, 4, "SOC 2 audit slips past launch", 2, 5, "book the auditor early; launch to SMB first"),
    (4, 5, "Serving cost per 1k requests above plan", 3, 3,
     "pick the cheapest candidate on Compare; cascade"),
    (5, 5, "Design partners churn before converting", 3, 5, "weekly check-ins; success plan per partner"),
    (6, 6, "A competitor launches a cheaper plan", 4, 3, "lead on accuracy; annual discount"),
    (7, 7, "p95 latency above 300 ms at peak", 2, 3, "load-test on Compare; autoscale on queue depth"),
)
_MILESTONES = (  # id, stage, name, due
    (1, 1, "Market sized, go decision", date(2026, 3, 20)),
    (2, 2, "12k tickets labelled", date(2026, 6, 12)),
    (3, 3, "Classifier at 85% on banking77", date(2026, 9, 18)),
    (4, 5, "Private beta opens", date(2026, 10, 5)),
    (5, 5, "20 design partners live", date(2026, 12, 15)),
    (6, 6, "Public launch", date(2027, 3, 15)),
    (7, 7, "1,000 paying accounts", date(2027, 12, 1)),
)


def sample_plan() -> Plan:
    """Lumen Desk's roadmap (every record is_sample)."""
    stages = tuple(Stage(stage_id=i, name=name, position=i, start_date=start, end_date=end, owner=owner,
                         people=people, compute=compute, budget_usd=budget, notes=notes, depends_on=deps,
                         is_sample=True)
                   for i, name, start, end, owner, people, compute, budget, deps, notes in _STAGES)
    risks = tuple(Risk(i, s, title, lk, im, mitigation, is_sample=True)
                  for i, s, title, lk, im, mitigation in _RISKS)
    milestones = tuple(Milestone(i, s, name, due, is_sample=True) for i, s, name, due in _MILESTONES)
    links = (
        BudgetLink(1, 5, "Serving the intent classifier during beta", "serving", dataset=SAMPLE_DATASET,
                   requests_per_month=300_000.0, estimate_usd=200.0, is_sample=True),
        BudgetLink(2, 7, "Serving at scale", "serving", dataset=SAMPLE_DATASET,
                   requests_per_month=3_000_000.0, estimate_usd=2_500.0, is_sample=True),
    )
    return Plan(stages=stages, risks=risks, milestones=milestones, links=links)


def seed_sample_roadmap(tx: Transaction) -> int:
    """Write the sample roadmap inside the caller's transaction, replacing an earlier sample roadmap; returns
    the stages written. A roadmap with any stage of the user's own is left alone (returns 0)."""
    own = tx.scalar("select count(*) from roadmap_stages where not is_sample",
                    label="checking for a roadmap of your own")
    if own:
        log.info("sample roadmap not written: the workspace has %d stages of its own", own)
        return 0
    plan = check_plan(sample_plan())
    write_plan(tx, plan)
    return len(plan.stages)
