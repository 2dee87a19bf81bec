"""Small real splits for the model-engine tests (helpers, not tests)."""

from __future__ import annotations

from models.data.types import DataSplits


def small_sentiment(n_train: int = 120, n_test: int = 40) -> DataSplits:
    """The first rows of sentiment_labelled_sentences' splits (real text, two labels)."""
    from dataclasses import replace

    from models.data.catalog import load_dataset

    data = load_dataset("sentiment_labelled_sentences", seed=0)
    return replace(data, train=data.train.subset(range(n_train)), validation=data.validation.subset(range(20)),
                   test=data.test.subset(range(n_test)))
