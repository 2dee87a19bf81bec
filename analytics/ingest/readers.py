"""An uploaded file's bytes as cells, nothing typed yet: delimited text (CSV, TSV), JSON Lines, Parquet and
Excel, with what is wrong with them listed (ragged lines, a quote that never closes, no rows...).

`analytics.ingest.sniff` says how to read a file; this module reads it. Shared by the Data page importer and
the training-file loader (`models.data.user_files`), so it imports only the standard library, numpy, pandas,
`analytics.errors` and `analytics.ingest.sniff` (openpyxl lazily, for Excel).
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analytics.ingest.sniff import (
    DELIMITERS,
    LINE_BREAK,
    MAX_LISTED,
    Records,
    TextSettings,
    better_delimiter,
    capped,
    decode,
    detect_text,
    read_text,
    refuse,
    require_content,
    show_delimiter,
    split_records,
)

LINE_SHOWN_CHARS = 80
"""Characters of an offending line quoted in a message."""


@dataclass(frozen=True, eq=False)
class TextTable:
    """A delimited text file as text cells (from `read_text_table`); nothing typed yet."""

    settings: TextSettings
    """How the file was read."""
    header: tuple[str, ...]
    """Column names as in the file (column_1, column_2... without a header row)."""
    columns: list[pd.Series] = field(repr=False)
    """One string Series per header column, a cell per data record (missing cells padded with '')."""
    lines: np.ndarray = field(repr=False)
    """File line (1-based) on which each data record starts."""
    warnings: tuple[str, ...]
    """Detection notes plus cells changed on the user's behalf (whitespace-only cells stored as empty)."""
    problems: tuple[str, ...]
    """Reasons the file cannot be used as it is (ragged lines, a quote that never closes, no data rows)."""


# -- delimited text ---------------------------------------------------------------------------------------
def read_text_table(name: str, data: bytes, settings: TextSettings) -> TextTable:
    """Every record of delimited text file `name` as text cells, with what is wrong listed in `problems`.

    Problems (collected, not raised): a quote that never closes (its line), ragged lines (their line numbers
    and text; when no delimiter gives consistent rows, a message that says so first), a header without data
    rows, and all rows in one column while another delimiter splits them evenly. Whitespace-only cells are
    stored as empty strings and counted in `warnings`.
    Raises ImportValidationError when the bytes cannot be decoded or hold only blank lines.
    """
    text = decode(name, data, settings.encoding)
    require_content(name, text)
    return _table(name, text, settings, split_records(text, settings.delimiter, settings.quoting))


def _table(name: str, text: str, settings: TextSettings, records: Records) -> TextTable:
    rows, starts = records.rows, records.starts
    if records.unclosed_line is not None:
        rows, starts = rows[:-1], starts[:-1]  # the record the open quote swallowed: reported on its own
    first = records.rows[0]
    header = first if settings.has_header else [f"column_{i + 1}" for i in range(len(first))]
    body, lines = (rows[1:], starts[1:]) if settings.has_header else (rows, starts)
    problems = _unclosed_quote(name, text, records.unclosed_line)
    problems += _ragged(name, text, body, lines, len(header), settings)
    if not body and not problems:
        problems.append(f"{name} has a header row ({', '.join(header[:8])}) but no data rows: add rows "
                        f"below it, or untick 'first row is a header' if that line is data")
    elif len(header) == 1 and (alt := better_delimiter(text, settings.delimiter)):
        problems.append(f"{name}: every row landed in one column, but the file splits evenly on "
                        f"{show_delimiter(alt)}: check the delimiter (choose {show_delimiter(alt)})")
    width = len(header)
    columns = _columns_from_rows(body if not problems else [(r + [""] * width)[:width] for r in body], width)
    columns, blanked, where = blank_whitespace(columns)
    first_blank = (int(lines[where[0]]), header[where[1]]) if where else None
    note = whitespace_note(name, blanked, first_blank, "line")
    return TextTable(settings=settings, header=tuple(header), columns=columns,
                     lines=np.asarray(lines, dtype=np.int64),
                     warnings=settings.warnings + ((note,) if note else ()), problems=tuple(problems))


