"""Many users at once: 20 threads drive the library the way the pages do, all against one Workspace.

Each session imports its own CSV, some race to import into the same table name, each submits a training job
(real detached job processes running the fast fake trainer of tests/models/fake_train.py), every session
ticks the queue and ingests finished runs at the same time (as every page does through `sync_jobs`), and
reads what the Home, Data, Metrics, Market and Compare pages read. Afterwards nothing is lost or doubled:
every import is in `imported_tables` once with its table and row count, every run is ingested once, and the
only errors are the expected 'already exists' refusals.
"""

from __future__ import annotations

import signal
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from analytics.compute import summary
from analytics.compute.compare.candidates import evaluation_sets
from analytics.compute.compare.leaderboard import CompareSettings, leaderboard
from analytics.compute.market.competitors import competitor_positioning
from analytics.compute.market.segments import load_segments
from analytics.compute.market.sizing import MarketAssumptions
from analytics.compute.market.view import market_view
from analytics.compute.metrics.report import compute_report
from analytics.compute.metrics.schema import MetricFilters
from analytics.compute.metrics.source import data_span
from analytics.db import Workspace
from analytics.errors import InvalidNameError, QueryError
from analytics.ingest import importer, runs, write
from models.core.config import TrainConfig
from models.jobs import queue as jobs

ROOT = Path(__file__).resolve().parents[2]
TESTS = Path(__file__).resolve().parent
SESSIONS = 20
CONTESTED = {"shared_leads": range(0, 4), "shared_costs": range(4, 7)}
"""Table names several sessions import into at once (replace=False): exactly one of each group must win."""
DEADLINE_S = 90.0
"""A session gives up waiting for its job after this long (the test then fails, it does not hang)."""

@dataclass
class Session:
    """What one simulated browser session did."""

    index: int
    operations: int = 0
    refusals: list[str] = field(default_factory=list)
    """Expected refusals: 'already exists' when another session won the race for a table name."""
    errors: list[str] = field(default_factory=list)
    """Anything else that would have been shown to the user: must stay empty."""
    imported: dict[str, int] = field(default_factory=dict)
    """table -> rows of the imports that succeeded."""
    run_id: str | None = None


