"""What the plan costs and what the newest experiment says, for the Business case page's one-screen summary.

Both are read from the workspace: the roadmap (analytics.compute.roadmap: the stages' budgets plus the budget
lines linked to measured costs, and the critical path) and the newest stored experiment
(analytics.compute.experiments: analysed with its recorded plan).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from analytics.db import Workspace
from analytics.errors import AnalyticsError
from analytics.money import format_count, format_p_value, format_points, format_usd

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlanSummary:
    """The roadmap's cost and length."""

    total_usd: float
    """Stages' budgets + linked lines."""
    measured_usd: float
    """Of it, the linked lines priced from measured costs."""
    stages: int
    """Stages in the plan."""
    critical_days: int
    """Days of stages on the critical path."""
    ends: date | None
    """The last stage's last day."""
    text: str
    """One line with its source (Roadmap page; 'sample' when it is the sample plan)."""


@dataclass(frozen=True)
class ExperimentSummary:
    """The newest stored experiment, analysed with its recorded plan."""

    title: str
    """Its title."""
    absolute_lift: float
    """Treatment rate - control rate (share points)."""
    p_value: float
    """Two-sided p-value."""
    verdict: str
    """The Experiments page's one-sentence verdict."""
    text: str
    """One line with its source."""


def plan_summary(ws: Workspace) -> PlanSummary | None:
    """The roadmap's total budget, measured part and critical path; None without stages."""
    from analytics.compute.roadmap import budget, schedule
    from analytics.compute.roadmap.plan import load_plan

    plan = load_plan(ws)
    if not plan.stages:
        return None
    totals = budget.totals(plan, budget.linked_budget(ws, plan))
    path = schedule.critical_path(plan)
    ends = max(s.end_date for s in plan.stages if s.end_date is not None)
    sample = " (sample)" if all(s.is_sample for s in plan.stages) else ""
    text = (f"Roadmap{sample}: {format_usd(totals.total_usd)} over {len(plan.stages)} stages, of which "
            f"{format_usd(totals.measured_usd)} priced from measured costs; critical path "
            f"{format_count(path.days)} days, ending {ends.isoformat()}")
    return PlanSummary(totals.total_usd, totals.measured_usd, len(plan.stages), int(path.days), ends, text)


def experiment_summary(ws: Workspace) -> ExperimentSummary | None:
    """The newest stored experiment's result; None without one, or when it cannot be analysed (its reason is
    logged: the Experiments page shows it)."""
    from analytics.compute.experiments.analysis import analyse
    from analytics.compute.experiments.catalog import list_experiments, stored_plan

    stored = list_experiments(ws)
    if stored.empty:
        return None
    row = stored.iloc[0]
    try:
        plan, _, _ = stored_plan(ws, str(row["experiment"]))
        result = analyse(ws, str(row["experiment"]), plan)
    except AnalyticsError as e:
        log.info("experiment %s not summarised: %s", row["experiment"], e)
        return None
    sample = " (sample)" if bool(row["is_sample"]) and "sample" not in str(row["title"]).lower() else ""
    text = (f"Experiment '{row['title']}'{sample}: {format_points(result.absolute_lift)} on {row['step']}, "
            f"p = {format_p_value(result.p_value)} (Experiments page)")
    return ExperimentSummary(str(row["title"]), float(result.absolute_lift), float(result.p_value),
                             result.verdict(), text)
