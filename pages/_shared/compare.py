"""Cached calls of the Compare page (analytics.compute.compare, the memo's charts; the quick demo's jobs)."""

from __future__ import annotations

import streamlit as st

from pages._shared.runs import runs_dir
from pages._shared.workspace import workspace


def signature() -> tuple[int, ...]:
    """analytics.compute.compare.candidates.data_signature (not cached: one small query)."""
    from analytics.compute.compare.candidates import data_signature
    return data_signature(workspace())


@st.cache_data(show_spinner=False)
def evaluation_sets(gen: int):
    """analytics.compute.compare.candidates.evaluation_sets: datasets with runs or API candidates."""
    from analytics.compute.compare.candidates import evaluation_sets as sets
    return sets(workspace())


@st.cache_data(show_spinner=False)
def hardware(gen: int, dataset: str):
    """Hardware names measured on `dataset` and the price rows auto-matched to them."""
    from analytics.compute.compare.pricing import resolve_hardware_prices
    return resolve_hardware_prices(workspace(), dataset)


@st.cache_data(show_spinner="Computing the leaderboard...", max_entries=16)
def board(gen: int, settings):
    """analytics.compute.compare.leaderboard.leaderboard for a CompareSettings."""
    from analytics.compute.compare.leaderboard import leaderboard
    return leaderboard(workspace(), settings)


@st.cache_data(show_spinner=False, max_entries=16)
def figures(gen: int, settings):
    """The leaderboard's standard charts (frontier, latency, total cost) as a name -> figure dict."""
    from analytics.report.memo import standard_figures

    return standard_figures(board(gen, settings))


@st.cache_data(show_spinner=False, max_entries=8)
def projections(gen: int, settings, mfu: float):
    """analytics.compute.compare.scaling.projections of the leaderboard's transformer runs onto catalog
    GPUs."""
    from analytics.compute.compare.scaling import projections as project
    return project(workspace(), board(gen, settings), mfu)


@st.cache_data(show_spinner=False, max_entries=16)
def cascade(gen: int, settings, small_key: str, big_key: str):
    """analytics.compute.compare.cascade.cascade (raises CostInputError for pairs that cannot be
    simulated)."""
    from analytics.compute.compare.cascade import cascade as simulate
    return simulate(workspace(), board(gen, settings), small_key, big_key)


@st.cache_data(show_spinner=False)
def scaling_plans(gen: int, params: float, tokens: float, method: str, utilisation: float):
    """analytics.compute.compare.scaling.scaling_plans for every catalog GPU."""
    from analytics.compute.compare.scaling import scaling_plans as plans
    return plans(workspace(), params, tokens, method, utilisation)


@st.cache_data(ttl=3, show_spinner=False)
def demo_jobs():
    """Queued or running quick-demo jobs (models.jobs.demo_plan; no torch)."""
    from models.jobs.demo_plan import active_demo_jobs

    return active_demo_jobs()


@st.cache_data(ttl=3, show_spinner=False)
def active_jobs():
    """Every queued or running job of the queue (training, measure, bench), for the page's watcher."""
    from models.jobs import queue as jobs

    return [j for j in jobs.list_jobs() if j.is_active]


@st.cache_data(show_spinner=False)
def demo_caption() -> str:
    """How long the quick demo takes on this machine and what it trains on (models.jobs.demo_plan)."""
    from analytics.money import format_count, format_duration
    from models.jobs.demo_plan import demo_outlook

    o = demo_outlook()
    e = o.estimate
    where = f"{o.cpu_cores} CPU cores" if o.cpu_cores > 1 else "1 CPU core"
    gpu = " This machine has a GPU: the same runs take a fraction of that." if o.gpu else ""
    return (f"Expected on {where}: the first candidate in about {format_duration(e.first_candidate_s)}, "
            f"three in about {format_duration(e.three_candidates_s)}, all {o.runs} runs in about "
            f"{format_duration(e.all_s)}.{gpu} CPU runs train on a subset: {o.examples_per_class} examples "
            f"per intent ({format_count(o.n_train)} of {format_count(o.n_train_total)} training texts), "
            f"scored on all {format_count(o.n_test)} test texts.")


def submit_quick_demo():
    """Queue the quick demo's jobs and start the first; returns the jobs."""
    from models.jobs import queue as jobs
    from models.jobs.demo_plan import submit_quick_demo as submit

    submitted = submit(runs_dir())
    jobs.tick()
    st.cache_data.clear()
    return submitted


