"""Import files into the workspace: sniff, parse with full validation, write atomically.

`sniff_file` works out how to read a file (format, encoding, delimiter, header, types) and lists the
problems it found; `parse_file` reads it with the user's choices and raises ImportValidationError
listing every problem (file, line or row, column, what to change); `import_table` writes the frame and
its catalog row in one transaction. Nothing here touches Streamlit or imports duckdb.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import logging
import numbers
import re
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import PurePath
from typing import Any

import numpy as np
import pandas as pd

from analytics import db
from analytics.db import DriverError, Workspace, quote_ident, suggest_name, validate_name
from analytics.errors import (
    ImportValidationError,
    InvalidNameError,
    QueryError,
    WorkspaceError,
)

log = logging.getLogger(__name__)

MAX_CELL_CHARS = 1_000_000
"""Longest text cell accepted, in characters (about 1 MB)."""
MAX_COLUMNS = 1000
"""Most columns one imported table may have."""
PREVIEW_ROWS = 20
"""Rows kept in `ImportPlan.preview`."""
MAX_LISTED = 5
"""Problems of one kind listed one by one before the rest are counted."""
DELIMITERS = (",", ";", "\t", "|")
"""Delimiters tried when sniffing delimited text."""
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1", "cp1251", "shift_jis", "gb18030")
"""Encodings offered for an override."""
TEXT_FORMATS = ("csv", "tsv")
NULL_TOKENS = frozenset({"", "na", "n/a", "null", "none", "nan"})
"""Cell texts read as missing in typed (non-text) columns, compared lower-case."""

_SNIFF_CHARS = 65_536
_CSV_LOCK = threading.Lock()
_INT_RE = r"[+-]?\d{1,18}"
_LEADING_ZERO_RE = r"[+-]?0\d+"
_DATE_RE = r"\d{4}-\d{2}-\d{2}"
_TIMESTAMP_RE = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?"
# (magic bytes, what the file is, what to do): binary content that must not be read as text.
_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"\x1f\x8b", "gzip-compressed", "decompress it first (e.g. `gunzip`) and upload the file inside"),
    (b"BZh", "bzip2-compressed", "decompress it first (e.g. `bunzip2`) and upload the file inside"),
    (b"\xfd7zXZ\x00", "xz-compressed", "decompress it first (e.g. `unxz`) and upload the file inside"),
    (b"(\xb5/\xfd", "zstd-compressed", "decompress it first (e.g. `unzstd`) and upload the file inside"),
    (b"7z\xbc\xaf'\x1c", "a 7-Zip archive", "extract it and upload the file inside"),
    (b"\x89PNG", "a PNG image", "upload a CSV, TSV, Parquet, Excel or JSONL file instead"),
    (b"\xff\xd8\xff", "a JPEG image", "upload a CSV, TSV, Parquet, Excel or JSONL file instead"),
    (b"GIF8", "a GIF image", "upload a CSV, TSV, Parquet, Excel or JSONL file instead"),
    (b"%PDF", "a PDF document", "export the table inside it as CSV and upload that"),
    (b"\xd0\xcf\x11\xe0", "a legacy Excel (.xls) or other OLE file", "save it as .xlsx or CSV and upload that"),
    (b"SQLite format 3\x00", "an SQLite database", "export the table you need as CSV and upload that"),
    (b"\x7fELF", "a program (ELF binary)", "upload a data file instead"),
)


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


# -- public API ---------------------------------------------------------------------------------------------
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
    file_name = _base_name(name)
    fmt, warnings = _detect_format(file_name, data)
    settings: dict[str, Any] = {"format": fmt, "encoding": None, "delimiter": None, "has_header": True,
                                "quoting": True, "sheet": None, "sheets": ()}
    if fmt in TEXT_FORMATS or fmt == "jsonl":
        settings["encoding"], note = (encoding, None) if encoding else _detect_encoding(data)
        warnings += [note] if note else []
    if fmt in TEXT_FORMATS:
        text = _decode(file_name, data, settings["encoding"])
        _require_content(file_name, text)
        settings["delimiter"] = delimiter or _detect_delimiter(text, file_name)
        settings["format"] = "tsv" if settings["delimiter"] == "\t" else "csv"
        settings["quoting"], note = _detect_quoting(text, settings["delimiter"])
        warnings += [note] if note else []
        records, _ = _records(_sample(text), settings["delimiter"], settings["quoting"])
        settings["has_header"] = _guess_header(records) if has_header is None else has_header
    elif fmt == "xlsx":
        settings["sheets"] = _sheet_names(file_name, data)
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
    file_name = _base_name(name)
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
        return [f"{table!r} is a table Strategy Lab owns; choose another name, e.g. {table.lower() + '_import'!r}"]
    existing = _existing_table(ws, table)
    if existing and not replace:
        return [f"a table named {existing!r} already exists; choose another name or tick 'replace'"]
    return []


def preflight(ws: Workspace, plan: ImportPlan, table: str, names: Sequence[str], *,
              replace: bool = False) -> list[str]:
    """Every problem that would stop importing `plan`'s file as `table` with column `names`; empty when ready."""
    return (list(plan.problems) + check_column_names(names, plan.file_name)
            + check_table_name(ws, table, replace=replace))


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
    column_problems = check_column_names([str(c) for c in frame.columns], _base_name(source_file))
    if frame.shape[1] == 0 or frame.shape[0] == 0 or column_problems:
        raise ImportValidationError(f"{source_file}: nothing to import into {table!r}",
                                    column_problems or [f"{source_file} has no rows or no columns"])
    existing = _existing_table(ws, table)
    try:
        with ws.transaction() as cur:
            if existing:
                cur.execute(f"drop table {quote_ident(existing)}")
                cur.execute("delete from imported_tables where table_name = ?", [existing])
            ws.create_table_from_frame(cur, table, frame)
            _record_import(cur, table, frame, _base_name(source_file), plan)
    except (DriverError, ValueError, TypeError) as e:
        raise WorkspaceError(f"importing {source_file} into {table!r} failed, nothing was written: {e}") from e
    log.info("imported %s into %s (%d rows)", source_file, table, len(frame))
    return ImportResult(table=table, row_count=len(frame), column_count=frame.shape[1],
                        replaced=existing is not None)


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


