"""What an uploaded file is: its format (magic bytes first, the suffix a hint), its text encoding, delimiter,
quoting and header row.

One sniffing layer for every import path: the Data page importer (`analytics.ingest.importer`) and the
training-file loader (`models.data.user_files`) both call it (and `analytics.ingest.readers` for the cells),
so both refuse the same files with the same messages (the file name as the user gave it, the line, what to
change).

- `detect_format`: empty, binary, image, archive, compressed, UTF-16/32-without-BOM files are refused.
- `detect_text_settings`: encoding (BOMs, strict UTF-8, then a reported guess), delimiter, quoting, header.
- `split_records`: delimited text as records, with the line each starts on and where a quote never closes.

Imports only the standard library, numpy, pandas, `analytics.errors` and `analytics.ingest.types`
(charset-normalizer lazily, to guess non-Western encodings), so the model engine can use it without the
workspace database.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, NamedTuple

from analytics.errors import ImportValidationError
from analytics.ingest.types import DATE_RE, NUMBER_RE, TIMESTAMP_RE

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


_CSV_LOCK = threading.Lock()
_EOF = "\ue000stratlab-end-of-file\ue000"  # private-use characters: a record no real file ends with
LINE_BREAK = re.compile(r"\r\n|\r|\n")
"""A line end of any convention (CRLF, CR, LF)."""
_ANOTHER_FORMAT = "upload a CSV, TSV, Parquet, Excel or JSONL file instead"
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


class Detected(NamedTuple):
    """What `detect_text` found: the settings, the decoded text, and its quoted records when detection parsed
    them with quoting on (None otherwise), so that reading need not parse them again."""

    settings: TextSettings
    text: str
    quoted: Records | None


# -- whole files ------------------------------------------------------------------------------------------
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


# -- delimited text: detection ----------------------------------------------------------------------------
def detect_text_settings(name: str, data: bytes, *, encoding: str | None = None, delimiter: str | None = None,
                         has_header: bool | None = None) -> TextSettings:
    """How to read delimited text file `name`: the user's choices where given, detected otherwise.

    Raises ImportValidationError when the bytes cannot be decoded or hold only blank lines.
    """
    return detect_text(name, data, encoding, delimiter, has_header).settings


def read_text(name: str, data: bytes, encoding: str | None) -> tuple[str, str, list[str]]:
    """The text of file `name`: (text, encoding used, warnings). `encoding` None detects it (and says so
    in a warning when unsure). Raises ImportValidationError when it cannot be decoded or is empty."""
    warnings: list[str] = []
    if not encoding:
        encoding, note = detect_encoding(data)
        warnings += [note] if note else []
    text = decode(name, data, encoding)
    require_content(name, text)
    return text, encoding, warnings


def detect_text(name: str, data: bytes, encoding: str | None, delimiter: str | None,
                has_header: bool | None) -> Detected:
    """`detect_text_settings` keeping the decoded text and the records it parsed; raises as it does."""
    if delimiter is not None:
        check_delimiter(delimiter)
    text, encoding, warnings = read_text(name, data, encoding)
    delimiter = delimiter or detect_delimiter(text, name)
    quoting, note, quoted = _quoting(text, delimiter)
    warnings += [note] if note else []
    if has_header is None:
        has_header = guess_header(split_records(sample(text), delimiter, quoting).rows)
    settings = TextSettings(format="tsv" if delimiter == "\t" else "csv", encoding=encoding,
                            delimiter=delimiter, quoting=quoting, has_header=has_header,
                            warnings=tuple(warnings))
    return Detected(settings, text, quoted if quoting else None)


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
    return bool(re.fullmatch(NUMBER_RE, text) or re.fullmatch(TIMESTAMP_RE + "|" + DATE_RE, text)
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


# -- delimited text: records ------------------------------------------------------------------------------
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
    opened = starts[-1] + sum(len(LINE_BREAK.findall(f)) for f in last[:-1])
    return Records(rows, starts, opened)


# -- messages ---------------------------------------------------------------------------------------------
def capped(problems: list[str], more: str) -> list[str]:
    """The first MAX_LISTED problems, then one line counting the rest (`more` says what they are)."""
    if len(problems) <= MAX_LISTED:
        return problems
    return problems[:MAX_LISTED] + [f"{more} ({len(problems) - MAX_LISTED} not listed)"]


def show_delimiter(delimiter: str) -> str:
    """A delimiter as people say it: 'tab', or the quoted character."""
    return {"\t": "tab", " ": "space"}.get(delimiter, repr(delimiter))


__all__ = [
    "DELIMITERS", "ENCODINGS", "LINE_BREAK", "MAX_LISTED", "TEXT_FORMATS", "Detected", "Records",
    "TextSettings", "base_name", "better_delimiter", "capped", "check_delimiter", "decode",
    "detect_delimiter", "detect_encoding", "detect_format", "detect_quoting", "detect_text",
    "detect_text_settings", "file_suffix", "guess_encoding", "guess_header", "refuse", "require_content",
    "sample", "show_delimiter", "split_records",
]
