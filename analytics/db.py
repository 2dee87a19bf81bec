"""The workspace database: the only module that imports duckdb.

One DuckDB file per workspace. The app process is its only writer; each thread gets its own cursor.
External file access is switched off on every connection, so no query (the SQL explorer's included)
can read or write outside the workspace; data enters as DataFrames registered from Python.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from analytics.errors import (
    ForbiddenQueryError,
    InvalidNameError,
    MigrationError,
    QueryError,
    QueryMemoryError,
    QueryTimeoutError,
    WorkspaceError,
    WorkspaceLockedError,
)
from analytics.settings import settings

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SQL_DIR = Path(__file__).resolve().parent / "sql"
MIGRATIONS_DIR = SQL_DIR / "migrations"

_LOCKED_CONFIG: dict[str, Any] = {
    "enable_external_access": False,
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
    "lock_configuration": True,
}
"""Settings of every connection: no files, no network, no extensions, and no SET can undo them."""

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_MIGRATION_RE = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
_KEYWORD_LOCK = threading.Lock()
_KEYWORD_PARSER: list[duckdb.DuckDBPyConnection] = []


def needs_quotes(name: str) -> bool:
    """True when DuckDB's parser cannot take `name` bare as a table and column name (a keyword such as
    `order`). Asks the parser itself, so the answer follows the installed DuckDB's grammar.
    `name` must already match the identifier pattern."""
    with _KEYWORD_LOCK:
        if not _KEYWORD_PARSER:
            _KEYWORD_PARSER.append(_parser_connection())
        try:
            _KEYWORD_PARSER[0].extract_statements(f"select {name} from {name} as t ({name})")
        except duckdb.Error:
            return True
    return False


def default_memory_limit() -> str:
    """DuckDB's memory limit for the workspace: `settings().duckdb_memory` ($STRATLAB_DUCKDB_MEMORY, 2GB).

    Sorts, joins and aggregates spill to disk beyond it, and one query (the SQL explorer's included)
    cannot take the machine's memory.
    """
    return settings().duckdb_memory


def default_workspace_path() -> Path:
    """`settings().workspace`: $STRATLAB_WORKSPACE, else data/workspace.duckdb in the project."""
    return settings().workspace


def validate_name(name: str, kind: str = "table") -> str:
    """Return `name` if it is a safe identifier, else raise InvalidNameError saying why and how to fix it."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidNameError(f"{kind} name is empty; use letters, digits and underscores, "
                               "e.g. 'sales_2025'")
    if len(name) > 63:
        raise InvalidNameError(f"{kind} name is {len(name)} characters long; use at most 63")
    if not _NAME_RE.match(name):
        raise InvalidNameError(
            f"{kind} name {name!r} may only hold letters, digits and underscores and must not start "
            f"with a digit; try {suggest_name(name)!r}"
        )
    if needs_quotes(name):
        raise InvalidNameError(f"{kind} name {name!r} is an SQL keyword, so queries could not name it "
                               f"without quotes; try {name.lower() + '_data'!r}")
    return name


def suggest_name(text: str) -> str:
    """A safe identifier derived from free text ('Sales 2025.csv' -> 'sales_2025')."""
    stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", str(text).strip())
    slug = re.sub(r"[^a-z0-9]+", "_", stem.lower()).strip("_")[:63] or "data"
    if slug[0].isdigit():
        slug = f"t_{slug}"[:63]
    if needs_quotes(slug):
        slug = f"{slug}_data"
    return slug


def quote_ident(name: str) -> str:
    """Double-quote an identifier that already passed `validate_name` (or a known column name)."""
    return '"' + str(name).replace('"', '""') + '"'


def read_sql(name: str) -> str:
    """Text of analytics/sql/<name>.sql; raises QueryError for unknown names."""
    if not _NAME_RE.match(name):
        raise QueryError(f"query name {name!r} is not a valid file stem")
    path = SQL_DIR / f"{name}.sql"
    try:
        return path.read_text(encoding="utf-8")
    except OSError as e:
        raise QueryError(f"no query file {path.name} in {SQL_DIR}") from e


Params = dict[str, Any] | list[Any] | None
"""Bound parameters of one statement: {name: value} for $name, or a list for ?."""


