"""Everything pages share: the workspace connection, the access gate, the sidebar, and all caching.

This is the only module that uses Streamlit caching. Cached query results are keyed by the
workspace's `generation`, which `changed()` bumps after every write, so no page shows stale data.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
from pathlib import Path

import streamlit as st

from analytics.compute.summary import WorkspaceSummary, summarize
from analytics.db import Workspace, default_workspace_path
from analytics.errors import AnalyticsError

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_log = logging.getLogger(__name__)


@st.cache_resource(show_spinner="Opening the workspace (first start creates the sample data)...")
def _open_workspace(path: str) -> Workspace:
    return Workspace.open(path)


def workspace() -> Workspace:
    """The app's one read-write workspace (the app process is its only writer)."""
    return _open_workspace(str(default_workspace_path()))


def generation() -> int:
    """Counter bumped by `changed()`; part of every cached query's key."""
    return st.session_state.setdefault("_ws_generation", 0) + _global_generation()


@st.cache_resource
def _generation_box() -> list[int]:
    return [0]


def _global_generation() -> int:
    return _generation_box()[0]


def changed() -> None:
    """Call after any write to the workspace: invalidates cached queries for every session."""
    _generation_box()[0] += 1
    st.cache_data.clear()


@st.cache_data(show_spinner=False)
def workspace_summary(gen: int) -> WorkspaceSummary:
    return summarize(workspace())


# -- access ---------------------------------------------------------------------------------------------
def _password() -> str | None:
    env = os.environ.get("STRATLAB_PASSWORD")
    if env:
        return env
    try:
        return st.secrets.get("password")  # type: ignore[no-any-return]
    except (FileNotFoundError, KeyError, AttributeError, Exception):  # no secrets.toml is normal
        return None


def _exposed() -> bool:
    address = st.get_option("server.address")
    return not address or str(address) not in LOOPBACK


def _gate() -> None:
    """Ask for the password if one is set; stop the page until it is given."""
    secret = _password()
    if not secret or st.session_state.get("_authenticated"):
        return
    st.title("Strategy Lab")
    with st.form("login"):
        given = st.text_input("Password", type="password", help="Set by STRATLAB_PASSWORD or secrets.toml")
        if st.form_submit_button("Enter", type="primary"):
            if hmac.compare_digest(given.encode(), secret.encode()):
                st.session_state["_authenticated"] = True
                st.rerun()
            st.error("Wrong password.")
    st.stop()


def _ensure_app_navigation() -> None:
    """Make app.py's navigation win over Streamlit's old folder-based pages.

    Streamlit treats a folder named pages/ as an old-style multipage app until some session runs
    app.py's `st.navigation`. After a server restart, a browser tab that reconnects straight to
    /data would get the raw folder listing (and a page without app.py's config). Clearing that flag
    and rerunning runs app.py, which routes the same URL to our page. Once per session only, so a
    rerun never swallows a widget event (AppTest resets the flag before every run).
    """
    from streamlit.runtime.pages_manager import PagesManager

    first_run = "_session_started" not in st.session_state
    st.session_state["_session_started"] = True
    if first_run and PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def start_page(title: str, caption: str | None = None) -> Workspace:
    """Gate, sidebar and title of a page; returns the workspace. Every page calls this first."""
    _ensure_app_navigation()
    _gate()
    if _exposed() and not _password():
        st.warning(
            "This server listens beyond this computer and has no password: anyone on the network can "
            "open it. Set STRATLAB_PASSWORD (or `password` in .streamlit/secrets.toml) and restart.",
            icon=":material/lock_open:",
        )
    try:
        ws = workspace()
    except AnalyticsError as e:
        st.error(f"The workspace could not be opened: {e}")
        st.stop()
    sync_jobs()  # finished jobs land in the workspace on any page, also after an app restart
    _sidebar(ws)
    st.title(title)
    if caption:
        st.caption(caption)
    return ws