def sniff_text_table(name: str, data: bytes, *, encoding: str | None = None, delimiter: str | None = None,
                     has_header: bool | None = None) -> TextTable:
    """`detect_text_settings` then `read_text_table`: delimited text file `name` as text cells."""
    settings, text, quoted = detect_text(name, data, encoding, delimiter, has_header)
    return _table(name, text, settings, quoted or split_records(text, settings.delimiter, settings.quoting))


def _unclosed_quote(name: str, text: str, line: int | None) -> list[str]:
    if line is None:
        return []
    shown = _line_texts(text, [line]).get(line, "")
    return [f"{name}, line {line}: a '\"' opens a quoted field that never closes, so every line after it "
            f"would land in one cell: {shown!r}; close the quote, delete it, or write a quote inside a "
            f"quoted field as \"\""]


def _ragged(name: str, text: str, body: list[list[str]], lines: list[int], width: int,
            settings: TextSettings) -> list[str]:
    """One problem per line whose field count differs from the header's (capped), with its text and a fix."""
    bad = [(lines[i], len(r)) for i, r in enumerate(body) if len(r) != width]
    if not bad:
        return []
    like = "the header" if settings.has_header else "the first row"
    shown = _line_texts(text, [line for line, _ in bad[:MAX_LISTED]])
    problems = [f"{name}, line {line}: expected {width} fields (like {like}), got {got}: "
                f"{shown.get(line, '')!r}" for line, got in bad[:MAX_LISTED]]
    if len(bad) > MAX_LISTED:
        problems.append(f"{name}: {len(bad) - MAX_LISTED} more lines do not have {width} fields")
    delimiter = show_delimiter(settings.delimiter)
    alt = better_delimiter(text, settings.delimiter)
    if alt:
        problems[-1] += (f"; the file splits evenly on {show_delimiter(alt)}: check the delimiter (choose "
                         f"{show_delimiter(alt)})")
        return problems
    if _consistent(body):
        problems[-1] += f"; check the delimiter, and put quotes around fields that contain {delimiter}"
        return problems
    counts = sorted({len(r) for r in body} | {width})
    unused = next((d for d in DELIMITERS if d not in text), None)
    one_column = (f", or, for a file of one text per line, choose a delimiter it does not contain "
                  f"({show_delimiter(unused)})") if unused else ""
    headline = (f"{name}: no delimiter gives every line the same number of fields (split on {delimiter}, "
                f"lines have {counts[0]} to {counts[-1]}); {len(bad)} of {len(body)} data lines do not have "
                f"the {width} fields of {like}, listed below: give every line {width} fields (put quotes "
                f"around fields that contain {delimiter}){one_column}")
    return [headline, *problems]


def _consistent(body: list[list[str]]) -> bool:
    """Whether at least 90% of the records have the same number of fields."""
    if not body:
        return True
    hits = Counter(len(r) for r in body).most_common(1)[0][1]
    return hits >= 0.9 * len(body)


def _columns_from_rows(rows: list[list[str]], width: int) -> list[pd.Series]:
    if not rows:
        return [pd.Series([], dtype="string") for _ in range(width)]
    block = np.array(rows, dtype=object).reshape(len(rows), width)
    return [pd.Series(block[:, j], dtype="string") for j in range(width)]


def _line_texts(text: str, numbers: Sequence[int]) -> dict[int, str]:
    """The text of the given 1-based physical lines, each cut to LINE_SHOWN_CHARS."""
    wanted, found, start = set(numbers), {}, 0
    for number, brk in enumerate(LINE_BREAK.finditer(text + "\n"), start=1):  # lazily: files can be large
        if number in wanted:
            line = text[start : min(brk.start(), start + LINE_SHOWN_CHARS + 1)]
            found[number] = line if len(line) <= LINE_SHOWN_CHARS else line[:LINE_SHOWN_CHARS] + "..."
            if len(found) == len(wanted):
                break
        start = brk.end()
    return found


