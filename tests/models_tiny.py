"""Tiny random models and small real splits for the model-engine tests (helpers, not tests)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.data.types import DataSplits


@pytest.fixture(scope="module")
def allowed_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A temp folder registered in STRATLAB_MODEL_DIRS so resolve_model accepts models inside it."""
    folder = tmp_path_factory.mktemp("models")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STRATLAB_MODEL_DIRS", os.pathsep.join([str(folder), os.environ.get("STRATLAB_MODEL_DIRS", "")]))
        yield folder


def small_sentiment(n_train: int = 120, n_test: int = 40) -> DataSplits:
    """The first rows of sentiment_labelled_sentences' splits (real text, two labels)."""
    from dataclasses import replace

    from models.data.catalog import load_dataset

    data = load_dataset("sentiment_labelled_sentences", seed=0)
    return replace(data, train=data.train.subset(range(n_train)), validation=data.validation.subset(range(20)),
                   test=data.test.subset(range(n_test)))
