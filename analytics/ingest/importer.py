"""Import files into the workspace: how to read a file, reading it with full validation, checking the names.

`sniff_file` works out how to read a file (format, encoding, delimiter, header, types) and lists the problems
it found; `parse_file` reads it with the user's choices and raises ImportValidationError listing every problem
(file, line or row, column, what to change); `preflight` lists everything that would stop the import, the
table name included; `analytics.ingest.write.import_table` then writes the frame and its catalog row in one
transaction. What a file is comes from `analytics.ingest.sniff`, its cells from `analytics.ingest.readers`
(both shared with the training-file loader of `models.data.user_files`), column types from
`analytics.ingest.types`. Nothing here touches Streamlit or imports duckdb.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analytics import db
from analytics.db import Workspace, suggest_name, validate_name
from analytics.errors import ImportValidationError, InvalidNameError, QueryError
from analytics.ingest import readers, sniff
from analytics.ingest.sniff import MAX_LISTED, TEXT_FORMATS, show_delimiter
from analytics.ingest.types import duck_type, read_decimal_commas, typed_frame

log = logging.getLogger(__name__)

MAX_CELL_CHARS = 1_000_000
"""Longest text cell accepted, in characters (about 1 MB)."""
MAX_COLUMNS = 1000
"""Most columns one imported table may have."""
PREVIEW_ROWS = 20
"""Rows kept in `ImportPlan.preview`."""


@dataclass(frozen=True, eq=False)
class ImportPlan:
    """How a file will be read, what it holds, and what is wrong with it (from `sniff_file`)."""

    file_name: str
    """Base name of the uploaded file."""
    format: str
    """'csv', 'tsv', 'parquet', 'xlsx' or 'jsonl'."""
    encoding: str | None
    """Python codec of a text file ('utf-8', 'utf-8-sig', 'cp1252'...); None for binary formats."""
    delimiter: str | None
    """Field delimiter of delimited text; None for other formats."""
    has_header: bool
    """Whether the first row (text or Excel) holds the column names."""
    quoting: bool
    """Whether '"' quotes fields in delimited text; off when the file's quotes are unbalanced text."""
    sheet: str | None
    """Excel sheet read; None for other formats."""
    sheets: tuple[str, ...]
    """All sheets of an Excel workbook (empty for other formats)."""
    columns: tuple[str, ...]
    """Column names as in the file (column_1, column_2... without a header)."""
    suggested_names: tuple[str, ...]
    """Safe, unique table column names: the file's names, fixed where needed."""
    types: tuple[str, ...]
    """DuckDB type each column will get (BIGINT, DOUBLE, BOOLEAN, DATE, TIMESTAMP, VARCHAR...)."""
    preview: pd.DataFrame = field(repr=False)
    """The first PREVIEW_ROWS rows as they will be imported, under `suggested_names`."""
    row_count: int
    """Data rows (the header not counted)."""
    warnings: tuple[str, ...]
    """Things done on the user's behalf (guessed encoding, quotes read as text...)."""
    problems: tuple[str, ...]
    """Reasons the file cannot be imported as it is; `parse_file` raises on them."""

    def facts(self) -> list[tuple[str, str]]:
        """(label, value) of how the file will be read, for the Data page and the CLI:
        Format, Encoding, Delimiter, Sheet, Header row, Rows, Columns (those that apply)."""
        facts = [("Format", self.format.upper())]
        if self.encoding:
            facts.append(("Encoding", self.encoding))
        if self.delimiter:
            facts.append(("Delimiter", show_delimiter(self.delimiter)))
        if self.sheet:
            facts.append(("Sheet", self.sheet))
        if self.format in TEXT_FORMATS or self.format == "xlsx":
            facts.append(("Header row", "yes" if self.has_header else "no"))
        return [*facts, ("Rows", f"{self.row_count:,}"), ("Columns", str(len(self.columns)))]

    @property
    def summary(self) -> str:
        """One line for the import catalog, e.g. "csv; utf-8; delimiter ','; header"."""
        parts = [self.format]
        if self.encoding:
            parts.append(self.encoding)
        if self.delimiter:
            parts.append(f"delimiter {show_delimiter(self.delimiter)}")
        if self.sheet:
            parts.append(f"sheet {self.sheet!r}")
        if self.format in TEXT_FORMATS or self.format == "xlsx":
            parts.append("header" if self.has_header else "no header")
        if self.format in TEXT_FORMATS and not self.quoting:
            parts.append("quotes as text")
        return "; ".join(parts)