def _sidebar(ws: Workspace) -> None:
    summary = workspace_summary(generation())
    with st.sidebar:
        st.markdown("**Workspace**")
        st.markdown(f":material/database: `{Path(summary.path).name}`", help=summary.path)
        st.caption(f"{len(summary.tables)} tables · {summary.events:,} events")
        if summary.sample_label:
            st.caption(f":material/science: {summary.sample_label}")


def sample_badge() -> None:
    """The label shown next to every chart built on sample data."""
    label = workspace_summary(generation()).sample_label
    if label:
        st.info(label, icon=":material/science:")


def show_error(error: Exception) -> None:
    """One clear message for an error from analytics/ or models/."""
    st.error(str(error), icon=":material/error:")


# -- models (no torch is imported here: the catalog and run folders are plain files) -------------------
RUNS_DIR = os.environ.get("STRATLAB_RUNS_DIR", "data/runs")


@st.cache_data(ttl=5, show_spinner=False)
def run_count() -> int:
    from models.core.runs import list_runs

    return len(list_runs(RUNS_DIR))


@st.cache_data(show_spinner=False)
def dataset_catalog():
    """Built-in datasets with rows, labels and licence, as a DataFrame."""
    import pandas as pd

    from models.data.catalog import list_datasets

    return pd.DataFrame(
        [
            {"dataset": d.name, "task": d.task, "rows": sum(d.rows.values()), "labels": d.num_labels,
             "licence": d.licence}
            for d in list_datasets()
        ]
    )


# -- market (analytics/market.py; imported lazily so other pages do not pay for it) ---------------------
@st.cache_data(show_spinner=False)
def table_columns(gen: int, table: str) -> list[tuple[str, str]]:
    """(column name, DuckDB type) of `table`, in order."""
    frame = workspace().columns(table)
    return list(zip(frame["column_name"], frame["data_type"], strict=True))


@st.cache_data(show_spinner=False)
def market_segments(gen: int, mapping=None):
    """analytics.compute.market.load_segments for a SegmentMapping (None = the sample table)."""
    from analytics.compute import market
    return market.load_segments(workspace(), mapping)


@st.cache_data(show_spinner=False)
def competitor_positioning(gen: int, mapping=None, our_name: str | None = None):
    """analytics.compute.market.competitor_positioning for a CompetitorMapping (None = the sample table)."""
    from analytics.compute import market
    return market.competitor_positioning(workspace(), mapping, our_name)


@st.cache_resource(max_entries=64, show_spinner=False)
def market_view(gen: int, mapping, assumptions, sensitivity_year: int):
    """(MarketView, figures) for one set of inputs. Built once and shared read-only: Plotly figures
    are slow to build (about 0.1 s each) and cache_data would rebuild them when unpickling."""
    from analytics.charts import market as charts_market
    from analytics.compute import market
    view = market.market_view(market_segments(gen, mapping), assumptions, sensitivity_year)
    return view, charts_market.market_figures(view)


@st.cache_resource(max_entries=16, show_spinner=False)
def competitor_chart(gen: int, mapping, our_name: str | None):
    """(competitor table, positioning figure), shared read-only."""
    from analytics.charts import market as charts_market
    frame = competitor_positioning(gen, mapping, our_name)
    return frame, charts_market.positioning(frame)


# -- metrics (analytics/metrics.py; imported lazily) -------------------------------------------------------
@st.cache_data(show_spinner=False)
def metrics_options(gen: int) -> dict[str, list[str]]:
    """Values of the region, industry, company size and plan filters (sample accounts and plans)."""
    from analytics.compute import metrics
    return metrics.segment_options(workspace())


@st.cache_data(show_spinner=False)
def metrics_span(gen: int, mapping=None):
    """(first day, last day) of the event source (None = sample events), or None without events."""
    from analytics.compute import metrics
    return metrics.data_span(workspace(), mapping)