class Transaction:
    """The statements of one write transaction (from `Workspace.transaction()`), on this thread's cursor.

    The cursor itself is never handed out: every method turns DuckDB's errors into the workspace's own
    (QueryError naming the statement's label, InvalidNameError for a taken table name), so callers and
    pages never see a driver exception.
    """

    def __init__(self, cur: duckdb.DuckDBPyConnection) -> None:
        self._cur = cur

    def execute(self, sql: str, params: Params = None, *, label: str = "statement") -> None:
        """Run one statement with bound parameters; raises QueryError naming `label`."""
        self._run(sql, params, label)

    def rows(self, sql: str, params: Params = None, *, label: str = "query") -> list[tuple]:
        """All rows of a query as tuples; raises QueryError naming `label`."""
        return self._run(sql, params, label).fetchall()

    def scalar(self, sql: str, params: Params = None, *, label: str = "query") -> Any:
        """First column of the first row, or None; raises QueryError naming `label`."""
        result = self.rows(sql, params, label=label)
        return result[0][0] if result else None

    def frame(self, sql: str, params: Params = None, *, label: str = "query") -> pd.DataFrame:
        """A query's result as a DataFrame; raises QueryError naming `label`."""
        try:
            return self._cur.execute(sql, params).df()
        except duckdb.Error as e:
            raise QueryError(f"{label} failed: {e}") from e

    def insert_frame(self, table: str, frame: pd.DataFrame) -> None:
        """Append `frame` to existing `table` (columns by name); raises QueryError (constraint, types)."""
        cols = ", ".join(quote_ident(c) for c in frame.columns)
        label = f"inserting {len(frame):,} rows into {table}"
        try:
            with _registered(self._cur, frame) as view:
                self._cur.execute(f"insert into {quote_ident(table)} ({cols}) "
                                  f"select {cols} from {quote_ident(view)}")
        except duckdb.Error as e:
            raise QueryError(f"{label} failed: {e}") from e

    def create_table_from_frame(self, table: str, frame: pd.DataFrame) -> None:
        """Create `table` holding `frame` (the name must be validated).

        Raises InvalidNameError when a table of that name (in any case) exists: checked here, inside the
        write transaction, because another session may have created it since the caller last looked.
        Raises QueryError when DuckDB refuses the frame.
        """
        validate_name(table)
        taken = self.rows(  # rows() fetches everything: an unfinished result would block register() below
            "select table_name from information_schema.tables where table_schema = 'main' "
            "and lower(table_name) = lower(?)", [table], label=f"checking whether table {table} exists")
        if taken:
            raise InvalidNameError(
                f"a table named {taken[0][0]!r} already exists (another import created it a moment ago); "
                f"choose another name, or tick 'replace' and import again")
        try:
            with _registered(self._cur, frame) as view:
                self._cur.execute(f"create table {quote_ident(table)} as select * from {quote_ident(view)}")
        except duckdb.Error as e:
            raise QueryError(f"creating table {table} failed: {e}") from e

    def set_meta(self, key: str, value: str) -> None:
        """Set `key` in workspace_meta to `value` (insert or replace)."""
        self.execute(
            "insert into workspace_meta (key, value) values (?, ?) "
            "on conflict (key) do update set value = excluded.value",
            [key, value], label=f"setting workspace_meta {key}",
        )

    def _run(self, sql: str, params: Params, label: str) -> duckdb.DuckDBPyConnection:
        try:
            return self._cur.execute(sql, params)
        except duckdb.Error as e:
            raise QueryError(f"{label} failed: {e}") from e


