"""The workspace side of an import: the new table and its row in the import catalog, in one transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone

import pandas as pd

from analytics.db import Transaction, Workspace, quote_ident
from analytics.errors import ImportValidationError, InvalidNameError, QueryError, WorkspaceError
from analytics.ingest.importer import ImportPlan, check_column_names, check_table_name
from analytics.ingest.sniff import base_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportResult:
    """What `import_table` wrote."""

    table: str
    """Name of the new table."""
    row_count: int
    """Rows written."""
    column_count: int
    """Columns written."""
    replaced: bool
    """True when an existing table of that name was replaced."""


def import_table(ws: Workspace, table: str, frame: pd.DataFrame, source_file: str, plan: ImportPlan,
                 *, replace: bool = False) -> ImportResult:
    """Create `table` from `frame` and record it in the import catalog, in one transaction.

    Raises:
        InvalidNameError: the name is invalid, reserved, app-owned, or taken (without `replace`).
        ImportValidationError: the frame has no columns or no rows, or a column name is invalid.
        WorkspaceError: DuckDB refused the write; nothing was written.
    """
    problems = check_table_name(ws, table, replace=replace)
    if problems:
        raise InvalidNameError(problems[0])
    column_problems = check_column_names([str(c) for c in frame.columns], base_name(source_file))
    if frame.shape[1] == 0 or frame.shape[0] == 0 or column_problems:
        raise ImportValidationError(f"{source_file}: nothing to import into {table!r}",
                                    column_problems or [f"{source_file} has no rows or no columns"])
    existing = None
    try:
        with ws.transaction() as tx:
            # Looked up inside the write transaction: another session may have created the table since the
            # checks above. Without `replace`, create_table_from_frame refuses a taken name.
            existing = _existing_in(tx, table) if replace else None
            if existing:
                tx.execute(f"drop table {quote_ident(existing)}", label=f"replacing table {existing}")
                tx.execute("delete from imported_tables where table_name = ?", [existing],
                           label=f"removing {existing} from the import catalog")
            tx.create_table_from_frame(table, frame)
            _record_import(tx, table, frame, base_name(source_file), plan)
    except (QueryError, ValueError, TypeError) as e:
        raise WorkspaceError(f"importing {source_file} into {table!r} failed, nothing was written: "
                             f"{e}") from e
    log.info("imported %s into %s (%d rows)", source_file, table, len(frame))
    return ImportResult(table=table, row_count=len(frame), column_count=frame.shape[1],
                        replaced=existing is not None)


def _existing_in(tx: Transaction, table: str) -> str | None:
    """The table called `table` ignoring case, as the workspace spells it, seen from inside `tx`."""
    found = tx.rows("select table_name from information_schema.tables where table_schema = 'main' "
                    "and table_type = 'BASE TABLE' and lower(table_name) = lower(?)", [table],
                    label=f"looking up table {table}")
    return found[0][0] if found else None


def _record_import(tx: Transaction, table: str, frame: pd.DataFrame, source_file: str,
                   plan: ImportPlan) -> None:
    """Add the catalog row for a new table (inside the import's transaction)."""
    tx.execute(
        "insert into imported_tables (table_name, source_file, row_count, column_count, detected, "
        "imported_at) values (?, ?, ?, ?, ?, ?)",
        [table, source_file, len(frame), frame.shape[1], plan.summary,
         datetime.now(timezone.utc).replace(tzinfo=None)],
        label=f"recording {table} in the import catalog",
    )


__all__ = ["ImportResult", "import_table"]
