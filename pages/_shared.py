"""Everything pages share: the workspace connection, the access gate, the sidebar, and all caching.

This is the only module that uses Streamlit caching. Cached query results are keyed by the
workspace's `generation`, which `changed()` bumps after every write, so no page shows stale data.
"""

from __future__ import annotations

import hmac
import os

import streamlit as st

from analytics.db import Workspace, default_workspace_path
from analytics.errors import AnalyticsError
from analytics.summary import WorkspaceSummary, summarize

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


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


def start_page(title: str, caption: str | None = None) -> Workspace:
    """Gate, sidebar and title of a page; returns the workspace. Every page calls this first."""
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
    _sidebar(ws)
    st.title(title)
    if caption:
        st.caption(caption)
    return ws


def _sidebar(ws: Workspace) -> None:
    summary = workspace_summary(generation())
    with st.sidebar:
        st.markdown("**Workspace**")
        st.code(summary.path, language=None)
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
    from models.runs import list_runs

    return len(list_runs(RUNS_DIR))


@st.cache_data(show_spinner=False)
def dataset_catalog():
    """Built-in datasets with rows, labels and licence, as a DataFrame."""
    import pandas as pd

    from models.datasets import list_datasets

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
    """analytics.market.load_segments for a SegmentMapping (None = the sample table)."""
    from analytics import market

    return market.load_segments(workspace(), mapping)


@st.cache_data(show_spinner=False)
def competitor_positioning(gen: int, mapping=None, our_name: str | None = None):
    """analytics.market.competitor_positioning for a CompetitorMapping (None = the sample table)."""
    from analytics import market

    return market.competitor_positioning(workspace(), mapping, our_name)


# -- Data page (import plans, table profiles) -------------------------------------------------------------
@st.cache_data(show_spinner="Reading the file...", max_entries=4)
def import_plan(name: str, data: bytes, encoding: str | None, delimiter: str | None,
                has_header: bool | None, sheet: str | None):
    """`importer.sniff_file` for an upload, cached per content and overrides (errors are not cached)."""
    from analytics.importer import sniff_file

    return sniff_file(name, data, encoding=encoding, delimiter=delimiter, has_header=has_header, sheet=sheet)


@st.cache_data(show_spinner="Profiling the table...")
def table_profile(gen: int, table: str):
    """Per-column profile of `table` (see `importer.table_profile`)."""
    from analytics.importer import table_profile as profile

    return profile(workspace(), table)


@st.cache_data(show_spinner=False)
def table_preview(gen: int, table: str, limit: int = 100):
    """The first `limit` rows of `table`."""
    return workspace().preview(table, limit)