# -- format, encoding, delimiter, quotes, header ----------------------------------------------------------------
def _base_name(name: str) -> str:
    return PurePath(str(name).replace("\\", "/")).name or "upload"


def _suffix(name: str) -> str:
    return PurePath(name).suffix.lower()


def _detect_format(name: str, data: bytes) -> tuple[str, list[str]]:
    """('csv' | 'parquet' | 'xlsx' | 'jsonl', warnings); raises for empty and binary files."""
    suffix = _suffix(name)
    if not data:
        raise _refuse(name, f"{name} is empty (0 bytes); export it again with a header row and data rows")
    if data[:4] == b"PAR1":
        note = [] if suffix in (".parquet", ".pq") else [f"{name} holds Parquet data; it was read as Parquet"]
        return "parquet", note
    if suffix in (".parquet", ".pq"):
        raise _refuse(name, f"{name} is not a Parquet file (it does not start with 'PAR1'); "
                            f"export it again as Parquet, or upload it as CSV")
    if data[:4] == b"PK\x03\x04":
        if suffix in (".xlsx", ".xlsm"):
            return "xlsx", []
        raise _refuse(name, f"{name} is a ZIP archive (a zipped file or an Excel workbook), not text: "
                            f"unzip it and upload the file inside, or name a workbook .xlsx")
    if suffix in (".xlsx", ".xlsm"):
        raise _refuse(name, f"{name} is not an Excel .xlsx workbook; open it in Excel and save as .xlsx")
    for magic, what, fix in _MAGIC:
        if data.startswith(magic) and not (magic == b"BZh" and not data[3:4].isdigit()):
            raise _refuse(name, f"{name} is {what}, not a text table: {fix}")
    if _has_nul(data):
        raise _refuse(name, f"{name} contains NUL bytes: it is a binary file, or UTF-16/32 text without a "
                            f"byte-order mark; save it as UTF-8 CSV and upload that")
    if suffix in (".jsonl", ".ndjson", ".json") or (suffix not in (".csv", ".tsv") and _looks_jsonl(data)):
        return "jsonl", []
    return ("tsv" if suffix == ".tsv" else "csv"), []


