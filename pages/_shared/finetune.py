"""Cached calls of the Fine-tune page: catalogs, uploads read in memory, measured steps, test texts.

No torch is imported here: the catalogs and run folders are plain files.
"""

from __future__ import annotations

import json
import logging

import streamlit as st

_log = logging.getLogger(__name__)


@st.cache_data(show_spinner=False)
def dataset_catalog():
    """Built-in datasets with rows, labels (counts written by analytics.money) and licence, as a DataFrame
    (also on Home)."""
    import pandas as pd

    from analytics.money import format_count
    from models.data.catalog import list_datasets

    return pd.DataFrame(
        [
            {"dataset": d.name, "task": d.task, "rows": format_count(sum(d.rows.values())),
             "labels": format_count(d.num_labels), "licence": d.licence}
            for d in list_datasets()
        ]
    )


@st.cache_data(ttl=60, show_spinner=False)
def model_catalog():
    """models.modeling.registry.list_models(), refreshed every minute (hub availability can change)."""
    from models.modeling.registry import list_models

    return list_models()


@st.cache_data(show_spinner="Reading the file...", max_entries=4)
def upload_table(name: str, data: bytes):
    """pages._shared.forms.read_upload of an upload not saved yet (cached per name and content)."""
    from pages._shared.forms import read_upload

    return read_upload(name, data)


@st.cache_data(show_spinner="Timing a few real steps in a separate process...", max_entries=16)
def measured_steps(config_json: str):
    """models.planning.estimate.measure for a TrainConfig given as JSON (cached per config)."""
    from models.core.config import TrainConfig
    from models.planning.estimate import measure

    return measure(TrainConfig.from_dict(json.loads(config_json)))


@st.cache_data(show_spinner=False, max_entries=4)
def run_test_texts(config_json: str) -> dict[str, str]:
    """pages._shared.forms.test_texts for a run's config (JSON), {} when the data cannot be read any more."""
    from models.errors import StratLabModelError
    from pages._shared.forms import test_texts

    try:
        return test_texts(json.loads(config_json))
    except (StratLabModelError, OSError, KeyError) as e:
        _log.warning("test texts unavailable: %s", e)
        return {}