@dataclass
class _Loaded:
    """A file read into typed columns, before names are checked."""

    frame: pd.DataFrame
    """Typed data under suggested (safe, unique) names."""
    columns: list[str]
    """Names as in the file."""
    row_numbers: np.ndarray
    """Line (text, JSONL) or sheet row (Excel) of each data row; data row number otherwise."""
    row_word: str
    """'line' or 'row': how `row_numbers` are named in messages."""
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


# -- public API -------------------------------------------------------------------------------------------
def sniff_file(name: str, data: bytes, *, encoding: str | None = None, delimiter: str | None = None,
               has_header: bool | None = None, sheet: str | None = None) -> ImportPlan:
    """Work out how to read `data` (an uploaded file called `name`) and what it holds.

    Args:
        name: file name as uploaded; its suffix is a hint, the content decides.
        data: the file's bytes.
        encoding, delimiter, has_header, sheet: the user's overrides; None means detect.
    Returns:
        An ImportPlan; problems that `parse_file` would refuse are in `plan.problems`.
    Raises:
        ImportValidationError: the file cannot be read at all (empty, binary, compressed,
            undecodable with the given encoding, corrupt Parquet or Excel).
    """
    file_name = sniff.base_name(name)
    fmt, warnings = sniff.detect_format(file_name, data)
    settings: dict[str, Any] = {"format": fmt, "encoding": None, "delimiter": None, "has_header": True,
                                "quoting": True, "sheet": None, "sheets": ()}
    if fmt in TEXT_FORMATS:
        text = sniff.detect_text_settings(file_name, data, encoding=encoding, delimiter=delimiter,
                                          has_header=has_header)
        settings.update(format=text.format, encoding=text.encoding, delimiter=text.delimiter,
                        quoting=text.quoting, has_header=text.has_header)
        warnings += list(text.warnings)
    elif fmt == "jsonl":
        settings["encoding"], note = (encoding, None) if encoding else sniff.detect_encoding(data)
        warnings += [note] if note else []
    elif fmt == "xlsx":
        settings["sheets"] = readers.sheet_names(file_name, data)
        settings["sheet"] = sheet or settings["sheets"][0]
        settings["has_header"] = True if has_header is None else has_header
    draft = _plan(file_name, settings, None, warnings)
    loaded = _load(file_name, data, draft)
    return _plan(file_name, settings, loaded, warnings)


def parse_file(name: str, data: bytes, plan: ImportPlan,
               rename: dict[str, str] | Sequence[str] | None = None) -> pd.DataFrame:
    """Read `data` as `plan` says, validate everything, and return the frame to import.

    Args:
        name: file name as uploaded (used in messages).
        data: the file's bytes.
        plan: from `sniff_file`, possibly with the user's overrides.
        rename: new column names: a list by position, or a dict {name in file: new name};
            None keeps the file's names (which must then be valid identifiers).
    Raises:
        ImportValidationError: listing every problem (empty file, header only, ragged rows, wrong
            delimiter, undecodable bytes, oversized cells, bad/duplicate column names, too many columns).
    """
    file_name = sniff.base_name(name)
    loaded = _load(file_name, data, plan)
    names = _resolve_names(loaded.columns, rename)
    problems = loaded.problems + check_column_names(names, file_name)
    if problems:
        raise ImportValidationError(
            f"{file_name} was not imported: {len(problems)} problem(s), nothing was written", problems)
    frame = loaded.frame.copy()
    frame.columns = names
    return frame


def check_column_names(names: Sequence[str], file_name: str = "the file") -> list[str]:
    """Problems with final column names: empty, invalid, reserved, duplicated, too many."""
    problems = []
    if len(names) > MAX_COLUMNS:
        problems.append(f"{file_name} has {len(names)} columns; at most {MAX_COLUMNS} can be imported: "
                        f"drop or split columns before importing")
    seen: dict[str, int] = {}
    for position, raw in enumerate(names, start=1):
        name = str(raw)
        try:
            validate_name(name, kind="column")
        except InvalidNameError as e:
            fix = f"column_{position}" if not name.strip() else suggest_name(name.replace(".", "_"))
            problems.append(f"{file_name}, column {position}: {e} (suggested: {fix!r})")
        key = name.lower()
        if key in seen and name.strip():
            problems.append(
                f"{file_name}: columns {seen[key]} and {position} are both named {name!r} (names ignore "
                f"case); rename one, e.g. {_unique(name, set(seen))!r}")
        seen.setdefault(key, position)
    return problems