def _has_nul(data: bytes) -> bool:
    head = data[:_SNIFF_CHARS]
    for bom in (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        if head.startswith(bom):
            return False
    return b"\x00" in head


def _looks_jsonl(data: bytes) -> bool:
    first = data[:_SNIFF_CHARS].lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return first in (b"{", b"[")


def _detect_encoding(data: bytes) -> tuple[str, str | None]:
    """(codec, note): BOMs first, then strict UTF-8, then a guess reported in the note."""
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32", None
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", None
    try:
        data.decode("utf-8")
        return "utf-8", None
    except UnicodeDecodeError as e:
        guess = _guess_encoding(data)
        line = data.count(b"\n", 0, e.start) + 1
        return guess, (f"the file is not UTF-8 (byte 0x{data[e.start]:02X} on line {line}); it was read as "
                       f"{guess}. If letters look wrong in the preview, choose another encoding")


def _guess_encoding(data: bytes) -> str:
    """Windows-1252 (a Latin-1 superset) for Western text; charset-normalizer when most letters are non-ASCII."""
    head = data[:1_000_000]
    non_ascii = sum(1 for b in head if b > 127)
    ascii_letters = sum(1 for b in head if 65 <= b <= 90 or 97 <= b <= 122)
    candidates = ["cp1252", "latin-1"]
    # Accented letters are a small share of the letters of Western text; Cyrillic or CJK bytes are most of them.
    if non_ascii > 0.3 * (non_ascii + ascii_letters):
        from charset_normalizer import from_bytes

        best = from_bytes(head).best()
        if best is not None:
            candidates.insert(0, codecs.lookup(best.encoding).name)
    for codec in candidates:
        try:
            data.decode(codec)
            return codec
        except UnicodeDecodeError:
            continue
    return "latin-1"


def _decode(name: str, data: bytes, encoding: str | None) -> str:
    codec = encoding or "utf-8"
    try:
        codecs.lookup(codec)
    except LookupError as e:
        raise _refuse(name, f"unknown encoding {codec!r}; choose one of {', '.join(ENCODINGS)}") from e
    try:
        return data.decode(codec)
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise _refuse(name, f"{name}: byte 0x{data[e.start]:02X} at offset {e.start} (line {line}) is not "
                            f"valid {codec}; the file looks like {_guess_encoding(data)}: choose that "
                            f"encoding") from e


def _require_content(name: str, text: str) -> None:
    if not text.strip():
        raise _refuse(name, f"{name} holds only blank lines; export it again with a header row and data rows")


def _sample(text: str) -> str:
    if len(text) <= _SNIFF_CHARS:
        return text
    cut = text.rfind("\n", 0, _SNIFF_CHARS)
    return text[: cut if cut > 0 else _SNIFF_CHARS]


def _field_counts(text: str, delimiter: str, quoting: bool = True, limit: int = 200) -> list[int]:
    records, _ = _records(_sample(text), delimiter, quoting)
    return [len(r) for r in records[:limit]]


def _splits_evenly(text: str, delimiter: str) -> int:
    """Columns when `delimiter` splits at least 90% of the sampled rows into the same count > 1, else 0."""
    counts = _field_counts(text, delimiter)
    if not counts:
        return 0
    mode, hits = Counter(counts).most_common(1)[0]
    return mode if mode > 1 and hits >= 0.9 * len(counts) else 0


def _detect_delimiter(text: str, name: str) -> str:
    """The candidate that splits rows most consistently; csv.Sniffer and the suffix break ties."""
    sample = _sample(text)
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        sniffed = None
    preferred = "\t" if _suffix(name) in (".tsv", ".tab") else ","
    scores = {}
    for delim in DELIMITERS:
        counts = _field_counts(sample, delim) or [1]
        mode, hits = Counter(counts).most_common(1)[0]
        share = hits / len(counts)
        scores[delim] = (mode > 1 and share >= 0.9, share, delim == sniffed, delim == preferred, mode)
    best = max(DELIMITERS, key=lambda d: scores[d])
    if scores[best][0]:
        return best
    # Ragged but clearly delimited: keep the delimiter so the ragged lines get reported.
    ragged = [d for d in DELIMITERS if scores[d][4] > 1 and scores[d][1] >= 0.5]
    if ragged:
        return max(ragged, key=lambda d: scores[d][1:])
    # One column of text: pick a delimiter the text never uses, so no line is split.
    unused = [d for d in (preferred, *DELIMITERS) if d not in sample]
    return unused[0] if unused else preferred


def _detect_quoting(text: str, delimiter: str) -> tuple[bool, str | None]:
    """Quotes on, unless reading them as plain text gives a clean table where quoting swallows lines."""
    quoted, starts = _records(text, delimiter, True)
    spans = [i for i, r in enumerate(quoted) if any("\n" in f or "\r" in f for f in r)]
    widths = {len(r) for r in quoted}
    if not spans and len(widths) <= 1:
        return True, None
    plain, _ = _records(text, delimiter, False)
    plain_widths = {len(r) for r in plain}
    if len(plain_widths) == 1 and len(plain) > len(quoted):
        lines = ", ".join(str(starts[i]) for i in spans[:MAX_LISTED])
        return False, (f"unbalanced '\"' quotes (a quoted field starting on line(s) {lines} runs over "
                       f"several lines); quotes were read as ordinary text, which gives every line "
                       f"{plain_widths.pop()} field(s)")
    return True, None


def _is_typed(value: str) -> bool:
    text = value.strip()
    return bool(re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text)
                or re.fullmatch(_TIMESTAMP_RE + "|" + _DATE_RE, text)
                or text.lower() in ("true", "false"))