class Workspace:
    """An open workspace database. Create with `Workspace.open(...)`."""

    def __init__(self, path: Path, con: duckdb.DuckDBPyConnection) -> None:
        self.path = path
        self._con = con
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._functions: dict[str, tuple[str, bool]] | None = None
        self._readers: dict[threading.Thread, duckdb.DuckDBPyConnection] = {}
        self._readers_lock = threading.Lock()

    # -- opening -----------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: Path | str | None = None, *, seed_demo: bool = True,
             demo_events: int | None = None, threads: int | None = None,
             memory_limit: str | None = None) -> Workspace:
        """Open (creating if needed) the workspace at `path`, apply migrations, seed the sample data.

        Args:
            path: database file; None means `default_workspace_path()`; ':memory:' for tests.
            seed_demo: generate the sample data on first open.
            demo_events: approximate number of sample events (default `settings().demo_events`).
            threads: DuckDB worker threads (default: all cores).
            memory_limit: DuckDB memory limit, e.g. '2GB' (default `default_memory_limit()`).
        Raises:
            WorkspaceLockedError: another process has the file open.
            WorkspaceError: the file is not a DuckDB database or cannot be created.
        """
        target = default_workspace_path() if path is None else Path(path)
        in_memory = str(target) == ":memory:"
        if not in_memory:
            target.parent.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {**_LOCKED_CONFIG, "memory_limit": memory_limit or default_memory_limit()}
        if threads:
            config["threads"] = threads
        try:
            con = duckdb.connect(str(target), config=config)
        except duckdb.IOException as e:
            if "lock" in str(e).lower():
                raise WorkspaceLockedError(
                    f"workspace {target} is open in another process (another Strategy Lab or a script); "
                    f"close it, or set STRATLAB_WORKSPACE to another file"
                ) from e
            raise WorkspaceError(f"cannot open workspace {target}: {e}") from e
        except duckdb.Error as e:
            raise WorkspaceError(f"cannot open workspace {target}: {e}") from e
        workspace = cls(target, con)
        workspace.migrate()
        if seed_demo and workspace.meta("demo_seeded") is None:
            from analytics.ingest import sample_data as demo
            events = demo_events or settings().demo_events
            demo.seed_workspace(workspace, events=events)
        elif (seed_demo and workspace.has_table("workspace_meta")
              and workspace.meta("demo_seeded") is not None and workspace.meta("strategy_seeded") is None):
            # a sample workspace older than the Strategy pages: add their sample roadmap and experiment once
            from analytics.ingest import sample_data as demo
            with workspace.transaction() as tx:
                demo.seed_strategy(tx)
        return workspace

    def close(self) -> None:
        """Stop read-only queries still unwinding after a timeout, then close the database."""
        with self._readers_lock:
            readers = list(self._readers.items())
        for worker, cur in readers:
            with suppress(duckdb.Error):
                cur.interrupt()
            worker.join(60)  # DuckDB finishes the batch of rows it is computing before it stops
        try:
            self._con.close()
        except duckdb.Error as e:
            log.warning("workspace %s closed while a query was still stopping: %s", self.path, e)

    # -- cursors and plain queries -------------------------------------------------------------------
    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor (DuckDB connections are not thread-safe); never handed out."""
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._con.cursor()
            self._local.cursor = cur
        return cur

    def query(self, name: str, **params: Any) -> pd.DataFrame:
        """Run analytics/sql/<name>.sql with named parameters ($param in the file)."""
        return self.sql(read_sql(name), params or None, label=name)

    def sql(self, text: str, params: Params = None, *, label: str = "query") -> pd.DataFrame:
        """Run a short SQL statement with bound parameters and return a DataFrame; raises QueryError."""
        try:
            return self._cursor().execute(text, params).df()
        except duckdb.Error as e:
            raise QueryError(f"{label} failed: {e}") from e

    def rows(self, text: str, params: Params = None) -> list[tuple]:
        """Run a short SQL statement and return the rows as tuples; raises QueryError."""
        try:
            return self._cursor().execute(text, params).fetchall()
        except duckdb.Error as e:
            raise QueryError(f"query failed: {e}") from e

    def scalar(self, text: str, params: Params = None) -> Any:
        """First column of the first row, or None."""
        result = self.rows(text, params)
        return result[0][0] if result else None

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A write transaction on this thread's cursor: all or nothing.

        Yields a `Transaction`; any exception inside the block rolls everything back and propagates.
        Raises WorkspaceError when the transaction cannot start or commit (nothing was written).
        """
        with self._write_lock:
            cur = self._cursor()
            try:
                cur.execute("begin transaction")
            except duckdb.Error as e:
                raise WorkspaceError(f"cannot start a write transaction on {self.path}: {e}") from e
            try:
                yield Transaction(cur)
            except BaseException:
                _rollback(cur)
                raise
            try:
                cur.execute("commit")
            except duckdb.Error as e:
                _rollback(cur)
                raise WorkspaceError(f"commit failed, nothing was written: {e}") from e

    # -- metadata --------------------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        """Value of `key` in workspace_meta, or None."""
        return self.scalar("select value from workspace_meta where key = ?", [key])

    def table_names(self) -> list[str]:
        """Base tables in the main schema, sorted."""
        rows = self.rows(
            "select table_name from information_schema.tables "
            "where table_schema = 'main' and table_type = 'BASE TABLE' order by table_name"
        )
        return [r[0] for r in rows]

    def has_table(self, name: str) -> bool:
        return name in self.table_names()

    def columns(self, table: str) -> pd.DataFrame:
        """Columns of `table`: column_name, data_type, is_nullable."""
        return self.sql(
            "select column_name, data_type, is_nullable from information_schema.columns "
            "where table_schema = 'main' and table_name = ? order by ordinal_position",
            [table],
        )

    def row_count(self, table: str) -> int:
        if not self.has_table(table):
            raise QueryError(f"no table {table!r}; tables are: {', '.join(self.table_names())}")
        return int(self.scalar(f"select count(*) from {quote_ident(table)}"))

    def preview(self, table: str, limit: int = 100) -> pd.DataFrame:
        if not self.has_table(table):
            raise QueryError(f"no table {table!r}; tables are: {', '.join(self.table_names())}")
        return self.sql(f"select * from {quote_ident(table)} limit ?", [int(limit)])

    def drop_table(self, table: str) -> None:
        """Drop a user table; tables the app owns are refused."""
        if table in APP_TABLES:
            raise InvalidNameError(f"{table!r} belongs to Strategy Lab and cannot be dropped here")
        if not self.has_table(table):
            raise QueryError(f"no table {table!r} to drop")
        with self.transaction() as tx:
            tx.execute(f"drop table {quote_ident(table)}", label=f"dropping table {table}")
            tx.execute("delete from imported_tables where table_name = ?", [table],
                       label=f"removing {table} from the import catalog")

    # -- migrations --------------------------------------------------------------------------------------
    def migrate(self) -> list[int]:
        """Apply pending numbered migrations in order, each in its own transaction.

        Returns applied versions.
        """
        self.rows(
            "create table if not exists schema_migrations "
            "(version integer primary key, name varchar not null, applied_at timestamp not null)"
        )
        done = {r[0] for r in self.rows("select version from schema_migrations")}
        applied = []
        for version, name, path in list_migrations():
            if version in done:
                continue
            try:
                with self.transaction() as tx:
                    tx.execute(path.read_text(encoding="utf-8"), label=f"migration {path.name}")
                    tx.execute(
                        "insert into schema_migrations values (?, ?, ?)",
                        [version, name, datetime.now(timezone.utc).replace(tzinfo=None)],
                        label=f"recording migration {path.name}",
                    )
            except (QueryError, WorkspaceError) as e:  # DuckDB's reason is the cause
                reason = e.__cause__ or e
                raise MigrationError(f"migration {path.name} failed and was rolled back: {reason}") from e
            log.info("applied migration %s", path.name)
            applied.append(version)
        return applied

    # -- read-only primitives for the SQL explorer (its policy lives in analytics/explorer.py) ------------
    def parse(self, text: str) -> list[ParsedStatement]:
        """Split `text` into statements with DuckDB's own parser; raises QueryError when it cannot parse."""
        try:
            statements = [(s.type.name, s.query) for s in self._parser().extract_statements(text)]
        except duckdb.Error as e:
            raise QueryError(f"cannot parse the query: {_first_line(e)}") from e
        except ValueError as e:  # a statement type this duckdb package's enum does not name
            raise ForbiddenQueryError(f"the explorer is read-only: this statement is of a kind it does not "
                                      f"run ({e}). Use SELECT") from e
        return [ParsedStatement(kind=kind, query=query) for kind, query in statements]

    def syntax_tree(self, query: str) -> dict[str, Any]:
        """DuckDB's syntax tree of one SELECT as JSON (`json_serialize_sql`); raises QueryError.

        Anything that is not a plain SELECT (PIVOT statements, DML) cannot be serialised and is an error.
        """
        try:
            text = self._parser().execute("select json_serialize_sql(?)", [query]).fetchone()[0]
            tree = json.loads(text)
        except (duckdb.Error, RecursionError, ValueError) as e:
            raise QueryError(f"cannot read the query's structure: {_first_line(e)}") from e
        if tree.get("error"):
            raise QueryError(f"cannot read the query's structure: {tree.get('error_message', 'unknown')}")
        return tree

    def function_kinds(self) -> dict[str, tuple[str, bool]]:
        """Every function DuckDB knows: name -> (function_type, has_side_effects), from duckdb_functions()."""
        if self._functions is None:
            rows = self._parser().execute(
                "select function_name, function_type, bool_or(coalesce(has_side_effects, false)) "
                "from duckdb_functions() group by all").fetchall()
            kinds: dict[str, tuple[str, bool]] = {}
            for name, kind, side_effects in rows:
                known = kinds.get(name.lower())
                # a name can be both a scalar and a table function (range): keep the side-effect flag
                kinds[name.lower()] = (kind if known is None else f"{known[0]},{kind}",
                                       bool(side_effects) or (known is not None and known[1]))
            self._functions = kinds
        return self._functions

    def read_only(self, sql: str, params: list[Any] | None = None, *, row_cap: int, byte_cap: int,
                  timeout_s: float, memory_cap: int | None = None) -> ReadOnlyResult:
        """Run `sql` in a READ ONLY transaction that is always rolled back, on a cursor of its own.

        DuckDB itself refuses any write inside such a transaction, so even a statement that a check
        misjudged changes nothing. Stops after `row_cap` rows or `byte_cap` bytes (Arrow size), returns
        within `timeout_s` seconds wall time, cursor clean-up included, and stops the query when this
        process's resident memory grows by more than `memory_cap` bytes while it runs (checked every
        50 ms; DuckDB's memory limit does not cover every allocation, e.g. wide projected strings).
        Raises ForbiddenQueryError (a write or file access was attempted), QueryTimeoutError,
        QueryMemoryError, QueryError.
        """
        cur = self._con.cursor()
        box: dict[str, Any] = {}
        started = time.perf_counter()

        def work() -> None:
            try:
                box["result"] = _fetch_read_only(cur, sql, params, row_cap, byte_cap)
            except BaseException as e:  # handed to the caller's thread below
                box["error"] = e
            finally:
                cur.close()
                with self._readers_lock:
                    self._readers.pop(threading.current_thread(), None)

        worker = threading.Thread(target=work, name="stratlab-read-only", daemon=True)
        grace_s = min(1.0, timeout_s / 10)  # time for DuckDB to unwind after the interrupt
        with self._readers_lock:
            self._readers[worker] = cur
        baseline = resident_bytes()
        worker.start()
        over_memory = _watch(worker, started + timeout_s - grace_s, baseline, memory_cap)
        if worker.is_alive():
            with suppress(duckdb.Error):
                cur.interrupt()
            worker.join(grace_s)
        if over_memory:
            raise QueryMemoryError(
                f"query stopped: it needed more than {memory_cap / 1e6:,.0f} MB of memory; select fewer or "
                "shorter columns, add filters or a LIMIT, or aggregate first")
        if worker.is_alive():  # still unwinding: it finishes in the background; close() waits for it
            raise QueryTimeoutError(
                f"query stopped after the {timeout_s:g} s limit; add filters or a LIMIT, or aggregate first")
        if "error" in box:
            raise _read_only_error(box["error"], timeout_s) from box["error"]
        table, rows_cut, bytes_cut = box["result"]
        return ReadOnlyResult(table=table, rows_cut=rows_cut, bytes_cut=bytes_cut,
                              elapsed_s=time.perf_counter() - started)

    def _parser(self) -> duckdb.DuckDBPyConnection:
        """An in-memory connection of this thread for parsing and catalog look-ups: it holds no data."""
        con = getattr(self._local, "parser", None)
        if con is None:
            con = _parser_connection()
            self._local.parser = con
        return con


