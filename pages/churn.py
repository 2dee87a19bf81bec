"""Churn: which accounts are about to cancel, from the workspace's own events (features in DuckDB, models
trained as a background job), with ROC-AUC and PR-AUC, calibration, MRR at risk and what drives the score."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from analytics.compute.churn.features import HORIZONS_DAYS
from analytics.errors import AnalyticsError
from analytics.money import format_count, format_number, format_percent, format_usd
from models.errors import StratLabModelError
from pages._shared import churn as churn_view
from pages._shared import page, runs, workspace

TRAIN_LABEL = "Build features and train"


def _pick_request(gen: int) -> tuple[date, int] | None:
    """Horizon and cut-off widgets (cut-off defaults to the data's last day minus the horizon); None (and
    the reason, in place) when the data cannot answer them."""
    span = churn_view.span(gen)
    if span.last_day is None or span.first_signup is None:
        st.info("Churn reads the workspace's accounts, users and events tables (the sample data fills them); "
                "this workspace has none yet.", icon=":material/info:")
        return None
    left, right, note = st.columns([1, 1, 3])
    horizon = left.selectbox("Horizon (days)", HORIZONS_DAYS, index=len(HORIZONS_DAYS) - 1, key="ch_horizon",
                             help="Churned = a cancel within this many days after the cut-off")
    default = max(span.first_signup, span.default_cutoff(horizon) or span.last_day)
    # one cut-off widget per horizon, so that changing the horizon moves the default with it
    cutoff = right.date_input("Cut-off day", value=default, key=f"ch_cutoff_{horizon}", format="YYYY-MM-DD",
                              min_value=span.first_signup - timedelta(days=365), max_value=span.last_day,
                              help="Features see the events up to the end of this day; the label looks at "
                                   "the days after it")
    note.caption(f"Data: accounts from {span.first_signup}, events up to {span.last_day} "
                 f"({format_count(span.accounts)} accounts). Models are scored on {span.last_day}: every "
                 f"account active that day.")
    problem = churn_view.refusal(gen, cutoff, horizon)
    if problem:
        st.warning(problem, icon=":material/event_busy:")
        return None
    return cutoff, horizon


def _train(request: tuple[date, int] | None) -> None:
    clicked = st.button(TRAIN_LABEL, type="primary", icon=":material/model_training:",
                        disabled=request is None,
                        help="Writes the feature folder, then trains logistic regression, gradient boosting "
                             "and an MLP as one background job")
    if not clicked or request is None:
        return
    try:
        with st.spinner("Computing the features in DuckDB..."):
            queued = churn_view.start_training(*request)
    except (AnalyticsError, StratLabModelError) as e:
        page.show_error(e)
        return
    st.success(f"Queued job {queued.job.job_id}: {format_count(queued.n_train)} accounts at cut-off "
               f"{request[0]} ({format_count(queued.positives)} churned within {request[1]} days), "
               f"{format_count(queued.n_score)} to score. Features in `{queued.folder}`.",
               icon=":material/schedule:")


def _jobs() -> None:
    jobs = churn_view.churn_jobs()
    if any(j.is_active for j in jobs):
        _watch()
    for job in [j for j in jobs if j.state == "failed"][:1]:
        st.warning(f"Churn job {job.job_id} failed: {job.error or 'see its log on the Fine-tune page'}",
                   icon=":material/error:")


@st.fragment(run_every=5)
def _watch() -> None:
    """While a churn job is queued or running: say so, and redraw the whole page once it has ended (its
    runs are ingested by the queue tick of runs.sync_jobs)."""
    runs.sync_jobs()
    active = [j for j in churn_view.churn_jobs() if j.is_active]
    if not active:
        workspace.changed()
        st.rerun(scope="app")
    for job in active:
        st.info(f"Churn job {job.job_id} is {job.state}: logistic regression, gradient boosting and the MLP "
                f"train one after another; results appear here when it finishes.",
                icon=":material/hourglass_top:")


def _kpis(section: churn_view.ChurnSection) -> None:
    res, exp = section.results, section.results.expected
    best = res.models.iloc[0]
    c = st.columns(4)
    c[0].metric("Best ROC-AUC", format_percent(best["roc_auc"], fixed=True),
                help=f"{best['label']}: 95% CI {format_percent(best['roc_auc_ci_low'])} to "
                     f"{format_percent(best['roc_auc_ci_high'])} on {format_count(best['n_test'])} held-out "
                     f"test accounts (run {best['run_id']})")
    c[1].metric("Expected cancels", format_number(exp.horizon_churn_rate * exp.accounts),
                help=f"Sum of the scores of the {format_count(exp.accounts)} accounts active on "
                     f"{exp.score_cutoff}: cancels expected within {exp.horizon_days} days")
    c[2].metric("MRR at risk", format_usd(exp.mrr_at_risk_usd),
                help=f"Sum of score x MRR over the scored accounts, within {exp.horizon_days} days, of "
                     f"{format_usd(exp.scored_mrr_usd)} MRR (table churn_scores)")
    c[3].metric("Monthly churn", format_percent(exp.monthly_churn_rate),
                help="Expected share of active accounts cancelling per month: 1 - (1 - mean score) ^ "
                     f"(30.4 / {exp.horizon_days}); paying accounts only: "
                     f"{format_percent(exp.paying_monthly_churn_rate)}")


def _models_table(models: pd.DataFrame) -> pd.DataFrame:
    def interval(column: str) -> list[str]:
        return [f"{format_percent(v, fixed=True)} ({format_percent(lo)} to {format_percent(hi)})"
                for v, lo, hi in zip(models[column], models[f"{column}_ci_low"], models[f"{column}_ci_high"],
                                     strict=True)]

    return pd.DataFrame({
        "model": models["label"], "ROC-AUC (95% CI)": interval("roc_auc"),
        "PR-AUC (95% CI)": interval("pr_auc"),
        "Brier": [f"{v:.3f}" if pd.notna(v) else "–" for v in models["brier"]],
        "accuracy at 0.5": [format_percent(v, fixed=True) for v in models["accuracy"]],
        "test accounts": [format_count(v) for v in models["n_test"]],
        "churned in test": [format_count(v) for v in models["positives_test"]],
        "run": models["run_id"],
    })


def _at_risk_table(at_risk: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "account": [f"{n} (#{a})" if isinstance(n, str) else f"#{a}"
                    for n, a in zip(at_risk["account_name"], at_risk["account_id"], strict=True)],
        "size": at_risk["company_size"].fillna("–"),
        "churn risk": [format_percent(v) for v in at_risk["score"]],
        "MRR": [format_usd(v) for v in at_risk["mrr_usd"]],
        "MRR at risk": [format_usd(v) for v in at_risk["mrr_at_risk_usd"]],
    })


def _results(gen: int) -> None:
    sets = churn_view.datasets(gen)
    if not sets:
        st.info("No churn model trained yet: pick a cut-off and horizon above and press "
                f"'{TRAIN_LABEL}'. Results (ROC-AUC, calibration, MRR at risk) appear here.",
                icon=":material/insights:")
        return
    dataset = st.selectbox("Feature set", sets, key="ch_dataset") if len(sets) > 1 else sets[0]
    section = churn_view.section(gen, dataset)
    if section is None:
        st.info("That feature set has no usable churn runs any more.", icon=":material/info:")
        return
    res, figures = section.results, section.figures
    st.subheader(f"Results: {res.dataset}")
    _kpis(section)
    left, right = st.columns(2)
    left.plotly_chart(figures.models, width="stretch", theme=None)
    right.plotly_chart(figures.calibration, width="stretch", theme=None)
    left, right = st.columns(2)
    left.plotly_chart(figures.importance, width="stretch", theme=None)
    right.plotly_chart(figures.at_risk, width="stretch", theme=None)
    st.markdown("**Models side by side** (held-out test accounts)")
    st.dataframe(_models_table(res.models), hide_index=True, width="stretch")
    st.markdown(f"**Accounts most at risk** ({res.models.iloc[0]['label']}, scored on "
                f"{res.expected.score_cutoff})")
    st.dataframe(_at_risk_table(res.at_risk), hide_index=True, width="stretch")
    st.caption(f"Source: {res.expected.provenance}.")


page.start_page("Churn", "Which accounts are about to cancel: per-account features computed in DuckDB at a "
                         "cut-off day, a label from the days after it, and three models trained in the "
                         "background.")
page.sample_badge()
gen = workspace.generation()
picked = _pick_request(gen)
_train(picked)
_jobs()
_results(gen)