@st.cache_data(show_spinner=False, max_entries=32)
def column_values(gen: int, table: str, column: str, limit: int = 50) -> list[str]:
    """The most common values of `table.column` as text (for mapping widgets)."""
    from analytics.compute import metrics
    return metrics.distinct_values(workspace(), table, column, limit)


@st.cache_resource(max_entries=32, show_spinner="Computing metrics...")
def metrics_view(gen: int, filters, mapping=None):
    """(MetricsReport, figures by name) for one source and filter set, shared read-only (Plotly figures
    are slow to build and cache_data would rebuild them when unpickling). Errors are not cached."""
    from analytics.charts import metrics as metrics_charts
    from analytics.compute import metrics
    report = metrics.compute_report(workspace(), filters, mapping)
    return report, metrics_charts.metrics_figures(report)


# -- Data page (import plans, table profiles) -------------------------------------------------------------
@st.cache_data(show_spinner="Reading the file...", max_entries=4)
def import_plan(name: str, data: bytes, encoding: str | None, delimiter: str | None,
                has_header: bool | None, sheet: str | None):
    """`importer.sniff_file` for an upload, cached per content and overrides (errors are not cached)."""
    from analytics.ingest.importer import sniff_file

    return sniff_file(name, data, encoding=encoding, delimiter=delimiter, has_header=has_header, sheet=sheet)


@st.cache_data(show_spinner="Profiling the table...")
def table_profile(gen: int, table: str):
    """Per-column profile of `table` (see `importer.table_profile`)."""
    from analytics.ingest.importer import table_profile as profile

    return profile(workspace(), table)


@st.cache_data(show_spinner=False)
def table_preview(gen: int, table: str, limit: int = 100):
    """The first `limit` rows of `table`."""
    return workspace().preview(table, limit)


# -- jobs and runs (Fine-tune page; no torch: models.jobs.queue and analytics.ingest.runs read plain files) -----------
_SYNC_LOCK = threading.Lock()


def runs_dir() -> Path:
    """Where jobs write run folders: $STRATLAB_RUNS_DIR, else <project>/data/runs (read at every call)."""
    from models.modeling.registry import runs_dir as default_runs_dir

    return default_runs_dir()


@st.cache_resource
def _ingested_signatures() -> dict[str, tuple[tuple[str, int], ...]]:
    return {}


def _runs_signature(root: Path) -> tuple[tuple[str, int, int], ...]:
    """(run folder, status.json mtime, inference.json mtime or 0) of every finished run: what ingest_all looks at.
    inference.json is written after status.json (the benchmark runs last), so it must change the signature too."""
    if not root.is_dir():
        return ()
    found = []
    for entry in os.scandir(root):
        try:
            status_ns = os.stat(os.path.join(entry.path, "status.json")).st_mtime_ns
        except OSError:
            continue  # not a run folder, or still running (no status.json yet)
        try:
            inference_ns = os.stat(os.path.join(entry.path, "inference.json")).st_mtime_ns
        except OSError:
            inference_ns = 0
        found.append((entry.name, status_ns, inference_ns))
    return tuple(sorted(found))


def sync_jobs() -> list[str]:
    """Advance the job queue (models.jobs.queue.tick: start queued jobs, notice ended ones) and ingest every
    finished run folder not yet in the workspace (also runs that ended while the app was down).

    Cheap when nothing changed (a tick and one directory scan). Calls `changed()` when runs were ingested;
    returns their ids. Never raises: a problem is logged and shown by the Fine-tune page, not every page.
    """
    from analytics.ingest.runs import ingest_all
    from models.jobs import queue as jobs
    try:
        jobs.tick()
    except Exception:  # noqa: BLE001 - a broken job folder must not break every page
        _log.exception("job queue tick failed")
    root = runs_dir()
    with _SYNC_LOCK:
        signature = _runs_signature(root)
        key = f"{workspace().path}|{root}"
        previous = _ingested_signatures().get(key)
        if previous == signature:
            return []
        try:
            ingested = ingest_all(workspace(), root)
        except Exception:  # noqa: BLE001
            _log.exception("ingesting finished runs failed")
            return []
        _ingested_signatures()[key] = signature
    if ingested or previous is not None:  # new runs, or a late inference.json attached to an ingested run
        changed()
    return ingested


