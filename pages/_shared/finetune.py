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


# ---------------------------------------------------------------- draft replies (SFT)


@st.cache_data(show_spinner=False)
def generation_datasets() -> dict[str, tuple[str, str, str]]:
    """Catalog datasets that serve reply drafting: name -> (title, description, licence with its note)."""
    from models.data.catalog import list_datasets
    from pages._shared.forms import serves_generation

    return {e.name: (e.title, e.description, f"{e.licence}. {e.licence_note}")
            for e in list_datasets() if serves_generation(e)}


@st.cache_data(show_spinner=False)
def generation_dataset_rows(name: str) -> tuple[int, int]:
    """(training rows, intents) of a catalog generation dataset, from the catalog entry (no file read)."""
    from models.data.catalog import get_entry

    entry = get_entry(name)
    rows = dict(getattr(entry, "generation_rows", None) or entry.rows)
    return int(rows.get("train", sum(rows.values()))), int(entry.num_labels or 0)


@st.cache_data(show_spinner="Reading the file...", max_entries=4)
def chat_upload_guess(name: str, data: bytes):
    """pages._shared.forms.sniff_chat_upload (cached per name and content)."""
    from pages._shared.forms import sniff_chat_upload

    return sniff_chat_upload(name, data)


@st.cache_data(show_spinner="Checking the conversations...", max_entries=8)
def chat_upload_check(name: str, data: bytes, mapping_json: str):
    """pages._shared.forms.check_chat_upload with a mapping given as JSON (cached per file and mapping)."""
    from pages._shared.forms import check_chat_upload

    return check_chat_upload(name, data, **json.loads(mapping_json))


@st.cache_data(show_spinner=False, max_entries=8)
def generation_summary(gen: int, run_id: str):
    """analytics.compute.generation.generation_summary of an ingested SFT run (raises RunNotFoundError)."""
    from analytics.compute.generation import generation_summary as summary
    from pages._shared.workspace import workspace

    return summary(workspace(), run_id)


@st.cache_data(show_spinner=False, max_entries=8)
def reply_examples(gen: int, run_id: str, n: int = 5):
    """(best, worst) replies of an SFT run by ROUGE-L, display-ready
    (analytics.compute.generation.reply_examples through pages._shared.generation_results)."""
    from analytics.compute.generation import reply_examples as examples
    from pages._shared import generation_results as results
    from pages._shared.workspace import workspace

    return results.split_examples(examples(workspace(), run_id, n=n))


@st.cache_data(show_spinner="Checking the conversations with the model's tokenizer in a separate process...",
               max_entries=16)
def sft_check(config_json: str):
    """models.planning.sft_check.check_sft for a TrainConfig given as JSON (cached per config): the
    validator with real token lengths, and the token statistics of the time estimate."""
    from models.core.config import TrainConfig
    from models.planning.sft_check import check_sft

    return check_sft(TrainConfig.from_dict(json.loads(config_json)))


@st.cache_data(show_spinner=False, max_entries=8)
def run_status(run_dir: str, finished_at: str) -> dict:
    """status.json of a finished run folder (models.core.runs.run_status), {} when it is gone; cached per
    run and finish time (a resumed run finishes again)."""
    from pathlib import Path

    from models.core.runs import run_status as read_status

    try:
        return read_status(Path(run_dir)) or {}
    except (OSError, ValueError) as e:
        _log.warning("status of %s unavailable: %s", run_dir, e)
        return {}
