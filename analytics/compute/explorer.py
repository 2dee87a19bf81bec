"""The Data page's SQL explorer: one read-only SELECT, bounded in rows, bytes and time.

Safety does not rest on recognising bad SQL. Every query runs in a READ ONLY transaction that DuckDB
enforces and that is always rolled back, on a connection that cannot touch files or load extensions
(`Workspace.read_only`). The checks here come first and exist for clear messages and to stop work
early: one statement, a SELECT, no data-changing CTE, only table functions that read the workspace, no
scalar function that DuckDB marks as having side effects (`duckdb_functions().has_side_effects`).
Results are converted so that Arrow, pandas and the browser can show every DuckDB type.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa

from analytics.db import Workspace, quote_ident
from analytics.errors import ForbiddenQueryError, QueryError, QueryTimeoutError
from analytics.report.csv_export import csv_bytes

ROW_CAP = 1000
"""Most rows the explorer shows and exports."""
BYTE_CAP = 50_000_000
"""Most bytes of result (Arrow size) the explorer keeps, about 50 MB; the rest is cut and said so."""
CELL_CHARS = 20_000
"""Longest text cell shown, in characters; longer cells are cut and counted."""
TIMEOUT_S = 10.0
"""Seconds the whole call may take before the query is stopped."""
MEMORY_CAP = 500_000_000
"""Bytes the app's memory may grow while one explorer query runs (about 500 MB) before it is stopped."""
PROBE_ROWS = 16
"""Rows read first to measure row width when a result could be far wider than the byte cap."""
MAX_QUERY_CHARS = 100_000
"""Longest query text accepted (100 KB)."""

READ_TABLE_FUNCTIONS = frozenset({
    "range", "generate_series", "unnest", "repeat", "repeat_row", "query_table", "summary",
    "json_each", "json_tree", "test_all_types", "histogram", "histogram_values", "pg_timezone_names",
    "icu_calendar_names", "duckdb_tables", "duckdb_columns", "duckdb_views", "duckdb_schemas",
    "duckdb_databases", "duckdb_constraints", "duckdb_indexes", "duckdb_types", "duckdb_functions",
    "duckdb_keywords", "duckdb_settings", "duckdb_sequences", "duckdb_dependencies", "duckdb_memory",
    "duckdb_optimizers", "pragma_table_info", "pragma_show", "pragma_database_size", "pragma_storage_info",
    "pragma_version", "pragma_platform", "pragma_collations",
})
"""Table functions the explorer may call: each only reads the workspace or DuckDB's catalog. Any other
(checkpoint, force_checkpoint, enable_profiling, query, read_csv, ...) is refused, including ones a
newer DuckDB adds."""
HARMLESS_VOLATILE = frozenset({
    "random", "uuid", "gen_random_uuid", "uuidv4", "uuidv7", "current_query", "current_query_id",
    "current_connection_id", "current_transaction_id", "currval", "error", "stats", "vector_type",
})
"""Scalar functions DuckDB marks as having side effects that only draw random numbers or report state.
Every other one (nextval, setval, setseed, write_log, sleep_ms, ...) is refused."""
QUERY_NODES = frozenset({"SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE"})
"""Query node types of a read: a DELETE, UPDATE, INSERT or any other node inside a CTE is refused."""
KEPT_TYPES = frozenset({
    "BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
    "FLOAT", "DOUBLE", "VARCHAR",
})
"""Result types shown as they are; DECIMAL up to 18 digits too. Every other type (HUGEINT, UHUGEINT,
wider DECIMAL, dates and times, INTERVAL, BLOB, UUID, ENUM, BIT, nested types) is shown as DuckDB's text."""

READ_ONLY_HELP = "Use SELECT; import or drop tables on the Data page"

