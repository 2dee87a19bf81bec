"""The roadmap's records (stages, risks, milestones, linked budget lines), loading them, and pure edits.

A `Plan` is an immutable snapshot: the page edits a copy (`with_stage`, `with_risk`...), validation checks the
copy (analytics.compute.roadmap.validate), and `save_plan` writes it whole in one transaction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import date

import pandas as pd

from analytics.compute.costs import DAYS_PER_MONTH
from analytics.db import Workspace
from analytics.errors import AnalyticsError

LINK_KINDS = ("training", "serving")
"""'training': a run's measured training $; 'serving': a Compare candidate's monthly serving $ x the stage's
months."""


class RoadmapError(AnalyticsError):
    """The roadmap cannot be loaded or saved."""


class RoadmapInputError(RoadmapError, ValueError):
    """An edit would make the plan inconsistent; nothing was saved. `problems` lists each finding with what to
    change."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems: list[str] = list(problems or [message])


@dataclass(frozen=True)
class Stage:
    """One stage of the plan (research, data, prototype, ...)."""

    stage_id: int
    """Key of the stage (dependencies, risks, milestones and budget lines point at it)."""
    name: str
    """What the stage is called on screen; unique in the plan."""
    position: int
    """Order of the stage in tables and on the Gantt (top first)."""
    start_date: date | None
    """First day of the stage; None only while an edit is being checked (a stage needs dates to be saved)."""
    end_date: date | None
    """Last day of the stage (inclusive): a one-day stage starts and ends on the same day."""
    owner: str = ""
    """Who answers for the stage."""
    people: float | None = None
    """Headcount in full-time equivalents (1.5 = one full-time and one half-time person); None: not
    planned."""
    compute: str = ""
    """Compute resources in words ('1 x H200 for 2 weeks', 'CPU only')."""
    budget_usd: float = 0.0
    """The planner's own budget for the stage in US dollars (salaries, tools...), without linked lines."""
    notes: str = ""
    """Free text."""
    depends_on: tuple[int, ...] = ()
    """stage_ids that must end before this stage starts."""
    is_sample: bool = False
    """Part of the generated sample roadmap."""

    @property
    def duration_days(self) -> int:
        """Calendar days from start to end, both included (0 when a date is missing)."""
        if self.start_date is None or self.end_date is None:
            return 0
        return (self.end_date - self.start_date).days + 1

    @property
    def months(self) -> float:
        """Duration in months of 30.44 days (analytics.compute.costs.DAYS_PER_MONTH)."""
        return self.duration_days / DAYS_PER_MONTH


@dataclass(frozen=True)
class Risk:
    """A risk of one stage."""

    risk_id: int
    """Key of the risk."""
    stage_id: int
    """The stage it threatens."""
    title: str
    """What could go wrong."""
    likelihood: int
    """1 (rare) to 5 (almost certain)."""
    impact: int
    """1 (minor) to 5 (severe)."""
    mitigation: str = ""
    """What the team does about it."""
    is_sample: bool = False
    """Part of the generated sample roadmap."""

    @property
    def score(self) -> int:
        """likelihood x impact, 1-25."""
        return int(self.likelihood) * int(self.impact)


@dataclass(frozen=True)
class Milestone:
    """A dated milestone of one stage."""

    milestone_id: int
    """Key of the milestone."""
    stage_id: int
    """The stage it belongs to."""
    name: str
    """What is reached ('private beta opens')."""
    due_date: date | None
    """When it is due."""
    is_sample: bool = False
    """Part of the generated sample roadmap."""


@dataclass(frozen=True)
class BudgetLink:
    """A budget line of a stage whose dollars come from a measured cost (analytics.compute.roadmap.budget)."""

    link_id: int
    """Key of the line."""
    stage_id: int
    """The stage whose budget it adds to."""
    label: str
    """What the line pays for ('intent classifier fine-tune', 'serving during beta')."""
    kind: str
    """'training' (run_id's training $) or 'serving' (a candidate's monthly $ x the stage's months)."""
    run_id: str | None = None
    """The run whose training $ is the line (kind 'training')."""
    dataset: str | None = None
    """Compare evaluation set of the candidate (kind 'serving')."""
    candidate_key: str | None = None
    """Leaderboard key ('run:<id>', 'api:<id>'); None: whichever candidate Compare recommends now."""
    requests_per_month: float | None = None
    """Volume the serving $ is priced at (kind 'serving')."""
    estimate_usd: float | None = None
    """The planner's figure, used (and labelled 'your estimate') until the cost is measured."""
    is_sample: bool = False
    """Part of the generated sample roadmap."""


