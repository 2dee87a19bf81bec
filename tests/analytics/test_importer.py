"""File import: sniffing, validation of every kind of bad input, exact results for good files, atomic
writes."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import os
from pathlib import Path

import pandas as pd
import pytest

from analytics.db import Workspace
from analytics.errors import ImportValidationError, InvalidNameError, WorkspaceError
from analytics.ingest import importer, write
from analytics.ingest.importer import ImportPlan, parse_file, sniff_file, table_profile
from analytics.ingest.write import import_table

MIRROR = Path(os.environ.get("STRATLAB_DATASET_MIRROR",
                             Path(__file__).resolve().parents[3] / "shared" / "datasets"))

SALES = b"id,region,amount,day,paid\n1,EU,10.5,2025-01-02,true\n2,US,20,2025-02-03,false\n3,,7.25,,true\n"


def load(name: str, data: bytes, rename=None, **overrides) -> tuple[ImportPlan, pd.DataFrame]:
    plan = sniff_file(name, data, **overrides)
    return plan, parse_file(name, data, plan, rename)


def problems_of(name: str, data: bytes, plan: ImportPlan | None = None, rename=None) -> list[str]:
    with pytest.raises(ImportValidationError) as info:
        parse_file(name, data, plan or sniff_file(name, data), rename)
    assert "nothing was written" in str(info.value)
    return info.value.problems


def refusal_of(name: str, data: bytes, **overrides) -> list[str]:
    with pytest.raises(ImportValidationError) as info:
        sniff_file(name, data, **overrides)
    return info.value.problems


def mirror_file(relative: str) -> bytes:
    path = MIRROR / relative
    if not path.is_file():
        pytest.skip(f"dataset mirror not found at {path}")
    return path.read_bytes()


# -- good files, exact results ------------------------------------------------------------------------------
def test_csv_types_and_values():
    plan, frame = load("sales.csv", SALES)
    assert (plan.format, plan.encoding, plan.delimiter, plan.has_header) == ("csv", "utf-8", ",", True)
    assert plan.columns == ("id", "region", "amount", "day", "paid")
    assert plan.types == ("BIGINT", "VARCHAR", "DOUBLE", "DATE", "BOOLEAN")
    assert plan.row_count == 3 and plan.problems == () and plan.warnings == ()
    assert frame["id"].tolist() == [1, 2, 3]
    assert frame["region"].tolist()[:2] == ["EU", "US"] and pd.isna(frame["region"][2])
    assert frame["amount"].tolist() == [10.5, 20.0, 7.25]
    assert frame["day"].tolist()[:2] == [dt.date(2025, 1, 2), dt.date(2025, 2, 3)]
    assert pd.isna(frame["day"][2])
    assert frame["paid"].tolist() == [True, False, True]


def test_bom_and_crlf_work():
    data = "\ufeffname;city\r\nJosé;Zürich\r\nAnn;Oslo\r\n".encode()
    plan, frame = load("bom.csv", data)
    assert (plan.encoding, plan.delimiter) == ("utf-8-sig", ";")
    assert plan.columns == ("name", "city")  # no BOM left in the first name
    assert frame.values.tolist() == [["José", "Zürich"], ["Ann", "Oslo"]]


def test_utf16_with_bom_works():
    plan, frame = load("u16.csv", "a\tb\n1\tx\n".encode("utf-16"))
    assert (plan.encoding, plan.format, plan.delimiter) == ("utf-16", "tsv", "\t")
    assert frame.values.tolist() == [[1, "x"]]


def test_quoted_newlines_and_delimiters_work():
    data = b'id,note\r\n1,"two\r\nlines"\r\n2,"a, b and ""c"""\r\n3,plain\r\n'
    plan, frame = load("notes.csv", data)
    assert plan.quoting and plan.warnings == ()
    assert frame["note"].tolist() == ["two\r\nlines", 'a, b and "c"', "plain"]


