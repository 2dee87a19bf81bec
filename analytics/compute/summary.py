"""What is in a workspace, for the Home page and the sidebar."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analytics.db import APP_TABLES, Workspace, quote_ident


@dataclass(frozen=True)
class WorkspaceSummary:
    """Counts shown on Home."""

    path: str
    """Database file (or ':memory:')."""
    tables: pd.DataFrame
    """One row per table: table, rows, columns, owner ('sample', 'app' or 'imported')."""
    sample_label: str | None
    """The sample-data label, or None if the workspace holds no sample data."""
    events: int
    """Rows in the events table."""
    accounts: int
    """Rows in the accounts table."""
    first_event: str | None
    """Earliest event date (ISO), None when there are no events."""
    last_event: str | None
    """Latest event date (ISO), None when there are no events."""

    @property
    def user_tables(self) -> pd.DataFrame:
        """Tables holding the user's data (sample, imported or made with SQL), largest first."""
        shown = self.tables[self.tables["owner"] != "app"]
        return shown.sort_values(["rows", "table"], ascending=[False, True]).reset_index(drop=True)

    @property
    def app_tables(self) -> pd.DataFrame:
        """Tables Strategy Lab keeps for itself (runs, jobs, prices, migrations...), by name."""
        return self.tables[self.tables["owner"] == "app"].sort_values("table").reset_index(drop=True)


SAMPLE_TABLES = frozenset({"market_segments", "competitors", "plans", "accounts", "users", "events"})


def summarize(ws: Workspace) -> WorkspaceSummary:
    """Tables with row and column counts, and the event log's span."""
    rows = []
    imported = set(ws.sql("select table_name from imported_tables")["table_name"])
    for name in ws.table_names():
        owner = "imported" if name in imported else "sample" if name in SAMPLE_TABLES else (
            "app" if name in APP_TABLES else "user")
        count = int(ws.scalar(f"select count(*) from {quote_ident(name)}"))
        rows.append({"table": name, "rows": count, "columns": len(ws.columns(name)), "owner": owner})
    tables = pd.DataFrame(rows, columns=["table", "rows", "columns", "owner"])
    span = ws.rows("select min(event_time)::date, max(event_time)::date from events")[0]
    counts = dict(zip(tables["table"], tables["rows"], strict=True))
    return WorkspaceSummary(
        path=str(ws.path),
        tables=tables,
        sample_label=ws.meta("demo_label"),
        events=int(counts.get("events", 0)),
        accounts=int(counts.get("accounts", 0)),
        first_event=span[0].isoformat() if span[0] else None,
        last_event=span[1].isoformat() if span[1] else None,
    )
