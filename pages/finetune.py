"""Fine-tune: set up a run, check and estimate it, launch it as a background job, watch it, read its
results.

Jobs run as detached processes (models.jobs.queue); this page only submits, polls and reads. No torch
here.
"""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import streamlit as st

from analytics.charts import runs as charts_runs
from analytics.compute.run_labels import dataset_words, model_words, run_labels
from analytics.money import MISSING, format_count, format_duration, format_number, format_percent, format_usd
from analytics.settings import field_docs
from models.core.config import TrainConfig
from models.data.catalog import list_datasets
from models.data.user_files import validate_labelled_frame
from models.errors import ConfigError, EstimateError, StratLabModelError
from models.jobs import queue as jobs
from models.planning.estimate import cost_usd, memory_estimate, model_shape, time_estimate
from models.planning.sft_estimate import sft_estimate
from pages._shared import finetune as finetune_view
from pages._shared import forms, page, workspace
from pages._shared import generation_results as gen_results
from pages._shared import runs as runs_view

STATE_ICONS = {"queued": ":material/schedule:", "running": ":material/sync:",
               "succeeded": ":material/check_circle:", "failed": ":material/error:",
               "cancelled": ":material/cancel:", "interrupted": ":material/pause_circle:"}
STATE_COLOURS = {"queued": "gray", "running": "blue", "succeeded": "green", "failed": "red",
                 "cancelled": "gray", "interrupted": "orange"}
FINISHED_SHOWN = 8
LIVE_CHART_PX = 520
LIVE_CHART_CONFIG = {"displayModeBar": False, "responsive": False}
# Live curves are redrawn this often, in their own fragment: every Plotly redraw costs the browser CPU,
# which on a small machine competes with the training job (measured with bench/jobs.py overhead).
CURVE_REFRESH_S = 10.0
HELP = field_docs(TrainConfig)
DEFAULTS = forms.defaults()


def _gib(n_bytes: float | None) -> str:
    return MISSING if n_bytes is None else f"{n_bytes / 2**30:.2f} GiB"


def _duration(seconds: float | None) -> str:
    return format_duration(seconds)


# ---------------------------------------------------------------- setup


def dataset_section() -> dict | None:
    """Dataset choice -> {'dataset', 'text_column', 'label_column', 'n_train', 'num_labels', 'errors'}."""
    st.subheader("1 · Data")
    source = st.radio("Source", ["Catalog", "Upload a file"], horizontal=True, key="ft_source")
    if source == "Catalog":
        entries = {e.name: e for e in list_datasets() if e.task == "classification"}
        entry = entries[st.selectbox("Dataset", list(entries), format_func=lambda n: entries[n].title,
                                     key="ft_dataset")]
        catalog = finetune_view.dataset_catalog()
        # the licence of the chosen dataset is in the caption below: without that column the table fits
        # the half-width column at 1280 px
        st.dataframe(catalog[catalog["task"] == "classification"].drop(columns=["task", "licence"]),
                     hide_index=True, width="stretch", column_config={
                         "dataset": st.column_config.TextColumn("dataset", width="medium"),
                         "rows": st.column_config.TextColumn("rows", width="small"),
                         "labels": st.column_config.TextColumn("labels", width="small")})
        st.caption(f"{entry.description} Licence: {entry.licence}. {entry.licence_note}")
        return {"dataset": entry.name, "text_column": None, "label_column": None,
                "n_train": entry.rows["train"], "num_labels": entry.num_labels or 2, "errors": []}
    upload = st.file_uploader("Labelled texts (CSV, TSV, Parquet or JSONL)",
                              type=["csv", "tsv", "parquet", "jsonl"], key="ft_upload")
    if upload is None:
        st.info("Upload a file with one text column and one label column.", icon=":material/upload_file:")
        return None
    data = upload.getvalue()
    try:
        frame = finetune_view.upload_table(upload.name, data)  # read and checked in memory: nothing saved yet
    except StratLabModelError as e:
        page.show_error(e)
        for problem in getattr(e, "problems", []):
            st.error(problem, icon=":material/block:")
        return None
    chosen = _map_columns(frame)
    if chosen["errors"]:
        return chosen  # refused: the file is never written
    try:
        return {**chosen, "dataset": str(forms.save_upload(upload.name, data))}
    except StratLabModelError as e:
        page.show_error(e)
        return None


def _map_columns(frame: pd.DataFrame) -> dict:
    columns = [str(c) for c in frame.columns]
    left, right = st.columns(2)
    text_col = left.selectbox("Text column", columns,
                              index=_guess(columns, ("text", "sentence", "utterance")),
                              key="ft_text_col", help=HELP["text_column"])
    label_col = right.selectbox("Label column", columns, key="ft_label_col", help=HELP["label_column"],
                                index=_guess(columns, ("label", "category", "intent", "class")))
    st.dataframe(frame.head(5), hide_index=True)
    report = validate_labelled_frame(frame, text_col, label_col)
    for error in report.errors:
        st.error(error, icon=":material/block:")
    for warning in report.warnings:
        st.warning(warning, icon=":material/warning:")
    num_labels = int(frame[label_col].nunique()) if label_col in frame else 2
    return {"dataset": None, "text_column": text_col, "label_column": label_col,
            "n_train": int(len(frame) * 0.7), "num_labels": max(2, num_labels), "errors": report.errors}


def _guess(columns: list[str], names: tuple[str, ...]) -> int:
    lowered = [c.lower() for c in columns]
    return next((lowered.index(n) for n in names if n in lowered),
                0 if names[0] == "text" else min(1, len(columns) - 1))