def test_tsv_and_pipe_and_leading_zeros():
    _, tsv = load("t.tsv", b"zip\tcount\n0123\t5\n0456\t6\n")
    # zip codes stay text
    assert tsv["zip"].tolist() == ["0123", "0456"] and str(tsv["zip"].dtype) == "string"
    _, piped = load("p.txt", b"a|b\n1|2\n3|4\n")
    assert piped.values.tolist() == [[1, 2], [3, 4]]


def test_no_header_detected_for_numeric_first_row():
    plan, frame = load("nums.csv", b"1,2.5\n3,4.5\n")
    assert not plan.has_header and plan.columns == ("column_1", "column_2")
    assert frame.values.tolist() == [[1, 2.5], [3, 4.5]]


def test_timestamps():
    _, frame = load("ts.csv", b"seen_at,v\n2025-01-02 03:04:05,1\n2025-01-02T10:00:00,2\n")
    assert frame["seen_at"].tolist() == [pd.Timestamp("2025-01-02 03:04:05"),
                                         pd.Timestamp("2025-01-02 10:00:00")]


def test_parquet():
    buffer = io.BytesIO()
    pd.DataFrame({"x": [1, 2, 3], "name": ["a", None, "c"], "v": [0.5, 1.5, None]}).to_parquet(buffer)
    plan, frame = load("data.parquet", buffer.getvalue())
    assert (plan.format, plan.encoding, plan.delimiter) == ("parquet", None, None)
    assert plan.types == ("BIGINT", "VARCHAR", "DOUBLE") and plan.row_count == 3
    assert frame["x"].tolist() == [1, 2, 3] and frame["name"].tolist()[0] == "a" and pd.isna(frame["name"][1])


def test_column_named_at_is_refused_with_a_suggestion():
    """DuckDB's parser cannot take `at` bare (AT TIME ZONE), so a query could not name the column."""
    data = b"at,v\n2025-01-02,1\n"
    plan = sniff_file("ts.csv", data)
    assert plan.suggested_names[0] == "at_data"
    assert any("SQL keyword" in p for p in problems_of("ts.csv", data, plan))


def test_excel_with_two_sheets():
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        pd.DataFrame({"id": [1, 2], "seen_at": pd.to_datetime(["2025-01-01", "2025-01-02"])}).to_excel(
            writer, sheet_name="first", index=False)
        pd.DataFrame({"k": ["x", "y", "z"], "n": [1.5, 2.0, 3.25]}).to_excel(
            writer, sheet_name="second", index=False)
    plan, frame = load("book.xlsx", buffer.getvalue())
    assert (plan.format, plan.sheet, plan.sheets) == ("xlsx", "first", ("first", "second"))
    assert plan.types == ("BIGINT", "TIMESTAMP")
    assert frame["id"].tolist() == [1, 2] and frame["seen_at"].tolist()[1] == pd.Timestamp("2025-01-02")
    plan2, frame2 = load("book.xlsx", buffer.getvalue(), sheet="second")
    assert plan2.columns == ("k", "n") and frame2.values.tolist() == [["x", 1.5], ["y", 2.0], ["z", 3.25]]


def test_jsonl_nested_and_missing_keys():
    data = b'{"id": 1, "tags": ["a", "b"], "ok": true}\n\n{"id": 2, "extra": "x"}\n'
    plan, frame = load("events.jsonl", data)
    assert plan.columns == ("id", "tags", "ok", "extra")
    assert plan.types == ("BIGINT", "VARCHAR", "BOOLEAN", "VARCHAR")
    assert frame["tags"].tolist()[0] == '["a", "b"]' and any("JSON text" in w for w in plan.warnings)
    assert frame["id"].tolist() == [1, 2] and pd.isna(frame["ok"][1]) and frame["extra"].tolist()[1] == "x"


def test_latin1_reads_with_a_note():
    data = "name,city\nJosé,Zürich\nLæti,Århus\n".encode("latin-1")
    plan, frame = load("latin.csv", data)
    assert plan.encoding == "cp1252"
    assert any("not UTF-8" in w and "line 2" in w for w in plan.warnings)
    assert frame.values.tolist() == [["José", "Zürich"], ["Læti", "Århus"]]


