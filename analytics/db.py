"""The workspace database: the only module that imports duckdb.

One DuckDB file per workspace. The app process is its only writer; each thread gets its own cursor.
External file access is switched off on every connection, so no query (the SQL explorer's included)
can read or write outside the workspace; data enters as DataFrames registered from Python.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from analytics.errors import (
    ForbiddenQueryError,
    InvalidNameError,
    MigrationError,
    QueryError,
    QueryTimeoutError,
    WorkspaceError,
    WorkspaceLockedError,
)

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SQL_DIR = Path(__file__).resolve().parent / "sql"
MIGRATIONS_DIR = SQL_DIR / "migrations"
DEFAULT_WORKSPACE = PROJECT_ROOT / "data" / "workspace.duckdb"

DriverError = duckdb.Error
"""DuckDB's base exception, for modules that must catch driver errors without importing duckdb."""

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_MIGRATION_RE = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
# Words DuckDB will not take as a bare table name, and names the app owns.
_RESERVED = {
    "select", "from", "where", "table", "order", "group", "by", "limit", "join", "union", "all",
    "and", "or", "not", "null", "true", "false", "create", "drop", "insert", "update", "delete",
    "alter", "with", "as", "on", "in", "is", "case", "when", "then", "else", "end", "default",
    "primary", "key", "unique", "check", "column", "user", "having", "offset", "into", "values",
}


def default_workspace_path() -> Path:
    """`$STRATLAB_WORKSPACE` if set, else data/workspace.duckdb in the project."""
    env = os.environ.get("STRATLAB_WORKSPACE")
    return Path(env).expanduser() if env else DEFAULT_WORKSPACE