def method_section() -> tuple[str, object | None]:
    """(method, chosen ModelSpec or None for classic)."""
    st.subheader("2 · Method and model")
    methods = forms.task_methods("classify")
    method = st.radio("Method", methods, key="ft_method", captions=[forms.METHOD_NOTES[m] for m in methods],
                      format_func=lambda m: m.replace("_", " "))
    if method == "classic":
        st.caption("The classic baseline uses no neural model.")
        return method, None
    specs = {s.name: s for s in finetune_view.model_catalog()}
    choices = forms.model_choices(method, list(specs.values()))
    usable = [name for name, ok, _ in choices if ok]
    if not usable:
        st.error(f"No model for {method} is available on this machine.")
        return method, None
    name = st.selectbox("Model", usable, key=f"ft_model_{method}", help=HELP["model"],
                        format_func=lambda n: f"{n} · {_params(specs[n].params)}")
    for other, _, reason in (c for c in choices if not c[1]):
        st.caption(f":gray[:material/block: {other} (unavailable): {reason}]")
    return method, specs[name]


def _params(count: int | None) -> str:
    return "? params" if not count else f"{count / 1e6:.0f}M params"


def hyperparameters(method: str, prices: pd.DataFrame) -> tuple[dict, str | None, bool, bool]:
    """The form: (values by TrainConfig field, chosen price label, estimate pressed, launch pressed)."""
    st.subheader("3 · Settings")
    values: dict = {}
    with st.form("ft_settings", border=True):
        a, b, c = st.columns(3)
        neural = method in ("full", "lora")
        if neural:
            values["epochs"] = a.number_input("Epochs", min_value=0, value=DEFAULTS["epochs"],
                                              help=HELP["epochs"], key="ft_epochs")
            values["learning_rate"] = b.number_input(
                "Learning rate", min_value=0.0,
                value=DEFAULTS["learning_rate"] if method == "full" else forms.LORA_LEARNING_RATE,
                step=1e-5, format="%.1e", help=HELP["learning_rate"],
                key=f"ft_lr_{method}")  # per method: its own default
            values["batch_size"] = c.number_input("Batch size", min_value=0, value=DEFAULTS["batch_size"],
                                                  help=HELP["batch_size"], key="ft_batch")
            values["max_length"] = a.number_input("Max tokens", min_value=0, value=DEFAULTS["max_length"],
                                                  help=HELP["max_length"], key="ft_max_length")
            values["max_steps"] = b.number_input("Max steps (0 = no cap)", min_value=0, value=0,
                                                 help=HELP["max_steps"], key="ft_max_steps")
            values["early_stopping_patience"] = c.number_input(
                "Early-stopping patience", min_value=0, value=DEFAULTS["early_stopping_patience"],
                help=HELP["early_stopping_patience"], key="ft_patience")
            values["checkpoint_every_steps"] = a.number_input(
                "Checkpoint every N steps (0 = epoch ends)", min_value=0, value=50,
                help=HELP["checkpoint_every_steps"], key="ft_ckpt")
        if method == "lora":
            values["lora_r"] = b.number_input("LoRA rank", min_value=0, value=DEFAULTS["lora_r"],
                                              help=HELP["lora_r"])
            values["lora_alpha"] = c.number_input("LoRA alpha", min_value=0, value=DEFAULTS["lora_alpha"],
                                                  help=HELP["lora_alpha"])
        if method in ("classic", "linear_probe"):
            values["classic_c"] = a.number_input("Regularisation C", min_value=0.0,
                                                 value=DEFAULTS["classic_c"], help=HELP["classic_c"],
                                                 key="ft_c")
        if method == "zero_shot":
            values["few_shot_k"] = a.number_input("Examples per class in the prompt", min_value=0, value=0,
                                                  help=HELP["few_shot_k"])
            values["eval_limit"] = b.number_input("Score at most N test texts (0 = all)", min_value=0,
                                                  value=200, help=HELP["eval_limit"])
        if method != "zero_shot":
            values["train_examples_per_class"] = b.number_input(
                "Training examples per class (0 = all)", min_value=0, value=0,
                help=(HELP["train_examples_per_class"]
                      + " Train several runs at 10, 50, 200... for a learning curve."),
                key="ft_per_class")
        values["pii_scrub"] = st.toggle("Mask personal data (emails, phones, cards, IBANs) first",
                                        help=HELP["pii_scrub"], key="ft_pii")
        with st.expander("Advanced"):
            _advanced(values, method)
        price = st.selectbox("Hardware price for the cost estimate", prices["label"].tolist() or [None],
                             key="ft_price", format_func=lambda p: p or "no prices in the catalog",
                             help="Rows of the price catalog (Compare page) for this machine's kind.")
        left, right = st.columns(2)
        estimate = left.form_submit_button("Check and estimate", icon=":material/calculate:")
        launch = right.form_submit_button("Launch", type="primary", icon=":material/rocket_launch:")
    return values, price, estimate, launch


def _advanced(values: dict, method: str, draft: bool = False) -> None:
    """Advanced settings; `draft` (SFT) keeps only the optimiser, validation, device and run fields."""
    a, b, c = st.columns(3)
    if method in ("full", "lora"):
        values["warmup_ratio"] = a.number_input("Warm-up ratio", 0.0, 0.99, DEFAULTS["warmup_ratio"],
                                                help=HELP["warmup_ratio"])
        values["weight_decay"] = b.number_input("Weight decay", 0.0, 1.0, DEFAULTS["weight_decay"],
                                                help=HELP["weight_decay"])
        values["max_grad_norm"] = c.number_input("Gradient clipping", 0.0, None, DEFAULTS["max_grad_norm"],
                                                 help=HELP["max_grad_norm"])
    if method == "full" and not draft:
        values["attention_dropout"] = a.number_input("Attention dropout", 0.0, 0.99,
                                                     DEFAULTS["attention_dropout"],
                                                     help=HELP["attention_dropout"])
        values["head_init"] = b.selectbox("Head start (probe = LP-FT)", ("random", "probe"),
                                          help=HELP["head_init"])
    if method in ("full", "lora"):
        values["validate_every_epoch"] = c.checkbox("Validate every epoch", DEFAULTS["validate_every_epoch"],
                                                    help=HELP["validate_every_epoch"])
    if method != "classic":
        values["eval_batch_size"] = a.number_input("Eval batch size", 0, None, DEFAULTS["eval_batch_size"],
                                                   help=HELP["eval_batch_size"])
        values["device"] = b.selectbox("Device", ("auto", "cpu", "cuda", "mps"), help=HELP["device"])
        values["precision"] = c.selectbox("Precision", ("auto", "fp32", "bf16"), help=HELP["precision"])
        values["num_threads"] = a.number_input("CPU threads (0 = torch default)", 0, None, 0,
                                               help=HELP["num_threads"])
    values["seed"] = b.number_input("Seed", 0, None, DEFAULTS["seed"], help=HELP["seed"])
    values["run_name"] = c.text_input("Run name (optional)", help=HELP["run_name"], key="ft_run_name")
    if method == "full" and not draft:
        values["freeze_embeddings"] = st.checkbox(
            "Freeze the embedding tables (faster; train the layers above them)",
            DEFAULTS["freeze_embeddings"], help=HELP["freeze_embeddings"])