def test_trec_latin1_from_the_mirror():
    data = mirror_file("trec/TREC.train")
    plan, frame = load("TREC.train", data)
    assert plan.encoding == "cp1252" and plan.row_count == 5452 and plan.columns == ("column_1",)
    assert frame["column_1"][0] == "DESC:manner How did serfdom develop in and then leave Russia ?"
    assert frame["column_1"].str.contains("sister\u00f0city").sum() == 1  # byte 0xF0 read as Latin-1


def test_imdb_stray_quotes_read_as_text():
    data = mirror_file("sentiment_labelled_sentences/imdb_labelled.txt")
    plan, frame = load("imdb_labelled.txt", data)
    assert (plan.delimiter, plan.quoting, plan.has_header) == ("\t", False, False)
    assert plan.row_count == 1000 and frame.shape == (1000, 2)  # quoting would swallow lines: 748 rows
    assert any("line(s) 20" in w for w in plan.warnings)
    assert frame["column_2"].value_counts().to_dict() == {0: 500, 1: 500}
    assert frame["column_1"][19].startswith('" The structure of this film')


# -- bad input ----------------------------------------------------------------------------------------------
def test_empty_file():
    assert refusal_of("empty.csv", b"") == [
        "empty.csv is empty (0 bytes); export it again with a header row and data rows"]
    assert "only blank lines" in refusal_of("blank.csv", b"\r\n\n  \n")[0]


def test_header_only():
    problems = problems_of("head.csv", b"id,name\r\n")
    assert problems == ["head.csv has a header row (id, name) but no data rows: add rows below it, or untick "
                        "'first row is a header' if that line is data"]


def test_ragged_rows_name_the_line_and_show_it():
    problems = problems_of("ragged.csv", b"a,b,c\n1,2,3\n4,5\n6,7,8,9\n")
    assert problems[0].startswith("ragged.csv: no delimiter gives every line the same number of fields "
                                  "(split on ',', lines have 2 to 4); 2 of 3 data lines do not have the 3 "
                                  "fields of the header")
    assert problems[1] == "ragged.csv, line 3: expected 3 fields (like the header), got 2: '4,5'"
    assert problems[2] == "ragged.csv, line 4: expected 3 fields (like the header), got 4: '6,7,8,9'"


def test_one_bad_line_in_a_consistent_file_says_check_the_delimiter():
    data = b"a,b\n" + b"1,2\n" * 20 + b"3,4,5\n"
    problems = problems_of("one.csv", data)
    assert problems == ["one.csv, line 22: expected 2 fields (like the header), got 3: '3,4,5'; check the "
                        "delimiter, and put quotes around fields that contain ','"]


def test_ragged_rows_after_quoted_newline_count_file_lines():
    problems = problems_of("q.csv", b'a,b\n1,"x\ny"\n2,3,4\n')
    assert problems[1] == "q.csv, line 4: expected 2 fields (like the header), got 3: '2,3,4'"


def test_many_ragged_rows_are_counted():
    data = b"a,b\n" + b"1,2,3\n" * 8
    problems = problems_of("many.csv", data)
    assert len(problems) == 6 and problems[5].startswith("many.csv: 3 more lines do not have 2 fields")


def test_wrong_delimiter_says_check_the_delimiter():
    data = b"a;b;c\n1;2;3\n4;5;6\n"
    problems = problems_of("semi.csv", data, sniff_file("semi.csv", data, delimiter=","))
    assert problems == ["semi.csv: every row landed in one column, but the file splits evenly on ';': check "
                        "the delimiter (choose ';')"]
    assert sniff_file("semi.csv", data).delimiter == ";"  # detection gets it right by itself


def test_ragged_with_decimal_commas_suggests_semicolon():
    data = b"name;price\nx;1,5\ny;2,25\n"
    plan = sniff_file("eu.csv", data, delimiter=",")
    assert any("splits evenly on ';'" in p for p in plan.problems)


