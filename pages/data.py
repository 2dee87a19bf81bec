"""Data: import files into tables, inspect and drop tables, and query the workspace read-only."""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from analytics.compute import explorer
from analytics.db import suggest_name
from analytics.errors import AnalyticsError, ImportValidationError
from analytics.ingest import importer, sniff, write
from pages._shared import data as data_view
from pages._shared import page, workspace

FILE_TYPES = ["csv", "tsv", "txt", "parquet", "xlsx", "jsonl", "ndjson", "json"]
DELIMITER_CHOICES = {"detect": None, "comma ,": ",", "semicolon ;": ";", "tab": "\t", "pipe |": "|"}
HEADER_CHOICES = {"detect": None, "yes": True, "no": False}
OWN_QUERY = "(your own query)"


def _problems(problems: list[str] | tuple[str, ...]) -> None:
    for problem in problems:
        st.error(problem, icon=":material/error:")


# -- Import -------------------------------------------------------------------------------------------
def _source(upload_round: int) -> tuple[str, bytes] | None:
    upload = st.file_uploader("File to import", type=FILE_TYPES, key=f"data_upload_{upload_round}",
                              help="CSV, TSV, Parquet, Excel (.xlsx) or JSON Lines. Nothing is written "
                                   "until you press Import.")
    with st.expander("...or paste CSV text"):
        pasted = st.text_area("CSV text", key=f"data_paste_{upload_round}", height=140,
                              placeholder="id,name\n1,Ann")
    if upload is not None:
        return upload.name, upload.getvalue()
    if pasted.strip():
        return "pasted.csv", pasted.encode("utf-8")
    return None


def _overrides(key: str) -> dict:
    """The user's reading options from the previous run (the widgets are drawn after the plan)."""
    state = st.session_state
    encoding = state.get(f"{key}_encoding", "detect")
    return {
        "encoding": None if encoding == "detect" else encoding,
        "delimiter": DELIMITER_CHOICES[state.get(f"{key}_delimiter", "detect")],
        "has_header": HEADER_CHOICES[state.get(f"{key}_header", "detect")],
        "sheet": state.get(f"{key}_sheet"),
    }


def _options(plan: importer.ImportPlan, key: str) -> None:
    with st.expander("Reading options"):
        if plan.format in ("csv", "tsv", "jsonl"):
            st.selectbox("Encoding", ["detect", *sniff.ENCODINGS], key=f"{key}_encoding")
        if plan.format in ("csv", "tsv"):
            st.selectbox("Delimiter", list(DELIMITER_CHOICES), key=f"{key}_delimiter")
        if plan.format in ("csv", "tsv", "xlsx"):
            st.selectbox("First row is a header", list(HEADER_CHOICES), key=f"{key}_header")
        if plan.sheets:
            st.selectbox("Sheet", plan.sheets, key=f"{key}_sheet")
        if plan.format == "parquet":
            st.caption("Parquet files carry their own types and names: nothing to choose.")


def _describe(plan: importer.ImportPlan) -> None:
    st.markdown(" · ".join(f"**{label}** {value}" for label, value in plan.facts()))
    for warning in plan.warnings:
        st.warning(warning, icon=":material/info:")


def _column_names(plan: importer.ImportPlan, key: str) -> list[str]:
    names = pd.DataFrame({"column in file": list(plan.columns), "type": list(plan.types),
                          "import as": list(plan.suggested_names)})
    edited = st.data_editor(names, key=f"{key}_names", hide_index=True, width="stretch",
                            disabled=["column in file", "type"])
    return edited["import as"].fillna("").astype(str).str.strip().tolist()


def _import_tab(ws) -> None:
    done = st.session_state.pop("_data_import_done", None)
    if done:
        st.success(done, icon=":material/check_circle:")
    upload_round = st.session_state.setdefault("_data_upload_n", 0)
    source = _source(upload_round)
    if source is None:
        st.caption("Upload a file (or paste CSV text) to see how it will be read before anything is written.")
        return
    name, data = source
    key = f"data_{upload_round}_{hashlib.sha1(name.encode() + data[:4096]).hexdigest()[:8]}"
    try:
        plan = data_view.import_plan(name, data, **_overrides(key))
    except ImportValidationError as e:
        _problems(e.problems)
        return
    _describe(plan)
    _options(plan, key)
    st.markdown("**Columns** (edit *import as* to rename)")
    names = _column_names(plan, key)
    st.markdown(f"**Preview** (first {len(plan.preview)} rows)")
    st.dataframe(plan.preview, hide_index=True)
    table = st.text_input("Table name", value=suggest_name(name), key=f"{key}_table")
    replace = st.checkbox("Replace the table if it already exists", key=f"{key}_replace")
    problems = importer.preflight(ws, plan, table, names, replace=replace)
    _problems(problems)
    if st.button("Import", type="primary", disabled=bool(problems), key=f"{key}_import"):
        _run_import(ws, name, data, plan, table, names, replace, upload_round)