# ---------------------------------------------------------------- draft replies (SFT)


NO_COLUMN = "(none)"
CHOOSE_COLUMN = "(choose a column)"
FORMAT_WORDS = {"messages": "chat messages (system/user/assistant)", "alpaca": "Alpaca (instruction, input, "
                "output)", "prompt_response": "a request column and a reply column"}
GEN = forms.GENERATION_DEFAULTS


def task_choice() -> str:
    """'classify' (today's methods) or 'draft' (SFT of a small LLM on request -> reply pairs)."""
    return st.radio("Task", list(forms.TASKS), format_func=forms.TASKS.get, horizontal=True, key="ft_task",
                    help="Classify intents: label each request (classifiers). Draft replies: fine-tune a "
                         "small LLM to write the reply, judged against reference replies.")


def draft_dataset_section() -> dict | None:
    """Conversations for SFT -> {'dataset', 'text_column', 'response_column', 'system_column',
    'label_column', 'data_format', 'n_train', 'num_labels', 'errors', 'warnings'}."""
    st.subheader("1 · Data")
    source = st.radio("Source", ["Catalog", "Upload a file"], horizontal=True, key="ft_gen_source")
    if source == "Catalog":
        entries = finetune_view.generation_datasets()
        if not entries:
            st.info("No reply dataset in the catalog on this version; upload your conversations.",
                    icon=":material/info:")
            return None
        name = st.selectbox("Dataset", list(entries), format_func=lambda n: entries[n][0],
                            key="ft_gen_dataset")
        title, description, licence = entries[name]
        n_train, intents = finetune_view.generation_dataset_rows(name)
        st.caption(f"{description} Licence: {licence}")
        st.caption(f"{format_count(n_train)} training conversations"
                   + (f" · {format_count(intents)} intents" if intents else ""))
        return {"dataset": name, "text_column": None, "response_column": None, "system_column": None,
                "label_column": None, "data_format": "auto", "n_train": n_train, "num_labels": intents,
                "errors": [], "warnings": []}
    upload = st.file_uploader("Conversations (JSONL messages, Alpaca JSON/JSONL, or a CSV/Parquet table "
                              "with a request and a reply column)",
                              type=[s.lstrip(".") for s in forms.CHAT_UPLOAD_SUFFIXES], key="ft_gen_upload")
    if upload is None:
        st.info("Upload support conversations: OpenAI-style `messages` (system/user/assistant), Alpaca "
                "(`instruction`, `input`, `output`), or one request column and one reply column.",
                icon=":material/upload_file:")
        return None
    data = upload.getvalue()
    try:
        guess = finetune_view.chat_upload_guess(upload.name, data)  # in memory: nothing kept yet
    except StratLabModelError as e:
        page.show_error(e)
        for problem in getattr(e, "problems", []):
            st.error(problem, icon=":material/block:")
        return None
    _forget_mapping_of_another_file(upload.name, data)
    mapping = _chat_mapping(guess)
    check = finetune_view.chat_upload_check(upload.name, data, json.dumps(mapping, sort_keys=True))
    _show_chat_check(check)
    chosen = {"text_column": mapping["prompt_column"], "response_column": mapping["response_column"],
              "system_column": mapping["system_column"], "label_column": mapping["intent_column"],
              "data_format": mapping["data_format"], "n_train": int(check.examples * 0.85),
              "num_labels": len(check.intents), "errors": list(check.errors),
              "warnings": list(check.warnings), "dataset": None}
    if chosen["errors"]:
        return chosen  # refused: the file is never kept
    try:
        saved = forms.save_upload(upload.name, data, suffixes=forms.CHAT_UPLOAD_SUFFIXES)
    except StratLabModelError as e:
        page.show_error(e)
        return None
    return {**chosen, "dataset": str(saved)}


def _forget_mapping_of_another_file(name: str, data: bytes) -> None:
    """A new file starts from its own suggested columns, not the choices made for the previous one."""
    digest = f"{name}:{hashlib.sha256(data).hexdigest()}"
    if st.session_state.get("ft_gen_mapped_file") != digest:
        for role in forms.MAPPING_ROLES:
            st.session_state.pop(f"ft_gen_col_{role}", None)
        st.session_state["ft_gen_mapped_file"] = digest


def _chat_mapping(guess) -> dict:
    """The detected format and its column selectboxes (the reader's suggestions preselected; a required
    column it could not find starts unchosen); returns check_chat_upload's keyword arguments."""
    detected = str(guess.data_format)
    columns = [str(c) for c in guess.columns]
    st.caption(f"Detected format: **{FORMAT_WORDS.get(detected, detected)}** · {format_count(guess.rows)} "
               f"rows · columns: {', '.join(columns)}")
    mapping = {"data_format": detected, "prompt_column": None, "response_column": None,
               "system_column": None, "intent_column": None}
    roles = {"prompt_response": ("prompt", "response", "system", "intent"),
             "alpaca": ("intent",)}.get(detected, ("intent",))
    cells = st.columns(len(roles))
    for cell, role in zip(cells, roles, strict=True):
        suggested = getattr(guess, f"{role}_column", None)
        first = NO_COLUMN if role in ("system", "intent") else (None if suggested else CHOOSE_COLUMN)
        options = ([first] if first else []) + columns
        picked = cell.selectbox(forms.MAPPING_ROLES[role], options, key=f"ft_gen_col_{role}",
                                index=options.index(suggested) if suggested in options else 0,
                                help=_mapping_help(role))
        mapping[f"{role}_column"] = None if picked in (NO_COLUMN, CHOOSE_COLUMN) else picked
    return mapping


