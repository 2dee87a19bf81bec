"""Fixtures every level shares: offline model hubs, the dataset mirror, a small sample workspace per test."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from analytics.settings import settings
from tests.support import ROOT

TEST_EVENTS = 30_000
"""Sample events in test workspaces: enough for every chart, seconds to build."""

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("STRATLAB_DATASET_MIRROR", str(ROOT.parent / "shared" / "datasets"))
os.environ.setdefault("STRATLAB_INFERENCE_BENCH_S", "0.05")  # every test training run: a short benchmark


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    """Every test starts and ends with an empty settings cache (tests set STRATLAB_* variables)."""
    settings.cache_clear()
    yield
    settings.cache_clear()


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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Groups for pytest-xdist (`make test` runs `-n 2 --dist loadgroup`): each test file stays on one worker
    (its module fixtures, such as a served model, start once and its tests keep their order), and every test
    that starts the app server with Chromium or many sessions (tests/browser, tests/integration) runs on one
    worker, one after another, so two of them never compete for the cores with their time limits running."""
    for item in items:
        path = item.path.relative_to(ROOT).as_posix()
        servers = path.startswith(("tests/browser/", "tests/integration/"))
        item.add_marker(pytest.mark.xdist_group("servers" if servers else path))