def test_undecodable_bytes_name_offset_line_and_encoding():
    data = "id,name\n1,Ann\n2,José\n".encode("latin-1")
    problems = refusal_of("latin.csv", data, encoding="utf-8")
    assert problems == ["latin.csv: byte 0xE9 at offset 19 (line 3) is not valid utf-8; the file looks like "
                        "cp1252: choose that encoding"]


@pytest.mark.parametrize(("name", "data", "what"), [
    ("data.csv", gzip.compress(b"a,b\n1,2\n", mtime=0), "gzip-compressed"),
    ("data.csv", b"PK\x03\x04rest-of-zip", "ZIP archive"),
    ("data.csv", b"\x89PNG\r\n\x1a\n....", "a PNG image"),
    ("data.csv", b"%PDF-1.7\n...", "a PDF document"),
    ("data.csv", b"a,b\n1,\x00\x002\n", "NUL bytes"),
    ("data.parquet", b"a,b\n1,2\n", "not a Parquet file"),
    ("data.xlsx", b"a,b\n1,2\n", "not an Excel .xlsx workbook"),
])
def test_binary_and_compressed_files_are_refused(name, data, what):
    problems = refusal_of(name, data)
    assert len(problems) == 1 and what in problems[0] and problems[0].startswith(name)


def test_parquet_content_with_csv_name_is_read_as_parquet():
    buffer = io.BytesIO()
    pd.DataFrame({"x": [1]}).to_parquet(buffer)
    plan = sniff_file("really.csv", buffer.getvalue())
    assert plan.format == "parquet" and "read as Parquet" in plan.warnings[0]


def test_cell_of_several_mb_names_row_and_column():
    data = b"id,text\n1,short\n2," + b"x" * 3_000_000 + b"\n"
    problems = problems_of("big.csv", data)
    assert problems == ["big.csv, line 3, column 'text': the cell holds 3,000,000 characters; the limit is "
                        "1,000,000: shorten it or keep long texts outside the table"]


def test_duplicate_and_empty_column_names_suggest_renames():
    data = b"a,A,,Unit Price,select\n1,2,3,4,5\n"
    plan = sniff_file("names.csv", data)
    assert plan.suggested_names == ("a", "A_2", "column_3", "unit_price", "select_data")
    problems = problems_of("names.csv", data, plan)
    assert ("names.csv: columns 1 and 2 are both named 'A' (names ignore case); rename one, e.g. 'A_2'"
            in problems)
    assert any(p.startswith("names.csv, column 3: column name is empty") and "'column_3'" in p
               for p in problems)
    assert any(p.startswith("names.csv, column 4:") and "'unit_price'" in p for p in problems)
    assert any(p.startswith("names.csv, column 5:") and "SQL keyword" in p for p in problems)
    frame = parse_file("names.csv", data, plan, list(plan.suggested_names))  # the suggestions work
    assert list(frame.columns) == list(plan.suggested_names) and frame.values.tolist() == [[1, 2, 3, 4, 5]]


def test_renames_are_validated_by_position_and_by_name():
    plan = sniff_file("sales.csv", SALES)
    frame = parse_file("sales.csv", SALES, plan, {"amount": "amount_usd"})
    assert list(frame.columns) == ["id", "region", "amount_usd", "day", "paid"]
    problems = problems_of("sales.csv", SALES, plan, ["id", "region", "drop table x", "day", "ID"])
    assert any("column 3" in p and "may only hold letters" in p for p in problems)
    assert any("columns 1 and 5 are both named 'ID'" in p for p in problems)
    with pytest.raises(ImportValidationError, match="2 new names given for 5 columns"):
        parse_file("sales.csv", SALES, plan, ["a", "b"])


def test_too_many_columns(monkeypatch):
    monkeypatch.setattr(importer, "MAX_COLUMNS", 3)
    problems = problems_of("wide.csv", b"a,b,c,d\n1,2,3,4\n")
    assert ("wide.csv has 4 columns; at most 3 can be imported: drop or split columns before importing"
            in problems)


