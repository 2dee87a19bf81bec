"""Playground: trained classifiers side by side on one text or a CSV batch, with 'why this label'; a
fine-tuned reply model next to its base model on one customer message, both streamed, with tokens/s and cost
per reply; and a small local LLM for prompt prototyping. Models load once per server
(pages/_shared/playground.py)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from analytics.charts import playground as charts_playground
from analytics.compute.compare.leaderboard import CompareSettings
from analytics.compute.playground import call_cost, default_price_id
from analytics.compute.run_labels import dataset_words, model_words, run_labels
from analytics.money import (
    format_count,
    format_duration,
    format_ms,
    format_number,
    format_percent,
    format_usd,
    format_usd_per_requests,
)
from analytics.report.csv_export import csv_bytes
from models.core import memory
from models.errors import RunFolderError, StratLabModelError
from models.serving import explain
from pages._shared import forms, page, workspace
from pages._shared import playground as playground_view
from pages._shared import playground_calls as playground

MAX_MODELS = 4
EXAMPLE_TEXT = ("I was charged twice for my order and the parcel still has not arrived. "
                "Please refund one payment.")
TEMPLATE_NAMES = {"support_reply": "Draft a support reply", "summarise_ticket": "Summarise a ticket",
                  "classify": "Classify with label names"}
EXAMPLE_LABELS = "billing, delivery, account access, product question, other"


def _money(per_1k_usd: float | None) -> str:
    """A cost per 1k calls as '$0.0012 per 1k requests' or '$3.40 per 1M requests' (whichever reads at
    least a cent), or 'unknown' without a measured throughput or a price."""
    return "unknown" if per_1k_usd is None else format_usd_per_requests(per_1k_usd / 1000.0)


# ---------------------------------------------------------------- classifiers


def _predictor(row: Mapping[str, Any]):
    """The loaded predictor of a playground_runs row (shared by every session)."""
    return playground_view.predictor(str(playground.run_folder(row["run_id"], row.get("runs_dir"))))


def classifier_tab(runs: pd.DataFrame) -> None:
    if runs.empty:
        st.info("No trained models yet. Train one on the Fine-tune page (the classic baseline takes "
                "seconds); it appears here when its job ends. The Small LLM tab works without one.",
                icon=":material/info:")
        st.page_link("pages/finetune.py", label="Go to Fine-tune", icon=":material/model_training:")
        return
    datasets = list(dict.fromkeys(runs["dataset"]))  # newest run's dataset first
    dataset = st.columns([2, 3])[0].selectbox(
        "Dataset", datasets, key="pg_dataset", format_func=dataset_words, on_change=_dataset_changed,
        help="Models trained on one dataset share its labels: compare them on its texts.")
    runs = runs[runs["dataset"] == dataset]
    labels = dict(zip(runs["run_id"], run_labels(runs.to_dict("records"), with_dataset=False), strict=True))
    chosen = st.multiselect("Models to compare (up to 4)", list(labels), default=list(labels)[:2],
                            format_func=labels.get, max_selections=MAX_MODELS, key="pg_runs")
    if not chosen:
        st.caption("Choose at least one model.")
        return
    rows = runs.set_index("run_id").loc[chosen].reset_index()
    price, utilisation = _price_controls(rows)
    newest = runs.iloc[0]
    sample = playground_view.sample_text(newest["run_id"], newest.get("runs_dir"))
    text = st.text_area("Text to classify", sample or EXAMPLE_TEXT, height=90, key="pg_text",
                        help=f"Starts with a test text of {dataset_words(dataset)}; type your own.")
    explain_on = st.toggle("Why this label: highlight the words that drive each prediction", value=True,
                           key="pg_explain", help="Occlusion: each word is removed in turn and the model "
                           "predicts again; green words raise the predicted label's probability, red words "
                           "lower it.")
    if text.strip():
        columns = st.columns(len(rows))
        for column, row in zip(columns, rows.to_dict("records"), strict=True):
            with column, st.container(border=True):
                _one_model(row, text, price, utilisation, explain_on)
    st.divider()
    batch_section(rows)


def _dataset_changed() -> None:
    """Another dataset: its own models and its own sample text, not the previous dataset's."""
    for key in ("pg_runs", "pg_text"):
        st.session_state.pop(key, None)


