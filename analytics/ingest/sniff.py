"""Read an uploaded file's bytes safely: what it is, how its text is encoded and delimited, and its cells.

One sniffing layer for every import path: the Data page importer (`analytics.ingest.importer`) and the
training-file loader (`models.data.user_files`) both call it, so both refuse the same files with the same
messages (the file name as the user gave it, the line, what to change).

- `detect_format`: empty, binary, image, archive, compressed, UTF-16/32-without-BOM files are refused.
- `detect_text_settings`: encoding (BOMs, strict UTF-8, then a reported guess), delimiter, quoting, header.
- `read_text_table`: every record as text cells, with ragged rows, a quote that never closes, a header without
  rows and whitespace-only cells found and reported.

Imports only the standard library, numpy, pandas and `analytics.errors` (charset-normalizer lazily, to guess
non-Western encodings), so the model engine can use it without the workspace database.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from analytics.errors import ImportValidationError

MAX_LISTED = 5
"""Problems of one kind listed one by one before the rest are counted."""
DELIMITERS = (",", ";", "\t", "|")
"""Delimiters tried when sniffing delimited text."""
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1", "cp1251", "shift_jis", "gb18030")
"""Encodings offered for an override."""
TEXT_FORMATS = ("csv", "tsv")
"""Formats read by `read_text_table`."""
SNIFF_CHARS = 65_536
"""Characters (or bytes) of the file's start that detection looks at."""
LINE_SHOWN_CHARS = 80
"""Characters of an offending line quoted in a message."""

_CSV_LOCK = threading.Lock()
_EOF = "\ue000stratlab-end-of-file\ue000"  # private-use characters: a record no real file ends with
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_NUMBER_RE = r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?"
_DATE_RE = r"\d{4}-\d{2}-\d{2}"
_TIMESTAMP_RE = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?"
_ANOTHER_FORMAT = "upload a CSV, TSV, Parquet, Excel or JSONL file instead"
# (magic bytes, what the file is, what to do): binary content that must not be read as text.
_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"\x1f\x8b", "gzip-compressed", "decompress it first (e.g. `gunzip`) and upload the file inside"),
    (b"BZh", "bzip2-compressed", "decompress it first (e.g. `bunzip2`) and upload the file inside"),
    (b"\xfd7zXZ\x00", "xz-compressed", "decompress it first (e.g. `unxz`) and upload the file inside"),
    (b"(\xb5/\xfd", "zstd-compressed", "decompress it first (e.g. `unzstd`) and upload the file inside"),
    (b"7z\xbc\xaf'\x1c", "a 7-Zip archive", "extract it and upload the file inside"),
    (b"\x89PNG", "a PNG image", _ANOTHER_FORMAT),
    (b"\xff\xd8\xff", "a JPEG image", _ANOTHER_FORMAT),
    (b"GIF8", "a GIF image", _ANOTHER_FORMAT),
    (b"%PDF", "a PDF document", "export the table inside it as CSV and upload that"),
    (b"\xd0\xcf\x11\xe0", "a legacy Excel (.xls) or other OLE file",
     "save it as .xlsx or CSV and upload that"),
    (b"SQLite format 3\x00", "an SQLite database", "export the table you need as CSV and upload that"),
    (b"\x7fELF", "a program (ELF binary)", "upload a data file instead"),
)


@dataclass(frozen=True)
class TextSettings:
    """How to read a delimited text file (detected by `detect_text_settings`, or the user's choice)."""

    format: str
    """'csv', or 'tsv' when the delimiter is a tab."""
    encoding: str
    """Python codec of the bytes ('utf-8', 'utf-8-sig', 'utf-16', 'cp1252'...)."""
    delimiter: str
    """Field delimiter: one character, not a quote, newline or letter."""
    quoting: bool
    """Whether '"' quotes fields; off when the file's quotes are unbalanced text."""
    has_header: bool
    """Whether the first record holds the column names."""
    warnings: tuple[str, ...] = ()
    """Things detection decided on the user's behalf (a guessed encoding, quotes read as text)."""

    def __post_init__(self) -> None:
        if self.format not in TEXT_FORMATS:
            raise ImportValidationError(
                f"text format must be one of {', '.join(TEXT_FORMATS)}, got {self.format!r}")
        check_delimiter(self.delimiter)
        try:
            codecs.lookup(self.encoding)
        except LookupError as e:
            raise ImportValidationError(
                f"unknown encoding {self.encoding!r}; choose one of {', '.join(ENCODINGS)}") from e


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


