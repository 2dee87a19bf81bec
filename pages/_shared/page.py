"""What every page does first (`start_page`: gate, sidebar, title) and the two messages pages share."""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

from analytics.db import Workspace
from analytics.errors import AnalyticsError
from pages._shared import gate, runs
from pages._shared.workspace import generation, workspace, workspace_summary


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


@st.cache_resource(show_spinner=False)
def queue_ticked_at_start() -> bool:
    """Tick the job queue once per server process, at its first page run (models.jobs.queue.tick: notice jobs
    that ended or crashed while no app was up, start queued ones). Afterwards finishing jobs start the next
    themselves (models.jobs.runner). Never fails a page: False when the tick failed (logged)."""
    try:
        from models.jobs import queue

        queue.tick()
    except Exception:  # noqa: BLE001 - a broken job folder must not break the app
        logging.getLogger(__name__).exception("job queue tick at app start failed")
        return False
    return True


def start_page(title: str, caption: str | None = None) -> Workspace:
    """Gate, sidebar and title of a page; returns the workspace. Every page calls this first."""
    _ensure_app_navigation()
    queue_ticked_at_start()
    gate.require_password()
    gate.warn_if_open()
    try:
        ws = workspace()
    except AnalyticsError as e:
        st.error(f"The workspace could not be opened: {e}")
        st.stop()
    runs.sync_jobs()  # finished jobs land in the workspace on any page, also after an app restart
    _sidebar()
    st.title(title)
    if caption:
        st.caption(caption)
    return ws


def _sidebar() -> None:
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


NO_COLUMN = "(none)"
"""The choice of an optional column left out."""


def pick_column(label: str, columns: list[str], guesses: tuple[str, ...], key: str,
                optional: bool = False) -> str | None:
    """A column selectbox that starts on the first column named like one of `guesses` (case ignored);
    None when an optional column is left out."""
    options = ([NO_COLUMN] if optional else []) + columns
    lower = [c.lower() for c in options]
    index = next((lower.index(g) for g in guesses if g in lower), 0)
    choice = st.selectbox(label, options, index=index, key=key)
    return None if choice == NO_COLUMN else choice