@dataclass(frozen=True)
class Plan:
    """The whole roadmap."""

    stages: tuple[Stage, ...] = ()
    """Stages (kept in position order)."""
    risks: tuple[Risk, ...] = ()
    """Risks (kept in id order; schedule.risk_table orders them by score)."""
    milestones: tuple[Milestone, ...] = ()
    """Milestones (kept in id order; schedule.milestone_table orders them by due date)."""
    links: tuple[BudgetLink, ...] = ()
    """Budget lines linked to measured costs (kept in id order)."""
    names: dict[int, str] = field(init=False, repr=False, compare=False)
    """stage_id -> name (derived)."""

    def __post_init__(self) -> None:
        # one canonical order, so two plans with the same records compare equal however they were built
        object.__setattr__(self, "stages", tuple(sorted(self.stages, key=lambda s: (s.position, s.stage_id))))
        object.__setattr__(self, "risks", tuple(sorted(self.risks, key=lambda r: r.risk_id)))
        object.__setattr__(self, "milestones", tuple(sorted(self.milestones, key=lambda m: m.milestone_id)))
        object.__setattr__(self, "links", tuple(sorted(self.links, key=lambda b: b.link_id)))
        object.__setattr__(self, "names", {s.stage_id: s.name for s in self.stages})

    @property
    def is_sample(self) -> bool:
        """True when every stage is part of the sample roadmap (and there is at least one)."""
        return bool(self.stages) and all(s.is_sample for s in self.stages)

    def stage(self, stage_id: int) -> Stage:
        """The stage with `stage_id`; raises RoadmapInputError naming the known stages."""
        for s in self.stages:
            if s.stage_id == stage_id:
                return s
        raise RoadmapInputError(f"no stage with id {stage_id}; stages are: "
                                f"{', '.join(self.names.values()) or 'none yet'}")

    def next_id(self, kind: str) -> int:
        """A free id for a new 'stage', 'risk', 'milestone' or 'link'."""
        ids = {"stage": [s.stage_id for s in self.stages], "risk": [r.risk_id for r in self.risks],
               "milestone": [m.milestone_id for m in self.milestones],
               "link": [b.link_id for b in self.links]}[kind]
        return max(ids, default=0) + 1

    # -- pure edits: each returns a new Plan --------------------------------------------------------------
    def with_stage(self, stage: Stage) -> Plan:
        """The plan with `stage` replacing the stage of the same id, or added."""
        return replace(self, stages=(*[s for s in self.stages if s.stage_id != stage.stage_id], stage))

    def without_stage(self, stage_id: int) -> Plan:
        """The plan without the stage and everything that points at it (its risks, milestones, budget lines,
        and other stages' dependencies on it)."""
        stages = tuple(replace(s, depends_on=tuple(d for d in s.depends_on if d != stage_id))
                       for s in self.stages if s.stage_id != stage_id)
        return Plan(stages=stages, risks=tuple(r for r in self.risks if r.stage_id != stage_id),
                    milestones=tuple(m for m in self.milestones if m.stage_id != stage_id),
                    links=tuple(b for b in self.links if b.stage_id != stage_id))

    def with_risk(self, risk: Risk) -> Plan:
        """The plan with `risk` replacing the risk of the same id, or added."""
        return replace(self, risks=(*[r for r in self.risks if r.risk_id != risk.risk_id], risk))

    def without_risk(self, risk_id: int) -> Plan:
        return replace(self, risks=tuple(r for r in self.risks if r.risk_id != risk_id))

    def with_milestone(self, milestone: Milestone) -> Plan:
        """The plan with `milestone` replacing the milestone of the same id, or added."""
        kept = [m for m in self.milestones if m.milestone_id != milestone.milestone_id]
        return replace(self, milestones=(*kept, milestone))

    def without_milestone(self, milestone_id: int) -> Plan:
        return replace(self, milestones=tuple(m for m in self.milestones if m.milestone_id != milestone_id))

    def with_link(self, link: BudgetLink) -> Plan:
        """The plan with `link` replacing the line of the same id, or added."""
        return replace(self, links=(*[b for b in self.links if b.link_id != link.link_id], link))

    def without_link(self, link_id: int) -> Plan:
        return replace(self, links=tuple(b for b in self.links if b.link_id != link_id))


def load_plan(ws: Workspace) -> Plan:
    """The workspace's roadmap (empty Plan when none was made)."""
    stages = tuple(_stage(r) for r in ws.query("roadmap_stages").to_dict("records"))
    risks = tuple(Risk(int(r["risk_id"]), int(r["stage_id"]), str(r["title"]), int(r["likelihood"]),
                       int(r["impact"]), _text(r["mitigation"]), bool(r["is_sample"]))
                  for r in ws.query("roadmap_risks").to_dict("records"))
    milestones = tuple(Milestone(int(r["milestone_id"]), int(r["stage_id"]), str(r["name"]),
                                 _day(r["due_date"]), bool(r["is_sample"]))
                       for r in ws.query("roadmap_milestones").to_dict("records"))
    links = tuple(_link(r) for r in ws.query("roadmap_budget_links").to_dict("records"))
    return Plan(stages=stages, risks=risks, milestones=milestones, links=links)


def _stage(r: dict[str, object]) -> Stage:
    people = r["people"]
    return Stage(stage_id=int(r["stage_id"]), name=str(r["name"]), position=int(r["position"]),
                 start_date=_day(r["start_date"]), end_date=_day(r["end_date"]), owner=_text(r["owner"]),
                 people=None if _missing(people) else float(people), compute=_text(r["compute"]),
                 budget_usd=float(r["budget_usd"]), notes=_text(r["notes"]),
                 depends_on=tuple(int(d) for d in r["depends_on"]), is_sample=bool(r["is_sample"]))


def _link(r: dict[str, object]) -> BudgetLink:
    return BudgetLink(link_id=int(r["link_id"]), stage_id=int(r["stage_id"]), label=str(r["label"]),
                      kind=str(r["kind"]), run_id=_optional_text(r["run_id"]),
                      dataset=_optional_text(r["dataset"]), candidate_key=_optional_text(r["candidate_key"]),
                      requests_per_month=_optional_float(r["requests_per_month"]),
                      estimate_usd=_optional_float(r["estimate_usd"]), is_sample=bool(r["is_sample"]))


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT


def _day(value: object) -> date | None:
    if _missing(value):
        return None
    return pd.Timestamp(value).date()


def _text(value: object) -> str:
    return "" if _missing(value) else str(value)


def _optional_text(value: object) -> str | None:
    return None if _missing(value) or str(value) == "" else str(value)


def _optional_float(value: object) -> float | None:
    return None if _missing(value) else float(value)