# -- cells ------------------------------------------------------------------------------------------------
def blank_whitespace(columns: list[pd.Series]) -> tuple[list[pd.Series], int, tuple[int, int] | None]:
    """`columns` with text cells holding only whitespace set to '', how many there were, and the first one
    as (row index, column index), None when there were none."""
    out, total, first = [], 0, None
    for j, series in enumerate(columns):
        if isinstance(series.dtype, pd.StringDtype):
            mask = (series.str.len() > 0) & (series.str.strip() == "")
            mask = mask.fillna(False).to_numpy(dtype=bool)
        elif series.dtype == object:
            mask = np.fromiter((isinstance(v, str) and v != "" and not v.strip() for v in series), bool,
                               len(series))
        else:
            out.append(series)
            continue
        hits = np.flatnonzero(mask)
        if len(hits):
            series = series.copy()
            series[mask] = ""
            total += len(hits)
            if first is None or hits[0] < first[0]:
                first = (int(hits[0]), j)
        out.append(series)
    return out, total, first


def whitespace_note(name: str, count: int, where: tuple[int, str] | None, row_word: str) -> str | None:
    """The warning for `count` whitespace-only cells stored as empty; `where` is the first one's (line or row,
    column). None when `count` is 0."""
    if not count:
        return None
    first = f" (the first on {row_word} {where[0]}, column {where[1]!r})" if where else ""
    cells = "1 cell held only spaces and was" if count == 1 else f"{count:,} cells held only spaces and were"
    return f"{name}: {cells} stored as empty{first}"


# -- JSON Lines and Parquet -------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class JsonTable:
    """A JSON Lines file (or one JSON array of objects) as columns of values (from `read_json_lines`)."""

    encoding: str
    """Python codec the text was decoded with."""
    header: tuple[str, ...]
    """Every key of every object, in order of first appearance."""
    columns: list[pd.Series] = field(repr=False)
    """One object Series per key (None where an object lacks it); whitespace-only strings stored as ''."""
    lines: np.ndarray = field(repr=False)
    """Line (or array item) of each object, 1-based."""
    warnings: tuple[str, ...]
    """A guessed encoding, whitespace-only cells stored as empty."""
    problems: tuple[str, ...]
    """Lines that are not valid JSON or not objects, no objects, only empty objects."""


def read_json_lines(name: str, data: bytes, encoding: str | None = None) -> JsonTable:
    """JSON Lines file `name` as columns, one object per line; `encoding` None detects it.

    Raises ImportValidationError when the bytes cannot be decoded or hold only blank lines.
    """
    text, encoding, warnings = read_text(name, data, encoding)
    objects, lines, problems = json_objects(name, text)
    header = list(dict.fromkeys(key for obj in objects for key in obj))
    if objects and not header:
        problems.append(f"{name}: every object is empty ({{}}); each line needs keys and values")
    if not objects and not problems:
        problems.append(f"{name} holds no JSON objects; put one object per line")
    columns = [pd.Series([obj.get(key) for obj in objects], dtype=object) for key in header]
    columns, blanked, where = blank_whitespace(columns)
    note = whitespace_note(name, blanked, (lines[where[0]], header[where[1]]) if where else None, "line")
    return JsonTable(encoding=encoding, header=tuple(header), columns=columns,
                     lines=np.asarray(lines, dtype=np.int64),
                     warnings=tuple(warnings + ([note] if note else [])), problems=tuple(problems))


def read_parquet(name: str, data: bytes) -> pd.DataFrame:
    """Parquet file `name` as pandas reads it. Raises ImportValidationError for a damaged file."""
    try:
        return pd.read_parquet(io.BytesIO(data))
    except Exception as e:  # pyarrow raises ArrowInvalid, OSError... for damaged files
        raise refuse(name, f"{name} could not be read as Parquet ({e}); export it again") from e