def _run_import(ws, name: str, data: bytes, plan, table: str, names: list[str], replace: bool,
                upload_round: int) -> None:
    try:
        frame = importer.parse_file(name, data, plan, names)
        result = write.import_table(ws, table, frame, name, plan, replace=replace)
    except ImportValidationError as e:
        _problems(e.problems)
        return
    except AnalyticsError as e:
        page.show_error(e)
        return
    workspace.changed()
    verb = "Replaced" if result.replaced else "Created"
    st.session_state["_data_import_done"] = (
        f"{verb} table '{result.table}' from {name}: {result.row_count:,} rows, "
        f"{result.column_count} columns.")
    st.session_state["_data_upload_n"] = upload_round + 1  # a fresh uploader for the next file
    st.rerun()


# -- Tables -------------------------------------------------------------------------------------------
def _tables_tab(ws) -> None:
    done = st.session_state.pop("_data_drop_done", None)
    if done:
        st.success(done, icon=":material/check_circle:")
    gen = workspace.generation()
    tables = workspace.workspace_summary(gen).tables
    st.dataframe(tables, hide_index=True)
    if tables.empty:
        return
    table = st.selectbox("Inspect a table", tables["table"].tolist(), key="data_inspect")
    owner = tables.loc[tables["table"] == table, "owner"].iloc[0]
    try:
        st.dataframe(data_view.table_profile(gen, table), hide_index=True)
        with st.expander(f"First 100 rows of {table}"):
            st.dataframe(data_view.table_preview(gen, table, 100), hide_index=True)
    except AnalyticsError as e:
        page.show_error(e)
    if owner == "imported":
        _drop(ws, table)
    else:
        st.caption(f"'{table}' is {owner} data that Strategy Lab owns; only tables imported here can be "
                   f"dropped.")


def _drop(ws, table: str) -> None:
    sure = st.checkbox(f"Yes, permanently drop '{table}' and its data", key=f"data_confirm_drop_{table}")
    if st.button("Drop table", disabled=not sure, key=f"data_drop_{table}"):
        try:
            ws.drop_table(table)
        except AnalyticsError as e:
            page.show_error(e)
            return
        workspace.changed()
        st.session_state["_data_drop_done"] = f"Dropped table '{table}'."
        st.rerun()


# -- SQL ----------------------------------------------------------------------------------------------
def _load_example() -> None:
    choice = st.session_state["data_sql_example"]
    if choice in explorer.EXAMPLE_QUERIES:
        st.session_state["data_sql_text"] = explorer.EXAMPLE_QUERIES[choice]


def _sql_tab(ws) -> None:
    titles = list(explorer.EXAMPLE_QUERIES)
    st.session_state.setdefault("data_sql_example", titles[1])
    st.selectbox("Example queries", [OWN_QUERY, *titles], key="data_sql_example", on_change=_load_example)
    st.session_state.setdefault("data_sql_text", explorer.EXAMPLE_QUERIES[titles[1]])
    text = st.text_area("SQL: one read-only SELECT", key="data_sql_text", height=160)
    st.caption(f"Read-only: no writes, no files, no extensions. Results stop at {explorer.ROW_CAP:,} rows "
               f"or {explorer.BYTE_CAP / 1e6:,.0f} MB; queries stop after {explorer.TIMEOUT_S:g} s.")
    if st.button("Run", type="primary", key="data_sql_run"):
        try:
            st.session_state["_data_sql_result"] = explorer.run_query(ws, text)
        except AnalyticsError as e:
            st.session_state["_data_sql_result"] = e
    result = st.session_state.get("_data_sql_result")
    if isinstance(result, Exception):
        page.show_error(result)
    elif result is not None:
        try:
            _show_result(result)
        except Exception as e:  # a result the grid cannot draw must not stick: the next run starts clean
            st.session_state.pop("_data_sql_result", None)
            st.error(f"The result could not be shown ({type(e).__name__}: {e}). Cast the odd columns to "
                     "VARCHAR and run again.", icon=":material/error:")


def _show_result(result) -> None:
    note = " · ".join([f"{len(result.frame):,} rows", f"{result.elapsed_s * 1000:,.0f} ms", *result.notes])
    st.caption(note)
    st.dataframe(result.frame, hide_index=True)
    frame = result.frame
    st.download_button("Download CSV", lambda: explorer.to_csv_bytes(frame), file_name="query.csv",
                       mime="text/csv", key="data_sql_download")


ws = page.start_page("Data", "Import files into tables, inspect and drop tables, and query the workspace "
                               "read-only.")
import_tab, tables_tab, sql_tab = st.tabs(["Import", "Tables", "SQL"])
with import_tab:
    _import_tab(ws)
with tables_tab:
    _tables_tab(ws)
with sql_tab:
    _sql_tab(ws)