def _mapping_help(role: str) -> str:
    return {"prompt": HELP.get("text_column", ""),
            "response": HELP.get("response_column", "The reply to learn."),
            "system": HELP.get("system_column", "Optional system message per row."),
            "intent": "Optional: the request's intent; needed to score intent match."}[role]


def _show_chat_check(check) -> None:
    if check.examples:
        st.caption(f"{format_count(check.examples)} conversations"
                   + (f" · {format_count(len(check.intents))} intents" if check.intents else " · no intents"))
    for error in check.errors:
        st.error(error, icon=":material/block:")
    for warning in check.warnings:
        st.warning(warning, icon=":material/warning:")
    if check.preview and not check.errors:
        st.dataframe(pd.DataFrame(check.preview, columns=["request", "reply"]), hide_index=True,
                     width="stretch")
        st.caption("Reply lengths against Max tokens are checked with the model's own tokenizer when the "
                   "job starts, before any training.")


def draft_method_section() -> tuple[str, object | None]:
    """(sft or sft_lora, chosen causal-LM ModelSpec or None)."""
    st.subheader("2 · Method and model")
    methods = forms.task_methods("draft")
    method = st.radio("Method", methods, key="ft_gen_method", index=methods.index(GEN["method"]),
                      captions=[forms.METHOD_NOTES[m] for m in methods],
                      format_func=lambda m: {"sft": "SFT (all weights)", "sft_lora": "SFT with LoRA"}[m])
    specs = {s.name: s for s in finetune_view.model_catalog()}
    choices = forms.model_choices(method, list(specs.values()))
    usable = [name for name, ok, _ in choices if ok]
    if not usable:
        st.error(f"No causal LM for {method} is available on this machine.")
        return method, None
    name = st.selectbox("Model", usable, key=f"ft_gen_model_{method}", help=HELP["model"],
                        format_func=lambda n: f"{n} · {_params(specs[n].params)}")
    for other, _, reason in (c for c in choices if not c[1]):
        st.caption(f":gray[:material/block: {other} (unavailable): {reason}]")
    return method, specs[name]


def draft_hyperparameters(method: str, prices: pd.DataFrame,
                          blocked: bool) -> tuple[dict, str | None, bool, bool]:
    """The SFT form: (values by TrainConfig field, price label, estimate pressed, launch pressed). Launch is
    disabled while the data has errors (`blocked`)."""
    st.subheader("3 · Settings")
    values: dict = {}
    with st.form("ft_gen_settings", border=True):
        a, b, c = st.columns(3)
        values["epochs"] = a.number_input("Epochs", min_value=0, value=GEN["epochs"], help=HELP["epochs"],
                                          key="ft_gen_epochs")
        values["learning_rate"] = b.number_input(
            "Learning rate", min_value=0.0, step=1e-5, format="%.1e", help=HELP["learning_rate"],
            value=forms.SFT_LEARNING_RATE if method == "sft" else forms.SFT_LORA_LEARNING_RATE,
            key=f"ft_gen_lr_{method}")
        values["batch_size"] = c.number_input("Batch size", min_value=0, value=GEN["batch_size"],
                                              help=HELP["batch_size"], key="ft_gen_batch")
        values["max_length"] = a.number_input("Max tokens per example", min_value=0, value=GEN["max_length"],
                                              help=HELP["max_length"], key="ft_gen_max_length")
        values["train_examples_per_class"] = b.number_input(
            "Training examples per intent (0 = all)", min_value=0, value=GEN["train_examples_per_class"],
            help=HELP["train_examples_per_class"] + " 38 per intent is about 1,000 Bitext conversations, "
                 "one CPU epoch in well under an hour.", key="ft_gen_per_intent")
        values["eval_limit"] = c.number_input("Judge at most N test requests (0 = all)", min_value=0,
                                              value=GEN["eval_limit"], help=HELP["eval_limit"],
                                              key="ft_gen_eval_limit")
        values["max_new_tokens"] = a.number_input("Reply length cap (new tokens)", min_value=0,
                                                  value=GEN["max_new_tokens"],
                                                  help=HELP.get("max_new_tokens"), key="ft_gen_max_new")
        values["max_steps"] = b.number_input("Max steps (0 = no cap)", min_value=0, value=0,
                                             help=HELP["max_steps"], key="ft_gen_max_steps")
        values["checkpoint_every_steps"] = c.number_input(
            "Checkpoint every N steps (0 = epoch ends)", min_value=0, value=50,
            help=HELP["checkpoint_every_steps"], key="ft_gen_ckpt")
        if method == "sft_lora":
            values["lora_r"] = a.number_input("LoRA rank", min_value=0, value=DEFAULTS["lora_r"],
                                              help=HELP["lora_r"], key="ft_gen_lora_r")
            values["lora_alpha"] = b.number_input("LoRA alpha", min_value=0, value=DEFAULTS["lora_alpha"],
                                                  help=HELP["lora_alpha"], key="ft_gen_lora_alpha")
        values["system_prompt"] = st.text_input(
            "System prompt (optional)", key="ft_gen_system", help=HELP.get("system_prompt"),
            placeholder="e.g. You are the support assistant of Acme. Answer politely and briefly.")
        values["compare_base"] = st.toggle("Also reply with the untrained base model (same prompts)",
                                           value=True, help=HELP.get("compare_base"), key="ft_gen_base")
        values["pii_scrub"] = st.toggle("Mask personal data (emails, phones, cards, IBANs) first",
                                        help=HELP["pii_scrub"], key="ft_gen_pii")
        with st.expander("Advanced"):
            values["packing"] = st.checkbox("Pack examples into full rows (faster on a GPU)",
                                            value=False, help=HELP.get("packing"), key="ft_gen_packing")
            _advanced(values, "lora" if method == "sft_lora" else "full", draft=True)
        price = st.selectbox("Hardware price for the cost estimate", prices["label"].tolist() or [None],
                             key="ft_gen_price", format_func=lambda p: p or "no prices in the catalog",
                             help="Rows of the price catalog (Compare page) for this machine's kind.")
        left, right = st.columns(2)
        estimate = left.form_submit_button("Check and estimate", icon=":material/calculate:")
        launch = right.form_submit_button("Launch", type="primary", icon=":material/rocket_launch:",
                                          disabled=blocked, help=("Fix the data problems listed above first."
                                                                  if blocked else None))
    return values, price, estimate, launch


