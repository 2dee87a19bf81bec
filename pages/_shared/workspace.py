"""The app's one workspace, the cache generation that keeps every page fresh, and workspace-wide reads.

Cached query results are keyed by `generation()`, which `changed()` bumps after every write, so no page
shows stale data.
"""

from __future__ import annotations

import streamlit as st

from analytics.compute.summary import WorkspaceSummary, summarize
from analytics.db import Workspace, default_workspace_path


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
    """Tables, event and account counts and the sample label of the workspace."""
    return summarize(workspace())


@st.cache_data(show_spinner=False)
def table_columns(gen: int, table: str) -> list[tuple[str, str]]:
    """(column name, DuckDB type) of `table`, in order."""
    frame = workspace().columns(table)
    return list(zip(frame["column_name"], frame["data_type"], strict=True))


@st.cache_data(show_spinner=False)
def hardware_prices(gen: int, kind: str):
    """analytics.ingest.prices.price_table for 'cpu', 'gpu' or 'api' rows."""
    from analytics.ingest.prices import price_table

    return price_table(workspace(), kind)


def display_tables(tables):
    """A WorkspaceSummary table list for the screen: row and column counts written by analytics.money."""
    from analytics.money import format_count

    shown = tables.copy()
    for column in ("rows", "columns"):
        shown[column] = [format_count(n) for n in shown[column]]
    return shown


def user_tables(gen: int) -> list[str]:
    """The user's own tables (imported or created), for the pages that map one onto their schema."""
    tables = workspace_summary(gen).tables
    return tables.loc[tables["owner"].isin(["imported", "user"]), "table"].tolist()
