"""The read-only SQL explorer: hostile SQL is refused or stopped, good queries return exact rows."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from analytics.compute import explorer
from analytics.db import Workspace
from analytics.errors import ForbiddenQueryError, QueryError, QueryTimeoutError


@pytest.fixture
def small_ws(empty_ws: Workspace) -> Workspace:
    with empty_ws.transaction() as tx:
        tx.execute("create table sales (id integer, region varchar, amount double)")
        tx.execute("insert into sales values (1, 'EU', 10.5), (2, 'US', 20.0), (3, 'EU', 4.5)")
    return empty_ws


def unchanged(ws: Workspace) -> None:
    assert ws.rows("select id, region, amount from sales order by id") == [
        (1, "EU", 10.5), (2, "US", 20.0), (3, "EU", 4.5)]
    assert "evil" not in ws.table_names()


def test_good_query_exact(small_ws: Workspace):
    result = explorer.run_query(
        small_ws,
        "select region, sum(amount) as total, count(*) as n from sales group by region order by region")
    assert result.frame.to_dict("records") == [
        {"region": "EU", "total": 15.0, "n": 2}, {"region": "US", "total": 20.0, "n": 1}]
    assert not result.truncated and 0 <= result.elapsed_s < 5


@pytest.mark.parametrize("sql", [
    "insert into sales values (4, 'XX', 1)",
    "update sales set amount = 0",
    "delete from sales",
    "drop table sales",
    "create table evil as select * from sales",
    "create view evil as select 1",
    "alter table sales add column x int",
    "copy sales to '/tmp/stolen.csv'",
    "copy (select * from sales) to '/tmp/stolen.parquet' (format parquet)",
    "attach '/tmp/other.duckdb' as other",
    "install httpfs",
    "load httpfs",
    "set enable_external_access = true",
    "pragma version",
    "export database '/tmp/dump'",
    "checkpoint",
    "call pragma_version()",
    "with x as (select 1) delete from sales",
])
def test_writes_and_side_effects_are_refused(small_ws: Workspace, sql):
    with pytest.raises(ForbiddenQueryError, match="read-only"):
        explorer.run_query(small_ws, sql)
    unchanged(small_ws)


@pytest.mark.parametrize("sql", [
    "select * from read_csv('/etc/passwd')",
    "select * from read_csv_auto('/etc/passwd')",
    "select * from read_text('/etc/passwd')",
    "select * from read_blob('/etc/hostname')",
    "select * from read_parquet('/tmp/x.parquet')",
    "select * from glob('/etc/*')",
])
def test_file_readers_are_refused(small_ws: Workspace, sql):
    with pytest.raises(ForbiddenQueryError, match="reads files|cannot read files"):
        explorer.run_query(small_ws, sql)


def test_file_path_as_table_is_not_read(small_ws: Workspace):
    # External access is off, so DuckDB does not even try the path as a file: it is an unknown table.
    with pytest.raises(QueryError, match="does not exist"):
        explorer.run_query(small_ws, "select * from '/etc/passwd'")


@pytest.mark.parametrize("sql", [
    "select 1; drop table sales",
    "select 1; select 2",
    "drop table sales; select 1",
])
def test_several_statements_are_refused(small_ws: Workspace, sql):
    with pytest.raises(ForbiddenQueryError, match="one statement at a time; found 2"):
        explorer.run_query(small_ws, sql)
    unchanged(small_ws)


def test_query_function_cannot_smuggle_a_write(small_ws: Workspace):
    with pytest.raises(QueryError):
        explorer.run_query(small_ws, "select * from query('delete from sales')")
    unchanged(small_ws)


@pytest.mark.parametrize("sql", ["", "   ", "-- only a comment"])
def test_empty_queries(small_ws: Workspace, sql):
    with pytest.raises(QueryError):
        explorer.run_query(small_ws, sql)


def test_syntax_errors_are_query_errors(small_ws: Workspace):
    with pytest.raises(QueryError, match="(?i)syntax|parser"):
        explorer.run_query(small_ws, "selec * form sales")


def test_runaway_query_is_stopped(small_ws: Workspace):
    started = time.perf_counter()
    with pytest.raises(QueryTimeoutError, match="stopped after the 0.5 s limit"):
        explorer.run_query(small_ws,
                           "select sum(hash(a.range * b.range)) from range(200000000) a, range(1000) b",
                           timeout_s=0.5)
    assert time.perf_counter() - started < 10
    unchanged(small_ws)  # the workspace still answers after the interrupt


@pytest.mark.parametrize("sql", [
    "with recursive r(n) as (select 1 union all select n + 1 from r) select count(*) from r",
    "select count(*) from range(100000) a, range(100000) b where a.range * b.range = 7",
])
def test_time_limit_covers_the_whole_call(small_ws: Workspace, sql: str):
    started = time.perf_counter()
    with pytest.raises(QueryTimeoutError, match="1.5 s limit"):
        explorer.run_query(small_ws, sql, timeout_s=1.5)
    assert time.perf_counter() - started < 1.5 + 0.25  # interrupt and clean-up included


def test_memory_cap_stops_a_query(small_ws: Workspace):
    from analytics.errors import QueryMemoryError

    with pytest.raises(QueryMemoryError, match="more than 30 MB of memory"):
        explorer.run_query(small_ws, "select list(range) as l from range(30000000)", memory_cap=30_000_000)
    unchanged(small_ws)


def test_wide_rows_are_cut_by_bytes_before_they_are_computed(small_ws: Workspace):
    wide = ", ".join(f"repeat('y', 10000) as c{i}" for i in range(20))  # ~200 kB a row
    result = explorer.run_query(small_ws, f"select {wide} from range(5000)", byte_cap=2_000_000)
    assert result.bytes_cut and not result.cells_cut and 1 <= len(result.frame) <= 10
    assert any("passed 2 MB" in note for note in result.notes)
    assert not any("first 1,000 rows" in note for note in result.notes)


def test_byte_cap_cuts_rows_and_says_so(small_ws: Workspace):
    result = explorer.run_query(small_ws, "select repeat('z', 5000) as t from range(900)", byte_cap=1_000_000)
    assert result.bytes_cut and 150 <= len(result.frame) < 900
    assert all(len(t) == 5000 for t in result.frame["t"])


def test_row_cap_truncates(small_ws: Workspace):
    result = explorer.run_query(small_ws, "select range as n from range(2500) order by n")
    assert result.truncated and len(result.frame) == explorer.ROW_CAP == 1000
    assert result.frame["n"].tolist() == list(range(1000))
    exact = explorer.run_query(small_ws, "select range as n from range(1000)")
    assert not exact.truncated and len(exact.frame) == 1000


def test_duplicate_column_names_are_kept_apart(small_ws: Workspace):
    result = explorer.run_query(small_ws, "select 1 as x, 2 as x")
    assert result.frame.columns.tolist() == ["x", "x_1"]


def test_csv_export():
    frame = pd.DataFrame({"region": ["EU", "Zürich, CH"], "n": [1, 2]})
    assert explorer.to_csv_bytes(frame) == 'region,n\nEU,1\n"Zürich, CH",2\n'.encode()


def test_example_queries_run_on_the_sample_data(ws: Workspace):
    for title, sql in explorer.EXAMPLE_QUERIES.items():
        result = explorer.run_query(ws, sql)
        assert len(result.frame) > 0, title
    events = explorer.run_query(ws, explorer.EXAMPLE_QUERIES["Events by type (sample data)"]).frame
    assert int(events["events"].sum()) == ws.row_count("events")
