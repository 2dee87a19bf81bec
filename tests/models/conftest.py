"""Model-engine fixtures: folders models may be loaded from, tiny random models, small real splits.

The tiny models are written once per session into one folder; `allowed_tmp` registers that folder (and a
fresh one per module) in STRATLAB_MODEL_DIRS, so each model fixture hands out a path `resolve_model`
accepts. The splits are real review sentences from the dataset mirror, loaded once per session.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from models.data.types import DataSplits


@pytest.fixture(scope="session")
def tiny_models_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's folder of tiny random models (each written on first use)."""
    return tmp_path_factory.mktemp("tiny-models")


@pytest.fixture(scope="module")
def allowed_tmp(tmp_path_factory: pytest.TempPathFactory, tiny_models_root: Path) -> Iterator[Path]:
    """A temp folder registered in STRATLAB_MODEL_DIRS, beside the tiny models' folder, so resolve_model
    accepts models inside either."""
    folder = tmp_path_factory.mktemp("models")
    allowed = [str(folder), str(tiny_models_root), os.environ.get("STRATLAB_MODEL_DIRS", "")]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STRATLAB_MODEL_DIRS", os.pathsep.join(allowed))
        yield folder


@pytest.fixture(scope="session")
def tiny_encoder_folder(tiny_models_root: Path) -> Path:
    """Written once: a random 2-layer BERT, 32 wide, MiniLM's tokenizer (`tiny_encoder`'s defaults)."""
    from models.testing import tiny_encoder

    return Path(tiny_encoder(tiny_models_root / "tiny-bert").location)


@pytest.fixture(scope="session")
def tiny_classifier_folder(tiny_models_root: Path) -> Path:
    """Written once: a random 2-layer BERT, 16 wide (the fastest to fine-tune), MiniLM's tokenizer."""
    from models.testing import tiny_encoder

    spec = tiny_encoder(tiny_models_root / "tiny-bert-16", hidden_size=16, num_layers=2, num_heads=2, seed=0)
    return Path(spec.location)


@pytest.fixture(scope="session")
def tiny_lm_folder(tiny_models_root: Path) -> Path:
    """Written once: a random 2-layer Llama, 16 wide, SmolLM2's tokenizer (`tiny_causal_lm`'s defaults)."""
    from models.testing import tiny_causal_lm

    return Path(tiny_causal_lm(tiny_models_root / "tiny-lm").location)


@pytest.fixture(scope="module")
def tiny_encoder_dir(tiny_encoder_folder: Path, allowed_tmp: Path) -> Path:
    """Folder of the tiny 32-wide encoder, in the allowed model folders (for loading and inference)."""
    return tiny_encoder_folder


@pytest.fixture(scope="module")
def tiny_model(tiny_classifier_folder: Path, allowed_tmp: Path) -> str:
    """Path of the tiny 16-wide BERT the registry accepts, as `TrainConfig.model` takes it (fine-tuning)."""
    return str(tiny_classifier_folder)


@pytest.fixture(scope="module")
def tiny_lm_dir(tiny_lm_folder: Path, allowed_tmp: Path) -> Path:
    """Folder of the tiny causal LM, in the allowed model folders (zero-shot, generation)."""
    return tiny_lm_folder


@pytest.fixture(scope="session")
def sentiment_sentences() -> DataSplits:
    """sentiment_labelled_sentences split with seed 0 (2,400 / 300 / 300 real review sentences)."""
    from models.data.catalog import load_dataset

    return load_dataset("sentiment_labelled_sentences", seed=0)


@pytest.fixture(scope="session")
def small_sentiment(sentiment_sentences: DataSplits) -> Callable[..., DataSplits]:
    """`small_sentiment(n_train=120, n_test=40, n_validation=20)`: the first rows of each split."""

    def first_rows(n_train: int = 120, n_test: int = 40, n_validation: int = 20) -> DataSplits:
        data = sentiment_sentences
        return replace(data, train=data.train.subset(range(n_train)),
                       validation=data.validation.subset(range(n_validation)),
                       test=data.test.subset(range(n_test)))

    return first_rows


@pytest.fixture(scope="session")
def sentences(small_sentiment: Callable[..., DataSplits]) -> DataSplits:
    """Real review sentences for training runs: 96 train, 32 validation, 32 test."""
    return small_sentiment(n_train=96, n_test=32, n_validation=32)
