"""Churn features at a cut-off: DuckDB (analytics/sql/churn_features.sql, the app's own query) against pandas
doing the same computation, on 1M and 10M sample events, same run.

    python bench/churn_features.py                       # 1M and 10M (10M builds its workspace once: minutes)
    python bench/churn_features.py --events 1000000      # 1M only

For each size, builds (or reuses) a sample workspace in --cache (default /tmp/stratlab-bench-churn/,
copied from bench/out/ when bench/analytics.py already built one), takes the cut-off the Churn page
defaults to (the data's last day minus the 90-day horizon), and times:

- DuckDB: the feature query over the whole events, users and accounts tables, warm (one untimed run
  first), best of --runs;
- pandas: the same definitions in vectorised pandas over the same tables loaded into DataFrames first
  (the loading time is printed apart and excluded, as in bench/analytics.py), best of --runs.

The two frames must agree (ids, labels and plans exactly, numbers to 1e-9) or the script exits 1.
Last line: duckdb_vs_pandas_1m=<x> duckdb_vs_pandas_10m=<y> (pandas seconds / DuckDB seconds).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analytics.compute.churn.features import churn_span, feature_frame  # noqa: E402
from analytics.db import Workspace  # noqa: E402

CACHE = Path("/tmp/stratlab-bench-churn")
HORIZON_DAYS = 90
NUMERIC = ("plan_tier", "tenure_days", "seats", "sessions_4w", "sessions_12w", "sessions_trend",
           "active_users_4w", "active_users_12w", "active_users_share_4w", "days_since_last_session",
           "invoices", "invoiced_usd", "current_mrr_usd", "upgrades", "downgrades")


# -- pandas: the same definitions as analytics/sql/churn_features.sql --------------------------------------
def _count(frame: pd.DataFrame) -> pd.Series:
    return frame.groupby("account_id").size()


def _last(frame: pd.DataFrame, column: str, first: bool = False) -> pd.Series:
    """`column` of each account's latest (or first) row by event_time."""
    ordered = frame.sort_values(["account_id", "event_time"], kind="stable")
    return ordered.groupby("account_id")[column].first() if first else \
        ordered.groupby("account_id")[column].last()


def pandas_features(ev: pd.DataFrame, users: pd.DataFrame, accounts: pd.DataFrame, plans: pd.DataFrame,
                    cutoff: date, horizon_days: int) -> pd.DataFrame:
    """churn_features.sql in pandas: one row per eligible account, the same columns and order."""
    seen_before = pd.Timestamp(cutoff) + pd.Timedelta(days=1)
    label_before = seen_before + pd.Timedelta(days=horizon_days)
    w4, w12, mrr_from = (seen_before - pd.Timedelta(days=d) for d in (28, 84, 31))
    seen = ev[ev["event_time"] < seen_before]
    kind = seen["event_type"]
    sessions = seen[kind == "session"]
    s4, s12 = sessions[sessions["event_time"] >= w4], sessions[sessions["event_time"] >= w12]
    invoices = seen[(kind == "invoice") & (seen["amount_usd"] > 0)]
    changes = seen[kind.isin(["upgrade", "downgrade"]) & seen["plan"].notna()]
    billed = seen[(kind == "invoice") & seen["plan"].notna()]
    later = ev[(ev["event_type"] == "cancel") & (ev["event_time"] >= seen_before)
               & (ev["event_time"] < label_before)]
    per = pd.DataFrame({
        "sessions_4w": _count(s4), "sessions_12w": _count(s12),
        "active_users_4w": s4.groupby("account_id")["user_id"].nunique(),
        "active_users_12w": s12.groupby("account_id")["user_id"].nunique(),
        "last_session_at": sessions.groupby("account_id")["event_time"].max(),
        "invoices": _count(invoices), "invoiced_usd": invoices.groupby("account_id")["amount_usd"].sum(),
        "mrr_usd": _last(invoices[invoices["event_time"] >= mrr_from], "amount_usd"),
        "changed_plan": _last(changes, "plan"), "first_invoice_plan": _last(billed, "plan", first=True),
        "upgrades": _count(seen[kind == "upgrade"]), "downgrades": _count(seen[kind == "downgrade"]),
        "cancels": _count(seen[kind == "cancel"]),
        "seats": _count(users[users["signup_at"] < seen_before]),
    })
    acc = accounts[accounts["signup_date"] < seen_before].set_index("account_id")[["signup_date"]]
    acc = acc.join(per, how="left")
    acc = acc[acc["cancels"].fillna(0) == 0]
    lowest = plans.sort_values(["tier", "plan"]).iloc[0]["plan"] if len(plans) else "free"
    plan = acc["changed_plan"].fillna(acc["first_invoice_plan"]).fillna(lowest)
    tiers = plans.set_index("plan")["tier"]
    zero = {c: acc[c].fillna(0).astype("float64") for c in
            ("sessions_4w", "sessions_12w", "active_users_4w", "active_users_12w", "invoices", "invoiced_usd",
             "mrr_usd", "upgrades", "downgrades", "seats")}
    since = (seen_before - acc["last_session_at"]).dt.total_seconds()
    since = since.fillna((seen_before - acc["signup_date"]).dt.total_seconds()) / 86400.0
    out = pd.DataFrame({
        "account_id": acc.index.astype("int64"),
        "label": acc.index.isin(later["account_id"].unique()).astype("int8"),
        "plan": plan.to_numpy(),
        "plan_tier": plan.map(tiers).fillna(0).astype("float64").to_numpy(),
        "tenure_days": ((seen_before - pd.Timedelta(days=1) - acc["signup_date"]).dt.days).astype("float64")
        .to_numpy(),
        "seats": zero["seats"].to_numpy(),
        "sessions_4w": zero["sessions_4w"].to_numpy(), "sessions_12w": zero["sessions_12w"].to_numpy(),
        "sessions_trend": (zero["sessions_4w"] / 4.0 - zero["sessions_12w"] / 12.0).to_numpy(),
        "active_users_4w": zero["active_users_4w"].to_numpy(),
        "active_users_12w": zero["active_users_12w"].to_numpy(),
        "active_users_share_4w": (zero["active_users_4w"] / zero["active_users_12w"].replace(0, np.nan))
        .fillna(0).to_numpy(),
        "days_since_last_session": since.to_numpy(),
        "invoices": zero["invoices"].to_numpy(), "invoiced_usd": zero["invoiced_usd"].to_numpy(),
        "current_mrr_usd": zero["mrr_usd"].to_numpy(),
        "upgrades": zero["upgrades"].to_numpy(), "downgrades": zero["downgrades"].to_numpy(),
    })
    return out.sort_values("account_id", kind="stable").reset_index(drop=True)


