"""`python -m analytics`: import, sql, tables and --help, as a real process on a small private workspace."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SALES = "id,name,amount\n1,Ann,3.5\n2,Bob,4\n"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace made by the CLI itself (2,000 sample events), copied for each test."""
    path = tmp_path_factory.mktemp("cli") / "ws.duckdb"
    done = _cli(path, "tables")
    assert done.returncode == 0, done.stderr
    assert f"creating workspace {path} with the sample data" in done.stderr
    return path


@pytest.fixture
def ws_path(template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "ws.duckdb"
    shutil.copy(template, target)
    return target


def _cli(workspace: Path | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STRATLAB_DEMO_EVENTS": "2000"}
    head = ["--workspace", str(workspace)] if workspace else []
    return subprocess.run([sys.executable, "-m", "analytics", *head, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def _tables(ws_path: Path) -> list[str]:
    from analytics.db import Workspace

    ws = Workspace.open(ws_path, seed_demo=False)
    try:
        return ws.table_names()
    finally:
        ws.close()


def _rows(ws_path: Path, text: str) -> list[tuple]:
    from analytics.db import Workspace

    ws = Workspace.open(ws_path, seed_demo=False)
    try:
        return ws.rows(text)
    finally:
        ws.close()


def _refused(done: subprocess.CompletedProcess[str]) -> list[str]:
    """The `error:` lines of a refused command (exit 2, no traceback)."""
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert errors, done.stderr
    return errors


def test_help_is_written_for_a_newcomer() -> None:
    done = _cli(None, "--help")
    assert done.returncode == 0
    out = done.stdout
    for text in ("DuckDB file", "sample data", "--workspace PATH", "$STRATLAB_WORKSPACE", "examples:",
                 "python -m analytics import sales.csv --table sales_2025", "python -m analytics tables",
                 "read-only SELECT", "exits with status 2"):
        assert text in out, text
    sub = _cli(None, "import", "--help")
    assert sub.returncode == 0 and "--delimiter D" in sub.stdout and "--replace" in sub.stdout


def test_import_a_csv_then_query_and_list_it(ws_path: Path, tmp_path: Path) -> None:
    source = tmp_path / "sales.csv"
    source.write_text(SALES, encoding="utf-8")
    done = _cli(ws_path, "import", str(source), "--table", "sales")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Created table 'sales' from sales.csv: 2 rows, 3 columns."
    assert "Format CSV · Encoding utf-8 · Delimiter ',' · Header row yes · Rows 2 · Columns 3" in done.stderr
    rows = _rows(ws_path, "select id, name, amount from sales order by id")
    assert rows == [(1, "Ann", 3.5), (2, "Bob", 4.0)]

    query = _cli(ws_path, "sql", "select name, amount from sales order by id")
    assert query.returncode == 0, query.stderr
    assert query.stdout.split() == ["name", "amount", "Ann", "3.5", "Bob", "4.0"]
    assert query.stderr.startswith("2 rows · ")

    listed = _cli(ws_path, "tables")
    assert listed.returncode == 0, listed.stderr
    lines = {line.split()[0]: line.split() for line in listed.stdout.splitlines()[1:]}
    assert lines["sales"] == ["sales", "2", "3", "imported", "sales.csv"]
    assert lines["events"][3] == "sample" and lines["runs"][3] == "app"
    assert listed.stdout.splitlines()[0].split() == ["table", "rows", "columns", "owner", "source"]


def test_import_takes_a_delimiter_by_name(ws_path: Path, tmp_path: Path) -> None:
    source = tmp_path / "semi.txt"
    source.write_text("a;b\n1;2\n3;4\n", encoding="utf-8")
    done = _cli(ws_path, "import", str(source), "--table", "leads", "--delimiter", "semicolon")
    assert done.returncode == 0, done.stderr
    assert _rows(ws_path, "select a, b from leads order by a") == [(1, 2), (3, 4)]
    bad = _cli(ws_path, "import", str(source), "--delimiter", "colon")
    assert _refused(bad) == [
        "error: argument --delimiter: expected comma, semicolon, tab or pipe (or , ; | \\t), got 'colon' "
        "(see `python -m analytics import --help`)"]


@pytest.mark.parametrize(("content", "message"), [
    ("a,b,c\n1,2,3\n4,5\n", "ragged.csv, line 3: expected 3 fields (like the header), got 2"),
    ("a,b\n", "ragged.csv has a header row (a, b) but no data rows"),
    ("", "ragged.csv is empty (0 bytes)"),
])
def test_refused_file_writes_nothing(ws_path: Path, tmp_path: Path, content: str, message: str) -> None:
    before = _tables(ws_path)
    source = tmp_path / "ragged.csv"
    source.write_text(content, encoding="utf-8")
    errors = _refused(_cli(ws_path, "import", str(source), "--table", "ragged"))
    assert any(line.startswith(f"error: {message}") for line in errors), errors
    assert _tables(ws_path) == before


def test_refused_table_names(ws_path: Path, tmp_path: Path) -> None:
    source = tmp_path / "sales.csv"
    source.write_text(SALES, encoding="utf-8")
    before = _tables(ws_path)
    errors = _refused(_cli(ws_path, "import", str(source), "--table", "events"))
    assert "error: 'events' is a table Strategy Lab owns; choose another name, e.g. 'events_import'" in errors
    assert _refused(_cli(ws_path, "import", str(tmp_path / "missing.csv")))[0].startswith(
        f"error: cannot read {tmp_path / 'missing.csv'}: No such file or directory")
    assert _tables(ws_path) == before
    assert _cli(ws_path, "import", str(source)).returncode == 0  # the table name defaults to the file's
    assert "sales" in _tables(ws_path)
    taken = _refused(_cli(ws_path, "import", str(source)))
    assert any("a table named 'sales' already exists" in line for line in taken)
    replaced = _cli(ws_path, "import", str(source), "--replace")
    assert replaced.returncode == 0 and replaced.stdout.startswith("Replaced table 'sales'")


def test_sql_refuses_writes(ws_path: Path) -> None:
    count = _rows(ws_path, "select count(*) from accounts")
    errors = _refused(_cli(ws_path, "sql", "delete from accounts"))
    assert errors[0].startswith("error: the explorer is read-only: DELETE statements are refused")
    assert _refused(_cli(ws_path, "sql", "select 1; select 2"))[0].startswith(
        "error: the explorer runs one statement at a time; found 2")
    assert _rows(ws_path, "select count(*) from accounts") == count


def test_sql_csv_is_written_atomically(ws_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "plans.csv"
    out.parent.mkdir()
    done = _cli(ws_path, "sql", "select * from range(3) as t(n)", "--csv", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_text(encoding="utf-8").splitlines() == ["n", "0", "1", "2"]
    assert [p.name for p in out.parent.iterdir()] == ["plans.csv"]  # no temporary file left
    assert f"written to {out}" in done.stderr and done.stdout == ""
    to_stdout = _cli(ws_path, "sql", "select 42 as answer", "--csv", "-")
    assert to_stdout.stdout.splitlines() == ["answer", "42"]


def test_sql_says_when_rows_were_cut(ws_path: Path) -> None:
    done = _cli(ws_path, "sql", "select * from range(5000)", "--csv", "-")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 1001  # header + the row cap
    assert "note: showing the first 1,000 rows; add a LIMIT or aggregate to see the rest" in done.stderr


def test_locked_workspace_is_a_clear_refusal(ws_path: Path) -> None:
    from analytics.db import Workspace

    ws = Workspace.open(ws_path, seed_demo=False)  # this process holds the file, as a running app would
    try:
        errors = _refused(_cli(ws_path, "tables"))
    finally:
        ws.close()
    assert errors[0].startswith(f"error: workspace {ws_path} is open in another process")
