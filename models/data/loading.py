"""The data a run uses, from its config: the one loader that training, serving and planning share.

    from models.data.loading import load_training_data
    data = load_training_data(TrainConfig(dataset="banking77", train_examples_per_class=16))

The catalog, user-file and split modules are imported when first used: importing this module stays cheap.
"""

from __future__ import annotations

import random

from models.core.config import TrainConfig
from models.data.types import DataSplits, LabelledTexts


def load_training_data(config: TrainConfig) -> DataSplits:
    """The dataset `config` names, split with config.seed, limited and PII-scrubbed as configured.

    `config.dataset` is a catalog name, or a user file when `config.text_column` is set (with
    label_column); `train_examples_per_class` caps the training split only (validation and test stay whole).
    Raises DatasetNotFoundError, DatasetError, DataValidationError or ConfigError, each saying what to fix.
    """
    from models.data.user_files import load_for_config

    return load_for_config(config.dataset, config.text_column, config.label_column, seed=config.seed,
                           pii_scrub=config.pii_scrub,
                           train_examples_per_class=config.train_examples_per_class)


def scored_subset(test: LabelledTexts, limit: int | None, seed: int) -> LabelledTexts:
    """All of `test`, or a seeded random `limit` rows of it kept in file order.

    What a zero-shot run scores (config.eval_limit): training and re-evaluation pick the same rows.
    """
    if limit is None or limit >= len(test):
        return test
    indices = sorted(random.Random(seed).sample(range(len(test)), limit))
    return test.subset(indices)