def _price_controls(rows: pd.DataFrame, key: str = "pg", widths: tuple[int, int] = (3, 1)
                    ) -> tuple[dict | None, float]:
    gen = workspace.generation()
    catalog = pd.concat([workspace.hardware_prices(gen, "cpu"), workspace.hardware_prices(gen, "gpu")],
                        ignore_index=True)
    if catalog.empty:
        return None, CompareSettings.utilisation
    ids = catalog["price_id"].tolist()
    default = default_price_id(rows, catalog)
    left, right = st.columns(list(widths))
    price_id = left.selectbox("Hardware price for the serving cost", ids, key=f"{key}_price",
                              index=ids.index(default) if default in ids else 0,
                              format_func=lambda i: _price_label(catalog, i),
                              help="Pre-selected from the hardware each run's speed was measured on.")
    utilisation = right.number_input("Utilisation", 0.05, 1.0, CompareSettings.utilisation, 0.05,
                                     key=f"{key}_util",
                                     help="Share of paid machine time spent serving at the measured "
                                          "throughput.")
    return catalog[catalog["price_id"] == price_id].iloc[0].to_dict(), float(utilisation)


def _price_label(catalog: pd.DataFrame, price_id: int) -> str:
    row = catalog[catalog["price_id"] == price_id].iloc[0]
    return f"{row['label']} · {format_usd(row['hourly_usd'], digits=4)}/h"


def _one_model(row: dict, text: str, price: dict | None, utilisation: float, explain_on: bool) -> None:
    st.markdown(f"**{model_words(row['method'], row['model'])}**  \n:gray[{row['run_id']}]")
    try:
        model = _predictor(row)
        result = playground.predict_one(model, text, calls=playground.timed_calls(row["method"]))
    except StratLabModelError as e:
        page.show_error(e)
        return
    top = float(result.probabilities.loc[0, "probability"])
    playground_view.headline("Predicted label", result.label,
                             note=f"{format_percent(top, 1, fixed=True)} probability")
    cost = call_cost(row, price, utilisation)
    playground_view.headline("Serving cost", _money(cost.per_1k_usd), help=cost.basis)
    st.plotly_chart(charts_playground.probability_bars(result.probabilities), key=f"pg_bars_{row['run_id']}",
                    config={"displayModeBar": False})
    benchmark = f"; p50 {format_ms(row['p50_ms'])} in its benchmark" if pd.notna(row.get("p50_ms")) else ""
    accuracy = (f" · test accuracy {format_percent(row['accuracy'], 1)}" if pd.notna(row.get("accuracy"))
                else "")
    calls = f"fastest of {result.calls} calls" if result.calls > 1 else "one call"
    st.caption(f":material/timer: this text: **{format_ms(result.latency_ms)}** "
               f"({calls} here{benchmark}){accuracy}")
    if explain_on:
        _explanation(model, text, row["method"])


def _explanation(model, text: str, method: str) -> None:
    try:
        attribution = explain.occlusion(model, text, max_variants=explain.max_variants_for(method))
    except StratLabModelError as e:
        page.show_error(e)
        return
    st.markdown(f"**Why '{attribution.label}'** ({format_percent(attribution.probability, 1)})")
    st.html(explain.attribution_html(attribution))
    st.caption(explain.attribution_summary(attribution))


def batch_section(rows: pd.DataFrame) -> None:
    st.subheader("Batch: a CSV of texts")
    upload = st.file_uploader("CSV, TSV, Parquet or JSONL with a text column", key="pg_batch",
                              type=["csv", "tsv", "parquet", "jsonl"])
    if upload is None:
        st.caption("Every chosen model predicts every row; download the results as CSV.")
        return
    try:
        frame = playground_view.uploaded_table(str(forms.save_upload(upload.name, upload.getvalue())))
    except StratLabModelError as e:
        page.show_error(e)
        return
    columns = [str(c) for c in frame.columns]
    guess = next((i for i, c in enumerate(columns) if c.lower() in ("text", "message", "sentence")), 0)
    text_column = st.selectbox("Text column", columns, index=guess, key="pg_batch_col")
    st.caption(f"{format_count(len(frame))} rows · {len(rows)} model(s)")
    if st.button("Predict all rows", type="primary", icon=":material/play_arrow:", key="pg_batch_go"):
        _run_batch(rows, frame, text_column, upload.name)
    result = st.session_state.get("pg_batch_result")
    if result:
        _show_batch(result)


def _run_batch(rows: pd.DataFrame, frame: pd.DataFrame, text_column: str, name: str) -> None:
    try:
        texts = playground.batch_texts(frame, text_column)
        models = {r["run_id"]: _predictor(r) for r in rows.to_dict("records")}
        with st.spinner(f"Predicting {format_count(len(texts))} rows with {len(models)} model(s)..."):
            table, seconds = playground.predict_batch(models, texts)
    except StratLabModelError as e:
        page.show_error(e)
        return
    st.session_state["pg_batch_result"] = {"table": table, "seconds": seconds, "name": name}