@st.cache_data(show_spinner=False)
def run_list(gen: int):
    """analytics.ingest.runs.list_runs: every ingested run, newest first."""
    from analytics.ingest.runs import list_runs

    return list_runs(workspace())


@st.cache_data(show_spinner=False, max_entries=8)
def run_detail(gen: int, run_id: str):
    """analytics.ingest.runs.run_detail for one run (raises RunNotFoundError)."""
    from analytics.ingest.runs import run_detail as detail

    return detail(workspace(), run_id)


@st.cache_data(ttl=60, show_spinner=False)
def model_catalog():
    """models.modeling.registry.list_models(), refreshed every minute (hub availability can change)."""
    from models.modeling.registry import list_models

    return list_models()


@st.cache_data(show_spinner=False)
def hardware_prices(gen: int, kind: str):
    """analytics.ingest.prices.price_table for 'cpu' or 'gpu' rows."""
    from analytics.ingest.prices import price_table

    return price_table(workspace(), kind)


@st.cache_data(show_spinner="Reading the uploaded file...", max_entries=4)
def uploaded_table(path: str):
    """models.data.user_files.read_table of a saved upload (cached per path; the name holds the content
    hash)."""
    from models.data.user_files import read_table

    return read_table(path)


@st.cache_data(show_spinner="Reading the file...", max_entries=4)
def upload_table(name: str, data: bytes):
    """pages._shared.forms.read_upload of an upload not saved yet (cached per name and content)."""
    from pages._shared.forms import read_upload

    return read_upload(name, data)


@st.cache_data(show_spinner="Timing a few real steps in a separate process...", max_entries=16)
def measured_steps(config_json: str):
    """models.planning.estimate.measure for a TrainConfig given as JSON (cached per config)."""
    import json

    from models.core.config import TrainConfig
    from models.planning.estimate import measure

    return measure(TrainConfig.from_dict(json.loads(config_json)))


@st.cache_data(show_spinner=False, max_entries=4)
def run_test_texts(config_json: str) -> dict[str, str]:
    """pages._shared.forms.test_texts for a run's config (JSON), {} when the data cannot be read any more."""
    import json

    from models.errors import StratLabModelError
    from pages._shared.forms import test_texts

    try:
        return test_texts(json.loads(config_json))
    except (StratLabModelError, OSError, KeyError) as e:
        _log.warning("test texts unavailable: %s", e)
        return {}


# -- Compare page (analytics/compare.py, charts_compare.py, memo.py; models/demo_plan.py) ----------------
def sync_inference() -> list[str]:
    """Attach inference.json files that landed after their run was ingested (the benchmark runs after
    status.json); calls `changed()` when any did. Never raises."""
    from analytics.ingest.runs import attach_pending_inference

    try:
        attached = attach_pending_inference(workspace(), runs_dir())
    except Exception:  # noqa: BLE001 - a broken file must not break the page
        _log.exception("attaching inference records failed")
        return []
    if attached:
        changed()
    return attached


def compare_signature() -> tuple[int, ...]:
    """analytics.compute.compare.data_signature (not cached: one small query)."""
    from analytics.compute import compare
    return compare.data_signature(workspace())


@st.cache_data(show_spinner=False)
def evaluation_sets(gen: int):
    """analytics.compute.compare.evaluation_sets: datasets with runs or API candidates."""
    from analytics.compute import compare
    return compare.evaluation_sets(workspace())