def json_objects(name: str, text: str) -> tuple[list[dict], list[int], list[str]]:
    """Objects of a JSON Lines text (or of one JSON array), their lines (items), and per-line problems."""
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as e:
            return [], [], [f"{name}, line {e.lineno}: not valid JSON ({e.msg}, column {e.colno})"]
        pairs = list(enumerate(items, start=1)) if isinstance(items, list) else [(1, items)]
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
            return [], [], capped(bad, f"{name}: more lines are not valid JSON")
    not_objects = [f"{name}, {word} {n}: expected a JSON object {{...}}, got {type(v).__name__}"
                   for n, v in pairs if not isinstance(v, dict)]
    if not_objects:
        return [], [], capped(not_objects, f"{name}: more {word}s are not JSON objects")
    return [v for _, v in pairs], [n for n, _ in pairs], []


# -- Excel ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class SheetTable:
    """One Excel sheet as columns of cell values (from `read_sheet`); nothing typed yet."""

    header: tuple[str, ...]
    """Column names from the first row, or column_1, column_2... without a header row."""
    columns: list[pd.Series] = field(repr=False)
    """One object Series per column, a cell per data row (empty rows and columns dropped)."""
    rows: np.ndarray = field(repr=False)
    """Sheet row (1-based) of each data row."""
    problems: tuple[str, ...]
    """A header row without data rows."""


def sheet_names(name: str, data: bytes) -> tuple[str, ...]:
    """Sheets of Excel workbook `name`; raises ImportValidationError for a damaged workbook or none."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True)
    except Exception as e:  # openpyxl raises many types for a damaged workbook
        raise refuse(name, f"{name} could not be read as an Excel workbook ({e}); open it in Excel and "
                                 f"save it again as .xlsx, or export the sheet as CSV") from e
    names = tuple(book.sheetnames)
    book.close()
    if not names:
        raise refuse(name, f"{name} has no sheets")
    return names


def read_sheet(name: str, data: bytes, sheet: str | None, has_header: bool) -> SheetTable:
    """Sheet `sheet` (None: the first) of Excel workbook `name` as cells, empty rows and columns dropped.

    Raises ImportValidationError when the sheet cannot be read or holds nothing.
    """
    sheet = sheet or sheet_names(name, data)[0]
    try:
        raw = pd.read_excel(io.BytesIO(data), sheet_name=sheet, header=None, dtype=object, engine="openpyxl")
    except (ValueError, KeyError) as e:
        raise refuse(name, f"{name}: sheet {sheet!r} cannot be read ({e}); choose another sheet") from e
    raw = raw.dropna(how="all").dropna(axis=1, how="all")
    where = f"{name}, sheet {sheet!r}"
    if raw.empty:
        raise refuse(name, f"{where} is empty; choose the sheet that holds the table")
    sheet_rows = raw.index.to_numpy() + 1
    if has_header:
        header = [_cell_name(v) for v in raw.iloc[0]]
        raw, sheet_rows = raw.iloc[1:], sheet_rows[1:]
    else:
        header = [f"column_{i + 1}" for i in range(raw.shape[1])]
    problems = () if len(raw) else (f"{where} has a header row but no data rows: add rows below it",)
    columns = [raw.iloc[:, j].reset_index(drop=True) for j in range(raw.shape[1])]
    return SheetTable(header=tuple(header), columns=columns, rows=sheet_rows, problems=problems)


def _cell_name(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


__all__ = [
    "LINE_SHOWN_CHARS", "JsonTable", "SheetTable", "TextTable", "blank_whitespace", "json_objects",
    "read_json_lines", "read_parquet", "read_sheet", "read_text_table", "sheet_names", "sniff_text_table",
    "whitespace_note",
]
