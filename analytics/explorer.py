"""The Data page's SQL explorer: limits, example queries, CSV export. The guard itself is `Workspace.explore`."""

from __future__ import annotations

import pandas as pd

from analytics.db import ExplorerResult, Workspace

ROW_CAP = 1000
"""Most rows the explorer shows and exports."""
TIMEOUT_S = 10.0
"""Seconds a query may run before it is stopped."""

EXAMPLE_QUERIES: dict[str, str] = {
    "Tables and row counts": (
        "select table_name, estimated_size as approx_rows\n"
        "from duckdb_tables()\norder by table_name"
    ),
    "Events by type (sample data)": (
        "select event_type, count(*) as events, count(distinct account_id) as accounts\n"
        "from events\ngroup by event_type\norder by events desc"
    ),
    "Monthly sign-ups (sample data)": (
        "select date_trunc('month', event_time)::date as month, count(*) as signups\n"
        "from events\nwhere event_type = 'signup'\ngroup by month\norder by month"
    ),
    "Invoiced revenue by plan (sample data)": (
        "select plan, round(sum(amount_usd), 2) as revenue_usd, count(*) as invoices\n"
        "from events\nwhere event_type = 'invoice'\ngroup by plan\norder by revenue_usd desc"
    ),
    "Competitors by price (sample data)": (
        "select name, price_per_seat_usd, capability_score, funding_usd_m\n"
        "from competitors\norder by price_per_seat_usd"
    ),
    "Largest market segments (sample data)": (
        "select region, industry, company_size, companies, acv_usd,\n"
        "       companies * adoption_rate * acv_usd as spend_usd\n"
        "from market_segments\norder by spend_usd desc\nlimit 20"
    ),
}
"""Read-only example queries over the sample data, by title."""


def run_query(ws: Workspace, text: str, *, row_cap: int = ROW_CAP, timeout_s: float = TIMEOUT_S) -> ExplorerResult:
    """Run one read-only SELECT with the explorer's row cap and time limit.

    Raises ForbiddenQueryError (not a single SELECT, or file access), QueryTimeoutError, QueryError.
    """
    return ws.explore(text, row_cap=row_cap, timeout_s=timeout_s)


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV of a result, header included, for the download button."""
    return frame.to_csv(index=False).encode("utf-8")