@st.cache_data(show_spinner=False)
def compare_hardware(gen: int, dataset: str):
    """Hardware names measured on `dataset` and the price rows auto-matched to them."""
    from analytics.compute import compare
    return compare.resolve_hardware_prices(workspace(), dataset)


@st.cache_data(show_spinner="Computing the leaderboard...", max_entries=16)
def compare_board(gen: int, settings):
    """analytics.compute.compare.leaderboard for a CompareSettings."""
    from analytics.compute import compare
    return compare.leaderboard(workspace(), settings)


@st.cache_data(show_spinner=False, max_entries=16)
def compare_figures(gen: int, settings):
    """The leaderboard's standard charts (frontier, latency, total cost) as a name -> figure dict."""
    from analytics.report.memo import standard_figures

    return standard_figures(compare_board(gen, settings))


@st.cache_data(show_spinner=False, max_entries=8)
def compare_projections(gen: int, settings, mfu: float):
    """analytics.compute.compare.projections of the leaderboard's transformer runs onto catalog GPUs."""
    from analytics.compute import compare
    return compare.projections(workspace(), compare_board(gen, settings), mfu)


@st.cache_data(show_spinner=False, max_entries=16)
def compare_cascade(gen: int, settings, small_key: str, big_key: str):
    """analytics.compute.compare.cascade (raises CostInputError for pairs that cannot be simulated)."""
    from analytics.compute import compare
    return compare.cascade(workspace(), compare_board(gen, settings), small_key, big_key)


@st.cache_data(show_spinner=False)
def scaling_plans(gen: int, params: float, tokens: float, method: str, utilisation: float):
    """analytics.compute.compare.scaling_plans for every catalog GPU."""
    from analytics.compute import compare
    return compare.scaling_plans(workspace(), params, tokens, method, utilisation)


@st.cache_data(ttl=3, show_spinner=False)
def demo_jobs():
    """Queued or running quick-demo jobs (models.jobs.demo_plan; no torch)."""
    from models.jobs.demo_plan import active_demo_jobs

    return active_demo_jobs()


def submit_quick_demo():
    """Queue the quick demo's jobs and start the first; returns the jobs."""
    from models.jobs import queue as jobs
    from models.jobs.demo_plan import submit_quick_demo as submit

    submitted = submit(runs_dir())
    jobs.tick()
    st.cache_data.clear()
    return submitted


# -- Playground (loaded predictors and the LLM are shared by every session) -----------------------------
PLAYGROUND_LLM_ENV = "STRATLAB_PLAYGROUND_LLM"
"""Registry name or folder of the Playground's LLM (tests point it at a tiny model); default SmolLM2."""


@st.cache_data(show_spinner=False)
def playground_runs(gen: int):
    """analytics.compute.playground.playground_runs: succeeded runs with measured speed and a picker label."""
    from analytics.compute.playground import playground_runs as runs

    return runs(workspace())


@st.cache_resource(max_entries=8, show_spinner="Loading the model...")
def predictor(run_dir: str):
    """models.serving.predictors.load_predictor for a run folder, loaded once per server (raises RunFolderError)."""
    from models.serving.predictors import load_predictor

    return load_predictor(run_dir)


def playground_llm_name() -> str:
    """The Playground LLM: $STRATLAB_PLAYGROUND_LLM, else SmolLM2-135M-Instruct (read at every call)."""
    from models.modeling.registry import SMOLLM2_NAME

    return os.environ.get(PLAYGROUND_LLM_ENV) or SMOLLM2_NAME


@st.cache_resource(max_entries=1, show_spinner="Loading the language model (the first start converts it once, "
                                               "up to a minute)...")
def causal_lm(name: str):
    """(model, tokenizer) of a causal LM from the registry or an allowed folder, loaded once per server."""
    from models.modeling.causal_lm import load_causal_lm
    from models.modeling.registry import resolve_model

    return load_causal_lm(resolve_model(name))
