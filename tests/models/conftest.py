"""Model-engine fixtures: a temp folder models may be loaded from."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def allowed_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A temp folder registered in STRATLAB_MODEL_DIRS so resolve_model accepts models inside it."""
    folder = tmp_path_factory.mktemp("models")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STRATLAB_MODEL_DIRS", os.pathsep.join([str(folder), os.environ.get("STRATLAB_MODEL_DIRS", "")]))
        yield folder