# -- harness -----------------------------------------------------------------------------------------------
def best_of(runs: int, fn: Callable[[], pd.DataFrame]) -> tuple[float, float, pd.DataFrame]:
    """(best wall seconds, best CPU seconds of this process (all threads) of `runs` timed calls after one
    warm-up, the last result)."""
    result = fn()
    best = best_cpu = float("inf")
    for _ in range(runs):
        started, cpu = time.perf_counter(), time.process_time()
        result = fn()
        best = min(best, time.perf_counter() - started)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return best, best_cpu, result


def check_same(duck: pd.DataFrame, pand: pd.DataFrame) -> None:
    """Exit 1 unless both frames hold the same rows (numbers to 1e-9)."""
    problems = []
    if list(duck.columns) != list(pand.columns):
        problems.append(f"columns differ: {list(duck.columns)} vs {list(pand.columns)}")
    elif len(duck) != len(pand):
        problems.append(f"{len(duck)} rows in DuckDB, {len(pand)} in pandas")
    else:
        for column in ("account_id", "label", "plan"):
            if not (duck[column].to_numpy() == pand[column].to_numpy()).all():
                problems.append(f"{column} differs")
        for column in NUMERIC:
            left, right = duck[column].to_numpy(float), pand[column].to_numpy(float)
            if not np.allclose(left, right, rtol=1e-9, atol=1e-9):
                problems.append(f"{column} differs")
    if problems:
        sys.exit("DuckDB and pandas disagree: " + "; ".join(problems))


def open_workspace(events: int, cache: Path, threads: int) -> Workspace:
    """A sample workspace of about `events` events, cached in `cache` (copied from bench/out/ if there)."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"workspace_{events}.duckdb"
    shared = ROOT / "bench" / "out" / f"workspace_{events}.duckdb"
    if not path.exists() and shared.exists():
        shutil.copy(shared, path)
    fresh = not path.exists()
    started = time.perf_counter()
    ws = Workspace.open(path, demo_events=events, threads=threads)
    print(f"workspace {path} {'built' if fresh else 'reused'} in {time.perf_counter() - started:.1f} s "
          f"({ws.row_count('events'):,} events)", flush=True)
    return ws


def measure(events: int, cache: Path, threads: int, runs: int) -> float:
    """pandas seconds / DuckDB seconds for the features at the default cut-off of `events` sample events."""
    ws = open_workspace(events, cache, threads)
    try:
        span = churn_span(ws)
        cutoff = span.last_day - timedelta(days=HORIZON_DAYS)
        started = time.perf_counter()
        ev = ws.sql("select event_time, user_id, account_id, event_type, plan, amount_usd from events")
        ev["event_type"] = ev["event_type"].astype("category")
        users = ws.sql("select account_id, signup_at from users")
        accounts = ws.sql("select account_id, signup_date::timestamp as signup_date from accounts")
        plans = ws.sql("select plan, tier from plans")
        load_s = time.perf_counter() - started
        duck_s, duck_cpu, duck = best_of(runs, lambda: feature_frame(ws, cutoff, HORIZON_DAYS))
        pand_s, pand_cpu, pand = best_of(runs, lambda: pandas_features(ev, users, accounts, plans, cutoff,
                                                             HORIZON_DAYS))
    finally:
        ws.close()
    check_same(duck, pand)
    print(f"{events:,} events, cut-off {cutoff}, {HORIZON_DAYS}-day horizon: {len(duck):,} accounts "
          f"({int(duck['label'].sum()):,} churned); DuckDB {duck_s:.3f} s ({duck_cpu:.3f} s CPU), pandas "
          f"{pand_s:.3f} s ({pand_cpu:.3f} s CPU) (best of {runs} warm runs; pandas load {load_s:.2f} s "
          f"excluded); results agree; CPU ratio {pand_cpu / duck_cpu:.1f}", flush=True)
    return pand_s / duck_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000],
                        help="sample event counts to measure (approx.)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per side, after one warm-up")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB worker threads")
    parser.add_argument("--cache", type=Path, default=CACHE, help="folder of the cached workspaces")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} before the run; DuckDB threads "
          f"{args.threads}; pandas single-threaded", flush=True)
    ratios = {n: measure(n, args.cache, args.threads, args.runs) for n in args.events}
    print(" ".join(f"duckdb_vs_pandas_{_short(n)}={r:.1f}" for n, r in ratios.items()))


def _short(events: int) -> str:
    return f"{events // 1_000_000}m" if events % 1_000_000 == 0 else f"{events // 1000}k"


if __name__ == "__main__":
    main()
