"""Page fixtures: the app pointed at a private workspace, runs, jobs and uploads folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import ROOT


@pytest.fixture
def app_env(workspace_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the app at a private workspace, runs, jobs and uploads folders; clear Streamlit caches before
    and after."""
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