def validate_name(name: str, kind: str = "table") -> str:
    """Return `name` if it is a safe identifier, else raise InvalidNameError saying why and how to fix it."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidNameError(f"{kind} name is empty; use letters, digits and underscores, e.g. 'sales_2025'")
    if len(name) > 63:
        raise InvalidNameError(f"{kind} name is {len(name)} characters long; use at most 63")
    if not _NAME_RE.match(name):
        raise InvalidNameError(
            f"{kind} name {name!r} may only hold letters, digits and underscores and must not start "
            f"with a digit; try {suggest_name(name)!r}"
        )
    if name.lower() in _RESERVED:
        raise InvalidNameError(f"{kind} name {name!r} is an SQL keyword; try {name.lower() + '_data'!r}")
    return name


def suggest_name(text: str) -> str:
    """A safe identifier derived from free text ('Sales 2025.csv' -> 'sales_2025')."""
    stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", str(text).strip())
    slug = re.sub(r"[^a-z0-9]+", "_", stem.lower()).strip("_")[:63] or "data"
    if slug[0].isdigit():
        slug = f"t_{slug}"[:63]
    if slug in _RESERVED:
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


@dataclass(frozen=True)
class ExplorerResult:
    """Result of a read-only explorer query."""

    frame: pd.DataFrame
    """At most `row_cap` rows."""
    truncated: bool
    """True when the query returned more rows than the cap."""
    elapsed_s: float
    """Wall time of execution and fetch."""


class Workspace:
    """An open workspace database. Create with `Workspace.open(...)`."""

    def __init__(self, path: Path, con: duckdb.DuckDBPyConnection) -> None:
        self.path = path
        self._con = con
        self._local = threading.local()
        self._write_lock = threading.RLock()

    # -- opening -----------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: Path | str | None = None, *, seed_demo: bool = True,
             demo_events: int | None = None, threads: int | None = None) -> Workspace:
        """Open (creating if needed) the workspace at `path`, apply migrations, seed the sample data.

        Args:
            path: database file; None means `default_workspace_path()`; ':memory:' for tests.
            seed_demo: generate the sample data on first open.
            demo_events: approximate number of sample events (default `$STRATLAB_DEMO_EVENTS` or 1,000,000).
            threads: DuckDB worker threads (default: all cores).
        Raises:
            WorkspaceLockedError: another process has the file open.
            WorkspaceError: the file is not a DuckDB database or cannot be created.
        """
        target = default_workspace_path() if path is None else Path(path)
        in_memory = str(target) == ":memory:"
        if not in_memory:
            target.parent.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {"enable_external_access": False}
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
            from analytics import demo

            events = demo_events or int(os.environ.get("STRATLAB_DEMO_EVENTS", demo.DEFAULT_EVENTS))
            demo.seed_workspace(workspace, events=events)
        return workspace

    def close(self) -> None:
        self._con.close()

    # -- cursors and plain queries -------------------------------------------------------------------
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor (DuckDB connections are not thread-safe)."""
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._con.cursor()
            self._local.cursor = cur
        return cur

    def query(self, name: str, **params: Any) -> pd.DataFrame:
        """Run analytics/sql/<name>.sql with named parameters ($param in the file)."""
        return self.sql(read_sql(name), params or None, label=name)

    def sql(self, text: str, params: dict[str, Any] | list[Any] | None = None, *, label: str = "query") -> pd.DataFrame:
        """Run a short SQL statement with bound parameters and return a DataFrame."""
        try:
            return self.cursor().execute(text, params).df()
        except duckdb.Error as e:
            raise QueryError(f"{label} failed: {e}") from e

    def rows(self, text: str, params: dict[str, Any] | list[Any] | None = None) -> list[tuple]:
        """Run a short SQL statement and return the rows as tuples."""
        try:
            return self.cursor().execute(text, params).fetchall()
        except duckdb.Error as e:
            raise QueryError(f"query failed: {e}") from e

    def scalar(self, text: str, params: dict[str, Any] | list[Any] | None = None) -> Any:
        """First column of the first row, or None."""
        result = self.rows(text, params)
        return result[0][0] if result else None

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A write transaction on this thread's cursor: all or nothing."""
        with self._write_lock:
            cur = self.cursor()
            cur.execute("begin transaction")
            try:
                yield cur
            except BaseException:
                cur.execute("rollback")
                raise
            else:
                try:
                    cur.execute("commit")
                except duckdb.Error as e:
                    cur.execute("rollback")
                    raise WorkspaceError(f"commit failed, nothing was written: {e}") from e

    def insert_frame(self, cur: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
        """Append `frame` to existing `table` (columns by name) inside the caller's transaction."""
        view = f"_frame_{threading.get_ident()}"
        cols = ", ".join(quote_ident(c) for c in frame.columns)
        cur.register(view, frame)
        try:
            cur.execute(f"insert into {quote_ident(table)} ({cols}) select {cols} from {quote_ident(view)}")
        finally:
            cur.unregister(view)

    def create_table_from_frame(self, cur: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
        """Create `table` holding `frame` inside the caller's transaction (the name must be validated)."""
        validate_name(table)
        view = f"_frame_{threading.get_ident()}"
        cur.register(view, frame)
        try:
            cur.execute(f"create table {quote_ident(table)} as select * from {quote_ident(view)}")
        finally:
            cur.unregister(view)

    # -- metadata --------------------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        return self.scalar("select value from workspace_meta where key = ?", [key])

    def set_meta(self, cur: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
        cur.execute(
            "insert into workspace_meta (key, value) values (?, ?) "
            "on conflict (key) do update set value = excluded.value",
            [key, value],
        )

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
        with self.transaction() as cur:
            cur.execute(f"drop table {quote_ident(table)}")
            cur.execute("delete from imported_tables where table_name = ?", [table])

    # -- migrations --------------------------------------------------------------------------------------
    def migrate(self) -> list[int]:
        """Apply pending numbered migrations in order, each in its own transaction. Returns applied versions."""
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
                with self.transaction() as cur:
                    cur.execute(path.read_text(encoding="utf-8"))
                    cur.execute(
                        "insert into schema_migrations values (?, ?, ?)",
                        [version, name, datetime.now(timezone.utc).replace(tzinfo=None)],
                    )
            except duckdb.Error as e:
                raise MigrationError(f"migration {path.name} failed and was rolled back: {e}") from e
            log.info("applied migration %s", path.name)
            applied.append(version)
        return applied

    # -- the read-only SQL explorer ------------------------------------------------------------------------
    def explore(self, text: str, *, row_cap: int = 1000, timeout_s: float = 10.0) -> ExplorerResult:
        """Run one read-only SELECT for the SQL explorer.

        Refuses anything but a single SELECT (writes, DDL, COPY, ATTACH, INSTALL/LOAD, SET, PRAGMA...);
        file readers fail because external access is off. Stops the query after `timeout_s`.
        Raises ForbiddenQueryError, QueryTimeoutError or QueryError.
        """
        check_read_only(self._con, text)
        cur = self._con.cursor()  # a fresh cursor so an interrupt cannot hit other work
        timer = threading.Timer(timeout_s, cur.interrupt)
        started = time.perf_counter()
        timer.start()
        try:
            cur.execute(text)
            columns = [d[0] for d in cur.description or []]
            rows = cur.fetchmany(row_cap + 1)
        except duckdb.InterruptException as e:
            raise QueryTimeoutError(
                f"query stopped after the {timeout_s:g} s limit; add filters or a LIMIT, or aggregate first"
            ) from e
        except duckdb.Error as e:
            if isinstance(e, duckdb.PermissionException):
                raise ForbiddenQueryError(
                    "the explorer cannot read files or reach outside the workspace; "
                    "import the file on the Data page first"
                ) from e
            raise QueryError(f"query failed: {e}") from e
        finally:
            timer.cancel()
            cur.close()
        elapsed = time.perf_counter() - started
        frame = pd.DataFrame.from_records(rows[:row_cap], columns=_unique_columns(columns))
        return ExplorerResult(frame=frame, truncated=len(rows) > row_cap, elapsed_s=elapsed)


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
    """Mark more tables as app-owned (tables created outside migrations; migration tables are already known)."""
    global APP_TABLES
    APP_TABLES = APP_TABLES | frozenset(names)


def check_read_only(con: duckdb.DuckDBPyConnection, text: str) -> None:
    """Raise ForbiddenQueryError unless `text` is exactly one SELECT statement."""
    if not text or not text.strip():
        raise ForbiddenQueryError("the query is empty; write one SELECT statement")
    try:
        statements = con.extract_statements(text)
    except duckdb.Error as e:
        raise QueryError(f"cannot parse the query: {e}") from e
    if len(statements) != 1:
        raise ForbiddenQueryError(
            f"the explorer runs one statement at a time; found {len(statements)}. Remove the extra ';' parts"
        )
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise ForbiddenQueryError(
            f"the explorer is read-only: {kind.name} statements are refused. Use SELECT; "
            f"import or drop tables on the Data page"
        )


def _unique_columns(columns: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for col in columns:
        n = seen.get(col, 0)
        seen[col] = n + 1
        out.append(col if n == 0 else f"{col}_{n}")
    return out


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