def _show_batch(result: dict) -> None:
    table, seconds = result["table"], result["seconds"]
    st.caption(" · ".join(f"{run_id}: {format_duration(s)} ({format_count(len(table) / s)} rows/s)" if s > 0
                          else f"{run_id}: <1 ms"
                          for run_id, s in seconds.items()))
    st.dataframe(table.head(200), hide_index=True, height=260)
    stem = result["name"].rsplit(".", 1)[0]
    st.download_button("Download predictions (CSV)", lambda: csv_bytes(table),
                       file_name=f"{stem}-predictions.csv", mime="text/csv", icon=":material/download:",
                       key="pg_batch_download")


# ---------------------------------------------------------------- LLM


def llm_tab() -> None:
    from models.modeling import causal_lm as llm  # torch: imported when this tab renders, not before

    name = playground_view.llm_name()
    st.caption(f"**{name}** runs on this machine, offline. Small models draft and summarise passably and "
               f"classify poorly: compare with a fine-tuned classifier before relying on it.")
    # Two columns: the prompt on the left, Generate and its answer on the right, so that the progress of
    # a first load and the streamed text appear on the first screen (1400x900, 1280x720), not below it.
    setup, output = st.columns([3, 2], gap="large")
    with setup:
        choices = list(TEMPLATE_NAMES) + ["free"]
        template = st.selectbox("Template", choices,
                                format_func=lambda t: TEMPLATE_NAMES.get(t, "Free prompt"), key="pg_template")
        text = st.text_area("Customer message or ticket", EXAMPLE_TEXT, height=80, key="pg_llm_text")
        labels = st.text_input("Label names (comma-separated)", EXAMPLE_LABELS, key="pg_labels") \
            if template == "classify" else ""
        filled = text if template == "free" else playground.fill_template(
            llm.PROMPT_TEMPLATES[template], text, [w.strip() for w in labels.split(",") if w.strip()])
        prompt = st.text_area("Prompt (edit freely)", filled, height=170, key=f"pg_prompt_{hash(filled)}")
    with output:
        left, right = st.columns(2)
        temperature = left.slider("Temperature", 0.0, 1.5, 0.3, 0.05, key="pg_temperature",
                                  help="0 always picks the most likely next token; higher is more varied.")
        max_new = right.slider("Max new tokens", 8, 512, 128, 8, key="pg_max_new")
        if st.button("Generate", type="primary", icon=":material/auto_awesome:", key="pg_generate"):
            _generate(name, prompt, temperature, max_new)
        elif last := st.session_state.get("pg_llm_last"):
            _speed(last["stats"])
            st.container(border=True).markdown(last["text"])


def _generate(name: str, prompt: str, temperature: float, max_new: int) -> None:
    from models.modeling import causal_lm as llm

    clicked = time.perf_counter()  # time to first token counts from here: loading the model is waiting too
    try:
        model, tokenizer = _load_llm(name)
    except StratLabModelError as e:
        page.show_error(e)
        return
    stream = playground.TimedStream(
        llm.generate_stream(model, tokenizer, llm.chat_prompt(tokenizer, prompt), max_new, temperature),
        started_at=clicked)
    figures = st.container()  # the timings go above the answer, where they stay on screen
    try:
        st.container(border=True).write_stream(stream)
    except (RuntimeError, MemoryError) as e:
        page.show_error(memory.explain(e, f"generating with {name}", "lower 'Max new tokens' or shorten the "
                                         "prompt") if memory.is_out_of_memory(e) else e)
        return
    stats = stream.stats(tokenizer)
    st.session_state["pg_llm_last"] = {"text": stream.text, "stats": stats}
    with figures:
        _speed(stats)


def _load_llm(name: str, what: str = "language model"):
    """The LLM, with visible progress when it is not in memory yet (a one-time conversion takes ~30 s)."""
    if playground_view.llm_loaded(name):
        return playground_view.causal_lm(name)
    converting = not playground_view.llm_prepared(name)
    title = (f"Preparing the {what} once (converting SmolLM2 to safetensors, about 30 s on 2 CPU "
             "cores; `make install` does this ahead)..." if converting else f"Loading the {what}...")
    start = time.perf_counter()
    with st.status(title, expanded=converting) as status:
        if converting:
            st.write("This happens once per machine; later starts load it in about a second.")
        try:
            loaded = playground_view.causal_lm(name)
        except StratLabModelError:
            status.update(label=f"The {what} could not be loaded", state="error")
            raise
        done = "prepared" if converting else "loaded"
        status.update(label=f"{what[:1].upper()}{what[1:]} {done} in "
                            f"{format_duration(time.perf_counter() - start)}",
                      state="complete", expanded=False)
    return loaded


