"""The workspace database: migrations, names, transactions, locking, sample seeding."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from analytics import db
from analytics.db import Workspace, list_migrations, suggest_name, validate_name
from analytics.errors import InvalidNameError, MigrationError, QueryError, WorkspaceLockedError


def test_migrations_are_recorded_once(empty_ws: Workspace):
    versions = [v for v, _, _ in list_migrations()]
    recorded = [r[0] for r in empty_ws.rows("select version from schema_migrations order by version")]
    assert recorded == versions
    assert empty_ws.migrate() == []  # nothing left to apply


def test_failed_migration_rolls_back(tmp_path, monkeypatch):
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "001_ok.sql").write_text("create table a (x integer);")
    (folder / "002_bad.sql").write_text("create table b (y integer); insert into nowhere values (1);")
    monkeypatch.setattr(db, "MIGRATIONS_DIR", folder)
    with pytest.raises(MigrationError, match="002_bad.sql"):
        Workspace.open(tmp_path / "w.duckdb", seed_demo=False)
    monkeypatch.setattr(db, "MIGRATIONS_DIR", tmp_path / "none")
    ws = Workspace.open(tmp_path / "w.duckdb", seed_demo=False)
    assert ws.table_names() == ["a", "schema_migrations"]  # b was rolled back with its migration
    assert ws.rows("select version from schema_migrations") == [(1,)]
    ws.close()


def test_migration_numbers_must_not_gap(tmp_path, monkeypatch):
    (tmp_path / "001_a.sql").write_text("select 1;")
    (tmp_path / "003_c.sql").write_text("select 1;")
    monkeypatch.setattr(db, "MIGRATIONS_DIR", tmp_path)
    with pytest.raises(MigrationError, match="without gaps"):
        list_migrations()


@pytest.mark.parametrize(
    "name, fragment",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("x" * 64, "at most 63"),
        ("drop table events; --", "letters, digits and underscores"),
        ("../etc/passwd", "letters, digits and underscores"),
        ("1sales", "must not start with a digit"),
        ("select", "SQL keyword"),
        ('a"b', "letters, digits and underscores"),
    ],
)
def test_hostile_names_are_refused(name, fragment):
    with pytest.raises(InvalidNameError, match=fragment):
        validate_name(name)


def test_suggest_name_makes_valid_names():
    assert suggest_name("Sales 2025.csv") == "sales_2025"
    assert suggest_name("2025 report.xlsx") == "t_2025_report"
    assert suggest_name("select") == "select_data"
    assert suggest_name("***") == "data"
    for text in ("Sales 2025.csv", "../../x", "é ü", "select"):
        assert validate_name(suggest_name(text))


def test_transaction_is_all_or_nothing(empty_ws: Workspace):
    with pytest.raises(RuntimeError):
        with empty_ws.transaction() as tx:
            tx.execute("insert into workspace_meta values ('a', '1')")
            raise RuntimeError("boom")
    assert empty_ws.meta("a") is None


def test_cursor_per_thread(empty_ws: Workspace):
    seen = []

    def work():  # a temporary table lives on the cursor (DuckDB connection) that created it
        with empty_ws.transaction() as tx:
            tx.execute("create temp table mine as select 41 + 1 as x")
        seen.append(empty_ws.scalar("select x from mine"))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == [42]
    with pytest.raises(QueryError, match="mine does not exist"):  # this thread has a cursor of its own
        empty_ws.scalar("select x from mine")


def test_transaction_turns_driver_errors_into_workspace_errors(empty_ws: Workspace):
    with pytest.raises(QueryError, match="counting nothing failed: .*nowhere"):
        with empty_ws.transaction() as tx:
            tx.scalar("select count(*) from nowhere", label="counting nothing")
    with empty_ws.transaction() as tx:  # the cursor is usable again after the rollback
        tx.set_meta("a", "1")
        assert tx.frame("select value from workspace_meta where key = 'a'").iloc[0, 0] == "1"
    assert empty_ws.meta("a") == "1"
    assert not hasattr(db, "DriverError") and not hasattr(empty_ws, "cursor")


def test_second_process_gets_a_clear_lock_message(tmp_path):
    path = tmp_path / "w.duckdb"
    ws = Workspace.open(path, seed_demo=False)
    code = (
        "import sys; from analytics.db import Workspace\n"
        "from analytics.errors import WorkspaceLockedError\n"
        f"try:\n    Workspace.open({str(path)!r}, seed_demo=False)\n"
        "except WorkspaceLockedError as e:\n    print('LOCKED', e); sys.exit(0)\n"
        "sys.exit(1)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=db.PROJECT_ROOT)
    ws.close()
    assert out.returncode == 0, out.stderr
    assert "another process" in out.stdout


def test_sample_data_is_seeded_once_and_labelled(ws: Workspace):
    assert "fictional" in ws.meta("demo_label")
    events = ws.row_count("events")
    ws.migrate()
    assert ws.row_count("events") == events
    assert ws.scalar("select bool_and(is_sample) from accounts") is True
    assert ws.scalar("select count(*) from competitors") == 10
    assert ws.scalar("select count(*) from market_segments") == 72


def test_app_tables_cannot_be_dropped(ws: Workspace):
    with pytest.raises(InvalidNameError, match="belongs to Strategy Lab"):
        ws.drop_table("events")


def test_open_error_is_ours(tmp_path):
    bad = tmp_path / "not-a-db.duckdb"
    bad.write_bytes(b"this is not a database file" * 100)
    with pytest.raises(db.WorkspaceError):
        Workspace.open(bad)


def test_lock_error_type_is_exported():
    assert issubclass(WorkspaceLockedError, db.WorkspaceError)


def test_every_accepted_keyword_is_queryable_unquoted(empty_ws: Workspace):
    """A name the importer accepts can be typed bare in the explorer; keywords that cannot are refused."""
    from analytics.compute import explorer
    taken = set(empty_ws.table_names())
    keywords = [k for (k,) in empty_ws.rows("select keyword_name from duckdb_keywords()")
                if k.isidentifier() and k not in taken]
    refused = []
    for keyword in keywords:
        try:
            validate_name(keyword)
        except InvalidNameError:
            refused.append(keyword)
            continue
        with empty_ws.transaction() as tx:
            tx.execute(f'create table "{keyword}" ("{keyword}" integer)')
            tx.execute(f'insert into "{keyword}" values (1)')
        assert explorer.run_query(empty_ws, f"select {keyword} from {keyword}").frame.iloc[0, 0] == 1, keyword
        with empty_ws.transaction() as tx:
            tx.execute(f'drop table "{keyword}"')
    assert {"select", "order", "from", "table"} <= set(refused)
    assert "user" not in refused and "data" not in refused  # DuckDB takes these bare