def test_bad_jsonl_names_the_line():
    problems = problems_of("bad.jsonl", b'{"a": 1}\n{"a": 2\n[1, 2]\n')
    assert problems == ["bad.jsonl, line 2: not valid JSON (Expecting ',' delimiter, column 8); JSON Lines "
                        "needs one complete object per line"]
    assert problems_of("arr.jsonl", b'{"a": 1}\n[1, 2]\n') == [
        "arr.jsonl, line 2: expected a JSON object {...}, got list"]


def test_every_problem_is_listed_at_once():
    data = b"a,a\n1,2,3\n" + b"4," + b"y" * 1_100_000 + b"\n"
    problems = problems_of("multi.csv", data)
    assert any("line 2: expected 2 fields" in p for p in problems)
    assert any("line 3, column 'a': the cell holds 1,100,000" in p for p in problems)
    assert any("both named 'a'" in p for p in problems)


# -- writing ------------------------------------------------------------------------------------------------
def test_import_writes_table_and_catalog(empty_ws: Workspace):
    plan, frame = load("sales.csv", SALES)
    result = import_table(empty_ws, "sales", frame, "uploads/sales.csv", plan)
    assert (result.table, result.row_count, result.column_count, result.replaced) == ("sales", 3, 5, False)
    assert empty_ws.rows("select id, region, amount, day, paid from sales order by id") == [
        (1, "EU", 10.5, dt.date(2025, 1, 2), True), (2, "US", 20.0, dt.date(2025, 2, 3), False),
        (3, None, 7.25, None, True)]
    assert empty_ws.columns("sales")["data_type"].tolist() == [
        "BIGINT", "VARCHAR", "DOUBLE", "DATE", "BOOLEAN"]
    assert empty_ws.rows(
        "select table_name, source_file, row_count, column_count, detected from imported_tables") == [
        ("sales", "sales.csv", 3, 5, "csv; utf-8; delimiter ','; header")]


@pytest.mark.parametrize(("table", "message"), [
    ("x; drop table imported_tables; --", "may only hold letters"),
    ("sales' or '1'='1", "may only hold letters"),
    ("../x", "may only hold letters"),
    ("/etc/passwd", "may only hold letters"),
    ("select", "SQL keyword"),
    ("", "empty"),
    ("   ", "empty"),
    ("t" * 200, "200 characters long"),
    ("events", "Strategy Lab owns"),
    ("Imported_Tables", "Strategy Lab owns"),
    ("schema_migrations", "Strategy Lab owns"),
])
def test_hostile_table_names_are_refused(empty_ws: Workspace, table, message):
    plan, frame = load("sales.csv", SALES)
    before = empty_ws.table_names()
    with pytest.raises(InvalidNameError, match=message):
        import_table(empty_ws, table, frame, "sales.csv", plan)
    assert empty_ws.table_names() == before
    assert empty_ws.scalar("select count(*) from imported_tables") == 0


def test_existing_table_needs_replace(empty_ws: Workspace):
    plan, frame = load("sales.csv", SALES)
    import_table(empty_ws, "sales", frame, "sales.csv", plan)
    with pytest.raises(InvalidNameError, match="already exists"):
        import_table(empty_ws, "SALES", frame.head(1), "sales.csv", plan)
    result = import_table(empty_ws, "sales", frame.head(1), "sales2.csv", plan, replace=True)
    assert result.replaced and empty_ws.row_count("sales") == 1
    assert empty_ws.rows("select table_name, source_file, row_count from imported_tables") == [
        ("sales", "sales2.csv", 1)]


def test_failed_catalog_insert_leaves_nothing(empty_ws: Workspace, monkeypatch):
    plan, frame = load("sales.csv", SALES)

    def broken(tx, *args):
        tx.execute("insert into imported_tables (table_name) values (null)")  # violates not null

    monkeypatch.setattr(write, "_record_import", broken)
    with pytest.raises(WorkspaceError, match="nothing was written"):
        import_table(empty_ws, "sales", frame, "sales.csv", plan)
    assert "sales" not in empty_ws.table_names()
    assert empty_ws.scalar("select count(*) from imported_tables") == 0


