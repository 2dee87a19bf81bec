"""Shared fixtures: a small sample workspace per test, offline model hubs, AppTest helpers."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEST_EVENTS = 30_000
"""Sample events in test workspaces: enough for every chart, seconds to build."""

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("STRATLAB_DATASET_MIRROR", str(ROOT.parent / "shared" / "datasets"))
os.environ.setdefault("STRATLAB_INFERENCE_BENCH_S", "0.05")  # every test training run: a short benchmark


@pytest.fixture(scope="session")
def template_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A closed workspace file with migrations and TEST_EVENTS sample events, built once per session."""
    from analytics.db import Workspace

    path = tmp_path_factory.mktemp("template") / "workspace.duckdb"
    Workspace.open(path, demo_events=TEST_EVENTS).close()
    return path


@pytest.fixture
def workspace_file(template_workspace: Path, tmp_path: Path) -> Path:
    """A private copy of the template workspace file for one test."""
    target = tmp_path / "workspace.duckdb"
    shutil.copy(template_workspace, target)
    return target


@pytest.fixture
def ws(workspace_file: Path):
    """An open private sample workspace."""
    from analytics.db import Workspace

    workspace = Workspace.open(workspace_file)
    yield workspace
    workspace.close()


@pytest.fixture
def empty_ws(tmp_path: Path):
    """A migrated workspace without sample data."""
    from analytics.db import Workspace

    workspace = Workspace.open(tmp_path / "empty.duckdb", seed_demo=False)
    yield workspace
    workspace.close()


@pytest.fixture
def app_env(workspace_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the app at a private workspace, runs, jobs and uploads folders; clear Streamlit caches before and after."""
    import streamlit as st

    monkeypatch.setenv("STRATLAB_WORKSPACE", str(workspace_file))
    monkeypatch.setenv("STRATLAB_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("STRATLAB_JOBS_DIR", str(tmp_path / "jobs"))
    monkeypatch.setenv("STRATLAB_UPLOADS_DIR", str(tmp_path / "uploads"))
    monkeypatch.delenv("STRATLAB_PASSWORD", raising=False)
    monkeypatch.chdir(ROOT)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield workspace_file
    st.cache_data.clear()
    st.cache_resource.clear()


def new_app(page: str | None = None):
    """An AppTest of app.py, switched to `page` (e.g. 'pages/data.py') and run."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    return at
