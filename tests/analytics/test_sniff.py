"""analytics/ingest/sniff.py and readers.py: the reading layer shared by the Data page importer and the
training-file loader."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from analytics.errors import ImportValidationError
from analytics.ingest import readers, sniff
from analytics.ingest.importer import parse_file, sniff_file

ROOT = Path(__file__).resolve().parents[2]
MIRROR = Path(os.environ.get("STRATLAB_DATASET_MIRROR", ROOT.parent / "shared" / "datasets"))


def read(name: str, data: bytes, **overrides) -> readers.TextTable:
    return readers.sniff_text_table(name, data, **overrides)


MODELS_IMPORTS = ("analytics.errors", "analytics.ingest.sniff", "analytics.ingest.readers",
                  "analytics.settings", "analytics.compute.stats")
"""Every analytics module that models/ imports (grep 'from analytics' models/)."""


@pytest.mark.parametrize("module", MODELS_IMPORTS)
def test_imports_neither_duckdb_nor_the_workspace(module: str) -> None:
    code = (f"import sys, {module}; "
            "print(sorted({'duckdb', 'analytics.db', 'streamlit', 'torch'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_the_list_of_modules_models_imports_is_complete() -> None:
    found = set()
    for path in (ROOT / "models").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:  # `from analytics.ingest import sniff` imports a module
                    sub = f"{node.module}.{alias.name}"
                    is_module = (ROOT / (sub.replace(".", "/") + ".py")).is_file()
                    found.add(sub if is_module else node.module)
    from_analytics = {name for name in found if name.split(".")[0] == "analytics"}
    assert from_analytics <= set(MODELS_IMPORTS), (
        f"add {from_analytics - set(MODELS_IMPORTS)} to MODELS_IMPORTS")


def test_text_cells_lines_and_settings() -> None:
    table = read("t.csv", b'id;note\r\n1;"two\r\nlines"\r\n2;plain\r\n')
    s = table.settings
    assert (s.format, s.encoding, s.delimiter, s.quoting, s.has_header) == ("csv", "utf-8", ";", True, True)
    assert table.header == ("id", "note")
    assert [c.tolist() for c in table.columns] == [["1", "2"], ["two\r\nlines", "plain"]]
    assert table.lines.tolist() == [2, 4] and table.problems == () and table.warnings == ()


def test_ragged_file_is_not_read_as_one_column() -> None:
    data = b"a,b,c\n1,2\n3,4,5,6\n7,8,9\n1\n2,3\n"  # commas on most lines, no consistent count
    table = read("ragged.csv", data)
    assert table.settings.delimiter == ","  # before, an unused delimiter made it one silent column
    assert table.problems[0].startswith("ragged.csv: no delimiter gives every line the same number of fields")
    assert "4 of 5 data lines do not have the 3 fields of the header" in table.problems[0]
    assert "choose a delimiter it does not contain (';')" in table.problems[0]
    assert table.problems[1:5] == (
        "ragged.csv, line 2: expected 3 fields (like the header), got 2: '1,2'",
        "ragged.csv, line 3: expected 3 fields (like the header), got 4: '3,4,5,6'",
        "ragged.csv, line 5: expected 3 fields (like the header), got 1: '1'",
        "ragged.csv, line 6: expected 3 fields (like the header), got 2: '2,3'")


def test_offending_lines_are_capped_and_cut() -> None:
    data = b"a,b\n" + b"".join(b"%d,x,%s\n" % (i, b"y" * 200) for i in range(9)) + b"1,2\n"
    problems = read("long.csv", data).problems
    assert len(problems) == sniff.MAX_LISTED + 1
    assert problems[0].endswith(": '0,x," + "y" * 76 + "...'")
    assert problems[-1] == ("long.csv: 4 more lines do not have 2 fields; check the delimiter, and put "
                            "quotes around fields that contain ','")


def test_one_column_text_stays_one_column() -> None:
    data = b"How far is it, from here?\nWhat is love\nWho wrote Hamlet\nWhere is Rome\nWhy\n"
    table = read("questions.txt", data, has_header=False)
    assert len(table.header) == 1 and table.problems == ()
    assert table.columns[0].tolist()[0] == "How far is it, from here?"


def test_trec_from_the_mirror_is_one_column() -> None:
    path = MIRROR / "trec" / "TREC.train"
    if not path.is_file():
        pytest.skip(f"dataset mirror not found at {path}")
    table = read("TREC.train", path.read_bytes())
    assert table.header == ("column_1",) and len(table.lines) == 5452 and table.problems == ()


def test_unclosed_quote_is_an_error_with_its_line() -> None:
    data = b'id,text\n1,fine\n2,"runs away\n3,never\n4,closed\n'
    table = read("quote.csv", data)
    assert table.settings.quoting  # not silently switched to quotes-as-text
    assert table.problems == (
        "quote.csv, line 3: a '\"' opens a quoted field that never closes, so every line after it would land "
        "in one cell: '2,\"runs away'; close the quote, delete it, or write a quote inside a quoted field "
        "as \"\"",)
    assert table.columns[1].tolist() == ["fine"]  # the swallowed record is not returned as data


def test_unclosed_quote_after_a_multiline_field_names_the_opening_line() -> None:
    records = sniff.split_records('a,b,c\n1,"x\ny",z\n2,"q\ny","open\nmore\n', ",", True)
    assert records.unclosed_line == 5
    assert records.rows[-1] == ["2", "q\ny", "open\nmore\n"]  # no end-of-file marker left in the cell
    closed = sniff.split_records('a,b\n1,"x\ny"\n', ",", True)
    assert closed.unclosed_line is None and closed.rows == [["a", "b"], ["1", "x\ny"]]


def test_stray_quotes_that_close_are_still_read_as_text() -> None:
    data = b'id\ttext\n1\t"so good\n2\tbad" thing\n3\tfine\n'  # the quote closes but swallows a line
    table = read("stray.tsv", data)
    assert not table.settings.quoting and "read as ordinary text" in table.settings.warnings[0]
    assert table.columns[1].tolist() == ['"so good', 'bad" thing', "fine"] and table.problems == ()


def test_whitespace_only_cells_are_stored_as_empty_and_counted() -> None:
    data = b"id,note,tag\n1,  ,x\n2,ok,\t\n3, a ,\xc2\xa0\n"
    table = read("ws.csv", data)
    assert table.warnings == ("ws.csv: 3 cells held only spaces and were stored as empty (the first on "
                              "line 2, column 'note')",)
    assert table.columns[1].tolist() == ["", "ok", " a "] and table.columns[2].tolist() == ["x", "", ""]


def test_whitespace_only_cells_in_json_lines() -> None:
    table = readers.read_json_lines("ws.jsonl", b'{"a": " ", "b": 1}\n\n{"a": "x", "b": 2}\n')
    assert table.columns[0].tolist() == ["", "x"] and table.lines.tolist() == [1, 3]
    assert table.warnings == ("ws.jsonl: 1 cell held only spaces and was stored as empty (the first on "
                              "line 1, column 'a')",)


def test_importer_reports_whitespace_cells_and_stores_null() -> None:
    data = b"id,note\n1,   \n2,ok\n3, \n"
    plan = sniff_file("ws.csv", data)
    assert "ws.csv: 2 cells held only spaces and were stored as empty (the first on line 2, column 'note')" \
        in plan.warnings
    frame = parse_file("ws.csv", data, plan)
    assert frame["note"].isna().tolist() == [True, False, True]


@pytest.mark.parametrize("delimiter", ['"', "ab", "", "a", "7", "\n"])
def test_unusable_delimiters_are_refused_by_construction(delimiter: str) -> None:
    with pytest.raises(ImportValidationError, match="cannot be used: give one character"):
        sniff.TextSettings(format="csv", encoding="utf-8", delimiter=delimiter, quoting=True, has_header=True)
    with pytest.raises(ImportValidationError, match="cannot be used"):
        sniff_file("x.csv", b"a,b\n1,2\n", delimiter=delimiter or "ab")


def test_unknown_encoding_is_refused() -> None:
    with pytest.raises(ImportValidationError, match="unknown encoding 'klingon'"):
        sniff.TextSettings(format="csv", encoding="klingon", delimiter=",", quoting=True, has_header=True)


@pytest.mark.parametrize(("data", "what"), [
    (b"\x1f\x8b\x08\x00", "gzip-compressed"),
    (b"PK\x03\x04....", "a ZIP archive"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"%PDF-1.4", "a PDF document"),
    ("a,b\n1,2\n".encode("utf-16-le"), "contains NUL bytes"),
])
def test_detect_format_refuses_binary_with_the_file_name(data: bytes, what: str) -> None:
    with pytest.raises(ImportValidationError) as info:
        sniff.detect_format("my data.csv", data)
    assert str(info.value).startswith(f"my data.csv {what}" if "NUL" in what else f"my data.csv is {what}")
    assert info.value.problems == [str(info.value)]