def _csv(index: int, rows: int) -> bytes:
    lines = ["id,customer,amount_usd,signed_up"]
    lines += [f"{r},Customer {index}-{r},{r * 1.5 + index:.2f},2025-{1 + r % 12:02d}-{1 + r % 28:02d}"
              for r in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def _rows_for(index: int) -> int:
    return 10 + index


def _import(ws: Workspace, session: Session, table: str, rows: int) -> None:
    """The Data page's import: sniff, preflight, parse, import (as pages/data.py calls them)."""
    name = f"{table}_{session.index}.csv"
    data = _csv(session.index, rows)
    plan = importer.sniff_file(name, data)
    session.operations += 1
    problems = importer.preflight(ws, plan, table, list(plan.preview.columns), replace=False)
    if problems:  # the page shows these and disables the button: a refusal, not an error
        session.refusals.extend(problems)
        return
    frame = importer.parse_file(name, data, plan)
    try:
        result = write.import_table(ws, table, frame, name, plan, replace=False)
    except InvalidNameError as e:
        session.refusals.append(str(e))
        return
    finally:
        session.operations += 1
    session.imported[table] = result.row_count


def _read_pages(ws: Workspace, session: Session, own_table: str | None) -> None:
    """What Home, Data, Metrics, Market and Compare compute for one render."""
    summary.summarize(ws)
    span = data_span(ws)
    compute_report(ws, MetricFilters(start=span[0], end=span[1]))
    segments = load_segments(ws)
    market_view(segments, MarketAssumptions(), 3)
    competitor_positioning(ws)
    evaluation_sets(ws)
    leaderboard(ws, CompareSettings(dataset="toy", requests_per_month=100_000))
    runs.list_runs(ws)
    if own_table:
        ws.preview(own_table, 20)
        importer.table_profile(ws, own_table)
    session.operations += 10


def _sync(ws: Workspace, runs_dir: Path, session: Session) -> None:
    """What every page does first (pages/_shared/runs.py sync_jobs): advance the queue, ingest finished
    runs."""
    jobs.tick()
    runs.ingest_all(ws, runs_dir)
    session.operations += 2


def _session(ws: Workspace, runs_dir: Path, session: Session, start: threading.Barrier) -> None:
    contested = next((name for name, members in CONTESTED.items() if session.index in members), None)
    start.wait()
    try:
        own = f"upload_{session.index}"
        _import(ws, session, own, _rows_for(session.index))
        if contested:
            _import(ws, session, contested, _rows_for(session.index))
        config = TrainConfig(method="classic", dataset="toy", runs_dir=str(runs_dir), max_steps=3)
        session.run_id = jobs.submit(config).run_id
        session.operations += 1
        deadline = time.monotonic() + DEADLINE_S
        while not _ingested(ws, session.run_id):
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {session.run_id} not ingested within {DEADLINE_S:.0f} s")
            _sync(ws, runs_dir, session)
            _read_pages(ws, session, own if own in session.imported else None)
            time.sleep(0.05)
        _sync(ws, runs_dir, session)  # once more after its own run landed: ingest must not double it
        _read_pages(ws, session, own)
    except Exception:  # noqa: BLE001 - recorded: the test asserts there are none
        session.errors.append(traceback.format_exc())


def _ingested(ws: Workspace, run_id: str) -> bool:
    return bool(ws.scalar("select count(*) from runs where run_id = ?", [run_id]))


@pytest.fixture
def queue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A private job queue whose processes run the fake trainer; no process outlives the test."""
    monkeypatch.setenv("STRATLAB_JOBS_DIR", str(tmp_path / "jobs"))
    monkeypatch.setenv("STRATLAB_MAX_JOBS", "4")
    monkeypatch.setenv("STRATLAB_TRAIN_FUNCTION", "tests.models.fake_train:train")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("FAKE_STEP_S", "0.01")
    yield tmp_path / "runs"
    for info in jobs.list_jobs():
        if info.state == "running" and info.pid:
            jobs.signal_group(info.pid, signal.SIGKILL)
            jobs.reap(info.pid)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_twenty_sessions_at_once_lose_nothing_and_show_no_lock_errors(tmp_path: Path, queue: Path) -> None:
    ws = Workspace.open(tmp_path / "ws.duckdb", demo_events=2000)
    sessions = [Session(i) for i in range(SESSIONS)]
    start = threading.Barrier(SESSIONS)
    threads = [threading.Thread(target=_session, args=(ws, queue, s, start), name=f"session-{s.index}")
               for s in sessions]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE_S + 60)
    elapsed_s = time.perf_counter() - began
    assert not any(t.is_alive() for t in threads), "a session is still running"

    errors = [e for s in sessions for e in s.errors]
    expected_imports = {(f"upload_{s.index}", _rows_for(s.index)) for s in sessions}
    winners = {table: [s for s in sessions if table in s.imported] for table in CONTESTED}
    catalog = dict(ws.rows("select table_name, row_count from imported_tables"))
    catalog_counts = Counter(r[0] for r in ws.rows("select table_name from imported_tables"))
    lost_imports = [t for t, n in expected_imports if catalog.get(t) != n or ws.row_count(t) != n]
    run_ids = [s.run_id for s in sessions if s.run_id]
    ingested = Counter(r[0] for r in ws.rows("select run_id from runs"))
    lost_runs = [r for r in run_ids if ingested[r] != 1]
    operations = sum(s.operations for s in sessions)
    print(f"\nconcurrency: {SESSIONS} sessions, {operations} operations in {elapsed_s:.1f} s, "
          f"{len(lost_imports) + len(lost_runs)} lost writes, {len(errors)} errors shown, "
          f"{sum(len(s.refusals) for s in sessions)} expected refusals")  # -s shows it

    assert errors == [], errors[0]
    assert lost_imports == [] and lost_runs == []
    assert all(n == 1 for n in catalog_counts.values()), catalog_counts
    for table, members in CONTESTED.items():
        assert len(winners[table]) == 1, (table, [s.index for s in winners[table]])
        winner = winners[table][0]
        assert catalog[table] == ws.row_count(table) == _rows_for(winner.index)
        losers = [s for s in sessions if s.index in members and s is not winner]
        assert all(len(s.refusals) == 1 and "already exists" in s.refusals[0] for s in losers), \
            [s.refusals for s in losers]
    assert set(catalog) == {t for t, _ in expected_imports} | set(CONTESTED)
    assert len(set(run_ids)) == SESSIONS and set(ingested) == set(run_ids)
    assert all(n == 1 for n in ingested.values()), ingested
    per_run = Counter(r[0] for r in ws.rows("select run_id from run_predictions"))
    assert per_run == {r: 2 for r in run_ids}  # the fake trainer writes 2 predictions per run: none doubled
    epochs = Counter(r[0] for r in ws.rows("select run_id from run_epochs"))
    assert epochs == {r: 1 for r in run_ids}
    assert {j.state for j in jobs.list_jobs()} == {"succeeded"}
    ws.close()


# -------------------------------------------------------------------------------------- the races it found


def test_a_table_created_since_the_check_is_refused_clearly_and_nothing_is_left_half_done(empty_ws) -> None:
    import pandas as pd

    frame = pd.DataFrame({"a": [1, 2]})
    with empty_ws.transaction() as tx:
        tx.create_table_from_frame("Leads", frame)
    with pytest.raises(InvalidNameError, match=r"a table named 'Leads' already exists \(another import"):
        with empty_ws.transaction() as tx:  # what a second session's import does after passing the check
            tx.execute("insert into workspace_meta (key, value) values ('half', 'done')")
            tx.create_table_from_frame("leads", frame)
    assert empty_ws.meta("half") is None  # rolled back as a whole
    with empty_ws.transaction() as tx:  # the thread's cursor is usable again
        tx.insert_frame("Leads", frame)
    assert empty_ws.row_count("Leads") == 4


def test_a_failed_statement_on_a_registered_frame_reports_its_own_error(empty_ws) -> None:
    import pandas as pd

    with empty_ws.transaction() as tx:
        tx.execute("create table t (a integer primary key)")
    with pytest.raises(QueryError, match="(?i)duplicate key"):  # not 'transaction is aborted' from unregister
        with empty_ws.transaction() as tx:
            tx.insert_frame("t", pd.DataFrame({"a": [1, 1]}))
    assert empty_ws.row_count("t") == 0


def test_pages_seeding_the_price_catalog_at_once_seed_it_once(empty_ws) -> None:
    from analytics.ingest import prices
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def open_compare_page() -> None:
        start.wait()
        try:
            prices.price_table(empty_ws)
        except BaseException as e:  # noqa: BLE001 - collected for the assert
            errors.append(e)

    threads = [threading.Thread(target=open_compare_page) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    seeded = _seed_rows()
    assert empty_ws.scalar("select count(*) from prices") == seeded
    assert empty_ws.scalar("select count(distinct price_id) from prices") == seeded


def _seed_rows() -> int:
    import pandas as pd

    from analytics.ingest.prices import SEED_FILE

    return len(pd.read_csv(SEED_FILE))