def show_sft_estimate(config, prices: pd.DataFrame, price_label: str | None) -> None:
    """Check the conversations with the model's own tokenizer (a separate process: real token lengths
    against Max tokens) and estimate the run's time and cost from the measured rates
    (models.planning.sft_estimate); nothing is submitted."""
    try:
        check = finetune_view.sft_check(json.dumps(config.to_dict(), sort_keys=True))
    except StratLabModelError as e:
        page.show_error(e)
        return
    for error in check.errors:
        st.error(f"Fix before launching: {error}", icon=":material/block:")
    for warning in check.warnings:
        st.warning(warning, icon=":material/warning:")
    if check.fallback_template:
        st.info("This model's tokenizer has no chat template: the run will use the documented ChatML "
                "fallback (models.modeling.chat_template.FALLBACK_TEMPLATE) and save it with the model.",
                icon=":material/info:")
    if check.stats is None:
        return
    device = config.device if config.device != "auto" else ("cuda" if jobs.cuda_device_count() else "cpu")
    estimate = sft_estimate(config, check.stats, device=device, params=check.params)
    row = prices[prices["label"] == price_label].iloc[0] if price_label in set(prices["label"]) else None
    hourly = float(row["hourly_usd"]) if row is not None else None
    cols = st.columns(3)
    cols[0].metric("Time (estimate)", _duration(estimate.total_s),
                   help="An upper bound: early stopping can end sooner; other jobs on this machine make it "
                        "slower.")
    cols[1].metric("Training conversations", format_count(check.stats.n_train),
                   help=f"{format_count(check.stats.n_judged)} test requests judged afterwards "
                        f"({'both models' if config.compare_base else 'the fine-tuned model only'}).")
    cols[2].metric("Cost (estimate)", format_usd(cost_usd(estimate.total_s, hourly)) if hourly else MISSING)
    st.caption(f"On {device}: {estimate.note}. Training {_duration(estimate.train_s)}, validation "
               f"{_duration(estimate.validate_s)}, judging {_duration(estimate.judge_s)}, start and export "
               f"{_duration(estimate.fixed_s)}.")
    st.caption(f"Time = {estimate.formula}.")
    if check.token_stats:
        t = check.token_stats
        st.caption(f"Tokens per conversation (chat template): median {format_count(t['median'])}, 95% under "
                   f"{format_count(t['p95'])}, longest {format_count(t['max'])}; Max tokens is "
                   f"{format_count(config.max_length)}.")
    if hourly:
        st.caption(f"Cost = {_duration(estimate.total_s)} / 3600 x {format_usd(hourly, digits=4)}/hour "
                   f"({price_label}).")


# ---------------------------------------------------------------- check, estimate, launch


def build(data: dict, method: str, spec, values: dict):
    """TrainConfig from the page's choices; raises ConfigError with the reason."""
    if data is None:
        raise ConfigError("choose a dataset from the catalog or upload a file")
    if data["errors"]:
        raise ConfigError("the uploaded file has problems to fix first: " + " | ".join(data["errors"]))
    chosen = {"method": method, "dataset": data["dataset"], "text_column": data["text_column"],
              "label_column": data["label_column"], "runs_dir": str(runs_view.runs_dir()), **values}
    if method in forms.GENERATION_METHODS:  # the conversation file's mapping (None for a catalog set)
        chosen.update({k: data[k] for k in ("response_column", "system_column", "data_format")
                       if data.get(k) is not None})
    if spec is not None:
        chosen["model"] = spec.name
    return forms.build_config(chosen, model_family=spec.family if spec is not None else None)


def show_estimate(config, data: dict, spec, prices: pd.DataFrame, price_label: str | None) -> None:
    n_train = forms.training_rows(data["n_train"], data["num_labels"], config.train_examples_per_class)
    batch = config.eval_batch_size if config.method in ("linear_probe", "zero_shot") else config.batch_size
    shape = model_shape(spec.name, spec.location, spec.params) if spec is not None else None
    memory = memory_estimate(config.method, shape, batch_size=batch, max_length=config.max_length,
                             num_labels=data["num_labels"], lora_r=config.lora_r, n_train=n_train,
                             bf16=config.precision == "bf16")
    try:
        measured = finetune_view.measured_steps(json.dumps(config.to_dict(), sort_keys=True))
    except EstimateError as e:
        page.show_error(e)
        measured = None
    timing = time_estimate(measured, config) if measured else None
    row = prices[prices["label"] == price_label].iloc[0] if price_label in set(prices["label"]) else None
    hourly = float(row["hourly_usd"]) if row is not None else None
    cols = st.columns(3)
    cols[0].metric("Time (estimate)", _duration(timing.total_s if timing else None))
    cols[1].metric("Peak memory (formula)", _gib(memory.total_bytes),
                   help=f"Measured peak while timing: "
                        f"{_gib(measured.peak_memory_bytes if measured else None)}")
    cost = format_usd(cost_usd(timing.total_s, hourly)) if timing and hourly else MISSING
    cols[2].metric("Cost (estimate)", cost)
    if timing:
        st.caption(f"Time = {timing.formula}; measured on {measured.device} with "
                   f"{measured.measured_steps} real steps. Early stopping can end sooner; other jobs on "
                   f"this machine make it slower.")
    st.caption(f"Memory = {memory.formula}.")
    if timing and hourly:
        st.caption(f"Cost = {_duration(timing.total_s)} / 3600 x {format_usd(hourly, digits=4)}/hour "
                   f"({price_label}).")