def _guess_header(records: list[list[str]]) -> bool:
    """Whether the first record names the columns: numbers in it mean data; typed columns below text mean header."""
    if not records:
        return True
    first, rest = records[0], records[1:201]
    if not rest:
        return True
    if any(_is_typed(v) for v in first if v.strip()):
        return False
    votes = 0
    for j, name in enumerate(first):
        column = [r[j] for r in rest if j < len(r) and r[j].strip()]
        if not column:
            continue
        lengths = sorted(len(v) for v in column)
        if all(_is_typed(v) for v in column) or len(name) < 0.5 * lengths[len(lengths) // 2]:
            votes += 1
        elif name in column:
            votes -= 1
    return votes > 0 or (votes == 0 and len(first) > 1)


# -- reading records ----------------------------------------------------------------------------------------
@contextmanager
def _field_limit(chars: int) -> Iterator[None]:
    """Let the csv module read cells up to `chars` long so oversized cells get a precise message."""
    with _CSV_LOCK:
        old = csv.field_size_limit()
        csv.field_size_limit(max(old, chars + 1))
        try:
            yield
        finally:
            csv.field_size_limit(old)


def _records(text: str, delimiter: str, quoting: bool) -> tuple[list[list[str]], list[int]]:
    """Non-blank records and the line each starts on (CRLF and quoted newlines handled by csv)."""
    kwargs: dict[str, Any] = {"delimiter": delimiter}
    if quoting:
        kwargs.update(quotechar='"', doublequote=True, quoting=csv.QUOTE_MINIMAL)
    else:
        kwargs.update(quoting=csv.QUOTE_NONE, quotechar=None, escapechar=None)
    records, starts = [], []
    with _field_limit(len(text)):
        reader = csv.reader(io.StringIO(text, newline=""), **kwargs)
        line = 1
        for record in reader:
            if "".join(record).strip():
                records.append(record)
                starts.append(line)
            line = reader.line_num + 1
    return records, starts


def _plan(name: str, settings: dict[str, Any], loaded: _Loaded | None, warnings: list[str]) -> ImportPlan:
    columns = tuple(loaded.columns) if loaded else ()
    frame = loaded.frame if loaded else pd.DataFrame()
    return ImportPlan(
        file_name=name, format=settings["format"], encoding=settings["encoding"],
        delimiter=settings["delimiter"], has_header=settings["has_header"], quoting=settings["quoting"],
        sheet=settings["sheet"], sheets=tuple(settings["sheets"]), columns=columns,
        suggested_names=tuple(str(c) for c in frame.columns),
        types=tuple(_duck_type(frame[c]) for c in frame.columns),
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
        raise _refuse(name, f"unknown format {plan.format!r}; use csv, tsv, parquet, xlsx or jsonl")
    loaded.problems += _oversized_cells(name, loaded)
    if len(loaded.columns) > MAX_COLUMNS:
        loaded.problems.append(f"{name} has {len(loaded.columns)} columns; at most {MAX_COLUMNS} can be "
                               f"imported: drop or split columns before importing")
    return loaded


def _load_text(name: str, data: bytes, plan: ImportPlan) -> _Loaded:
    text = _decode(name, data, plan.encoding)
    _require_content(name, text)
    delimiter = plan.delimiter or ","
    records, starts = _records(text, delimiter, plan.quoting)
    header = records[0] if plan.has_header else [f"column_{i + 1}" for i in range(len(records[0]))]
    body, lines = (records[1:], starts[1:]) if plan.has_header else (records, starts)
    width = len(header)
    problems = _ragged(name, text, body, lines, width, delimiter, plan.has_header)
    if not body:
        problems.append(f"{name} has a header row ({', '.join(header[:8])}) but no data rows: add rows "
                        f"below it, or untick 'first row is a header' if that line is data")
    elif width == 1 and (alt := _better_delimiter(text, delimiter)):
        problems.append(f"{name}: every row landed in one column, but the file splits evenly on "
                        f"{show_delimiter(alt)}: check the delimiter (choose {show_delimiter(alt)})")
    rows = body if not problems else [(r + [""] * width)[:width] for r in body]
    columns = _columns_from_rows(rows, width)
    loaded = _Loaded(frame=pd.DataFrame(), columns=list(header), row_numbers=np.asarray(lines, dtype=np.int64),
                     row_word="line", problems=problems)
    loaded.frame = _typed_frame(columns, _safe_names(header))
    if delimiter != ",":
        _read_decimal_commas(loaded)
    return loaded


def _read_decimal_commas(loaded: _Loaded) -> None:
    """Text columns like '2,5' in a non-comma file are numbers written with a decimal comma."""
    for name in loaded.frame.columns:
        series = loaded.frame[name]
        if not isinstance(series.dtype, pd.StringDtype):
            continue
        values = series.dropna().str.strip()
        if (values.empty or not values.str.fullmatch(r"[+-]?\d+(,\d+)?").all()
                or not values.str.contains(",", regex=False).any()):
            continue
        loaded.frame[name] = _cast(series.str.strip().str.replace(",", ".", regex=False), "Float64")
        loaded.warnings.append(f"column {name!r}: decimal commas (2,5) were read as numbers (2.5)")


def _columns_from_rows(rows: list[list[str]], width: int) -> list[pd.Series]:
    if not rows:
        return [pd.Series([], dtype="string") for _ in range(width)]
    block = np.array(rows, dtype=object).reshape(len(rows), width)
    return [pd.Series(block[:, j], dtype="string") for j in range(width)]


def _ragged(name: str, text: str, body: list[list[str]], lines: list[int], width: int, delimiter: str,
            has_header: bool) -> list[str]:
    bad = [(lines[i], len(r)) for i, r in enumerate(body) if len(r) != width]
    if not bad:
        return []
    like = "the header" if has_header else "the first row"
    problems = [f"{name}, line {line}: expected {width} fields (like {like}), got {got}"
                for line, got in bad[:MAX_LISTED]]
    if len(bad) > MAX_LISTED:
        problems.append(f"{name}: {len(bad) - MAX_LISTED} more lines do not have {width} fields")
    alt = _better_delimiter(text, delimiter)
    hint = (f"the file splits evenly on {show_delimiter(alt)}: check the delimiter (choose "
            f"{show_delimiter(alt)})" if alt else
            f"check the delimiter, and put quotes around fields that contain {show_delimiter(delimiter)}")
    problems[-1] += f"; {hint}"
    return problems


def _better_delimiter(text: str, current: str) -> str | None:
    """Another delimiter that splits every sampled row into the same number (>1) of fields."""
    for delim in DELIMITERS:
        counts = _field_counts(text, delim) if delim != current else []
        if counts and counts[0] > 1 and len(set(counts)) == 1:
            return delim
    return None


def _sheet_names(name: str, data: bytes) -> tuple[str, ...]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True)
    except Exception as e:  # openpyxl raises many types for a damaged workbook
        raise _refuse(name, f"{name} could not be read as an Excel workbook ({e}); open it in Excel and "
                            f"save it again as .xlsx, or export the sheet as CSV") from e
    names = tuple(book.sheetnames)
    book.close()
    if not names:
        raise _refuse(name, f"{name} has no sheets")
    return names


def _load_excel(name: str, data: bytes, plan: ImportPlan) -> _Loaded:
    sheet = plan.sheet or _sheet_names(name, data)[0]
    try:
        raw = pd.read_excel(io.BytesIO(data), sheet_name=sheet, header=None, dtype=object, engine="openpyxl")
    except (ValueError, KeyError) as e:
        raise _refuse(name, f"{name}: sheet {sheet!r} cannot be read ({e}); choose another sheet") from e
    raw = raw.dropna(how="all").dropna(axis=1, how="all")
    where = f"{name}, sheet {sheet!r}"
    if raw.empty:
        raise _refuse(name, f"{where} is empty; choose the sheet that holds the table")
    sheet_rows = raw.index.to_numpy() + 1
    if plan.has_header:
        header = [_cell_name(v) for v in raw.iloc[0]]
        raw, sheet_rows = raw.iloc[1:], sheet_rows[1:]
    else:
        header = [f"column_{i + 1}" for i in range(raw.shape[1])]
    problems = [] if len(raw) else [f"{where} has a header row but no data rows: add rows below it"]
    loaded = _Loaded(frame=pd.DataFrame(), columns=header, row_numbers=sheet_rows, row_word="row",
                     problems=problems)
    columns = [raw.iloc[:, j].reset_index(drop=True) for j in range(raw.shape[1])]
    loaded.frame = _typed_frame(columns, _safe_names(header), loaded.warnings)
    return loaded


def _cell_name(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _load_parquet(name: str, data: bytes) -> _Loaded:
    try:
        raw = pd.read_parquet(io.BytesIO(data))
    except Exception as e:  # pyarrow raises ArrowInvalid, OSError... for damaged files
        raise _refuse(name, f"{name} could not be read as Parquet ({e}); export it again") from e
    header = [str(c) for c in raw.columns]
    problems = [] if len(raw) else [f"{name} has columns ({', '.join(header[:8])}) but no rows"]
    loaded = _Loaded(frame=pd.DataFrame(), columns=header, row_numbers=np.arange(1, len(raw) + 1),
                     row_word="row", problems=problems)
    columns = [raw.iloc[:, j].reset_index(drop=True) for j in range(raw.shape[1])]
    loaded.frame = _typed_frame(columns, _safe_names(header), loaded.warnings)
    return loaded


def _load_jsonl(name: str, data: bytes, plan: ImportPlan) -> _Loaded:
    text = _decode(name, data, plan.encoding)
    _require_content(name, text)
    objects, lines, problems = _json_objects(name, text)
    header = list(dict.fromkeys(key for obj in objects for key in obj))
    if objects and not header:
        problems.append(f"{name}: every object is empty ({{}}); each line needs keys and values")
    if not objects and not problems:
        problems.append(f"{name} holds no JSON objects; put one object per line")
    loaded = _Loaded(frame=pd.DataFrame(), columns=header, row_numbers=np.asarray(lines, dtype=np.int64),
                     row_word="line", problems=problems)
    columns = [pd.Series([obj.get(key) for obj in objects], dtype=object) for key in header]
    loaded.frame = _typed_frame(columns, _safe_names(header), loaded.warnings)
    return loaded


def _json_objects(name: str, text: str) -> tuple[list[dict], list[int], list[str]]:
    """Objects of a JSON Lines text (or of one JSON array), their lines, and per-line problems."""
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as e:
            return [], [], [f"{name}, line {e.lineno}: not valid JSON ({e.msg}, column {e.colno})"]
        pairs = list(enumerate(items, start=1))
        word = "item"
    else:
        pairs, word = [], "line"
        bad: list[str] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    pairs.append((number, json.loads(line)))
                except json.JSONDecodeError as e:
                    bad.append(f"{name}, line {number}: not valid JSON ({e.msg}, column {e.colno}); "
                               f"JSON Lines needs one complete object per line")
        if bad:
            return [], [], _capped(bad, f"{name}: more lines are not valid JSON")
    not_objects = [f"{name}, {word} {n}: expected a JSON object {{...}}, got {type(v).__name__}"
                   for n, v in pairs if not isinstance(v, dict)]
    if not_objects:
        return [], [], _capped(not_objects, f"{name}: more {word}s are not JSON objects")
    return [v for _, v in pairs], [n for n, _ in pairs], []


def _capped(problems: list[str], more: str) -> list[str]:
    if len(problems) <= MAX_LISTED:
        return problems
    return problems[:MAX_LISTED] + [f"{more} ({len(problems) - MAX_LISTED} not listed)"]


# -- types and names ---------------------------------------------------------------------------------------
def _typed_frame(columns: list[pd.Series], names: list[str], warnings: list[str] | None = None) -> pd.DataFrame:
    typed = {}
    for name, series in zip(names, columns, strict=True):
        typed[name], note = _normalize(series.reset_index(drop=True))
        if note and warnings is not None:
            warnings.append(f"column {name!r}: {note}")
    return pd.DataFrame(typed)


def _normalize(series: pd.Series) -> tuple[pd.Series, str | None]:
    """A column in a DuckDB-friendly nullable dtype, and a note when values were turned into text."""
    kind = series.dtype.kind
    if kind == "b":
        return series.astype("boolean"), None
    if kind in "iu":
        return series.astype("Int64"), None
    if kind == "f":
        return series.astype("Float64"), None
    if kind == "M":
        return series, None
    if isinstance(series.dtype, pd.StringDtype):
        return _infer_text(series), None
    return _normalize_objects(series)


def _normalize_objects(series: pd.Series) -> tuple[pd.Series, str | None]:
    values = series.dropna()
    values = values[[not (isinstance(v, float) and np.isnan(v)) for v in values]]
    if values.empty or all(isinstance(v, str) for v in values):
        return _infer_text(series.astype("string")), None
    if all(isinstance(v, (bool, np.bool_)) for v in values):
        return series.astype("boolean"), None
    if all(isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)) for v in values):
        return series.astype("Int64"), None
    if all(isinstance(v, numbers.Number) and not isinstance(v, (bool, np.bool_)) for v in values):
        return series.astype("Float64"), None
    if all(isinstance(v, (dt.datetime, pd.Timestamp)) for v in values):
        return pd.to_datetime(series), None
    if all(isinstance(v, dt.date) for v in values):
        return series.map(lambda v: v if isinstance(v, dt.date) else None).astype(object), None
    if any(isinstance(v, (dict, list, tuple, np.ndarray)) for v in values):
        return series.map(_json_text).astype("string"), "nested values were stored as JSON text"
    return series.map(lambda v: None if _missing(v) else str(v)).astype("string"), "mixed types were stored as text"


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