@dataclass(frozen=True)
class ParsedStatement:
    """One statement as DuckDB's parser sees it."""

    kind: str
    """DuckDB's statement type name: SELECT, INSERT, COPY, ATTACH, ..."""
    query: str
    """The statement's own text, without the separating ';'."""


@dataclass(frozen=True)
class ReadOnlyResult:
    """What a read-only query returned, within its caps."""

    table: pa.Table
    """At most the row cap and about the byte cap."""
    rows_cut: bool
    """True when the query had more rows than the cap."""
    bytes_cut: bool
    """True when rows were left out to stay within the byte cap."""
    elapsed_s: float
    """Wall time of the whole call, clean-up included."""


_FETCH_ROWS = 64
"""Rows per Arrow batch while fetching, so the byte cap cuts close to its mark."""


def resident_bytes() -> int | None:
    """This process's resident memory in bytes (Linux /proc), or None where it cannot be read."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _watch(worker: threading.Thread, deadline: float, baseline: int | None, memory_cap: int | None) -> bool:
    """Wait for `worker` until `deadline` (perf_counter); True if memory grew past the cap first."""
    while worker.is_alive():
        left = deadline - time.perf_counter()
        if left <= 0:
            return False
        worker.join(min(0.05, left))
        if memory_cap is not None and baseline is not None and worker.is_alive():
            now = resident_bytes()
            if now is not None and now - baseline > memory_cap:
                return True
    return False


def _fetch_read_only(cur: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None,
                     row_cap: int, byte_cap: int) -> tuple[pa.Table, bool, bool]:
    cur.execute("begin transaction read only")
    try:
        reader = cur.sql(sql, params=params).to_arrow_reader(_FETCH_ROWS)
        batches: list[pa.RecordBatch] = []
        rows = size = 0
        rows_cut = bytes_cut = False
        for batch in reader:
            if rows + batch.num_rows > row_cap:
                batch, rows_cut = batch.slice(0, row_cap - rows), True
            keep = _rows_within(batch, byte_cap - size)
            if keep < batch.num_rows:
                batch, bytes_cut = batch.slice(0, keep), True
            batches.append(batch)
            rows += batch.num_rows
            size += batch.nbytes
            if rows_cut or bytes_cut:
                break
        table = pa.Table.from_batches(batches, schema=reader.schema)
        reader.close()  # the open result must go before the rollback
    finally:
        cur.execute("rollback")
    return table, rows_cut, bytes_cut


def _rows_within(batch: pa.RecordBatch, budget: int) -> int:
    """How many leading rows of `batch` fit in `budget` bytes (Arrow size)."""
    if batch.nbytes <= budget:
        return batch.num_rows
    low, high = 0, batch.num_rows  # the first `low` rows fit; `high` rows do not
    while high - low > 1:
        mid = (low + high) // 2
        if batch.slice(0, mid).nbytes <= budget:
            low = mid
        else:
            high = mid
    return low


def _read_only_error(error: BaseException, timeout_s: float) -> Exception:
    """Our exception for what the read-only worker raised."""
    if isinstance(error, duckdb.InterruptException):
        return QueryTimeoutError(
            f"query stopped after the {timeout_s:g} s limit; add filters or a LIMIT, or aggregate first")
    if isinstance(error, duckdb.PermissionException):
        return ForbiddenQueryError("the explorer is read-only and cannot read files or reach outside the "
                                   "workspace; import the file on the Data page first")
    if isinstance(error, duckdb.TransactionException) and "read-only" in str(error):
        return ForbiddenQueryError("the explorer only reads: this query tried to change the workspace and "
                                   "nothing was written. Import or drop tables on the Data page")
    if isinstance(error, duckdb.Error):
        return QueryError(f"query failed: {_first_line(error)}")
    if isinstance(error, MemoryError):
        return QueryError("the query ran out of memory; add filters or a LIMIT, or aggregate first")
    return QueryError(f"query failed: {type(error).__name__}: {error}")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _rollback(cur: duckdb.DuckDBPyConnection) -> None:
    """Roll back the cursor's transaction; a failure is logged so that the caller's own error propagates."""
    try:
        cur.execute("rollback")
    except duckdb.Error as e:
        log.warning("rollback failed: %s", e)


def _parser_connection() -> duckdb.DuckDBPyConnection:
    return duckdb.connect(":memory:", config={**_LOCKED_CONFIG})


@contextmanager
def _registered(cur: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> Iterator[str]:
    """`frame` as a view on `cur` for one statement; the view's name is yielded."""
    view = f"_frame_{threading.get_ident()}"
    cur.register(view, frame)
    try:
        yield view
    except BaseException:
        # A failed statement aborts the transaction, and an aborted transaction refuses even unregister:
        # let the caller's error through (the next register of this name replaces the view).
        with suppress(duckdb.Error):
            cur.unregister(view)
        raise
    cur.unregister(view)


def _migration_tables() -> frozenset[str]:
    """Every table a migration creates: the tables the app owns (complete at import time)."""
    pattern = re.compile(r"create\s+table\s+(?:if\s+not\s+exists\s+)?([a-z_][a-z0-9_]*)", re.IGNORECASE)
    names = {"schema_migrations"}
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        names.update(m.lower() for m in pattern.findall(path.read_text(encoding="utf-8")))
    return frozenset(names)


APP_TABLES = _migration_tables()
"""Tables the app owns: read from the migration files, so every module sees the full set."""


def register_app_tables(*names: str) -> None:
    """Mark more tables as app-owned (tables created outside migrations; migration tables are
    already known)."""
    global APP_TABLES
    APP_TABLES = APP_TABLES | frozenset(names)


def list_migrations() -> list[tuple[int, str, Path]]:
    """(version, name, path) of every migration file, in order; raises MigrationError on bad names or gaps."""
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        match = _MIGRATION_RE.match(path.name)
        if not match:
            raise MigrationError(f"migration file {path.name} must be named NNN_lowercase_name.sql")
        found.append((int(match.group(1)), match.group(2), path))
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(versions) + 1)):
        raise MigrationError(f"migration numbers must run 1, 2, 3... without gaps; found {versions}")
    return found
