"""Compare: build or buy, at what volume, how sure. Measured accuracy against measured or priced dollars."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics.charts import compare as charts
from analytics.compute.compare.candidates import (
    add_api_candidate,
    api_candidates,
    delete_api_candidate,
    import_api_predictions,
)
from analytics.compute.compare.cascade import cascade_operating_points
from analytics.compute.compare.leaderboard import DEFAULT_REQUESTS_PER_MONTH, CompareSettings, Leaderboard
from analytics.compute.compare.recommend import break_even_points, recommend
from analytics.compute.compare.replies import (
    DEFAULT_REPLIES_PER_MONTH,
    QUALITY_METRICS,
    ReplyLeaderboard,
    ReplySettings,
    reply_recommendation,
)
from analytics.compute.compare.scaling import SCALING_FORMULAS, learning_curve
from analytics.errors import AnalyticsError, CostInputError
from analytics.ingest import prices
from analytics.money import (
    format_count,
    format_duration,
    format_flops,
    format_number,
    format_percent,
    format_usd,
    usd_per_requests_unit,
)
from analytics.report.memo import memo_filename, save_memo
from models.errors import StratLabModelError
from pages._shared import compare as compare_view
from pages._shared import page, workspace
from pages._shared import runs as runs_view
from pages._shared.tables import detail_frame, leaderboard_frame, money_table

NO_TARGET = 0.0
PRICE_ORDER = ("name", "provider", "hourly_usd", "input_per_m_usd", "output_per_m_usd", "as_of", "source",
               "kind", "peak_tflops", "memory_gb", "bandwidth_gbps")
# Prefix of a generation set's value in the evaluation-set picker (a dataset can be both a classification and
# a generation set: Bitext's intents and its replies).
REPLY_SET = "replies:"
PRICE_COLUMNS = ("price_id", "kind", "name", "provider", "hourly_usd", "input_per_m_usd", "output_per_m_usd",
                 "peak_tflops", "memory_gb", "bandwidth_gbps", "as_of", "source")


# ------------------------------------------------------------------------------------------ empty state, demo


def _demo_status() -> None:
    active = compare_view.demo_jobs()
    if active:
        running = [str(j.config.get("method")) for j in active if j.state == "running"]
        now = f" (now training: {running[0]})" if running else ""
        st.info(f"Quick demo: {len(active)} candidate(s) still to finish{now}. "
                f"They appear here as they land.",
                icon=":material/hourglass_top:")


def _demo_button(primary: bool) -> None:
    st.caption(compare_view.demo_caption())
    if st.button("Run the quick demo (BANKING77 subset, 3+ real candidates)", type="primary" if primary else
                 "secondary", key="cmp_demo", disabled=bool(compare_view.demo_jobs())):
        try:
            jobs = compare_view.submit_quick_demo()
        except StratLabModelError as e:
            page.show_error(e)
        else:
            st.session_state["cmp_demo_clicked"] = pd.Timestamp.now(tz="UTC").isoformat()
            st.success(f"Queued {len(jobs)} training jobs; they run one after another.",
                       icon=":material/check:")


@st.fragment(run_every=4)
def _watch_jobs() -> None:
    """While any job runs (the demo's, a re-measure, a Fine-tune run): tick the queue, ingest what finished,
    and redraw the page when something landed; once more after the last job ended, so its figures (the
    last measure job's inference.json) appear without a reload."""
    active = compare_view.active_jobs()
    if not active and not st.session_state.get("cmp_watching"):
        return
    st.session_state["cmp_watching"] = bool(active)
    runs_view.sync_jobs()
    runs_view.sync_inference()
    compare_view.sync_serving()
    if compare_view.signature() != st.session_state.get("cmp_signature"):
        workspace.changed()  # whoever ingested or attached it, this session's cached views are stale now
        st.rerun(scope="app")
    _demo_status()


def _empty_state() -> None:
    st.info(
        "No measured candidates yet. Every number on this page comes from a run you trained (accuracy on "
        "its test set, throughput timed on your machine) or an API you enter with a source: nothing is made "
        "up. Train models on the Fine-tune page, or measure three real candidates now with the quick demo "
        "(a few minutes on a laptop CPU).", icon=":material/balance:")
    _demo_button(primary=True)
    _endpoint_form(None)


# ------------------------------------------------------------------------------------------ settings


def _settings(dataset: str) -> CompareSettings | None:
    """Volume, utilisation, target and hardware prices -> CompareSettings (None with an error shown)."""
    cols = st.columns([1.3, 1, 1])
    volume = cols[0].number_input("Requests per month", min_value=0, value=DEFAULT_REQUESTS_PER_MONTH,
                                  step=100_000, key="cmp_volume",
                                  help="Your expected production volume (1,000,000 is about 33,000 texts a "
                                       "day).")
    utilisation = cols[1].slider("Utilisation of paid machine time", 5, 100, 50, step=5, format="%d%%",
                                 key="cmp_util", help="Share of the machine's paid time spent serving at the "
                                 "measured batch throughput (an autoscaled or shared machine).")
    target = cols[2].number_input("Accuracy target (%) · 0 = none", min_value=0.0, max_value=100.0,
                                  value=NO_TARGET, step=1.0, key="cmp_target")
    chosen = _hardware_pickers(dataset)
    served = _served_picker(dataset)
    try:
        return CompareSettings(dataset=dataset, requests_per_month=float(volume),
                                       utilisation=utilisation / 100.0, hardware_prices=chosen,
                                       accuracy_target=target / 100.0 if target > 0 else None,
                                       served_concurrency=served)
    except CostInputError as e:
        page.show_error(e)
        return None


def _served_picker(dataset: str) -> int | None:
    """The load-test concurrency to price served candidates at (None: in-process figures only); shown only
    when the dataset's runs have serving records (`python -m models loadtest`)."""
    levels = compare_view.served_levels(workspace.generation(), dataset)
    if not levels:
        return None
    options: list[int | None] = [None, *levels]
    default = 16 if 16 in levels else levels[-1]
    return st.selectbox("Served throughput (load tests of the runs behind a real server)", options,
                        index=options.index(default), key="cmp_served",
                        format_func=lambda c: ("in-process benchmark only" if c is None
                                               else f"also priced as served at concurrency {c}"),
                        help="A served row prices the run from the requests/s its server reached under load "
                             "at this many concurrent requests (serving.json), next to the in-process "
                             "figure.")


def _hardware_pickers(dataset: str,
                      matched: dict[str, int | None] | None = None) -> tuple[tuple[str, int], ...]:
    """One price picker per measured hardware name (those of `matched`, else of the dataset's classification
    runs); a hardware without a match starts on '(no price)'."""
    if matched is None:
        matched = compare_view.hardware(workspace.generation(), dataset)
    if not matched:
        return ()
    catalog = pd.concat([workspace.hardware_prices(workspace.generation(), "cpu"),
                         workspace.hardware_prices(workspace.generation(), "gpu")])
    labels = {int(r.price_id): f"{r.label} · {format_usd(r.hourly_usd, digits=4)}/h"
              for r in catalog.itertuples()}
    options = [None, *labels]
    chosen = []
    with st.expander("Hardware prices (what each measured machine costs per hour)",
                     expanded=any(v is None for v in matched.values())):
        for i, (hardware, default) in enumerate(matched.items()):
            pick = st.selectbox(f"Price for '{hardware}'", options, index=options.index(default),
                                format_func=lambda p: ("(no price: runs on it are flagged)" if p is None
                                                       else labels[p]),
                                key=f"cmp_hw_{i}_{hardware}")
            if pick is not None:
                chosen.append((hardware, int(pick)))
    return tuple(chosen)


# ------------------------------------------------------------------------------------------ tabs


def _headline(board: Leaderboard) -> None:
    """The recommended candidate's monthly cost at the user's volume, its unit cost and accuracy."""
    priced = board.priced
    if priced.empty:
        return
    choice = compare_view.recommended_row(board)
    if choice is None:
        return
    per_request = choice["cost_per_1k_usd"] / 1000.0
    requests, unit = usd_per_requests_unit([per_request])  # the unit that reads for this one figure
    cols = st.columns(3)
    cols[0].metric(f"a month at {format_count(board.settings.requests_per_month, compact=True)} requests",
                   format_usd(choice["monthly_usd"]))
    cols[1].metric(f"cost {unit}", format_usd(per_request * requests))
    cols[2].metric("accuracy", format_percent(choice["accuracy"], fixed=True))


def _remeasure(board: Leaderboard) -> None:
    """One expander for every unreliable measurement, a Re-measure button per run."""
    if not board.remeasure:
        return
    count = len(board.remeasure)
    with st.expander(f"{count} latency measurement{'s' if count > 1 else ''} to repeat "
                     f"(measured while the machine was busy or unsteady)", icon=":material/speed:"):
        st.caption("Their dollars and latency may read worse than the hardware is. A re-measure queues an "
                   "exclusive job that runs when nothing else of ours does; the new figures replace these.")
        for i, item in enumerate(board.remeasure):
            cols = st.columns([5, 1.3])
            cols[0].markdown(f"**{item.candidate}**: {item.reason}")
            if cols[1].button("Re-measure", key=f"cmp_remeasure_{i}_{item.run_id}"):
                try:
                    job = compare_view.remeasure(item.run_id)
                except StratLabModelError as e:
                    page.show_error(e)
                else:
                    st.success(f"Queued (job {job.job_id}); the figures update when it finishes.",
                               icon=":material/check:")


def _leaderboard_tab(board: Leaderboard) -> None:
    st.markdown(f"**Recommendation.** {recommend(board)}")
    _headline(board)
    if board.flags:
        st.warning("\n".join(f"- {flag}" for flag in board.flags), icon=":material/flag:")
    _remeasure(board)
    styled, config = leaderboard_frame(board)
    st.dataframe(styled, hide_index=True, width="stretch", column_config=config)
    figures = compare_view.figures(workspace.generation(), board.settings)
    st.plotly_chart(figures["frontier"], width="stretch", key="cmp_frontier")
    st.plotly_chart(figures["total"], width="stretch", key="cmp_total")
    st.plotly_chart(figures["latency"], width="stretch", key="cmp_latency")
    points = break_even_points(board)
    if len(points):
        st.caption("Break-even volumes: "
                   + "; ".join(f"{r.a} = {r.b} at {format_count(r.requests_per_month)} requests/month"
                               for r in points.itertuples()))
    with st.expander("Every figure (macro-F1, p95, throughput, training, hardware)"):
        st.dataframe(detail_frame(board), hide_index=True, width="stretch")
    with st.expander("Provenance of every number"):
        provenance = board.table[["candidate", "accuracy_basis", "latency_basis", "cost_basis",
                                  "price_source", "training_basis"]]
        provenance = provenance.fillna({"price_source": "not priced (see its flag)"})
        st.dataframe(provenance.fillna("–").rename(columns={
                                      "accuracy_basis": "accuracy", "latency_basis": "latency",
                                      "cost_basis": "cost", "price_source": "priced by",
                                      "training_basis": "training"}),
                     hide_index=True, width="stretch")
    with st.expander("Assumptions and prices used"):
        st.markdown("\n".join(f"- {a}" for a in board.assumptions))
        st.dataframe(compare_view.prices_used(workspace.generation(), board.price_ids), hide_index=True,
                     width="stretch")
    _projection(board)
    _endpoint_form(board.settings.dataset)
    _api_forms(board)


def _projection(board: Leaderboard) -> None:
    with st.expander("Projection to other hardware (estimates)"):
        mfu = st.slider("Assumed share of peak FLOP/s reached (MFU)", 5, 80, 30, step=5, format="%d%%",
                        key="cmp_mfu")
        projection = compare_view.projections(workspace.generation(), board.settings, mfu / 100.0)
        st.caption("Not measured: throughput = peak FLOP/s x MFU / (2 x parameters x tokens per request), "
                   "or the memory-bandwidth bound when lower. Use it to decide what to measure next.")
        st.plotly_chart(charts.projection_chart(projection), width="stretch", key="cmp_projection")


# Where the endpoint job reads the API key from (only the name is typed; the key never enters the page).
KEY_FROM = {"env": "environment variable", "secret": "Streamlit secret", "none": "no key"}


def _endpoint_form(dataset: str | None) -> None:
    """'Add an endpoint': evaluate an OpenAI-compatible endpoint on a catalog dataset as a background job
    (models.jobs.endpoint); its run lands on this leaderboard as a measured candidate."""
    datasets = compare_view.endpoint_datasets()
    with st.expander("Add an endpoint (measure a hosted or served model on your evaluation set)",
                     icon=":material/cloud:"):
        st.caption("Sends the test texts of the dataset to an OpenAI-compatible endpoint (OpenAI, Groq, "
                   "Together, vLLM, our own `python -m models serve`...), with a budget it never exceeds and "
                   "a cache so nothing is paid twice. Type only the NAME of the variable or secret holding "
                   "the key: the key itself never enters this page, the workspace or the run folder.")
        with st.form("cmp_endpoint_form", clear_on_submit=False):
            cols = st.columns(2)
            base_url = cols[0].text_input("Base URL", placeholder="https://api.openai.com/v1",
                                          key="cmp_ep_url")
            model = cols[1].text_input("Model name", placeholder="gpt-4o-mini", key="cmp_ep_model")
            cols = st.columns(2)
            key_from = cols[0].radio("API key from", list(KEY_FROM), format_func=KEY_FROM.get,
                                     horizontal=True, key="cmp_ep_key_from",
                                     help="No key: a local server such as `python -m models serve`.")
            key_name = cols[1].text_input("Name of the variable or secret", placeholder="OPENAI_API_KEY",
                                          key="cmp_ep_key_name")
            cols = st.columns(4)
            chosen = cols[0].selectbox("Dataset", datasets, key="cmp_ep_dataset",
                                       index=datasets.index(dataset) if dataset in datasets else 0)
            limit = cols[1].number_input("Test texts (limit)", min_value=1, value=200, step=50,
                                         key="cmp_ep_limit")
            shots = cols[2].number_input("Examples per label (shots)", min_value=0, max_value=32, value=0,
                                         key="cmp_ep_shots")
            budget = cols[3].number_input("Budget (USD)", min_value=0.0, value=0.50, step=0.10,
                                          key="cmp_ep_budget")
            cols = st.columns([1, 1, 2])
            price_in = cols[0].number_input("Override: $ per 1M in", min_value=0.0, value=None,
                                            key="cmp_ep_price_in",
                                            help="Optional: your price per million prompt tokens; without "
                                                 "it the catalog's or genai-prices' list price is used.")
            price_out = cols[1].number_input("$ per 1M out", min_value=0.0, value=None,
                                             key="cmp_ep_price_out")
            price_source = cols[2].text_input("Where the override price comes from",
                                              key="cmp_ep_price_source",
                                              placeholder="pricing page URL, date (required with a price)")
            if st.form_submit_button("Measure this endpoint"):
                _submit_endpoint(base_url, model, key_from, key_name, chosen, limit, shots, budget, price_in,
                                 price_out, price_source)
        _endpoint_jobs()


def _submit_endpoint(base_url: str, model: str, key_from: str, key_name: str, dataset: str, limit: int,
                     shots: int, budget: float, price_in: float | None, price_out: float | None,
                     price_source: str) -> None:
    name = (key_name or "").strip()
    if key_from != "none" and not name:
        st.error(f"Name the {KEY_FROM[key_from]} that holds the key (e.g. OPENAI_API_KEY), or choose "
                 f"'{KEY_FROM['none']}'.", icon=":material/key:")
        return
    if budget <= 0:
        st.error("A budget of $0 cannot pay for a single request: give the most you will spend on this "
                 "evaluation, e.g. $0.50.", icon=":material/block:")
        return
    fields = {"base_url": base_url, "model": model, "dataset": dataset, "limit": int(limit),
              "shots": int(shots), "budget_usd": float(budget),
              "api_key_env": name if key_from == "env" else None}
    if price_in is not None or price_out is not None or (price_source or "").strip():
        fields.update(input_price_per_m=price_in, output_price_per_m=price_out,
                      price_source=(price_source or "").strip() or None)
    try:
        job = compare_view.submit_endpoint(fields, name if key_from == "secret" else None)
    except StratLabModelError as e:
        page.show_error(e)
        return
    st.success(f"Queued (job {job.job_id}): it runs in the background, and its run joins this leaderboard "
               f"when it finishes. Refused before any request if the estimate is above "
               f"{format_usd(budget)}.", icon=":material/check:")


ERROR_PREFIXES = ("EndpointError: ", "EndpointRunFailed: ", "ConfigError: ")


def _endpoint_jobs() -> None:
    """The newest endpoint jobs: state, and a failed one's message as the job wrote it."""
    for job in compare_view.endpoint_jobs():
        config = job.config
        where = f"**{config.get('model')}** at {config.get('base_url')} on {config.get('dataset')}"
        if job.state == "failed":
            message = str(job.error or "failed")
            for prefix in ERROR_PREFIXES:
                message = message.removeprefix(prefix)
            kept = " What it measured is kept in its run folder." if job.run_dir.is_dir() else ""
            st.error(f"{where}: {message}{kept}", icon=":material/error:")
        elif job.state == "succeeded":
            st.caption(f"{where}: measured (run {job.run_id}).")
        else:
            st.caption(f"{where}: {job.state} (job {job.job_id}).")


def _api_forms(board: Leaderboard) -> None:
    api_rows = workspace.hardware_prices(workspace.generation(), "api")
    labels = {int(r.price_id): f"{r.label} · {format_usd(r.input_per_m_usd, digits=4)}/"
                               f"{format_usd(r.output_per_m_usd, digits=4)} per 1M"
              for r in api_rows.itertuples()}
    with st.expander("Add a hosted API candidate"):
        with st.form("cmp_api_form", clear_on_submit=False):
            name = st.text_input("Name", placeholder="gpt-4o-mini, zero-shot prompt")
            price = st.selectbox("API price row", list(labels), format_func=labels.get)
            cols = st.columns(3)
            accuracy = cols[0].number_input("Accuracy (%)", 0.0, 100.0, value=None, step=0.1)
            n_eval = cols[1].number_input("Measured on how many texts", min_value=1, value=None, step=1)
            macro = cols[2].number_input("Macro-F1 (optional, 0-1)", 0.0, 1.0, value=None, step=0.01)
            source = st.text_input("Source of the accuracy (required)",
                                   placeholder="paper, leaderboard URL, eval file")
            tokens = st.columns(2)
            tin = tokens[0].number_input("Input tokens per request (optional: counted from your test texts)",
                                         min_value=0.0, value=None)
            tout = tokens[1].number_input("Output tokens per request (optional)", min_value=0.0, value=None)
            if st.form_submit_button("Add candidate"):
                _add_api(board.settings.dataset, name, price, accuracy, n_eval, macro, source, tin, tout)
    with st.expander("Import an API's predictions (CSV with text_id, pred_label)"):
        _import_api(board, labels)
    listed = api_candidates(workspace.workspace(), board.settings.dataset)
    for row in listed.itertuples():
        cols = st.columns([5, 1])
        cols[0].caption(f"API candidate **{row.name}** · {format_percent(row.accuracy, fixed=True)} on "
                        f"{format_count(row.n_eval)} texts · "
                        f"source: {row.accuracy_source}")
        if cols[1].button("Remove", key=f"cmp_del_{row.candidate_id}"):
            delete_api_candidate(workspace.workspace(), int(row.candidate_id))
            workspace.changed()
            st.rerun()


def _add_api(dataset: str, name: str, price: int | None, accuracy: float | None, n_eval: int | None,
             macro: float | None, source: str, tin: float | None, tout: float | None) -> None:
    if accuracy is None or n_eval is None or price is None:
        st.error("Enter the accuracy, how many texts it was measured on, and the API price row.")
        return
    try:
        add_api_candidate(workspace.workspace(), name=name, dataset=dataset, price_id=int(price),
                                  accuracy=accuracy / 100.0, n_eval=int(n_eval), accuracy_source=source,
                                  macro_f1=macro, input_tokens_per_request=tin or None,
                                  output_tokens_per_request=tout)
    except (CostInputError, AnalyticsError) as e:
        page.show_error(e)
        return
    workspace.changed()
    st.rerun()


def _import_api(board: Leaderboard, labels: dict[int, str]) -> None:
    runs = board.table[board.table["kind"] == "self-hosted"]
    if runs.empty:
        st.caption("Needs a run on this dataset: its stored test predictions give the true labels.")
        return
    upload = st.file_uploader("Predictions file", type=["csv"], key="cmp_api_upload")
    run_key = st.selectbox("Match to the test set of run", list(runs["key"]),
                           format_func=dict(zip(runs["key"], runs["candidate"], strict=True)).get,
                           key="cmp_api_run")
    price = st.selectbox("API price row", list(labels), format_func=labels.get, key="cmp_api_import_price")
    name = st.text_input("Name", key="cmp_api_import_name")
    if upload is not None and st.button("Import predictions", key="cmp_api_import"):
        try:
            frame = pd.read_csv(upload, dtype=str)
            import_api_predictions(workspace.workspace(), name=name or upload.name, price_id=int(price),
                                           run_id=run_key.removeprefix("run:"), predictions=frame,
                                           file_name=upload.name)
        except (CostInputError, AnalyticsError, ValueError) as e:
            page.show_error(e)
            return
        workspace.changed()
        st.rerun()


def _cascade_tab(board: Leaderboard) -> None:
    priced = board.priced
    smalls = priced[priced["kind"] == "self-hosted"]
    if len(priced) < 2 or smalls.empty:
        st.info("A cascade needs two priced candidates with stored predictions (one of them a run).")
        return
    names = dict(zip(priced["key"], priced["candidate"], strict=True))
    cols = st.columns(2)
    small = cols[0].selectbox("First model (answers when confident)", list(smalls["key"]),
                              format_func=names.get, key="cmp_small")
    bigs = [k for k in priced.sort_values("accuracy", ascending=False)["key"] if k != small]
    big = cols[1].selectbox("Fallback (answers when the first is unsure)", bigs, format_func=names.get,
                            key="cmp_big")
    try:
        result = compare_view.cascade(workspace.generation(), board.settings, small, big)
    except CostInputError as e:
        page.show_error(e)
        return
    st.plotly_chart(charts.cascade_chart(result), width="stretch", key="cmp_cascade")
    best = cascade_operating_points(result)
    st.caption(f"Simulated on {format_count(result.n_examples)} test texts both scored: every request runs "
               f"the first model; those below the confidence threshold also run the fallback. Best operating "
               f"points:")
    requests, unit = board.unit
    shown = pd.DataFrame({"threshold": best["threshold"].round(3), "deferred": best["deferred_share"] * 100,
                          "accuracy": best["accuracy"] * 100,
                          f"$ {unit}": best["cost_per_1k_usd"] / 1000.0 * requests})
    st.dataframe(money_table(shown, [f"$ {unit}"]), hide_index=True, column_config={
        "threshold": st.column_config.NumberColumn("confidence threshold", format="%.3f"),
        "accuracy": st.column_config.NumberColumn(format="%.1f%%"),
        "deferred": st.column_config.NumberColumn("sent to the fallback", format="%.0f%%")})


def _learning_tab(board: Leaderboard) -> None:
    cost = st.number_input("Cost per label ($)", min_value=0.0, max_value=100.0, value=0.10, step=0.05,
                           key="cmp_label_cost", help="What one labelled example costs you (annotator time).")
    curve = learning_curve(board, cost)
    st.plotly_chart(charts.learning_curve_chart(curve, cost), width="stretch", key="cmp_learning")
    if not curve.empty:
        shown = pd.DataFrame({
            "method and model": curve["series"], "examples per class": curve["examples_per_class"],
            "labels": curve["labels"], "labelling $": curve["labelling_usd"],
            "accuracy": curve["accuracy"] * 100, "95% CI low": curve["accuracy_ci_low"] * 100,
            "95% CI high": curve["accuracy_ci_high"] * 100})
        percent = st.column_config.NumberColumn(format="%.1f%%")
        st.dataframe(money_table(shown, ["labelling $"]), hide_index=True, width="stretch", column_config={
            "examples per class": st.column_config.NumberColumn(format="%d"),
            "labels": st.column_config.NumberColumn(format="localized"),
            "accuracy": percent, "95% CI low": percent, "95% CI high": percent})


def _prices_tab(ws) -> None:
    table = prices.price_table(ws)[list(PRICE_COLUMNS)]
    st.caption("Edit a cell, say where the new figure comes from, then save. Zero, negative, missing or "
               "absurd prices are refused; every edit is recorded. A blank 'as of' is an undated price "
               f"({int(table['as_of'].isna().sum())} of {len(table)}): the sentences elsewhere cite its "
               "source only.")
    edited = st.data_editor(table, hide_index=True, disabled=["price_id", "kind", "name", "provider"],
                            key="cmp_price_editor", width="stretch", column_order=PRICE_ORDER, column_config={
                                "as_of": st.column_config.DateColumn("as of (blank: undated)"),
                                "hourly_usd": st.column_config.NumberColumn("$ per hour"),
                                "input_per_m_usd": st.column_config.NumberColumn("$ per 1M input tokens"),
                                "output_per_m_usd": st.column_config.NumberColumn("$ per 1M output tokens"),
                            })
    note = st.text_input("Source or reason for these edits (required)", key="cmp_price_note")
    if st.button("Save price edits", key="cmp_price_save"):
        _save_prices(ws, table, edited, note)
    edits = prices.price_edits(ws)
    if len(edits):
        st.markdown("**Edit history**")
        st.dataframe(edits, hide_index=True, width="stretch")
    _list_prices()


def _list_prices() -> None:
    """Hosted-API list prices from genai-prices, with the catalog's figure where the catalog has the model."""
    if not st.toggle(f"Show hosted list prices (genai-prices {prices.genai_prices_version()})",
                     key="cmp_list_prices"):
        return  # read only when asked for: a few hundred list prices are not needed on every page run
    with st.container(border=True):
        listed = compare_view.list_prices(workspace.generation())
        snapshot = prices.genai_snapshot_date()
        dated = f"; its newest dated price is of {snapshot:%Y-%m-%d}" if snapshot else ""
        st.caption("List prices from the genai-prices package's bundled data" + dated + ". An endpoint run "
                   "is priced by the catalog row of its model when there is one (the catalog above is the "
                   "override you edit), else by this list price, unless you gave a price when adding it. "
                   "Every priced row on the leaderboard says which one priced it ('priced by').")
        shown = listed[["model", "provider", "input_per_m_usd", "output_per_m_usd", "catalog", "as_of",
                        "source"]]
        st.dataframe(money_table(shown, ["input_per_m_usd", "output_per_m_usd"]), hide_index=True,
                     width="stretch", column_config={
                         "input_per_m_usd": st.column_config.TextColumn("$ per 1M input"),
                         "output_per_m_usd": st.column_config.TextColumn("$ per 1M output"),
                         "as_of": st.column_config.DateColumn("as of"),
                         "catalog": st.column_config.TextColumn("catalog override")})


def _changed_cells(before: pd.DataFrame, after: pd.DataFrame) -> list[tuple[int, str, object]]:
    cells = []
    for (_, old), (_, new) in zip(before.iterrows(), after.iterrows(), strict=True):
        for field in prices.EDITABLE:
            a, b = old[field], new[field]
            if (pd.isna(a) and pd.isna(b)) or (not pd.isna(a) and not pd.isna(b) and a == b):
                continue
            cells.append((int(old["price_id"]), field, None if pd.isna(b) else b))
    return cells


def _save_prices(ws, before: pd.DataFrame, after: pd.DataFrame, note: str) -> None:
    cells = _changed_cells(before, after)
    if not cells:
        st.info("No cell changed.")
        return
    refused = []
    saved = 0
    for price_id, field, value in cells:
        try:
            prices.update_price(ws, price_id, field, value, note)
            saved += 1
        except AnalyticsError as e:  # CostInputError, or QueryError for a NOT NULL/check constraint
            name = before.loc[before["price_id"] == price_id, "name"].iloc[0]
            refused.append(f"{name} · {field} = {value!r}: {e}")
    for message in refused:
        st.error(f"Refused, not saved: {message}", icon=":material/block:")
    if saved:
        workspace.changed()
        st.success(f"Saved {saved} edit(s).")


def _planner_tab() -> None:
    st.markdown("Plan a training run before you rent anything: compute, memory, GPUs, time and dollars "
                "for each GPU in the price catalog.")
    cols = st.columns(4)
    params_b = cols[0].number_input("Parameters N (billions)", min_value=0.001, max_value=2000.0, value=1.0,
                                    step=0.5, key="cmp_plan_n")
    tokens_b = cols[1].number_input("Training tokens D (billions)", min_value=0.001, max_value=100000.0,
                                    value=20.0, step=1.0, key="cmp_plan_d")
    method = cols[2].selectbox("Method", ["full", "lora", "qlora"], key="cmp_plan_method")
    util = cols[3].slider("Utilisation (MFU)", 10, 70, 40, step=5, format="%d%%", key="cmp_plan_util")
    try:
        plans = compare_view.scaling_plans(workspace.generation(), params_b * 1e9, tokens_b * 1e9, method,
                                           util / 100.0)
    except CostInputError as e:
        page.show_error(e)
        return
    chinchilla = 20.0 * params_b
    st.metric("Training compute 6ND", format_flops(6 * params_b * 1e9 * tokens_b * 1e9),
              help="6 x parameters x tokens (Kaplan et al., 2020)")
    st.caption(f"Chinchilla-optimal data for {format_count(params_b * 1e9, compact=True)} parameters: about "
               f"{format_count(chinchilla * 1e9, compact=True)} tokens (you chose "
               f"{format_count(tokens_b * 1e9, compact=True)}, {format_number(tokens_b / params_b)} "
               f"tokens per parameter).")
    shown = pd.DataFrame({"GPU": plans["gpu"], "GPUs": plans["gpus"],
                          "GB per GPU": plans["memory_per_gpu_gb"],
                          "time": [format_duration(h * 3600.0) for h in plans["wall_hours"]],
                          "cost": plans["cost_usd"], "$ per GPU-hour": plans["hourly_usd"],
                          "as of": plans["as_of"], "source": plans["source"]})
    st.dataframe(money_table(shown, ["cost", "$ per GPU-hour"]), hide_index=True, width="stretch",
                 column_config={"GB per GPU": st.column_config.NumberColumn(format="%.1f"),
                                "GPUs": st.column_config.NumberColumn(format="%d")})
    st.markdown("**Formulas**\n" + "\n".join(f"- {line}" for line in SCALING_FORMULAS))


def _memo_tab(board: Leaderboard) -> None:
    st.markdown(f"**The memo's one sentence:** {recommend(board)}")
    filename = memo_filename(board.settings)
    st.caption("One HTML file with the recommendation, the leaderboard, the interactive charts, the "
               "assumptions and the source of every number; plotly.js is inside it, so it opens offline.")
    st.download_button("Download the decision memo (HTML, works offline)", lambda: compare_view.memo(board),
                       file_name=filename, mime="text/html", type="primary", key="cmp_memo_download")
    path = st.text_input("Or save it on the server as", value=f"data/memos/{filename}", key="cmp_memo_path")
    if st.button("Save memo", key="cmp_memo_save"):
        try:
            text = compare_view.memo(board)
            saved = save_memo(text, path)
        except AnalyticsError as e:
            page.show_error(e)
        else:
            st.success(f"Saved {saved} ({len(text) / 1e6:.1f} MB).")


# ------------------------------------------------------------------------------------------ page


TABS = ["Leaderboard & charts", "Cascade", "Learning curve", "Prices", "Scaling planner", "Memo"]


def main() -> None:
    ws = page.start_page("Compare", "Build or buy, at what volume, how sure: every candidate on one "
                         "evaluation set, priced from measured throughput and dated prices.")
    runs_view.sync_jobs()
    runs_view.sync_inference()
    compare_view.sync_serving()
    signature = compare_view.signature()
    if st.session_state.get("cmp_signature", signature) != signature:
        workspace.changed()  # written elsewhere (another session, a job sync): cached views are stale
    st.session_state["cmp_signature"] = signature
    _watch_jobs()
    sets = compare_view.evaluation_sets(workspace.generation())
    reply_sets = compare_view.generation_sets(workspace.generation())
    board = replies = None
    if not sets.empty or not reply_sets.empty:
        board, replies = _board(sets, reply_sets)
    tabs = st.tabs(TABS)  # the same tabs with or without candidates, so a landing demo keeps the user's tab
    with tabs[3]:
        _prices_tab(ws)
    with tabs[4]:
        _planner_tab()
    if replies is not None:
        with tabs[0]:
            _reply_tab(replies)
        for i in (1, 2, 5):
            tabs[i].info("The cascade, learning curve and memo compare classifiers: pick a classification "
                         "evaluation set above.", icon=":material/balance:")
        return
    if board is None:
        with tabs[0]:
            _empty_state()
        for i in (1, 2, 5):
            tabs[i].info("No candidates yet: run the quick demo or train models first.",
                         icon=":material/balance:")
        return
    with tabs[0]:
        _leaderboard_tab(board)
    with tabs[1]:
        _cascade_tab(board)
    with tabs[2]:
        _learning_tab(board)
    with tabs[5]:
        _memo_tab(board)


def _set_label(value: str, counts: pd.DataFrame, reply_counts: pd.DataFrame) -> str:
    if value.startswith(REPLY_SET):
        dataset = value.removeprefix(REPLY_SET)
        runs = int(reply_counts.loc[dataset, "runs"])
        return f"{dataset} · replies ({runs} generation run{'s' if runs != 1 else ''}, APIs priced)"
    return f"{value} ({int(counts.loc[value, 'runs'])} runs, {int(counts.loc[value, 'api_candidates'])} API)"


def _board(sets: pd.DataFrame,
           reply_sets: pd.DataFrame) -> tuple[Leaderboard | None, ReplyLeaderboard | None]:
    """Evaluation-set picker (classification sets, then generation sets), settings and the leaderboard
    (both None when the settings were refused)."""
    counts, reply_counts = sets.set_index("dataset"), reply_sets.set_index("dataset")
    options = list(sets["dataset"]) + [f"{REPLY_SET}{d}" for d in reply_sets["dataset"]]
    choice = st.selectbox("Evaluation set", options, key="cmp_dataset",
                          format_func=lambda v: _set_label(v, counts, reply_counts))
    if choice.startswith(REPLY_SET):
        return None, _reply_board(choice.removeprefix(REPLY_SET))
    dataset = choice
    settings = _settings(dataset)
    if settings is None:
        return None, None
    board = compare_view.board(workspace.generation(), settings)
    kinds = board.table["kind"].value_counts()
    runs, served = int(kinds.get("self-hosted", 0)), int(kinds.get("served", 0))
    served_text = f", {served} served" if served else ""
    st.caption(f"{len(board.table)} candidates on {dataset}: {runs} runs{served_text}, "
               f"{int(kinds.get('api', 0))} API · "
               f"{int(board.table['on_frontier'].sum())} on the cost-accuracy frontier")
    return board, None


# ------------------------------------------------------------------------------------------ reply leaderboard


def _reply_board(dataset: str) -> ReplyLeaderboard | None:
    """Settings of a generation set (volume, utilisation, quality measure, hardware prices) and its reply
    leaderboard (None with an error shown when the settings were refused)."""
    cols = st.columns([1.3, 1, 1])
    volume = cols[0].number_input("Replies per month", min_value=0, value=DEFAULT_REPLIES_PER_MONTH,
                                  step=10_000, key="cmp_reply_volume",
                                  help="Drafted replies a month in production (100,000 is about 3,300 a "
                                       "day).")
    utilisation = cols[1].slider("Utilisation of paid machine time", 5, 100, 50, step=5, format="%d%%",
                                 key="cmp_reply_util", help="Share of the machine's paid time spent "
                                 "generating at the measured tokens/s.")
    quality = cols[2].radio("Quality measure", list(QUALITY_METRICS), format_func=QUALITY_METRICS.get,
                            horizontal=True, key="cmp_reply_quality",
                            help="ROUGE-L: overlap with the reference reply. Intent match: a classifier "
                                 "trained on the reference replies labels each reply; the share matching "
                                 "the request's intent.")
    chosen = _hardware_pickers(dataset, compare_view.reply_hardware(workspace.generation(), dataset))
    try:
        settings = ReplySettings(dataset=dataset, replies_per_month=float(volume),
                                 utilisation=utilisation / 100.0, quality=str(quality),
                                 hardware_prices=chosen)
    except CostInputError as e:
        page.show_error(e)
        return None
    board = compare_view.reply_board(workspace.generation(), settings)
    kinds = board.table["kind"].value_counts()
    st.caption(f"{len(board.table)} candidates on {dataset} replies: {int(kinds.get('fine-tuned', 0))} "
               f"fine-tuned, {int(kinds.get('base model', 0))} base, {int(kinds.get('api', 0))} API (priced, "
               f"quality not measured) · {int(board.table['on_frontier'].sum())} on the cost-quality "
               f"frontier")
    return board


def _reply_tab(board: ReplyLeaderboard) -> None:
    st.markdown(f"**Recommendation.** {reply_recommendation(board)}")
    if board.flags:
        st.warning("\n".join(f"- {flag}" for flag in board.flags), icon=":material/flag:")
    st.dataframe(compare_view.reply_table(board), hide_index=True, width="stretch",
                 column_config={"candidate": st.column_config.TextColumn(
                     "candidate", pinned=True, help="★ on the cost-quality frontier")})
    figures = compare_view.reply_figures(workspace.generation(), board.settings)
    st.plotly_chart(figures["frontier"], width="stretch", key="cmp_reply_frontier")
    st.plotly_chart(figures["total"], width="stretch", key="cmp_reply_total")
    with st.expander("Break-even: from what volume fine-tuning and hosting cost less than each API"):
        st.dataframe(compare_view.reply_break_even_table(board), hide_index=True, width="stretch")
    with st.expander("Provenance of every number"):
        st.dataframe(board.table[["candidate", "quality_basis", "cost_basis", "training_basis"]].rename(
            columns={"quality_basis": "quality", "cost_basis": "cost", "training_basis": "training"}),
            hide_index=True, width="stretch")
    with st.expander("Assumptions and prices used"):
        st.markdown("\n".join(f"- {a}" for a in board.assumptions))
        st.dataframe(compare_view.prices_used(workspace.generation(), board.price_ids), hide_index=True,
                     width="stretch")


main()