def test_failed_replace_keeps_the_old_table(empty_ws: Workspace, monkeypatch):
    plan, frame = load("sales.csv", SALES)
    import_table(empty_ws, "sales", frame, "sales.csv", plan)
    monkeypatch.setattr(write, "_record_import", lambda *a: (_ for _ in ()).throw(ValueError("disk full")))
    with pytest.raises(WorkspaceError, match="disk full"):
        import_table(empty_ws, "sales", frame.head(1), "sales.csv", plan, replace=True)
    assert empty_ws.row_count("sales") == 3  # the drop was rolled back with the rest
    assert empty_ws.rows("select row_count from imported_tables") == [(3,)]


def test_profile_exact(empty_ws: Workspace):
    plan, frame = load("sales.csv", SALES)
    import_table(empty_ws, "sales", frame, "sales.csv", plan)
    profile = table_profile(empty_ws, "sales")
    assert profile.columns.tolist() == ["column", "type", "nulls", "distinct", "min", "max", "example"]
    rows = profile[["column", "type", "nulls", "distinct", "min", "max"]].values.tolist()
    assert rows == [
        ["id", "BIGINT", 0, 3, "1", "3"],
        ["region", "VARCHAR", 1, 2, "EU", "US"],
        ["amount", "DOUBLE", 0, 3, "7.25", "20.0"],
        ["day", "DATE", 1, 2, "2025-01-02", "2025-02-03"],
        ["paid", "BOOLEAN", 0, 2, "false", "true"],
    ]


def test_profile_of_missing_table(empty_ws: Workspace):
    from analytics.errors import QueryError

    with pytest.raises(QueryError, match="no table 'nope'"):
        table_profile(empty_ws, "nope")


def test_preview_is_capped_but_row_count_is_not():
    data = b"n\n" + b"".join(b"%d\n" % i for i in range(30))
    plan = sniff_file("thirty.csv", data)
    assert plan.row_count == 30 and plan.preview.shape == (20, 1)
    assert plan.preview["n"].tolist() == list(range(20))


def test_decimal_commas_in_semicolon_files():
    plan, frame = load("eu.csv", b"name;price;code\nx;1,5;0,1\ny;2;0,25\nz;;1\n")
    assert plan.delimiter == ";" and plan.types == ("VARCHAR", "DOUBLE", "DOUBLE")
    assert frame["price"].tolist()[:2] == [1.5, 2.0] and pd.isna(frame["price"][2])
    assert frame["code"].tolist() == [0.1, 0.25, 1.0]
    assert any("decimal commas" in w for w in plan.warnings)
    _, comma = load("us.csv", b'name,amount\nx,"1,5"\n')  # in a comma file "1,5" stays text
    assert comma["amount"].tolist() == ["1,5"]


def test_racing_imports_without_replace_never_replace_each_other(empty_ws: Workspace):
    """Four threads import into one new name at once: exactly one creates it, the others are refused,
    none of them drops the winner's table (the name is looked up inside the write transaction)."""
    import threading

    from analytics.ingest import write

    for trial in range(12):
        table, winners = f"race_{trial}", []

        def attempt(index: int, table: str = table, winners: list = winners) -> None:
            data = f"a,b\n{index},x\n".encode()
            plan = sniff_file(f"f{index}.csv", data)
            frame = parse_file(f"f{index}.csv", data, plan)
            try:
                result = write.import_table(empty_ws, table, frame, f"f{index}.csv", plan)
            except InvalidNameError:
                return
            winners.append((index, result.replaced))

        threads = [threading.Thread(target=attempt, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(winners) == 1 and winners[0][1] is False, (trial, winners)
        (winner, _), = winners
        assert empty_ws.rows(f"select a from {table}") == [(winner,)]
        assert empty_ws.scalar("select count(*) from imported_tables where table_name = ?", [table]) == 1