def _speed(stats: playground.GenerationStats) -> None:
    cols = st.columns(2) + st.columns(2)  # two rows of two: short values, never cut in a narrow column
    cols[0].metric("Time to first token", format_ms(stats.time_to_first_token_ms),
                   help="From the click to the first word on screen, loading the model included.")
    cols[1].metric("Tokens/s", format_number(stats.tokens_per_s, 3),
                   help="Generated tokens after the first, per second (decode speed).")
    cols[2].metric("New tokens", format_count(stats.new_tokens))
    cols[3].metric("Total", format_duration(stats.total_s))
    if stats.preparation_s >= 0.5:
        what = "one-time model preparation" if stats.preparation_s >= 5 else "loading the model"
        st.caption(f":material/timer: first token {format_ms(stats.time_to_first_token_ms, 3)} after the "
                   f"click (includes {what} {format_duration(stats.preparation_s)}).")


# ---------------------------------------------------------------- drafting replies (sft runs)


def draft_tab(runs: pd.DataFrame) -> None:
    if runs.empty:
        st.info("No fine-tuned reply model yet. On the Fine-tune page choose the task 'Draft replies' "
                "(LoRA SFT of SmolLM2-135M-Instruct on the Bitext customer-support set trains on this CPU); "
                "when its job ends, its replies and the base model's appear here side by side, with tokens/s "
                "and the cost per reply.", icon=":material/info:")
        st.page_link("pages/finetune.py", label="Go to Fine-tune", icon=":material/model_training:")
        return
    rows = runs.to_dict("records")
    infos = {r["run_id"]: playground_view.draft_run(r["run_id"], r.get("runs_dir")) for r in rows}
    labels = dict(zip(infos, playground.draft_labels(rows, [(i or {}).get("eval") for i in infos.values()]),
                      strict=True))
    left, right = st.columns([3, 2], gap="large")
    run_id = left.selectbox("Fine-tuned model", list(labels), format_func=labels.get, key="pg_draft_run",
                            help="Finished sft / sft_lora runs, newest first; its base model answers too.")
    row, info = next(r for r in rows if r["run_id"] == run_id), infos[run_id]
    if info is None:
        page.show_error(RunFolderError(f"the folder of run {run_id} was moved or deleted; train it again on "
                                       "the Fine-tune page"))
        return
    with right:
        price, utilisation = _price_controls(pd.DataFrame([row]), key="pg_draft", widths=(3, 2))
        cap = min(max(int(info["max_new_tokens"] or 256), 16), 512)
        max_new = st.slider("Max new tokens", 16, 512, cap, 16,
                            key="pg_draft_max_new", help="Reply length cap for both models (the run's "
                            "evaluation used its config's max_new_tokens).")
    with left:
        request = st.text_area("Customer message", info["request"] or EXAMPLE_TEXT, height=90,
                               key=f"pg_draft_text_{run_id}",
                               help="Starts with the first test request the run was judged on; type your "
                                    "own.")
        system = info["system_prompt"]
        st.caption("Both models read the same conversation in the fine-tuned run's chat template, "
                   + (f"with the run's system prompt: *{system}*" if system else
                      "with the template's default system prompt (the run set none)")
                   + "; greedy decoding, one reply after the other so each is timed alone.")
    clicked = right.button("Generate both replies", type="primary", icon=":material/auto_awesome:",
                           key="pg_draft_go")
    if clicked:
        _draft(row, info, request, max_new)
    last = st.session_state.get("pg_draft_last")
    if last and last["run_id"] == run_id:
        _draft_figures(last, row, info, price, utilisation)