def check_delimiter(delimiter: str) -> None:
    """Raise ImportValidationError unless `delimiter` is one character, not a quote, newline or letter."""
    if len(delimiter) != 1 or delimiter in "\"\r\n" or delimiter.isalnum():
        raise ImportValidationError(
            f"delimiter {delimiter!r} cannot be used: give one character that is not a quote, a newline, a "
            f"letter or a digit (e.g. {', '.join(show_delimiter(d) for d in DELIMITERS)})")


class Records(NamedTuple):
    """Non-blank csv records of a text, the line each starts on, and where an unclosed quote opens."""

    rows: list[list[str]]
    starts: list[int]
    unclosed_line: int | None


# -- whole files ---------------------------------------------------------------------------------------------
def base_name(name: str) -> str:
    """The file name without any folder (also for Windows paths); 'upload' when there is none."""
    return PurePath(str(name).replace("\\", "/")).name or "upload"


def file_suffix(name: str) -> str:
    """The lower-case suffix of `name` ('.csv'), '' when it has none."""
    return PurePath(name).suffix.lower()


def refuse(name: str, message: str) -> ImportValidationError:
    """The error for a file that cannot be read at all; the message starts with the file name."""
    return ImportValidationError(message if name in message else f"{name}: {message}")


def detect_format(name: str, data: bytes) -> tuple[str, list[str]]:
    """('csv' | 'tsv' | 'parquet' | 'xlsx' | 'jsonl', warnings) of file `name` holding `data`.

    The content decides, the suffix is a hint. Raises ImportValidationError naming the file for empty,
    binary, image, archive and compressed files and for UTF-16/32 text without a byte-order mark.
    """
    suffix = file_suffix(name)
    if not data:
        raise refuse(name, f"{name} is empty (0 bytes); export it again with a header row and data rows")
    if data[:4] == b"PAR1":
        note = [] if suffix in (".parquet", ".pq") else [f"{name} holds Parquet data; it was read as Parquet"]
        return "parquet", note
    if suffix in (".parquet", ".pq"):
        raise refuse(name, f"{name} is not a Parquet file (it does not start with 'PAR1'); "
                           f"export it again as Parquet, or upload it as CSV")
    if data[:4] == b"PK\x03\x04":
        if suffix in (".xlsx", ".xlsm"):
            return "xlsx", []
        raise refuse(name, f"{name} is a ZIP archive (a zipped file or an Excel workbook), not text: "
                           f"unzip it and upload the file inside, or name a workbook .xlsx")
    if suffix in (".xlsx", ".xlsm"):
        raise refuse(name, f"{name} is not an Excel .xlsx workbook; open it in Excel and save as .xlsx")
    for magic, what, fix in _MAGIC:
        if data.startswith(magic) and not (magic == b"BZh" and not data[3:4].isdigit()):
            raise refuse(name, f"{name} is {what}, not a text table: {fix}")
    if _has_nul(data):
        raise refuse(name, f"{name} contains NUL bytes: it is a binary file, or UTF-16/32 text without a "
                           f"byte-order mark; save it as UTF-8 CSV and upload that")
    if suffix in (".jsonl", ".ndjson", ".json") or (suffix not in (".csv", ".tsv") and _looks_jsonl(data)):
        return "jsonl", []
    return ("tsv" if suffix == ".tsv" else "csv"), []


