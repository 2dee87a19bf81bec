"""The price catalog: seeded from data/prices.csv (every row with a source and a date), editable, audited."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from analytics.compute.costs import check_positive
from analytics.db import PROJECT_ROOT, Workspace, quote_ident, register_app_tables
from analytics.errors import CostInputError

SEED_FILE = PROJECT_ROOT / "data" / "prices.csv"
EDITABLE = ("hourly_usd", "input_per_m_usd", "output_per_m_usd", "peak_tflops", "memory_gb",
            "bandwidth_gbps", "as_of", "source")
register_app_tables("prices", "price_edits")


def seed_prices(ws: Workspace, path: Path = SEED_FILE) -> int:
    """Load the seed file into an empty price catalog; returns rows added (0 when already seeded)."""
    if ws.scalar("select count(*) from prices"):
        return 0
    frame = pd.read_csv(path, dtype={"as_of": "string"})
    frame["as_of"] = pd.to_datetime(frame["as_of"], errors="coerce").dt.date
    frame.insert(0, "price_id", range(1, len(frame) + 1))
    with ws.transaction() as tx:
        if tx.scalar("select count(*) from prices", label="counting prices"):
            return 0  # another session seeded it since the check above (pages call this concurrently)
        tx.insert_frame("prices", frame)
    return len(frame)


def price_table(ws: Workspace, kind: str | None = None) -> pd.DataFrame:
    """The catalog (optionally one kind), with a `label` column for pickers."""
    seed_prices(ws)
    frame = ws.sql(
        "select * from prices where ($kind is null or kind = $kind) "
        "order by kind, name, hourly_usd, input_per_m_usd",
        {"kind": kind},
    )
    frame["label"] = frame["name"] + " · " + frame["provider"]
    return frame


def update_price(ws: Workspace, price_id: int, field: str, value: object, note: str) -> None:
    """Change one field of one price, refusing zero, negative, missing or absurd values; the edit is
    recorded."""
    if field not in EDITABLE:
        raise CostInputError(f"{field!r} cannot be edited; editable fields: {', '.join(EDITABLE)}")
    if not note or not str(note).strip():
        raise CostInputError("say where the new figure comes from (a source or a reason) before saving")
    if field in ("hourly_usd", "input_per_m_usd"):
        value = check_positive(field, value, upper=1000)
    elif field == "output_per_m_usd":
        value = check_positive(field, value, allow_zero=True, upper=1000)
    elif field in ("peak_tflops", "memory_gb", "bandwidth_gbps"):
        blank = value is None or (isinstance(value, float) and math.isnan(value))
        value = None if blank else check_positive(field, value)
    old = ws.scalar(f"select {quote_ident(field)}::varchar from prices where price_id = ?", [price_id])
    if old is None and not ws.scalar("select count(*) from prices where price_id = ?", [price_id]):
        raise CostInputError(f"no price with id {price_id}")
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    with ws.transaction() as tx:
        tx.execute(f"update prices set {quote_ident(field)} = ? where price_id = ?", [value, price_id],
                   label=f"updating {field} of price {price_id}")
        next_id = tx.scalar("select coalesce(max(edit_id), 0) + 1 from price_edits",
                            label="numbering the edit")
        tx.execute(
            "insert into price_edits values (?, ?, ?, ?, ?, ?, ?)",
            [next_id, price_id, field, old, None if value is None else str(value), str(note).strip(), now],
            label="recording the price edit",
        )


def price_edits(ws: Workspace) -> pd.DataFrame:
    """Every edit, newest first, with the price's name."""
    return ws.sql(
        "select e.edited_at, p.name, p.provider, e.field, e.old_value, e.new_value, e.note "
        "from price_edits e join prices p using (price_id) order by e.edited_at desc, e.edit_id desc"
    )