def launch(config) -> None:
    try:
        info = jobs.submit(config)
    except StratLabModelError as e:
        page.show_error(e)
        return
    st.success(f"Queued job {info.job_id} (run {info.run_id}). It keeps running if you close this tab.",
               icon=":material/rocket_launch:")
    runs_view.sync_jobs()


# ---------------------------------------------------------------- jobs


@st.fragment(run_every=2)
def jobs_panel() -> None:
    """Every job with live progress; reruns alone every 2 s, so the rest of the page stays usable."""
    ingested = runs_view.sync_jobs()
    all_jobs = jobs.list_jobs()
    if not all_jobs:
        st.caption("No jobs yet. Launch one above; it runs in the background.")
        return
    active = [j for j in all_jobs if j.state in ("queued", "running")]
    rest = [j for j in all_jobs if j.state not in ("queued", "running")]
    for info in active + rest[:FINISHED_SHOWN]:
        job_card(info)
    if len(rest) > FINISHED_SHOWN:
        st.caption(f"{len(rest) - FINISHED_SHOWN} older jobs not shown.")
    if ingested:  # a run just landed: rerun the whole page so that Results shows it
        st.session_state["ft_new_runs"] = ingested
        st.rerun(scope="app")


OTHER_JOB_STATES = {
    ("measure", "queued"): "Latency and throughput: waits until no other job runs, so nothing competes.",
    ("measure", "running"): "Measuring latency and throughput alone on this machine (warm-up, 5 repeats).",
    ("measure", "succeeded"): "Latency and throughput measured; Compare shows them.",
}  # what a measure job's card says in each state (its run's events belong to the training job)


def job_card(info: jobs.JobInfo) -> None:
    with st.container(border=True):
        colour = STATE_COLOURS.get(info.state, "gray")
        words = model_words(str(info.config.get("method")), info.config.get("model"))
        if info.kind != "train":  # a measure, bench or evaluate job of a finished run
            words += f" · {info.kind}"
        st.markdown(f":{colour}-badge[{STATE_ICONS.get(info.state, '')} {info.state}] "
                    f"**{dataset_words(info.config.get('dataset'))} · {words}** · attempt {info.attempts}  \n"
                    f":gray[{info.run_id}]")
        if info.kind != "train":  # its run's events are the training's: say what this job does instead
            st.caption(OTHER_JOB_STATES.get((info.kind, info.state), info.state))
        else:
            figures = jobs.progress(info.job_id)
            if info.state in ("running", "queued") or figures.events:
                _progress(info, figures)
        if info.state in ("failed", "interrupted", "cancelled") and info.error:
            st.caption(f"Reason: {info.error}")
        if info.state == "failed":
            log_text = jobs.tail_log(info.job_id, lines=25)
            fix = jobs.likely_fix(log_text)
            if fix:
                st.error(f"Likely fix: {fix}", icon=":material/build:")
            st.code(log_text or "(empty log)", language=None)
        _actions(info)


def _actions(info: jobs.JobInfo) -> None:
    cancellable = info.state in ("queued", "running", "interrupted")
    if not (cancellable or info.resumable):
        return
    with st.container(horizontal=True, gap="small"):  # buttons at their own width: labels never squeezed
        if cancellable:
            label = "Dismiss" if info.state == "interrupted" else "Cancel"
            if st.button(label, key=f"cancel_{info.job_id}", icon=":material/stop:", width="content"):
                _call(jobs.cancel, info.job_id, grace_s=5.0)
        if info.resumable and st.button("Resume", key=f"resume_{info.job_id}", icon=":material/play_arrow:",
                                        type="primary", width="content"):
            _call(jobs.resume, info.job_id)


def _call(action, job_id: str, **kwargs) -> None:
    try:
        action(job_id, **kwargs)
    except StratLabModelError as e:
        page.show_error(e)
        return
    st.rerun(scope="fragment")


def _progress(info: jobs.JobInfo, figures: jobs.JobProgress) -> None:
    fraction = figures.fraction
    step, total = figures.step, figures.total_steps
    label = f"step {step}/{total}" if step is not None and total else (figures.stage or info.state)
    if figures.eta_s is not None and info.state == "running":
        label += f" · ETA {_duration(figures.eta_s)}"
    st.progress(fraction if fraction is not None else 0.0, text=label)
    shown = forms.job_figures(str(info.config.get("method")), figures)  # only figures this method has
    if shown:
        st.markdown(" · ".join(shown))


@st.fragment(run_every=CURVE_REFRESH_S)
def live_curves() -> None:
    """Loss and validation curves of running jobs, redrawn every CURVE_REFRESH_S (not with the 2 s poll)."""
    if not st.toggle("Show live curves", key="ft_live_curves",
                     help="Redrawing charts costs CPU in the browser; with the browser on the training "
                          "machine (a laptop, a 2-core server) it slows training by several percent, so "
                          "they are off by default. The figures above stay live either way."):
        return
    for info in (j for j in jobs.list_jobs() if j.state == "running"):
        figures = jobs.progress(info.job_id)
        epoch_chart = _epoch_chart(pd.DataFrame(figures.epochs))
        if len(figures.loss_curve) < 2 and epoch_chart is None:
            continue
        st.caption(f"Live curves of {info.run_id} (redrawn every {CURVE_REFRESH_S:.0f} s)")
        if len(figures.loss_curve) > 1:
            st.plotly_chart(charts_runs.loss_curve(pd.DataFrame(figures.loss_curve)),
                            key=f"loss_{info.job_id}", width=LIVE_CHART_PX, config=LIVE_CHART_CONFIG)
        if epoch_chart is not None:
            st.plotly_chart(epoch_chart, key=f"epochs_{info.job_id}", width=LIVE_CHART_PX,
                            config=LIVE_CHART_CONFIG)


def _epoch_chart(epochs: pd.DataFrame):
    """Validation per epoch: accuracy for classifiers, loss and perplexity for SFT runs (no accuracy);
    None before the first epoch ends."""
    if epochs.empty or "val_accuracy" not in epochs:
        return None
    if epochs["val_accuracy"].notna().any():
        return charts_runs.epoch_curves(epochs)
    if "val_loss" in epochs and epochs["val_loss"].notna().any():
        return charts_runs.validation_loss_curves(epochs)
    return None


