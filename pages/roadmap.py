"""Roadmap: stages from research to launch, their dependencies, risks, milestones and budget, the budget lines
linked to measured costs; a Gantt with today's line and the critical path, and a risk matrix."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import streamlit as st

from analytics.compute.roadmap.plan import BudgetLink, Milestone, Plan, Risk, RoadmapInputError, Stage
from analytics.errors import AnalyticsError
from analytics.money import format_count, format_number, format_percent, format_usd
from pages._shared import page, workspace
from pages._shared import roadmap as roadmap_view

NEW = "(new)"
RECOMMENDED = "the recommended one"
FLASH = "_rm_flash"


def _save(plan: Plan, done: str) -> None:
    """Write `plan`; a refusal is shown in place (nothing saved), a success after the rerun."""
    try:
        roadmap_view.save(plan)
    except RoadmapInputError as e:
        st.error("Not saved: " + ("; ".join(e.problems) if len(e.problems) > 1 else e.problems[0]),
                 icon=":material/block:")
        return
    except AnalyticsError as e:
        page.show_error(e)
        return
    st.session_state[FLASH] = done
    st.rerun()


def _kpis(section: roadmap_view.RoadmapSection) -> None:
    totals, position = section.totals, section.position
    c = st.columns(5)
    c[0].metric("Budget", format_usd(totals.total_usd),
                help="The stages' own budgets (your input) + the linked lines (measured, or your estimate)")
    c[1].metric("Measured", format_usd(totals.measured_usd),
                help="Of the budget, the linked lines priced from measured costs (Compare's runs and "
                     "prices); see 'Linked budget lines' for each line's provenance")
    c[2].metric("People", format_number(totals.people),
                help="Sum of the stages' headcounts in full-time equivalents (your input)")
    c[3].metric("Critical path", f"{format_count(section.critical.days)} days",
                help="The chain of dependent stages with the largest total duration: "
                     + " -> ".join(section.critical.names))
    elapsed = "–" if position.elapsed is None else format_percent(position.elapsed)
    c[4].metric("Elapsed", elapsed, help=f"Share of the plan's calendar span behind today "
                f"({position.today}); in progress: {', '.join(position.current) or 'none'}")


def _stage_form(plan: Plan) -> None:
    names = {s.name: s for s in plan.stages}
    choice = st.selectbox("Stage to edit", [NEW, *names], key="rm_stage_pick")
    stage = names.get(choice) or Stage(stage_id=plan.next_id("stage"), name="", position=len(plan.stages) + 1,
                                       start_date=None, end_date=None)
    k = f"{stage.stage_id}"
    others = [s.name for s in plan.stages if s.stage_id != stage.stage_id]
    with st.form(f"rm_stage_form_{k}"):
        c = st.columns([2, 1, 1, 1])
        name = c[0].text_input("Name", stage.name, key=f"rm_name_{k}")
        start = c[1].date_input("Start", stage.start_date, key=f"rm_start_{k}", format="YYYY-MM-DD")
        end = c[2].date_input("End (last day)", stage.end_date, key=f"rm_end_{k}", format="YYYY-MM-DD")
        position = c[3].number_input("Position", value=stage.position, step=1, key=f"rm_pos_{k}")
        c = st.columns([2, 1, 2, 1])
        owner = c[0].text_input("Owner", stage.owner, key=f"rm_owner_{k}")
        people = c[1].number_input("People (FTE)", value=stage.people, step=0.5, key=f"rm_people_{k}",
                                   help="Headcount in full-time equivalents: 1.5 = one full-time and one "
                                        "half-time person")
        compute = c[2].text_input("Compute", stage.compute, key=f"rm_compute_{k}",
                                  help="Compute resources in words, e.g. '1 GPU for fine-tunes'")
        budget = c[3].number_input("Budget (USD)", value=float(stage.budget_usd), step=1000.0,
                                   key=f"rm_budget_{k}", help="Your own budget for the stage, without the "
                                   "linked lines")
        deps = st.multiselect("Depends on (must end before this stage starts)", others,
                              default=[plan.names[d] for d in stage.depends_on
                                       if plan.names.get(d) in others],
                              key=f"rm_deps_{k}")
        notes = st.text_input("Notes", stage.notes, key=f"rm_notes_{k}")
        submitted = st.form_submit_button("Save stage", type="primary")
    if submitted:
        ids = {s.name: s.stage_id for s in plan.stages}
        edited = replace(stage, name=name, start_date=start, end_date=end, position=int(position),
                         owner=owner, people=people, compute=compute, budget_usd=float(budget), notes=notes,
                         depends_on=tuple(ids[d] for d in deps), is_sample=False)
        _save(plan.with_stage(edited), f"Saved stage {name.strip()!r}.")
    if choice != NEW and st.button(f"Delete stage {choice!r}", key=f"rm_delete_{k}",
                                   help="Also deletes its risks, milestones and budget lines"):
        _save(plan.without_stage(stage.stage_id), f"Deleted stage {choice!r}.")


def _risk_form(plan: Plan) -> None:
    risks = {f"{r.risk_id}. {r.title}": r for r in plan.risks}
    choice = st.selectbox("Risk to edit", [NEW, *risks], key="rm_risk_pick")
    risk = risks.get(choice) or Risk(risk_id=plan.next_id("risk"), stage_id=plan.stages[0].stage_id, title="",
                                     likelihood=3, impact=3)
    k = f"{risk.risk_id}"
    stage_names = [s.name for s in plan.stages]
    with st.form(f"rm_risk_form_{k}"):
        c = st.columns([2, 3])
        stage = c[0].selectbox("Stage", stage_names, index=_index(stage_names, plan.names.get(risk.stage_id)),
                               key=f"rm_risk_stage_{k}")
        title = c[1].text_input("What could go wrong", risk.title, key=f"rm_risk_title_{k}")
        c = st.columns(2)
        likelihood = c[0].select_slider("Likelihood", [1, 2, 3, 4, 5], risk.likelihood, key=f"rm_lk_{k}",
                                        help="1 rare, 2 unlikely, 3 possible, 4 likely, 5 almost certain")
        impact = c[1].select_slider("Impact", [1, 2, 3, 4, 5], risk.impact, key=f"rm_im_{k}",
                                    help="1 minor, 2 moderate, 3 serious, 4 major, 5 severe")
        mitigation = st.text_input("Mitigation", risk.mitigation, key=f"rm_mitigation_{k}")
        submitted = st.form_submit_button("Save risk", type="primary")
    if submitted:
        ids = {s.name: s.stage_id for s in plan.stages}
        edited = replace(risk, stage_id=ids[stage], title=title, likelihood=int(likelihood),
                         impact=int(impact), mitigation=mitigation, is_sample=False)
        _save(plan.with_risk(edited), f"Saved risk {title.strip()!r}.")
    if choice != NEW and st.button("Delete this risk", key=f"rm_risk_delete_{k}"):
        _save(plan.without_risk(risk.risk_id), "Deleted the risk.")


def _milestone_form(plan: Plan) -> None:
    milestones = {f"{m.name} ({m.due_date})": m for m in plan.milestones}
    choice = st.selectbox("Milestone to edit", [NEW, *milestones], key="rm_ms_pick")
    milestone = milestones.get(choice) or Milestone(milestone_id=plan.next_id("milestone"),
                                                    stage_id=plan.stages[0].stage_id, name="", due_date=None)
    k = f"{milestone.milestone_id}"
    stage_names = [s.name for s in plan.stages]
    with st.form(f"rm_ms_form_{k}"):
        c = st.columns([1, 2, 1])
        stage = c[0].selectbox("Stage", stage_names,
                               index=_index(stage_names, plan.names.get(milestone.stage_id)),
                               key=f"rm_ms_stage_{k}")
        name = c[1].text_input("Milestone", milestone.name, key=f"rm_ms_name_{k}")
        due = c[2].date_input("Due", milestone.due_date, key=f"rm_ms_due_{k}", format="YYYY-MM-DD")
        submitted = st.form_submit_button("Save milestone", type="primary")
    if submitted:
        ids = {s.name: s.stage_id for s in plan.stages}
        edited = replace(milestone, stage_id=ids[stage], name=name, due_date=due, is_sample=False)
        _save(plan.with_milestone(edited), f"Saved milestone {name.strip()!r}.")
    if choice != NEW and st.button("Delete this milestone", key=f"rm_ms_delete_{k}"):
        _save(plan.without_milestone(milestone.milestone_id), "Deleted the milestone.")


def _link_form(plan: Plan, gen: int) -> None:
    st.caption("A linked line takes its dollars from a measurement: a run's training $, or the monthly "
               "serving $ of a Compare candidate x the stage's months. With 'the recommended one' it follows "
               "Compare's recommendation, so the budget drops when a cheaper model wins.")
    links = {f"{b.link_id}. {b.label}": b for b in plan.links}
    choice = st.selectbox("Budget line to edit", [NEW, *links], key="rm_link_pick")
    link = links.get(choice) or BudgetLink(link_id=plan.next_id("link"), stage_id=plan.stages[0].stage_id,
                                           label="", kind="serving", requests_per_month=1_000_000.0)
    k = f"{link.link_id}"
    stage_names = [s.name for s in plan.stages]
    c = st.columns([1, 2, 1])
    stage = c[0].selectbox("Stage", stage_names, index=_index(stage_names, plan.names.get(link.stage_id)),
                           key=f"rm_link_stage_{k}")
    label = c[1].text_input("Pays for", link.label, key=f"rm_link_label_{k}")
    kinds = {"serving": "a candidate's serving $", "training": "a run's training $"}
    kind = c[2].radio("Cost", list(kinds), index=list(kinds).index(link.kind), format_func=kinds.get,
                      key=f"rm_link_kind_{k}")
    values: dict[str, object] = {"run_id": None, "dataset": None, "candidate_key": None,
                                 "requests_per_month": link.requests_per_month or 1_000_000.0}
    if kind == "training":
        runs = roadmap_view.run_options(gen)
        if not runs:
            st.info("No succeeded run yet: train one on the Fine-tune page (or run the quick demo on Home).",
                    icon=":material/info:")
        else:
            ids = [r for r, _ in runs]
            values["run_id"] = st.selectbox("Run", ids, index=_index(ids, link.run_id),
                                            format_func=dict(runs).get, key=f"rm_link_run_{k}")
    else:
        sets = roadmap_view.evaluation_sets(gen)
        if link.dataset and link.dataset not in sets:
            sets = [link.dataset, *sets]
        if not sets:
            st.info("Compare has no evaluation set yet: train a run or add an API candidate first.",
                    icon=":material/info:")
        else:
            c = st.columns([1, 1, 2])
            values["dataset"] = c[0].selectbox("Evaluation set", sets, index=_index(sets, link.dataset),
                                               key=f"rm_link_set_{k}")
            volume = c[1].number_input("Requests per month", value=float(link.requests_per_month or 1e6),
                                       step=100_000.0, key=f"rm_link_volume_{k}")
            values["requests_per_month"] = float(volume)
            options = (roadmap_view.candidate_options(gen, str(values["dataset"]), float(volume))
                       if volume > 0 else [])
            keys = [RECOMMENDED, *[key for key, _ in options]]
            names = {RECOMMENDED: RECOMMENDED, **dict(options)}
            picked = c[2].selectbox("Candidate", keys, index=_index(keys, link.candidate_key),
                                    format_func=names.get, key=f"rm_link_candidate_{k}")
            values["candidate_key"] = None if picked == RECOMMENDED else picked
    estimate = st.number_input("Your estimate until it is measured (USD, optional)", value=link.estimate_usd,
                               step=100.0, key=f"rm_link_estimate_{k}")
    if st.button("Save budget line", type="primary", key=f"rm_link_save_{k}"):
        ids = {s.name: s.stage_id for s in plan.stages}
        edited = replace(link, stage_id=ids[stage], label=label, kind=kind, estimate_usd=estimate,
                         is_sample=False, **values)
        _save(plan.with_link(edited), f"Saved budget line {label.strip()!r}.")
    if choice != NEW and st.button("Delete this budget line", key=f"rm_link_delete_{k}"):
        _save(plan.without_link(link.link_id), "Deleted the budget line.")


def _index(options: list, value: object) -> int:
    return options.index(value) if value in options else 0


ws = page.start_page("Roadmap", "Stages from research to launch with owners, people, compute, budget, risks "
                                "and milestones; the critical path; budget lines tied to measured costs.")
gen = workspace.generation()
today = date.today()
if FLASH in st.session_state:
    st.success(st.session_state.pop(FLASH), icon=":material/check:")
try:
    section = roadmap_view.section(gen, today)
except AnalyticsError as e:
    page.show_error(e)
    st.stop()
plan = section.plan

if not plan.stages:
    st.info("No roadmap yet. Start from the sample roadmap (Lumen Desk's, labelled sample) or add your first "
            "stage below.", icon=":material/route:")
    if st.button("Start from the sample roadmap", key="rm_seed"):
        roadmap_view.seed_sample()
        st.rerun()
    with st.expander("Add a stage", expanded=True):
        _stage_form(plan)
    st.stop()

if plan.is_sample:
    st.info("Sample roadmap: Lumen Desk, a fictional startup (generated). Edit any stage to make it yours.",
            icon=":material/science:")
elif any(s.is_sample for s in plan.stages):
    st.caption(":material/science: Stages marked sample come from the generated sample roadmap.")
_kpis(section)

st.plotly_chart(section.gantt, width="stretch", theme=None)
st.caption(f"Critical path ({format_count(section.critical.days)} days of stages): "
           f"{' -> '.join(section.critical.names)}. "
           f"Next milestone: {section.position.next_milestone or 'none'}.")
shown = section.stages.assign(
    budget=[format_usd(v) for v in section.stages["budget_usd"]],
    sample=["sample" if s else "" for s in section.stages["is_sample"]])
st.dataframe(shown[["stage", "start_date", "end_date", "days", "status", "critical", "depends_on", "owner",
                    "people", "compute", "budget", "notes", "sample"]],
             hide_index=True, width="stretch")

left, right = st.columns(2)
left.plotly_chart(section.risk_matrix, width="stretch", theme=None)
right.markdown("**Risks** (score = likelihood x impact)")
right.dataframe(section.risks[["risk_id", "stage", "title", "score", "mitigation"]], hide_index=True,
                width="stretch")
right.markdown("**Milestones**")
right.dataframe(section.milestones[["milestone", "stage", "due_date", "status"]], hide_index=True,
                width="stretch")

st.subheader("Budget")
t = section.totals
st.markdown(f"{format_usd(t.total_usd)} in all: {format_usd(t.stages_usd)} in the stages' own budgets (your "
            f"input) and {format_usd(t.linked_usd)} in linked lines, of which {format_usd(t.measured_usd)} "
            f"measured.")
if section.linked.lines.empty:
    st.caption("No linked budget lines yet: add one under 'Edit the plan'.")
else:
    # One line each, in full: the provenance is the point (run, price row and date, or 'your estimate').
    for line in section.linked.lines.itertuples():
        mark = ":material/verified:" if line.measured else ":material/edit_note:"
        source = f" · price {line.price_source}" if line.price_source else ""
        st.markdown(f"{mark} **{line.stage} · {line.label}: {format_usd(line.amount_usd)}**  \n"
                    f"{line.provenance}{source}")

st.subheader("Edit the plan")
st.caption("Each save checks the whole plan first: dates, dependencies (a dependency must end before its "
           "dependent starts), cycles, budgets and risk scores. A refused edit saves nothing.")
tabs = st.tabs(["Stage", "Risk", "Milestone", "Budget line"])
with tabs[0]:
    _stage_form(plan)
with tabs[1]:
    _risk_form(plan)
with tabs[2]:
    _milestone_form(plan)
with tabs[3]:
    _link_form(plan, gen)