def _json_text(value: Any) -> str | None:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    return None if _missing(value) else json.dumps(value, default=str, ensure_ascii=False)


def _infer_text(series: pd.Series) -> pd.Series:
    """Text cells as BIGINT, DOUBLE, BOOLEAN, DATE or TIMESTAMP when every non-missing value fits; else text."""
    text = series.astype("string")
    stripped = text.str.strip()
    missing = stripped.isna() | stripped.str.lower().isin(NULL_TOKENS)
    values = stripped[~missing]
    if values.empty:
        return text.mask(stripped.fillna("") == "")
    typed = _as_type(values)
    if typed is None:
        return text.mask(stripped.fillna("") == "")
    result = pd.Series(pd.array([None] * len(text), dtype=typed.dtype), index=text.index)
    result[~missing] = typed
    return result


def _as_type(values: pd.Series) -> pd.Series | None:
    """`values` (stripped, none missing) as one typed column, or None when they are text."""
    if values.str.fullmatch(r"[+-]?\d+").all():
        # Leading zeros (zip codes, ids) and integers beyond BIGINT stay text.
        if values.str.fullmatch(_LEADING_ZERO_RE).any() or not values.str.fullmatch(_INT_RE).all():
            return None
        return _cast(values, "Int64")
    if values.str.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?").all():
        return _cast(values, "Float64")
    lowered = values.str.lower()
    if lowered.isin(["true", "false"]).all():
        return (lowered == "true").astype("boolean")
    if values.str.fullmatch(_DATE_RE).all():
        parsed = pd.to_datetime(values, format="%Y-%m-%d", errors="coerce")
        return None if parsed.isna().any() else parsed.dt.date.astype(object)
    if values.str.fullmatch(_TIMESTAMP_RE).all():
        parsed = pd.to_datetime(values.str.replace("T", " "), format="ISO8601", errors="coerce")
        return None if parsed.isna().any() else parsed
    return None