# ---------------------------------------------------------------- results


def results_section() -> None:
    st.subheader("Results")
    runs = runs_view.run_list(workspace.generation())
    if runs.empty:
        st.caption("Finished runs appear here once their job ends.")
        return
    ids = runs["run_id"].tolist()
    labels = dict(zip(ids, run_labels(runs.to_dict("records")), strict=True))
    # Results follow the newest run (the one that just landed) unless the user picked one in this session.
    if not st.session_state.get("ft_result_pinned") or st.session_state.get("ft_result_run") not in ids:
        st.session_state["ft_result_run"] = ids[0]
    run_id = st.selectbox("Run", ids, format_func=labels.get, key="ft_result_run", on_change=_pin_result,
                          help="Shows the newest run as runs land; a run you pick stays shown.")
    if run_id != ids[0]:
        if st.button(f"Show the newest: {labels[ids[0]]}", key="ft_result_newest",
                     icon=":material/arrow_upward:", type="tertiary"):
            st.session_state["ft_result_pinned"] = False
            st.rerun()
    try:
        detail = runs_view.run_detail(workspace.generation(), run_id)
    except Exception as e:  # noqa: BLE001 - RunNotFoundError or a query error: say it, keep the page
        page.show_error(e)
        return
    s, evaluation = detail.summary, detail.evaluation
    generation = evaluation.get("task") == "generation" or s.get("method") in forms.GENERATION_METHODS
    if not evaluation:
        st.warning(f"This run {s['state']}: {s.get('error') or 'no evaluation'}.")
    elif generation:
        _generation_results(run_id, s, evaluation)
    else:
        _headline(s, evaluation)
        _per_class(evaluation)
        _mistakes(detail)
    epoch_chart = _epoch_chart(detail.epochs)
    if epoch_chart is not None:
        st.plotly_chart(epoch_chart)
    if generation and evaluation:
        _export(run_id)
    _provenance(detail)


def _pin_result() -> None:
    st.session_state["ft_result_pinned"] = True


def _headline(summary: dict, evaluation: dict) -> None:
    cols = st.columns(4)
    def pct(key: str) -> str:
        return format_percent(summary.get(key), 1, fixed=True)

    cols[0].metric("Accuracy", pct("accuracy"),
                   help=f"95% CI {pct('accuracy_ci_low')} – {pct('accuracy_ci_high')} (Wilson)")
    cols[0].caption(f"95% CI {pct('accuracy_ci_low')} – {pct('accuracy_ci_high')}")
    if pd.notna(summary.get("macro_f1")):
        cols[1].metric("Macro-F1", pct("macro_f1"))
        if pd.notna(summary.get("macro_f1_ci_low")):
            cols[1].caption(f"95% CI {pct('macro_f1_ci_low')} – {pct('macro_f1_ci_high')} (bootstrap)")
    cols[2].metric("Test examples", format_count(summary.get("n_test")))
    train_seconds = summary.get("train_seconds")
    cols[3].metric("Training time", _duration(train_seconds if pd.notna(train_seconds) else None))


def _generation_results(run_id: str, summary: dict, evaluation: dict) -> None:
    """An SFT run: ROUGE-L and intent match with 95% CIs, fine-tuned next to base, reply length and
    placeholder use, then the best and worst replies next to their references."""
    cols = st.columns(4)
    base = gen_results.has_base(evaluation)
    cols[0].metric("ROUGE-L", gen_results.rouge_points(evaluation.get("rouge_l")),
                   delta=gen_results.rouge_change(evaluation.get("rouge_l"), evaluation.get("base_rouge_l"))
                   if base else None, help="F-measure x 100 against the reference reply (rouge-score, "
                                           "stemmed); the change is against the base model's replies.")
    cols[0].caption(f"95% CI {gen_results.rouge_points(evaluation.get('rouge_l_ci_low'))} – "
                    f"{gen_results.rouge_points(evaluation.get('rouge_l_ci_high'))} (bootstrap)")
    cols[1].metric("Intent match", gen_results.share(evaluation.get("intent_match")),
                   help="Share of replies a classifier trained on the training replies labels with the "
                        "request's intent.")
    if evaluation.get("intent_match") is not None:
        cols[1].caption(f"95% CI {gen_results.share(evaluation.get('intent_match_ci_low'))} – "
                        f"{gen_results.share(evaluation.get('intent_match_ci_high'))} (bootstrap)")
    cols[2].metric("Val. perplexity", gen_results.perplexity(evaluation))
    cols[3].metric("Requests judged", format_count(evaluation.get("n_test_scored")),
                   help="Held-out test requests both models answered (eval_limit caps them; seeded and "
                        "stratified by intent).")
    cols[3].caption(gen_results.judged_words(evaluation))
    train_seconds = summary.get("train_seconds")
    status = finetune_view.run_status(str(runs_view.runs_dir() / run_id), str(summary.get("finished_at")))
    if status.get("fallback_chat_template"):
        st.info("This model has no chat template of its own: the run used the documented fallback (ChatML, "
                "models.modeling.chat_template.FALLBACK_TEMPLATE), saved with the model, so serving uses "
                "the same one.", icon=":material/info:")
    speed = status.get("train_tokens_per_s")
    st.caption(f"Training time {_duration(train_seconds if pd.notna(train_seconds) else None)} on "
               f"{summary.get('device') or '?'}"
               + (f" ({format_number(speed, 3)} training tokens/s)" if speed else "")
               + " · replies generated in "
               f"{_duration(evaluation.get('generation_seconds'))} on "
               f"{evaluation.get('generation_device') or '?'} (greedy, the same prompts for both models).")
    try:
        scores = finetune_view.generation_summary(workspace.generation(), run_id)
    except Exception as e:  # noqa: BLE001 - RunNotFoundError or a query error: say it, keep the page
        page.show_error(e)
        return
    st.markdown("**Fine-tuned vs base model, same test prompts**" if base
                else "**Fine-tuned model** (the base model was not asked: compare_base off)")
    st.dataframe(scores.table, hide_index=True, width="stretch", column_config={
        "metric": st.column_config.TextColumn("measure", width="medium")})
    reference = evaluation.get("mean_reference_tokens")
    st.caption(f"Scores {scores.basis}."
               + (f" The reference replies average {format_number(reference, 3)} tokens."
                  if reference else ""))
    best, worst = finetune_view.reply_examples(workspace.generation(), run_id)
    columns = {name: st.column_config.TextColumn(name, width="medium")
               for name in ("request", "reference", "fine-tuned reply", "base reply")}
    columns.update({name: st.column_config.TextColumn(name)  # sized to their headers
                    for name in ("ROUGE-L", "base ROUGE-L", "intent", "intent match")})
    for title, table in (("Best replies (highest ROUGE-L)", best), ("Worst replies (lowest ROUGE-L)", worst)):
        if table.empty:
            continue
        st.markdown(f"**{title}**")
        st.dataframe(table, hide_index=True, width="stretch", column_config=columns)