def check_table_name(ws: Workspace, table: str, *, replace: bool = False) -> list[str]:
    """Problems with `table` as the name of a new (or replaced) table; empty when it is fine."""
    try:
        validate_name(table, kind="table")
    except InvalidNameError as e:
        return [str(e)]
    if table.lower() in {t.lower() for t in db.APP_TABLES}:
        return [f"{table!r} is a table Strategy Lab owns; choose another name, e.g. "
                f"{table.lower() + '_import'!r}"]
    existing = existing_table(ws, table)
    if existing and not replace:
        return [f"a table named {existing!r} already exists; choose another name or tick 'replace'"]
    return []


def preflight(ws: Workspace, plan: ImportPlan, table: str, names: Sequence[str], *,
              replace: bool = False) -> list[str]:
    """Every problem that would stop importing `plan`'s file as `table` with column `names`; empty when
    ready."""
    return (list(plan.problems) + check_column_names(names, plan.file_name)
            + check_table_name(ws, table, replace=replace))


def table_profile(ws: Workspace, table: str) -> pd.DataFrame:
    """One row per column of `table`: column, type, nulls, distinct, min, max, example.

    Raises QueryError when the table does not exist.
    """
    columns = ws.columns(table)
    if columns.empty:
        raise QueryError(f"no table {table!r}; tables are: {', '.join(ws.table_names())}")
    stats = ws.query("profile_table", table=table)
    merged = columns.merge(stats, on="column_name", how="left")
    return pd.DataFrame({
        "column": merged["column_name"],
        "type": merged["data_type"],
        "nulls": merged["nulls"].fillna(0).astype("int64"),
        "distinct": merged["distinct_values"].fillna(0).astype("int64"),
        "min": merged["min_value"],
        "max": merged["max_value"],
        "example": merged["example"],
    })


def existing_table(ws: Workspace, table: str) -> str | None:
    """The table called `table` ignoring case, named as the workspace spells it; None when there is none."""
    lowered = table.lower()
    return next((t for t in ws.table_names() if t.lower() == lowered), None)


# -- reading ----------------------------------------------------------------------------------------------
def _plan(name: str, settings: dict[str, Any], loaded: _Loaded | None, warnings: list[str]) -> ImportPlan:
    columns = tuple(loaded.columns) if loaded else ()
    frame = loaded.frame if loaded else pd.DataFrame()
    return ImportPlan(
        file_name=name, format=settings["format"], encoding=settings["encoding"],
        delimiter=settings["delimiter"], has_header=settings["has_header"], quoting=settings["quoting"],
        sheet=settings["sheet"], sheets=tuple(settings["sheets"]), columns=columns,
        suggested_names=tuple(str(c) for c in frame.columns),
        types=tuple(duck_type(frame[c]) for c in frame.columns),
        preview=frame.head(PREVIEW_ROWS).reset_index(drop=True),
        row_count=len(frame),
        warnings=tuple(dict.fromkeys(warnings + (loaded.warnings if loaded else []))),
        problems=tuple(loaded.problems) if loaded else (),
    )


def _load(name: str, data: bytes, plan: ImportPlan) -> _Loaded:
    """Read the whole file as `plan` says; problems are collected, not raised (except unreadable files)."""
    if plan.format in TEXT_FORMATS:
        loaded = _load_text(name, data, plan)
    elif plan.format == "xlsx":
        loaded = _load_excel(name, data, plan)
    elif plan.format == "parquet":
        loaded = _load_parquet(name, data)
    elif plan.format == "jsonl":
        loaded = _load_jsonl(name, data, plan)
    else:
        raise sniff.refuse(name, f"unknown format {plan.format!r}; use csv, tsv, parquet, xlsx or jsonl")
    loaded.problems += _oversized_cells(name, loaded)
    if len(loaded.columns) > MAX_COLUMNS:
        loaded.problems.append(f"{name} has {len(loaded.columns)} columns; at most {MAX_COLUMNS} can be "
                               f"imported: drop or split columns before importing")
    return loaded


def _load_text(name: str, data: bytes, plan: ImportPlan) -> _Loaded:
    settings = sniff.TextSettings(format=plan.format, encoding=plan.encoding or "utf-8",
                                  delimiter=plan.delimiter or ",", quoting=plan.quoting,
                                  has_header=plan.has_header)
    table = readers.read_text_table(name, data, settings)
    loaded = _Loaded(frame=pd.DataFrame(), columns=list(table.header), row_numbers=table.lines,
                     row_word="line", warnings=list(table.warnings), problems=list(table.problems))
    loaded.frame = typed_frame(table.columns, _safe_names(table.header))
    if settings.delimiter != ",":
        loaded.warnings += read_decimal_commas(loaded.frame)
    return loaded


