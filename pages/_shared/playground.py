"""Cached calls of the Playground: runs to pick from, and the predictors and LLM every session shares."""

from __future__ import annotations

import streamlit as st

from analytics.settings import settings
from pages._shared.workspace import workspace


@st.cache_data(show_spinner=False)
def runs(gen: int):
    """analytics.compute.playground.playground_runs: succeeded runs with measured speed and a picker label."""
    from analytics.compute.playground import playground_runs

    return playground_runs(workspace())


@st.cache_resource(max_entries=8, show_spinner="Loading the model...")
def predictor(run_dir: str):
    """models.serving.predictors.load_predictor for a run folder, loaded once per server (raises
    RunFolderError)."""
    from models.serving.predictors import load_predictor

    return load_predictor(run_dir)


def llm_name() -> str:
    """The Playground LLM: `settings().playground_llm` ($STRATLAB_PLAYGROUND_LLM), else SmolLM2-135M."""
    from models.modeling.registry import SMOLLM2_NAME

    return settings().playground_llm or SMOLLM2_NAME


@st.cache_resource(max_entries=1, show_spinner="Loading the language model (the first start converts it "
                                               "once, up to a minute)...")
def causal_lm(name: str):
    """(model, tokenizer) of a causal LM from the registry or an allowed folder, loaded once per server."""
    from models.modeling.causal_lm import load_causal_lm
    from models.modeling.registry import resolve_model

    return load_causal_lm(resolve_model(name))


@st.cache_data(show_spinner="Reading the uploaded file...", max_entries=4)
def uploaded_table(path: str):
    """models.data.user_files.read_table of a saved upload (cached per path; the name holds the content
    hash)."""
    from models.data.user_files import read_table

    return read_table(path)
