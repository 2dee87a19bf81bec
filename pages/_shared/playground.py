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


@st.cache_resource(max_entries=3, show_spinner=False)
def causal_lm(name: str):
    """(model, tokenizer) of a causal LM from the registry, an allowed folder or a run's model/ folder, loaded
    once per server (the Playground shows its own progress: `llm_loaded`, `llm_prepared`). Three at most: the
    Small LLM tab's, and a run's base and fine-tuned models side by side."""
    from models.modeling.causal_lm import load_causal_lm
    from models.modeling.registry import resolve_model

    loaded = load_causal_lm(resolve_model(name))
    _loaded_llms().add(name)
    return loaded


@st.cache_resource
def _loaded_llms() -> set[str]:
    return set()


def llm_loaded(name: str) -> bool:
    """True when `causal_lm(name)` is already in this server's memory (the next call is instant)."""
    return name in _loaded_llms()


def llm_prepared(name: str) -> bool:
    """True when loading `name` needs no one-time GGUF conversion (models.modeling.loading.llm_prepared);
    False also when the model cannot be resolved (loading it then says why)."""
    from models.errors import StratLabModelError
    from models.modeling.loading import llm_prepared as prepared
    from models.modeling.registry import resolve_model

    try:
        return prepared(resolve_model(name))
    except StratLabModelError:
        return False


@st.cache_data(show_spinner=False, max_entries=16)
def sample_text(run_id: str, recorded_runs_dir: str | None = None) -> str | None:
    """The first test text of the dataset run `run_id` trained on (a text that dataset's models know how
    to read), or None when its folder or data cannot be read any more."""
    import json

    from models.errors import StratLabModelError
    from pages._shared.finetune import run_test_texts
    from pages._shared.playground_calls import run_folder

    try:
        folder = run_folder(run_id, recorded_runs_dir if isinstance(recorded_runs_dir, str) else None)
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (StratLabModelError, OSError, ValueError):
        return None
    texts = run_test_texts(json.dumps(config, sort_keys=True))
    return next(iter(texts.values()), None) if texts else None


def headline(label: str, value: str, note: str | None = None, help: str | None = None) -> None:
    """A headline figure that wraps instead of truncating (st.metric cuts long values to 'decli...'):
    a small label, the value in large type broken anywhere it must, an optional grey note."""
    import html

    note_html = (f'<div style="color:rgba(49,51,63,0.6);font-size:0.85rem">{html.escape(note)}</div>'
                 if note else "")
    st.markdown(
        f'<div style="font-size:0.875rem;color:rgba(49,51,63,0.8)">{html.escape(label)}</div>'
        f'<div style="font-size:1.6rem;font-weight:600;line-height:1.25;overflow-wrap:anywhere;'
        f'word-break:break-word">{html.escape(value)}</div>{note_html}',
        unsafe_allow_html=True, help=help)


@st.cache_data(show_spinner="Reading the uploaded file...", max_entries=4)
def uploaded_table(path: str):
    """models.data.user_files.read_table of a saved upload (cached per path; the name holds the content
    hash)."""
    from models.data.user_files import read_table

    return read_table(path)


@st.cache_data(show_spinner=False, max_entries=16)
def draft_run(run_id: str, recorded_runs_dir: str | None = None) -> dict | None:
    """What the side-by-side needs of a finished sft / sft_lora run, or None when its folder is gone:
    `model` (the fine-tuned model/ folder), `base` (the model it started from), `system_prompt` (None: the
    chat template's default), `max_new_tokens`, `request` (its first judged test request, or None) and `eval`
    (its eval.json, {} when unreadable)."""
    import json

    import pandas as pd

    from models.errors import StratLabModelError
    from pages._shared.playground_calls import run_folder

    try:
        folder = run_folder(run_id, recorded_runs_dir if isinstance(recorded_runs_dir, str) else None)
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (StratLabModelError, OSError, ValueError):
        return None
    try:
        evaluation = json.loads((folder / "eval.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        evaluation = {}
    try:
        prompts = pd.read_parquet(folder / "generations.parquet", columns=["prompt"])["prompt"]
        request = next((str(p) for p in prompts if isinstance(p, str) and p.strip()), None)
    except Exception:  # noqa: BLE001 - a missing or torn file only loses the sample request
        request = None
    return {"model": str(folder / "model"), "base": str(config.get("model", "")),
            "system_prompt": config.get("system_prompt"), "max_new_tokens": config.get("max_new_tokens"),
            "request": request, "eval": evaluation if isinstance(evaluation, dict) else {}}


def hardware_here(model) -> str:
    """The machine `model` runs on, named as the cost model names hardware ('CPU x2', or the GPU's name)."""
    from models.serving.benchmark_record import hardware_name

    return hardware_name(model)
