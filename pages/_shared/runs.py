"""Jobs and run folders seen from the pages: advance the queue, ingest finished runs, list them.

No torch: models.jobs.queue and analytics.ingest.runs read plain files.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import streamlit as st

from pages._shared.workspace import changed, workspace

_SYNC_LOCK = threading.Lock()
_log = logging.getLogger(__name__)


def runs_dir() -> Path:
    """Where jobs write run folders: models.modeling.registry.runs_dir(), i.e. `settings().runs_dir`."""
    from models.modeling.registry import runs_dir as default_runs_dir

    return default_runs_dir()


@st.cache_data(ttl=5, show_spinner=False)
def run_count() -> int:
    """Run folders on disk (Home page)."""
    from models.core.runs import list_runs

    return len(list_runs(runs_dir()))


@st.cache_resource
def _ingested_signatures() -> dict[str, tuple[tuple[str, int], ...]]:
    return {}


def _runs_signature(root: Path) -> tuple[tuple[str, int, int], ...]:
    """(run folder, status.json mtime, inference.json mtime or 0) of every finished run: what ingest_all
    looks at. inference.json is written after status.json (the benchmark runs last), so it must change the
    signature too."""
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
