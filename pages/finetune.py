"""Fine-tune: set up a run, check and estimate it, launch it as a background job, watch it, read its
results.

Jobs run as detached processes (models.jobs.queue); this page only submits, polls and reads. No torch
here.
"""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from analytics.charts import runs as charts_runs
from analytics.compute.run_labels import dataset_words, model_words, run_labels
from analytics.money import MISSING, format_count, format_duration, format_percent, format_usd
from analytics.settings import field_docs
from models.core.config import METHODS, TrainConfig
from models.data.catalog import list_datasets
from models.data.user_files import validate_labelled_frame
from models.errors import ConfigError, EstimateError, StratLabModelError
from models.jobs import queue as jobs
from models.planning.estimate import cost_usd, memory_estimate, model_shape, time_estimate
from pages._shared import finetune as finetune_view
from pages._shared import forms, page, workspace
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
    method = st.radio("Method", METHODS, key="ft_method", captions=[forms.METHOD_NOTES[m] for m in METHODS],
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


def _advanced(values: dict, method: str) -> None:
    a, b, c = st.columns(3)
    if method in ("full", "lora"):
        values["warmup_ratio"] = a.number_input("Warm-up ratio", 0.0, 0.99, DEFAULTS["warmup_ratio"],
                                                help=HELP["warmup_ratio"])
        values["weight_decay"] = b.number_input("Weight decay", 0.0, 1.0, DEFAULTS["weight_decay"],
                                                help=HELP["weight_decay"])
        values["max_grad_norm"] = c.number_input("Gradient clipping", 0.0, None, DEFAULTS["max_grad_norm"],
                                                 help=HELP["max_grad_norm"])
    if method == "full":
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
    if method == "full":
        values["freeze_embeddings"] = st.checkbox(
            "Freeze the embedding tables (faster; train the layers above them)",
            DEFAULTS["freeze_embeddings"], help=HELP["freeze_embeddings"])


# ---------------------------------------------------------------- check, estimate, launch


def build(data: dict, method: str, spec, values: dict):
    """TrainConfig from the page's choices; raises ConfigError with the reason."""
    if data is None:
        raise ConfigError("choose a dataset from the catalog or upload a file")
    if data["errors"]:
        raise ConfigError("the uploaded file has problems to fix first: " + " | ".join(data["errors"]))
    chosen = {"method": method, "dataset": data["dataset"], "text_column": data["text_column"],
              "label_column": data["label_column"], "runs_dir": str(runs_view.runs_dir()), **values}
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
        epochs = pd.DataFrame(figures.epochs)
        if len(figures.loss_curve) < 2 and "val_accuracy" not in epochs:
            continue
        st.caption(f"Live curves of {info.run_id} (redrawn every {CURVE_REFRESH_S:.0f} s)")
        if len(figures.loss_curve) > 1:
            st.plotly_chart(charts_runs.loss_curve(pd.DataFrame(figures.loss_curve)),
                            key=f"loss_{info.job_id}", width=LIVE_CHART_PX, config=LIVE_CHART_CONFIG)
        if "val_accuracy" in epochs:
            st.plotly_chart(charts_runs.epoch_curves(epochs), key=f"epochs_{info.job_id}",
                            width=LIVE_CHART_PX, config=LIVE_CHART_CONFIG)


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
    if not evaluation:
        st.warning(f"This run {s['state']}: {s.get('error') or 'no evaluation'}.")
    else:
        _headline(s, evaluation)
        _per_class(evaluation)
        _mistakes(detail)
    if not detail.epochs.empty and detail.epochs["val_accuracy"].notna().any():
        st.plotly_chart(charts_runs.epoch_curves(detail.epochs))
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


ws = page.start_page("Fine-tune", "Train a classifier on your data; jobs run in the background and survive "
                                    "closing the browser or restarting the app.")
for new_run in st.session_state.pop("ft_new_runs", []):
    st.toast(f"Run {new_run} landed in the workspace.", icon=":material/check_circle:")
prices = workspace.hardware_prices(workspace.generation(), "gpu" if jobs.cuda_device_count() else "cpu")
setup, monitor = st.columns([3, 2], gap="large")
with setup:
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
            else:
                show_estimate(config, data, spec, prices, price_label)
with monitor:
    st.subheader("Jobs")
    jobs_panel()
    live_curves()
results_section()