def _has_nul(data: bytes) -> bool:
    head = data[:SNIFF_CHARS]
    for bom in (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        if head.startswith(bom):
            return False
    return b"\x00" in head


def _looks_jsonl(data: bytes) -> bool:
    first = data[:SNIFF_CHARS].lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return first in (b"{", b"[")


def detect_encoding(data: bytes) -> tuple[str, str | None]:
    """(codec, note): BOMs first, then strict UTF-8, then a guess that the note reports."""
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
        guess = guess_encoding(data)
        line = data.count(b"\n", 0, e.start) + 1
        return guess, (f"the file is not UTF-8 (byte 0x{data[e.start]:02X} on line {line}); it was read as "
                       f"{guess}. If letters look wrong, choose another encoding or save the file as UTF-8")


def guess_encoding(data: bytes) -> str:
    """Windows-1252 (a Latin-1 superset) for Western text; charset-normalizer when most letters are not
    ASCII."""
    head = data[:1_000_000]
    non_ascii = sum(1 for b in head if b > 127)
    ascii_letters = sum(1 for b in head if 65 <= b <= 90 or 97 <= b <= 122)
    candidates = ["cp1252", "latin-1"]
    # Accented letters are a small share of the letters of Western text; Cyrillic or CJK bytes are most.
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


def decode(name: str, data: bytes, encoding: str | None) -> str:
    """`data` as text in `encoding` (None: UTF-8). Raises ImportValidationError: the byte, line and a fix."""
    codec = encoding or "utf-8"
    try:
        codecs.lookup(codec)
    except LookupError as e:
        raise refuse(name, f"unknown encoding {codec!r}; choose one of {', '.join(ENCODINGS)}") from e
    try:
        return data.decode(codec)
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise refuse(name, f"{name}: byte 0x{data[e.start]:02X} at offset {e.start} (line {line}) is not "
                           f"valid {codec}; the file looks like {guess_encoding(data)}: choose that "
                           f"encoding") from e


def require_content(name: str, text: str) -> None:
    """Raise ImportValidationError when `text` holds nothing but blank lines."""
    if not text.strip():
        raise refuse(name, f"{name} holds only blank lines; export it again with a header row and data rows")


# -- delimited text: detection -------------------------------------------------------------------------------
def detect_text_settings(name: str, data: bytes, *, encoding: str | None = None, delimiter: str | None = None,
                         has_header: bool | None = None) -> TextSettings:
    """How to read delimited text file `name`: the user's choices where given, detected otherwise.

    Raises ImportValidationError when the bytes cannot be decoded or hold only blank lines.
    """
    return _detect(name, data, encoding, delimiter, has_header)[0]


def _detect(name: str, data: bytes, encoding: str | None, delimiter: str | None,
            has_header: bool | None) -> tuple[TextSettings, str, Records | None]:
    """(settings, decoded text, the text's quoted records when detection parsed them and quoting is on)."""
    if delimiter is not None:
        check_delimiter(delimiter)
    warnings: list[str] = []
    if not encoding:
        encoding, note = detect_encoding(data)
        warnings += [note] if note else []
    text = decode(name, data, encoding)
    require_content(name, text)
    delimiter = delimiter or detect_delimiter(text, name)
    quoting, note, quoted = _quoting(text, delimiter)
    warnings += [note] if note else []
    if has_header is None:
        has_header = guess_header(split_records(sample(text), delimiter, quoting).rows)
    settings = TextSettings(format="tsv" if delimiter == "\t" else "csv", encoding=encoding,
                            delimiter=delimiter, quoting=quoting, has_header=has_header,
                            warnings=tuple(warnings))
    return settings, text, quoted if quoting else None


def sample(text: str) -> str:
    """The first SNIFF_CHARS characters of `text`, cut at a line end."""
    if len(text) <= SNIFF_CHARS:
        return text
    cut = text.rfind("\n", 0, SNIFF_CHARS)
    return text[: cut if cut > 0 else SNIFF_CHARS]


def _field_counts(text: str, delimiter: str, quoting: bool = True, limit: int = 200) -> list[int]:
    return [len(r) for r in split_records(sample(text), delimiter, quoting).rows[:limit]]


def _in_use(counts: list[int]) -> bool:
    """Whether a delimiter with these field counts delimits the file: it splits half the lines, or the
    first line (a header) and a fifth of the others. A one-column text file only has it here and there."""
    if len(counts) < 2:
        return bool(counts) and counts[0] > 1
    rest = sum(1 for c in counts[1:] if c > 1) / (len(counts) - 1)
    return rest >= 0.5 or (counts[0] > 1 and rest >= 0.2)


def detect_delimiter(text: str, name: str) -> str:
    """The candidate that splits rows most consistently; csv.Sniffer and the suffix break ties.

    A file that no candidate splits consistently keeps the delimiter it clearly uses, so that its ragged lines
    are reported rather than read silently as one column; only text that no candidate delimits is one column.
    """
    text = sample(text)
    try:
        sniffed = csv.Sniffer().sniff(text, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        sniffed = None
    preferred = "\t" if file_suffix(name) in (".tsv", ".tab") else ","
    counts = {delim: _field_counts(text, delim) or [1] for delim in DELIMITERS}
    scores = {}
    for delim in DELIMITERS:
        mode, hits = Counter(counts[delim]).most_common(1)[0]
        share = hits / len(counts[delim])
        scores[delim] = (mode > 1 and share >= 0.9, share, delim == sniffed, delim == preferred, mode)
    best = max(DELIMITERS, key=lambda d: scores[d])
    if scores[best][0]:
        return best
    used = [d for d in DELIMITERS if _in_use(counts[d])]
    if used:
        return max(used, key=lambda d: scores[d][1:])
    # One column of text: pick a delimiter the text never uses, so no line is split.
    unused = [d for d in (preferred, *DELIMITERS) if d not in text]
    return unused[0] if unused else preferred


def better_delimiter(text: str, current: str) -> str | None:
    """Another delimiter that splits every sampled row into the same number (>1) of fields."""
    for delim in DELIMITERS:
        counts = _field_counts(text, delim) if delim != current else []
        if counts and counts[0] > 1 and len(set(counts)) == 1:
            return delim
    return None


def detect_quoting(text: str, delimiter: str) -> tuple[bool, str | None]:
    """Quotes on, unless reading them as plain text gives a clean table where quoting swallows lines.

    A quote that never closes keeps quoting on, so that `read_text_table` reports it as an error.
    """
    return _quoting(text, delimiter)[:2]


def _quoting(text: str, delimiter: str) -> tuple[bool, str | None, Records | None]:
    """`detect_quoting` plus the quoted records it parsed (None when the text has no quote to parse)."""
    if '"' not in text:
        return True, None, None
    quoted = split_records(text, delimiter, True)
    spans = [i for i, r in enumerate(quoted.rows) if any("\n" in f or "\r" in f for f in r)]
    widths = {len(r) for r in quoted.rows}
    if quoted.unclosed_line is not None or (not spans and len(widths) <= 1):
        return True, None, quoted
    plain = split_records(text, delimiter, False)
    plain_widths = {len(r) for r in plain.rows}
    if len(plain_widths) == 1 and len(plain.rows) > len(quoted.rows):
        lines = ", ".join(str(quoted.starts[i]) for i in spans[:MAX_LISTED])
        return False, (f"unbalanced '\"' quotes (a quoted field starting on line(s) {lines} runs over "
                       f"several lines); quotes were read as ordinary text, which gives every line "
                       f"{plain_widths.pop()} field(s)"), None
    return True, None, quoted


def _is_typed(value: str) -> bool:
    text = value.strip()
    return bool(re.fullmatch(_NUMBER_RE, text) or re.fullmatch(_TIMESTAMP_RE + "|" + _DATE_RE, text)
                or text.lower() in ("true", "false"))


def guess_header(records: list[list[str]]) -> bool:
    """Whether the first record names the columns: numbers in it mean data; typed columns below text mean
    a header."""
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


# -- delimited text: records ---------------------------------------------------------------------------------
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


def split_records(text: str, delimiter: str, quoting: bool) -> Records:
    """Non-blank records, the line each starts on (CRLF and quoted newlines handled by csv), and the line
    where a quoted field opens and never closes (None when every quote closes; else the last record is the
    one that quote swallowed, to the end of the text).

    An end-of-file marker record is parsed after the text: when a quote is still open it lands inside the last
    field instead of standing alone, which is how an unclosed quote is told from a closed one.
    """
    kwargs: dict[str, Any] = {"delimiter": delimiter}
    if quoting:
        kwargs.update(quotechar='"', doublequote=True, quoting=csv.QUOTE_MINIMAL)
    else:
        kwargs.update(quoting=csv.QUOTE_NONE, quotechar=None, escapechar=None)
    source = text + "\n" + _EOF if quoting else text
    rows, starts = [], []
    with _field_limit(len(source)):
        reader = csv.reader(io.StringIO(source, newline=""), **kwargs)
        line = 1
        for record in reader:
            if "".join(record).strip():
                rows.append(record)
                starts.append(line)
            line = reader.line_num + 1
    if not quoting:
        return Records(rows, starts, None)
    if rows and rows[-1] == [_EOF]:
        rows.pop()
        starts.pop()
        return Records(rows, starts, None)
    last = rows[-1]  # the open quote swallowed the marker: drop it again, keep the record
    last[-1] = last[-1][: -len(_EOF) - 1]
    opened = starts[-1] + sum(len(_LINE_BREAK.findall(f)) for f in last[:-1])
    return Records(rows, starts, opened)


def _line_texts(text: str, numbers: Sequence[int]) -> dict[int, str]:
    """The text of the given 1-based physical lines, each cut to LINE_SHOWN_CHARS."""
    wanted, found, start = set(numbers), {}, 0
    for number, brk in enumerate(_LINE_BREAK.finditer(text + "\n"), start=1):  # lazily: files can be large
        if number in wanted:
            line = text[start : min(brk.start(), start + LINE_SHOWN_CHARS + 1)]
            found[number] = line if len(line) <= LINE_SHOWN_CHARS else line[:LINE_SHOWN_CHARS] + "..."
            if len(found) == len(wanted):
                break
        start = brk.end()
    return found


# -- delimited text: reading ---------------------------------------------------------------------------------
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
    settings, text, quoted = _detect(name, data, encoding, delimiter, has_header)
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


# -- cells -------------------------------------------------------------------------------------------------
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


# -- JSON Lines and Parquet ---------------------------------------------------------------------------------
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
    warnings: list[str] = []
    if not encoding:
        encoding, note = detect_encoding(data)
        warnings += [note] if note else []
    text = decode(name, data, encoding)
    require_content(name, text)
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


# -- messages ----------------------------------------------------------------------------------------------
def capped(problems: list[str], more: str) -> list[str]:
    """The first MAX_LISTED problems, then one line counting the rest (`more` says what they are)."""
    if len(problems) <= MAX_LISTED:
        return problems
    return problems[:MAX_LISTED] + [f"{more} ({len(problems) - MAX_LISTED} not listed)"]


def show_delimiter(delimiter: str) -> str:
    """A delimiter as people say it: 'tab', or the quoted character."""
    return {"\t": "tab", " ": "space"}.get(delimiter, repr(delimiter))


__all__ = [
    "DELIMITERS", "ENCODINGS", "MAX_LISTED", "TEXT_FORMATS", "JsonTable", "Records", "TextSettings",
    "TextTable", "base_name", "better_delimiter", "blank_whitespace", "capped", "check_delimiter", "decode",
    "detect_delimiter", "detect_encoding", "detect_format", "detect_quoting", "detect_text_settings",
    "file_suffix", "guess_encoding", "guess_header", "json_objects", "read_json_lines", "read_parquet",
    "read_text_table", "refuse", "require_content", "sample", "show_delimiter", "sniff_text_table",
    "split_records", "whitespace_note",
]