def remeasure(run_id: str):
    """Queue a re-measure of the run's latency and throughput (models.jobs.measure.submit_measure), an
    exclusive job that starts when nothing else of ours runs; returns the queued job. Raises
    StratLabModelError (JobError) when the run cannot be measured or a measurement is already queued."""
    from models.jobs import queue as jobs
    from models.jobs.measure import submit_measure

    job = submit_measure(runs_dir() / run_id, jobs_dir=None)
    jobs.tick()
    return job



def recommended_row(board):
    """analytics.compute.compare.recommend.recommended: the row the recommendation names, or None."""
    from analytics.compute.compare.recommend import recommended

    return recommended(board)


@st.cache_data(show_spinner=False)
def prices_used(gen: int, price_ids: tuple[int, ...]):
    """analytics.compute.compare.pricing.prices_used: the catalog rows behind the leaderboard's dollars,
    each with its date or 'undated'."""
    from analytics.compute.compare.pricing import prices_used as used
    from analytics.ingest.prices import price_table

    return used(price_table(workspace()).set_index("price_id", drop=False), price_ids)


def memo(board) -> str:
    """analytics.report.memo.build_memo_html with the workspace's price table (for 'Prices used')."""
    from analytics.compute.business.facts import default_case
    from analytics.ingest.prices import price_table
    from analytics.report.memo import build_memo_html

    ws = workspace()
    return build_memo_html(board, price_table(ws).set_index("price_id", drop=False), default_case(ws, board))


# ------------------------------------------------------------------------------------------ reply leaderboard


@st.cache_data(show_spinner=False)
def generation_sets(gen: int):
    """analytics.compute.compare.replies.generation_sets: datasets with succeeded generation runs."""
    from analytics.compute.compare.replies import generation_sets as sets
    return sets(workspace())


@st.cache_data(show_spinner=False)
def reply_hardware(gen: int, dataset: str):
    """Hardware names the set's generation runs ran on and the price rows auto-matched to them."""
    from analytics.compute.compare.replies import resolve_generation_hardware_prices
    return resolve_generation_hardware_prices(workspace(), dataset)


@st.cache_data(show_spinner="Computing the reply leaderboard...", max_entries=16)
def reply_board(gen: int, settings):
    """analytics.compute.compare.replies.reply_leaderboard for a ReplySettings."""
    from analytics.compute.compare.replies import reply_leaderboard
    return reply_leaderboard(workspace(), settings)


@st.cache_data(show_spinner=False, max_entries=16)
def reply_figures(gen: int, settings):
    """The reply leaderboard's charts (frontier, total cost) as a name -> figure dict."""
    from analytics.charts.compare import reply_frontier_chart, reply_total_cost_chart

    board = reply_board(gen, settings)
    return {"frontier": reply_frontier_chart(board), "total": reply_total_cost_chart(board)}


def reply_table(board):
    """The reply leaderboard for st.dataframe: candidate (★ on the frontier), quality with its 95% interval
    as text ('not measured' for an API), $ in the board's unit, $ a month, the horizon's total; dollars by
    analytics.money.format_usd (pages._shared.tables.money_table), so those columns still sort."""
    import pandas as pd

    from analytics.compute.compare.replies import quality_text
    from pages._shared.tables import money_table

    table = board.table
    requests, unit = board.unit
    per_unit = f"$ {unit.removeprefix('per ')}"
    total = f"{board.settings.months} months"
    frame = pd.DataFrame({
        "candidate": [("★ " if f else "") + str(c) for c, f in zip(table["candidate"], table["on_frontier"],
                                                                    strict=True)],
        board.quality_name: [quality_text(r, board.settings.quality) for r in table.to_dict("records")],
        "hardware": table["hardware"].fillna("").astype(str),
        per_unit: table["cost_per_1k_usd"].astype(float) / 1000.0 * requests,
        "$ a month": table["monthly_usd"].astype(float),
        total: table["total_usd"].astype(float),
    })
    return money_table(frame, [per_unit, "$ a month", total])