def _export(run_id: str) -> None:
    run_dir = runs_view.runs_dir() / run_id
    folder = run_dir / gen_results.MODEL_DIR
    with st.expander("Export: the merged model folder", expanded=False):
        if not folder.is_dir():
            st.caption(f"No model folder at {folder} (the run did not export one).")
            return
        st.markdown(f"The merged model (safetensors, tokenizer with its chat template, generation config, "
                    f"and the model card `README.md` with data, metrics, licence and hardware) is in  \n"
                    f"`{folder}`  \nThese tools take the folder as it is:")
        for tool, command in gen_results.export_commands(folder):
            st.caption(tool)
            st.code(command, language="bash", wrap_lines=True)
        adapter = run_dir / "adapter"
        st.caption((f"The LoRA adapter alone (PEFT format) is in {adapter}. " if adapter.is_dir() else "")
                   + f"How the model was made is in {run_dir}: config.json, data.json, events.jsonl, "
                     "eval.json and every judged reply in generations.parquet.")


def _per_class(evaluation: dict) -> None:
    per_class = charts_runs.per_class_frame(evaluation)
    labels = evaluation.get("label_names") or per_class["label"].tolist()
    left, right = st.columns(2)
    if not per_class.empty:
        left.plotly_chart(charts_runs.per_class_f1(per_class))
    matrix = evaluation.get("confusion_matrix")
    if matrix:
        right.plotly_chart(charts_runs.confusion_heatmap(matrix, labels, top_n=20))
        right.markdown("**Most confused pairs**")
        right.dataframe(charts_runs.confused_pairs(matrix, labels), hide_index=True, width="stretch",
                        column_config={
                            "true_label": st.column_config.TextColumn("true", width="small"),
                            "predicted_label": st.column_config.TextColumn("predicted", width="small"),
                            "count": st.column_config.NumberColumn("texts", width="small"),
                            "share_of_true": st.column_config.ProgressColumn(
                                "share", format="percent", min_value=0.0, max_value=1.0, width="small",
                                help="share of the true class's test texts given this wrong label")})


def _mistakes(detail) -> None:
    mistakes = detail.predictions[~detail.predictions["correct"]].head(20).drop(columns=["probs", "correct"])
    if mistakes.empty:
        return
    texts = finetune_view.run_test_texts(json.dumps(detail.config, sort_keys=True))
    if texts:
        mistakes.insert(1, "text", mistakes["text_id"].map(texts))
    st.markdown("**Most confident mistakes**")
    st.dataframe(mistakes, hide_index=True, width="stretch", column_config={
        "text_id": st.column_config.TextColumn("id", width="small"),
        "text": st.column_config.TextColumn("text", width="large"),
        "true_label": st.column_config.TextColumn("true", width="small"),
        "pred_label": st.column_config.TextColumn("predicted", width="small"),
        "confidence": st.column_config.ProgressColumn("confidence", format="percent", min_value=0.0,
                                                      max_value=1.0, width="small")})


def _provenance(detail) -> None:
    s, env = detail.summary, detail.environment
    with st.expander("Provenance: hardware, versions, date, config"):
        st.markdown(f"**Hardware** {s.get('hardware') or env.get('hardware', '?')} · "
                    f"device {s.get('device') or '?'} · **finished** {s.get('finished_at')} · "
                    f"**job** {s.get('job_id') or '–'}")
        versions = {k: env.get(k)
                    for k in ("python", "torch", "transformers", "accelerate", "peft", "sklearn")
                    if env.get(k)}
        st.markdown("**Versions** " + " · ".join(f"{k} {v}" for k, v in versions.items()))
        left, right = st.columns(2)
        left.json(detail.config, expanded=False)
        right.json(env, expanded=False)


# ---------------------------------------------------------------- page


ws = page.start_page("Fine-tune", "Train a classifier on your data, or a small LLM that drafts the replies; "
                                    "jobs run in the background and survive closing the browser or "
                                    "restarting the app.")
for new_run in st.session_state.pop("ft_new_runs", []):
    st.toast(f"Run {new_run} landed in the workspace.", icon=":material/check_circle:")
prices = workspace.hardware_prices(workspace.generation(), "gpu" if jobs.cuda_device_count() else "cpu")
setup, monitor = st.columns([3, 2], gap="large")
with setup:
    task = task_choice()
    if task == "draft":
        data = draft_dataset_section()
        method, spec = draft_method_section()
        values, price_label, estimate_pressed, launch_pressed = draft_hyperparameters(
            method, prices, blocked=bool(data and data["errors"]))
    else:
        data = dataset_section()
        method, spec = method_section()
        values, price_label, estimate_pressed, launch_pressed = hyperparameters(method, prices)

    if estimate_pressed or launch_pressed:
        try:
            config = build(data, method, spec, values)
        except ConfigError as e:
            st.error(f"Not launched: {e}", icon=":material/block:")
        else:
            if launch_pressed:
                launch(config)
            elif task == "draft":
                show_sft_estimate(config, prices, price_label)
            else:
                show_estimate(config, data, spec, prices, price_label)
with monitor:
    st.subheader("Jobs")
    jobs_panel()
    live_curves()
results_section()