EXAMPLE_QUERIES: dict[str, str] = {
    "Tables and row counts": (
        "select table_name, estimated_size as approx_rows\n"
        "from duckdb_tables()\norder by table_name"
    ),
    "Events by type (sample data)": (
        "select event_type, count(*) as events, count(distinct account_id) as accounts\n"
        "from events\ngroup by event_type\norder by events desc"
    ),
    "Monthly sign-ups (sample data)": (
        "select date_trunc('month', event_time)::date as month, count(*) as signups\n"
        "from events\nwhere event_type = 'signup'\ngroup by month\norder by month"
    ),
    "Invoiced revenue by plan (sample data)": (
        "select plan, round(sum(amount_usd), 2) as revenue_usd, count(*) as invoices\n"
        "from events\nwhere event_type = 'invoice'\ngroup by plan\norder by revenue_usd desc"
    ),
    "Competitors by price (sample data)": (
        "select name, price_per_seat_usd, capability_score, funding_usd_m\n"
        "from competitors\norder by price_per_seat_usd"
    ),
    "Largest market segments (sample data)": (
        "select region, industry, company_size, companies, acv_usd,\n"
        "       companies * adoption_rate * acv_usd as spend_usd\n"
        "from market_segments\norder by spend_usd desc\nlimit 20"
    ),
}
"""Read-only example queries over the sample data, by title."""


@dataclass(frozen=True)
class ExplorerResult:
    """Result of a read-only explorer query."""

    frame: pd.DataFrame
    """At most `ROW_CAP` rows and about `BYTE_CAP` bytes."""
    truncated: bool
    """True when the query returned more rows than the row cap."""
    elapsed_s: float
    """Wall time of the whole call: checks, execution, fetch and clean-up."""
    bytes_cut: bool = False
    """True when rows were left out to stay within the byte cap."""
    cells_cut: int = 0
    """Text cells cut to `CELL_CHARS` characters."""
    text_columns: tuple[str, ...] = ()
    """Columns whose DuckDB type is shown as text (HUGEINT, INTERVAL, nested types, ...)."""
    notes: tuple[str, ...] = field(default=())
    """What was cut or converted, in words, for the page and the CLI."""


def run_query(ws: Workspace, text: str, *, row_cap: int = ROW_CAP, byte_cap: int = BYTE_CAP,
              timeout_s: float = TIMEOUT_S, memory_cap: int = MEMORY_CAP) -> ExplorerResult:
    """Run one read-only SELECT within the explorer's row, byte and time limits.

    Raises ForbiddenQueryError (not one SELECT, a write, file access or a function with side effects),
    QueryTimeoutError, QueryMemoryError, QueryError (does not parse or fails).
    """
    started = time.perf_counter()
    query = check_query(ws, text)
    try:
        columns = _describe(ws, query, _left(started, timeout_s))
        sql, shown_as_text = _wrapped(query, columns)
        rows = _rows_that_fit(ws, sql, columns, row_cap, byte_cap, lambda: _left(started, timeout_s),
                              memory_cap)
        fetched = ws.read_only(sql, [rows + 1], row_cap=rows, byte_cap=byte_cap,
                               timeout_s=_left(started, timeout_s), memory_cap=memory_cap)
    except QueryTimeoutError as e:
        raise QueryTimeoutError(f"query stopped after the {timeout_s:g} s limit; add filters or a LIMIT, "
                                "or aggregate first") from e
    frame, cells_cut = _to_frame(fetched.table, [name for name, _ in columns])
    bytes_cut = fetched.bytes_cut or (rows < row_cap and fetched.rows_cut)
    rows_cut = fetched.rows_cut and not bytes_cut
    notes = _notes(rows_cut, bytes_cut, cells_cut, shown_as_text, row_cap, byte_cap)
    return ExplorerResult(frame=frame, truncated=fetched.rows_cut, elapsed_s=time.perf_counter() - started,
                          bytes_cut=bytes_cut, cells_cut=cells_cut, text_columns=tuple(shown_as_text),
                          notes=notes)