def _cast(values: pd.Series, dtype: str) -> pd.Series:
    try:
        return values.astype(dtype)  # Arrow's cast: fast
    except (ValueError, TypeError):
        return pd.to_numeric(values).astype(dtype)


def _duck_type(series: pd.Series) -> str:
    dtype = series.dtype
    if isinstance(dtype, pd.StringDtype):
        return "VARCHAR"
    if dtype.kind == "b" or str(dtype) == "boolean":
        return "BOOLEAN"
    if dtype.kind in "iu":
        return "BIGINT"
    if dtype.kind == "f":
        return "DOUBLE"
    if dtype.kind == "M":
        return "TIMESTAMP WITH TIME ZONE" if getattr(dtype, "tz", None) else "TIMESTAMP"
    values = series.dropna()
    if len(values) and all(isinstance(v, dt.date) and not isinstance(v, dt.datetime) for v in values):
        return "DATE"
    return "VARCHAR"


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
    return _capped(found, f"{name}: more cells are over the size limit")


# -- writing ---------------------------------------------------------------------------------------------
def _existing_table(ws: Workspace, table: str) -> str | None:
    lowered = table.lower()
    return next((t for t in ws.table_names() if t.lower() == lowered), None)


def _record_import(cur: Any, table: str, frame: pd.DataFrame, source_file: str, plan: ImportPlan) -> None:
    """Add the catalog row for a new table (inside the import's transaction)."""
    cur.execute(
        "insert into imported_tables (table_name, source_file, row_count, column_count, detected, imported_at) "
        "values (?, ?, ?, ?, ?, ?)",
        [table, source_file, len(frame), frame.shape[1], plan.summary,
         datetime.now(timezone.utc).replace(tzinfo=None)],
    )


def show_delimiter(delimiter: str) -> str:
    """A delimiter as people say it: 'tab', or the quoted character."""
    return {"\t": "tab", " ": "space"}.get(delimiter, repr(delimiter))


def _refuse(name: str, message: str) -> ImportValidationError:
    return ImportValidationError(message if name in message else f"{name}: {message}")


__all__ = [
    "ImportPlan", "ImportResult", "check_column_names", "check_table_name",
    "import_table", "parse_file", "preflight", "show_delimiter", "sniff_file", "table_profile",
]