def _load_excel(name: str, data: bytes, plan: ImportPlan) -> _Loaded:
    table = readers.read_sheet(name, data, plan.sheet, plan.has_header)
    loaded = _Loaded(frame=pd.DataFrame(), columns=list(table.header), row_numbers=table.rows, row_word="row",
                     problems=list(table.problems))
    columns = _blank_whitespace(name, table.columns, loaded)
    loaded.frame = typed_frame(columns, _safe_names(table.header), loaded.warnings)
    return loaded


def _load_parquet(name: str, data: bytes) -> _Loaded:
    raw = readers.read_parquet(name, data)
    header = [str(c) for c in raw.columns]
    problems = [] if len(raw) else [f"{name} has columns ({', '.join(header[:8])}) but no rows"]
    loaded = _Loaded(frame=pd.DataFrame(), columns=header, row_numbers=np.arange(1, len(raw) + 1),
                     row_word="row", problems=problems)
    columns = [raw.iloc[:, j].reset_index(drop=True) for j in range(raw.shape[1])]
    columns = _blank_whitespace(name, columns, loaded)
    loaded.frame = typed_frame(columns, _safe_names(header), loaded.warnings)
    return loaded


def _load_jsonl(name: str, data: bytes, plan: ImportPlan) -> _Loaded:
    table = readers.read_json_lines(name, data, plan.encoding)
    loaded = _Loaded(frame=pd.DataFrame(), columns=list(table.header), row_numbers=table.lines,
                     row_word="line", warnings=list(table.warnings), problems=list(table.problems))
    loaded.frame = typed_frame(table.columns, _safe_names(table.header), loaded.warnings)
    return loaded


def _blank_whitespace(name: str, columns: list[pd.Series], loaded: _Loaded) -> list[pd.Series]:
    """Whitespace-only text cells as '' (then stored as NULL), reported once with where the first one is."""
    columns, count, first = readers.blank_whitespace(columns)
    where = (int(loaded.row_numbers[first[0]]), str(loaded.columns[first[1]])) if first else None
    note = readers.whitespace_note(name, count, where, loaded.row_word)
    loaded.warnings += [note] if note else []
    return columns


# -- names and sizes --------------------------------------------------------------------------------------
def _safe_names(header: Sequence[str]) -> list[str]:
    """Valid, unique (case-insensitively) names: the file's where they pass, fixed versions otherwise."""
    names: list[str] = []
    taken: set[str] = set()
    for position, raw in enumerate(header, start=1):
        name = str(raw).strip()
        try:
            validate_name(name, kind="column")
        except InvalidNameError:
            has_text = any(ch.isalnum() for ch in name)
            name = suggest_name(name.replace(".", "_")) if has_text else f"column_{position}"
        name = _unique(name, taken)
        taken.add(name.lower())
        names.append(name)
    return names


def _unique(name: str, taken: set[str]) -> str:
    if name.lower() not in taken:
        return name
    n = 2
    while f"{name}_{n}".lower() in taken:
        n += 1
    return f"{name}_{n}"[:63]


def _resolve_names(columns: list[str], rename: dict[str, str] | Sequence[str] | None) -> list[str]:
    if rename is None:
        return [str(c) for c in columns]
    if isinstance(rename, dict):
        return [str(rename.get(c, c)).strip() for c in columns]
    names = [str(n).strip() for n in rename]
    if len(names) != len(columns):
        raise ImportValidationError(
            f"{len(names)} new names given for {len(columns)} columns; give one name per column")
    return names


def _oversized_cells(name: str, loaded: _Loaded) -> list[str]:
    found = []
    for position, column in enumerate(loaded.frame.columns):
        series = loaded.frame[column]
        if not isinstance(series.dtype, pd.StringDtype):
            continue
        lengths = series.str.len().fillna(0).to_numpy()
        for index in np.flatnonzero(lengths > MAX_CELL_CHARS)[:MAX_LISTED]:
            found.append(
                f"{name}, {loaded.row_word} {int(loaded.row_numbers[index])}, column "
                f"{loaded.columns[position]!r}: the cell holds {int(lengths[index]):,} characters; the limit "
                f"is {MAX_CELL_CHARS:,}: shorten it or keep long texts outside the table")
    return sniff.capped(found, f"{name}: more cells are over the size limit")


__all__ = [
    "MAX_CELL_CHARS", "MAX_COLUMNS", "ImportPlan", "check_column_names", "check_table_name", "existing_table",
    "parse_file", "preflight", "sniff_file", "table_profile",
]
