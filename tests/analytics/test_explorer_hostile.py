"""The explorer changes nothing, whatever it is given: every statement kind DuckDB parses, data-changing
CTEs in any nesting, side-effect functions, odd text. Checked by a fingerprint of every table (row count
and XOR of row hashes), the catalog, the settings and the database file's size, before and after."""

from __future__ import annotations

import duckdb
import pytest

from analytics.compute import explorer
from analytics.db import Workspace
from analytics.errors import ForbiddenQueryError, QueryError

# Statement kinds that DuckDB 2.x's parser never produces from SQL text: internal plan or relation
# objects, extension hooks, and kinds whose SQL parses as another kind (ANALYZE -> VACUUM,
# CREATE MACRO -> CREATE, SET VARIABLE -> SET, COPY FROM DATABASE -> PRAGMA).
NOT_FROM_TEXT = {"INVALID", "RELATION", "LOGICAL_PLAN", "EXTENSION", "ANALYZE", "CREATE_FUNC",
                 "VARIABLE_SET", "COPY_DATABASE"}

STATEMENTS = {
    "INSERT": ["insert into sales values (9, 'XX', 1)", "INSERT OR REPLACE INTO sales SELECT * FROM sales",
               "with x as (select 1) insert into sales select 1, 'x', 1 from x"],
    "UPDATE": ["update sales set amount = 0", "/* hi */ UPDATE sales SET amount = -1 -- bye"],
    "DELETE": ["delete from sales", "truncate sales", "with x as (select 1) delete from sales"],
    "CREATE": ["create table evil as select * from sales", "create or replace table sales as select 1 as x",
               "create temp table evil (a int)", "create view evil as select 1", "create sequence evil",
               "create index evil on sales (id)", "create schema evil", "create macro evil(a) as a",
               "create type evil as enum ('a')", "create secret evil (type s3)"],
    "PREPARE": ["prepare evil as delete from sales"],
    "EXECUTE": ["execute evil"],
    "ALTER": ["alter table sales rename to evil", "alter table sales add column evil int",
              "comment on table sales is 'evil'"],
    "TRANSACTION": ["begin transaction", "commit", "rollback", "abort"],
    "COPY": ["copy sales to '/tmp/stolen.csv'", "copy sales from '/etc/passwd'",
             "copy (select * from sales) to '/tmp/stolen.parquet' (format parquet)"],
    "EXPLAIN": ["explain analyze delete from sales", "explain select 1"],
    "DROP": ["drop table sales", "drop sequence seq", "drop view sales_view", "deallocate evil"],
    "EXPORT": ["export database '/tmp/dump'"],
    "PRAGMA": ["pragma version", "pragma enable_profiling", "copy from database memory to main",
               "import database '/tmp/dump'"],
    "VACUUM": ["vacuum", "analyze", "vacuum analyze sales"],
    "CALL": ["checkpoint", "force checkpoint", "call checkpoint()", "call pragma_version()"],
    "SET": ["set threads = 1", "reset threads", "set enable_external_access = true", "set variable x = 1",
            "use memory"],
    "LOAD": ["install httpfs", "force install httpfs", "load httpfs"],
    "ATTACH": ["attach ':memory:' as evil", "attach '/tmp/other.duckdb' as evil"],
    "DETACH": ["detach main", "detach evil"],
    "MULTI": ["pivot sales on region using sum(amount)"],
    "MERGE_INTO": ["merge into sales using (select 1 as id) s on sales.id = s.id when matched then delete"],
    "SELECT": [
        "with d as (delete from sales returning *) select * from d",
        "WITH D AS (DELETE FROM SALES RETURNING *) SELECT COUNT(*) FROM D",
        "with d as (update sales set amount = 0 returning *) select * from d",
        "with d as (insert into sales values (5, 'ZZ', 1) returning *) select * from d",
        "with d as (delete from schema_migrations returning *) select count(*) from d",
        "with d as (delete from sales returning *), e as (select * from d) select * from e",
        "select * from (with d as (delete from sales returning *) select * from d) s",
        "select 1 where 1 in (with d as (delete from sales returning id) select id from d)",
        "select 1 union all (with d as (delete from sales returning id) select id from d)",
        "with d as materialized (delete from sales returning *) select * from d",
        "with d as (copy sales to '/tmp/x.csv') select 1",
        "/* a */ with -- b\n d as ( delete /* c */ from sales returning * ) select * from d ;",
        "select * from checkpoint()", "select * from force_checkpoint()", "from checkpoint()",
        "select (select count(*) from force_checkpoint())", "select * from sales, checkpoint()",
        "select * from enable_profiling()", "select * from enable_logging()",
        "select * from truncate_duckdb_logs()", "select nextval('seq')", "select setval('seq', 99)",
        "select setseed(0.5)", "select write_log('x')", "select * from query('delete from sales')",
        "select * from query('with d as (delete from sales returning *) select * from d')",
        "select * from json_execute_serialized_sql(json_serialize_sql('select 1'))",
        "select * from read_csv('/etc/passwd')", "select * from glob('/etc/*')",
        "select * from sniff_csv('/etc/passwd')", "select * from read_duckdb('/tmp/x.duckdb')",
    ],
}