def reply_break_even_table(board):
    """Break-even of each priced self-hosted candidate against each priced API: both $ per 1k replies and
    the monthly volume above which the candidate costs less, in words
    (analytics.compute.compare.replies.reply_break_even)."""
    from analytics.compute.compare.replies import reply_break_even
    from pages._shared.tables import money_table

    points = reply_break_even(board)
    frame = points[["candidate", "api", "self_per_1k_usd", "api_per_1k_usd", "verdict"]].rename(columns={
        "self_per_1k_usd": "its $ 1k replies", "api_per_1k_usd": "API $ 1k replies",
        "verdict": "costs less than the API"})
    return money_table(frame, ["its $ 1k replies", "API $ 1k replies"])


# ------------------------------------------------------------------------------------- endpoints, serving


@st.cache_data(show_spinner=False)
def endpoint_datasets() -> list[str]:
    """Catalog datasets an endpoint can be evaluated on (classification; models.data.catalog, no file
    read)."""
    from models.data.catalog import list_datasets

    return [d.name for d in list_datasets() if d.task == "classification"]


def secret_names() -> list[str]:
    """Top-level names in the app's Streamlit secrets (never their values); [] without a secrets file."""
    try:
        return sorted(str(k) for k in st.secrets.keys() if k != "password")
    except Exception:  # noqa: BLE001 - no secrets file, or an unreadable one: no names to offer
        return []


def key_available(api_key_env: str | None, api_key_secret: str | None) -> bool:
    """models.jobs.endpoint.key_available: the named variable is set (or the secret exists) for the job."""
    from models.jobs.endpoint import key_available as available

    return available(api_key_env, api_key_secret)


def submit_endpoint(fields: dict, api_key_secret: str | None):
    """Queue an endpoint evaluation (models.jobs.endpoint.submit_endpoint) into this app's runs folder and
    start it when the queue is free; returns the job. Raises StratLabModelError (ConfigError, JobError) with
    the message to show."""
    from models.jobs import queue as jobs
    from models.jobs.endpoint import submit_endpoint as submit

    job = submit({**fields, "runs_dir": runs_dir()}, api_key_secret=api_key_secret)
    jobs.tick()
    st.cache_data.clear()
    return job


@st.cache_data(ttl=3, show_spinner=False)
def endpoint_jobs(limit: int = 5):
    """The newest endpoint jobs of the queue (models.jobs.queue), newest first."""
    from models.jobs import queue as jobs
    from models.jobs.endpoint import ENDPOINT_KIND

    return [j for j in jobs.list_jobs() if j.kind == ENDPOINT_KIND][:limit]


@st.cache_data(show_spinner=False)
def served_levels(gen: int, dataset: str) -> list[int]:
    """Concurrency levels the dataset's runs were load-tested at (serving.json, analytics.ingest.serving)."""
    from analytics.ingest.serving import serving_levels

    runs = workspace().rows("select run_id from runs where dataset = ? and state = 'succeeded'", [dataset])
    levels = serving_levels(workspace(), [r[0] for r in runs])
    return sorted({int(c) for c in levels["concurrency"]})


def sync_serving() -> list[str]:
    """Ingest serving.json files written or rewritten since
    (analytics.ingest.serving.attach_pending_serving); calls workspace.changed() when any was. Never
    raises."""
    import logging

    from analytics.ingest.serving import attach_pending_serving
    from pages._shared.workspace import changed

    try:
        updated = attach_pending_serving(workspace(), runs_dir())
    except Exception:  # noqa: BLE001 - a broken file must not break the page
        logging.getLogger(__name__).exception("attaching serving records failed")
        return []
    if updated:
        changed()
    return updated


@st.cache_data(show_spinner=False)
def list_prices(gen: int):
    """Hosted list prices from genai-prices (analytics.ingest.prices.genai_price_table) for the catalog's API
    models and a few providers' current models, with what the catalog says for the same model (the
    catalog's figure is the one used)."""
    import pandas as pd

    from analytics.ingest.prices import catalog_api_price, genai_price_table, price_table
    from analytics.money import format_usd

    catalog = price_table(workspace())
    listed = genai_price_table(list(catalog.loc[catalog["kind"] == "api", "name"]))
    overrides = []
    for r in listed.itertuples():
        own = catalog_api_price(catalog, str(r.model))
        overrides.append("" if own is None else
                         f"catalog: {format_usd(own.input_per_m_usd, digits=4)} / "
                         f"{format_usd(own.output_per_m_usd, digits=4)} (used)")
    return listed.assign(catalog=pd.Series(overrides, index=listed.index, dtype="string"))