def _rows_that_fit(ws: Workspace, sql: str, columns: list[tuple[str, str]], row_cap: int, byte_cap: int,
                   left: Callable[[], float], memory_cap: int) -> int:
    """Rows to ask DuckDB for. DuckDB computes a whole batch of rows before the first one arrives, so
    when many text columns could make `row_cap` rows far larger than the byte cap, a few rows are read
    first and the limit is set from the widest of them."""
    texts = sum(1 for _, duck_type in columns if not _kept(duck_type) or duck_type == "VARCHAR")
    if texts * CELL_CHARS * (row_cap + 1) <= 4 * byte_cap:
        return row_cap
    probe = ws.read_only(sql, [PROBE_ROWS], row_cap=PROBE_ROWS, byte_cap=byte_cap, timeout_s=left(),
                         memory_cap=memory_cap).table
    widest = max((probe.slice(i, 1).nbytes for i in range(probe.num_rows)), default=0)
    if widest == 0 or widest * (row_cap + 1) <= byte_cap:
        return row_cap
    return max(1, min(row_cap, byte_cap // widest))


def check_query(ws: Workspace, text: str) -> str:
    """The text of the one SELECT in `text`, or ForbiddenQueryError / QueryError saying what to change."""
    if not isinstance(text, str) or not text.strip():
        raise ForbiddenQueryError("the query is empty; write one SELECT statement")
    if len(text) > MAX_QUERY_CHARS:
        raise ForbiddenQueryError(f"the query is {len(text):,} characters long; the explorer takes at most "
                                  f"{MAX_QUERY_CHARS:,}. Move long value lists into an imported table")
    if "\x00" in text:
        raise ForbiddenQueryError(f"the query holds a NUL character (byte 0) at position "
                                  f"{text.index(chr(0)) + 1}; "
                                  "remove it (it often comes from copying out of a binary file)")
    statements = ws.parse(text)
    if not statements:
        raise ForbiddenQueryError("the query holds only comments; write one SELECT statement")
    if len(statements) != 1:
        raise ForbiddenQueryError(f"the explorer runs one statement at a time; found {len(statements)}. "
                                  "Remove the extra ';' parts")
    statement = statements[0]
    query = statement.query.rstrip("; \t\r\n")
    if statement.kind != "SELECT":
        raise ForbiddenQueryError(f"the explorer is read-only: {statement.kind} statements are refused. "
                                  f"{READ_ONLY_HELP}")
    try:
        tree = ws.syntax_tree(query)
    except QueryError as e:
        raise ForbiddenQueryError(f"the explorer is read-only and could not check this query ({e}); "
                                  "write it as a plain SELECT") from e
    _check_tree(tree, ws.function_kinds())
    return query


def _check_tree(tree: dict[str, Any], functions: dict[str, tuple[str, bool]]) -> None:
    table_calls = {id(node.get("function")) for node in _nodes(tree) if node.get("type") == "TABLE_FUNCTION"}
    for node in _nodes(tree):
        kind = node.get("type")
        if isinstance(kind, str) and kind.endswith("_NODE") and kind not in QUERY_NODES:
            verb = kind.removesuffix("_NODE").removesuffix("_QUERY").replace("_", " ")
            raise ForbiddenQueryError(f"the explorer only reads: this query holds a {verb} inside a WITH "
                                      f"clause, which would change data. {READ_ONLY_HELP}")
        if node.get("class") != "FUNCTION" or not isinstance(node.get("function_name"), str):
            continue
        name = node["function_name"].lower()
        if id(node) in table_calls:
            if name not in READ_TABLE_FUNCTIONS:
                raise ForbiddenQueryError(
                    f"the explorer is read-only: it cannot call {name}(), a table function that reads files, "
                    "writes, changes settings or runs other SQL. To query a file, import it on the Data page "
                    "first. Table functions that only read the workspace, such as range(), unnest() and "
                    "duckdb_tables(), work")
        elif functions.get(name, ("", False))[1] and name not in HARMLESS_VOLATILE:
            raise ForbiddenQueryError(f"the explorer is read-only and cannot call {name}(): DuckDB marks it "
                                      "as having side effects. Remove it from the query")


def _nodes(tree: Any) -> Iterator[dict[str, Any]]:
    """Every dict in a JSON tree, iteratively (deep queries must not hit Python's recursion limit)."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _describe(ws: Workspace, query: str, timeout_s: float) -> list[tuple[str, str]]:
    """(name, DuckDB type) of each result column, from binding the query without running it."""
    described = ws.read_only(f"describe select * from (\n{query}\n) as q", row_cap=100_000,
                             byte_cap=BYTE_CAP, timeout_s=timeout_s)
    names = described.table.column("column_name").to_pylist()
    types = described.table.column("column_type").to_pylist()
    return list(zip(names, types, strict=True))


def _wrapped(query: str, columns: list[tuple[str, str]]) -> tuple[str, list[str]]:
    """SQL that selects the query's columns by position, as text where the type needs it, cells cut to
    CELL_CHARS, plus a count of cut cells; bound parameter: the row limit."""
    aliases = [f"c{i}" for i in range(len(columns))]
    select, cut, shown_as_text = [], [], []
    for alias, (name, duck_type) in zip(aliases, columns, strict=True):
        column = quote_ident(alias)
        if _kept(duck_type) and duck_type != "VARCHAR":
            select.append(column)
            continue
        if duck_type != "VARCHAR":
            shown_as_text.append(name)
        text = f"cast({column} as varchar)"
        select.append(f"left({text}, {CELL_CHARS})")
        cut.append(f"coalesce(length({text}) > {CELL_CHARS}, false)::integer")
    select.append(" + ".join(cut) if cut else "0")
    alias_list = ", ".join(quote_ident(a) for a in aliases)
    sql = f"select {', '.join(select)} from (\n{query}\n) as q ({alias_list}) limit ?"
    return sql, shown_as_text


def _kept(duck_type: str) -> bool:
    if duck_type in KEPT_TYPES:
        return True
    if duck_type.startswith("DECIMAL("):
        precision = duck_type[len("DECIMAL("):].split(",")[0]
        return precision.isdigit() and int(precision) <= 18
    return False


_NULLABLE = {
    pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(), pa.uint8(): pd.UInt8Dtype(), pa.uint16(): pd.UInt16Dtype(),
    pa.uint32(): pd.UInt32Dtype(), pa.uint64(): pd.UInt64Dtype(), pa.bool_(): pd.BooleanDtype(),
}


def _to_frame(table: pa.Table, names: list[str]) -> tuple[pd.DataFrame, int]:
    """The fetched table as a DataFrame with the query's own column names; and the count of cut cells."""
    cut_column = table.column(table.num_columns - 1)
    cells_cut = int(sum(v or 0 for v in cut_column.to_pylist()))
    data = table.drop_columns([table.column_names[-1]])
    frame = data.to_pandas(types_mapper=_NULLABLE.get)
    frame.columns = _unique_columns(names)
    return frame, cells_cut


def _unique_columns(columns: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for col in columns:
        n = seen.get(col, 0)
        seen[col] = n + 1
        out.append(col if n == 0 else f"{col}_{n}")
    return out


def _notes(rows_cut: bool, bytes_cut: bool, cells_cut: int, shown_as_text: list[str], row_cap: int,
           byte_cap: int) -> tuple[str, ...]:
    notes = []
    if rows_cut:
        notes.append(f"showing the first {row_cap:,} rows; add a LIMIT or aggregate to see the rest")
    if bytes_cut:
        notes.append(f"the result passed {byte_cap / 1e6:,.0f} MB, so later rows were left out; select fewer "
                     "or shorter columns")
    if cells_cut:
        notes.append(f"{cells_cut:,} cells were longer than {CELL_CHARS:,} characters and were cut")
    if shown_as_text:
        notes.append(f"shown as text: {', '.join(shown_as_text)}")
    return tuple(notes)


def _left(started: float, timeout_s: float) -> float:
    """Seconds left of the call's time limit; QueryTimeoutError when none is left."""
    left = timeout_s - (time.perf_counter() - started)
    if left <= 0:
        raise QueryTimeoutError("no time left")
    return left


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV of a result for the download button, safe to open in a spreadsheet (`csv_bytes`)."""
    return csv_bytes(frame)