@pytest.fixture
def ws(tmp_path) -> Workspace:
    workspace = Workspace.open(tmp_path / "ws.duckdb", seed_demo=False)
    with workspace.transaction() as tx:
        tx.execute("create table sales (id integer, region varchar, amount double)")
        tx.execute("insert into sales select range, 'R' || (range % 7), range * 1.5 from range(5000)")
        tx.execute("create sequence seq")
        tx.execute("create view sales_view as select * from sales")
    workspace.rows("checkpoint")
    yield workspace
    workspace.close()


def fingerprint(ws: Workspace) -> dict:
    """Row count and XOR of row hashes of every table, the catalog, sequences, settings, file sizes."""
    tables = {name: ws.rows(f'select count(*), bit_xor(hash(t)) from "{name}" as t')[0]
              for name in ws.table_names()}
    catalog = ws.rows("select schema_name, table_name from duckdb_tables() union all "
                      "select schema_name, view_name from duckdb_views() where not internal union all "
                      "select schema_name, function_name from duckdb_functions() where not internal "
                      "order by all")
    sequences = ws.rows("select sequence_name, last_value from duckdb_sequences()")
    settings = ws.rows("select name, value from duckdb_settings() order by name")
    wal = ws.path.with_name(ws.path.name + ".wal")
    files = (ws.path.stat().st_size, wal.stat().st_size if wal.exists() else None)
    return {"tables": tables, "catalog": catalog, "sequences": sequences, "settings": settings,
            "files": files}


def all_cases() -> list[tuple[str, str]]:
    return [(kind, sql) for kind, statements in STATEMENTS.items() for sql in statements]


def test_every_statement_kind_is_covered():
    parser = duckdb.connect(":memory:")
    seen = set()
    for kind, sql in all_cases():
        assert [s.type.name for s in parser.extract_statements(sql)] == [kind], sql
        seen.add(kind)
    assert seen == set(duckdb.StatementType.__members__) - NOT_FROM_TEXT


@pytest.mark.parametrize(("kind", "sql"), all_cases())
def test_nothing_changes(ws: Workspace, kind: str, sql: str):
    before = fingerprint(ws)
    with pytest.raises(ForbiddenQueryError, match="read-only|only reads"):
        explorer.run_query(ws, sql)
    assert fingerprint(ws) == before


@pytest.mark.parametrize("sql", [
    "with d as (delete from sales returning *) select count(*) from d",
    "with d as (insert into sales select range, 'x', 0 from range(3000000) returning id) "
    "select count(*) from d",
    "with d as (update sales set amount = 0 returning *) select count(*) from d",
    "select nextval('seq')",
])
def test_read_only_transaction_holds_without_the_checks(ws: Workspace, sql: str):
    """The construction itself: even SQL that skipped every check cannot write."""
    before = fingerprint(ws)
    with pytest.raises(ForbiddenQueryError, match="only reads"):
        ws.read_only(sql, row_cap=10, byte_cap=10_000, timeout_s=10)
    assert fingerprint(ws) == before


def test_statement_kind_unknown_to_the_python_enum(ws: Workspace):
    with pytest.raises(ForbiddenQueryError, match="read-only"):
        explorer.run_query(ws, "update extensions")


@pytest.mark.parametrize(("sql", "message"), [
    ("", "empty"), ("   \n\t", "empty"), ("-- only a comment", "only comments"),
    ("select 1; select 2", "one statement"), ("select * from '/etc/passwd'", "does not exist"),
    ("select 1\x00; drop table sales", "NUL"),
    ("with recursive d as (delete from sales returning *) select * from d", "parse"),
    ("select " + "1 + " * 30_000 + "1", "characters long"),
])
def test_odd_text_gets_a_clear_message(ws: Workspace, sql: str, message: str):
    before = fingerprint(ws)
    with pytest.raises(QueryError, match=message):
        explorer.run_query(ws, sql)
    assert fingerprint(ws) == before


def test_deep_expressions_fail_cleanly(ws: Workspace):
    deep = "select " + "(" * 5000 + "1" + ")" * 5000
    with pytest.raises(QueryError):
        explorer.run_query(ws, deep)
    nested = "select " + "abs(" * 300 + "1" + ")" * 300 + " as x"
    assert explorer.run_query(ws, nested).frame["x"].tolist() == [1]


def test_reads_still_work(ws: Workspace):
    result = explorer.run_query(ws, "select region, count(*) as n from sales group by region order by region")
    assert result.frame["n"].tolist() == [715, 715, 714, 714, 714, 714, 714]
    assert explorer.run_query(ws, "select 1 as one;; ").frame["one"].tolist() == [1]
    counted = explorer.run_query(ws, "select count(*) as n from query_table('sales')")
    assert counted.frame["n"].tolist() == [5000]