def _draft(row: dict, info: dict, request: str, max_new: int) -> None:
    """Load both models, stream the base reply, then the fine-tuned one, into two columns; keep the texts and
    timings in session state (costs are priced when shown: another price needs no new replies)."""
    from models.modeling.chat_template import ensure_chat_template
    from models.serving.generation import stream_reply

    try:
        messages = playground.draft_messages(request, info["system_prompt"])
        base = _load_llm(info["base"], "base model")
        tuned = _load_llm(info["model"], "fine-tuned model")
    except StratLabModelError as e:
        page.show_error(e)
        return
    st.session_state.pop("pg_draft_last", None)
    sides = []
    columns = st.columns(2, gap="medium")
    ensure_chat_template(tuned[1])  # as the run did: a tokenizer without one gets the ChatML fallback
    base = (base[0], playground.prompt_tokenizer(base[1], tuned[1]))
    ensure_chat_template(base[1])
    for column, (side, (model, tokenizer)) in zip(columns, (("base", base), ("fine-tuned", tuned)),
                                                   strict=True):
        with column, st.container(border=True):
            st.markdown(f"**{_side_title(side, row, info)}**")
            stream = playground.ReplyStream(stream_reply(model, tokenizer, messages, max_new_tokens=max_new),
                                            playground_view.hardware_here(model))
            try:
                st.container(border=True).write_stream(stream)
            except (RuntimeError, MemoryError) as e:
                page.show_error(memory.explain(e, f"generating the {side} reply", "lower 'Max new tokens' or "
                                               "shorten the message") if memory.is_out_of_memory(e) else e)
                return
            except StratLabModelError as e:
                page.show_error(e)
                return
            sides.append({"side": side, "text": stream.text, "stats": stream.stats})
    st.session_state["pg_draft_last"] = {"run_id": row["run_id"], "request": request, "sides": sides,
                                         "at": pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d %H:%M UTC")}
    st.rerun()  # draw them again with their figures above each reply, as every later rerun shows them


def _side_title(side: str, row: dict, info: dict) -> str:
    if side == "base":
        return f"Base model · {model_words('', info['base']).strip()}"
    return f"Fine-tuned · {model_words(row['method'], row['model'])}"


def _draft_figures(last: dict, row: dict, info: dict, price: dict | None, utilisation: float) -> None:
    """Both replies side by side, each under its tokens/s and its cost per reply, with their provenance."""
    for column, side in zip(st.columns(2, gap="medium"), last["sides"], strict=True):
        stats = side["stats"]
        cost = playground.reply_cost(stats, price, utilisation)
        with column, st.container(border=True):
            st.markdown(f"**{_side_title(side['side'], row, info)}**")
            prefill, decode, length = st.columns(3)
            with prefill:
                playground_view.headline("Prefill tokens/s", format_number(stats.prefill_tokens_per_s, 3),
                                         note=f"{format_count(stats.prompt_tokens)} prompt tokens")
            with decode:
                playground_view.headline("Decode tokens/s", format_number(stats.decode_tokens_per_s, 3))
            with length:
                playground_view.headline("Reply tokens", format_count(stats.reply_tokens),
                                         note=f"in {format_duration(stats.seconds)}")
            value, note = playground.reply_cost_words(cost)
            playground_view.headline("Cost per reply", value, note=note, help=cost.basis)
            st.container(border=True).markdown(side["text"] or ":gray[(empty reply)]")
    st.caption(_provenance(last, row, price, utilisation))


def _provenance(last: dict, row: dict, price: dict | None, utilisation: float) -> str:
    from analytics.compute.compare.pricing import price_basis

    finished = pd.Timestamp(row["finished_at"]) if pd.notna(row.get("finished_at")) else None
    priced = (f"price {price_basis(price)} at {format_percent(utilisation, 0)} utilisation" if price
              else "no hardware price chosen")
    return (f":material/info: Run **{row['run_id']}** ({model_words(row['method'], row['model'])} on "
            f"{dataset_words(row['dataset'])}, trained on {row.get('hardware') or 'unknown hardware'}"
            + (f", finished {finished:%Y-%m-%d}" if finished is not None else "")
            + f") · replies generated {last['at']} on {last['sides'][0]['stats'].device} (this server), "
            f"greedy, one request at a time · {priced}. Prefill tokens/s = prompt tokens / time to the first "
            "reply token; decode tokens/s = the other reply tokens / the time they took. Cost per reply = "
            "hourly price x the reply's seconds / utilisation; batched serving costs less (Compare prices "
            "replies from the run's batched evaluation).")


# ---------------------------------------------------------------- page


page.start_page("Playground", "Try trained classifiers side by side on your own text or a CSV, see why they "
                              "chose a label, draft a support reply with a fine-tuned model next to its base "
                              "model, and prototype prompts with a small local LLM.")
all_runs = playground_view.runs(workspace.generation())
classifiers, drafts, small_llm = st.tabs(["Classifiers", "Draft a reply", "Small LLM"])
with classifiers:
    classifier_tab(playground.classifier_runs(all_runs))
with drafts:
    draft_tab(playground.generation_runs(all_runs))
with small_llm:
    llm_tab()
