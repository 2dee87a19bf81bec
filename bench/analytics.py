"""Retention cohorts and the activation funnel: DuckDB (the app's own SQL) against pandas, same run.

    python bench/analytics.py --events 10000000     # the reported figure (builds ~1 min, then reuses)
    python bench/analytics.py --events 1000000      # a quick run

Builds (or reuses) a sample workspace with about --events events in bench/out/, runs
analytics/sql/metrics_retention.sql and metrics_funnel.sql over the whole event log, and the same
computation written in plain vectorised pandas. Both sides are timed warm, best of --runs, on data
already in memory: DuckDB reads its own database file (cached after the warm-up run); pandas gets the
needed columns loaded into a DataFrame first, and that loading time is excluded (it is printed
separately). The results must agree exactly (counts) and to 1e-12 (shares), or the script exits 1.

Last line: events=<n> cohort_s=<s> funnel_s=<s> speedup_vs_pandas=<x>
where speedup = (pandas cohort + pandas funnel) / (DuckDB cohort + DuckDB funnel).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analytics.compute.metrics.report import run_query  # noqa: E402
from analytics.compute.metrics.schema import FUNNEL_STEPS, MetricFilters  # noqa: E402
from analytics.compute.metrics.source import data_span, prepare_source  # noqa: E402
from analytics.db import Workspace  # noqa: E402

OUT_DIR = ROOT / "bench" / "out"


# -- pandas: the same definitions as metrics_retention.sql and metrics_funnel.sql ---------------------------
def pandas_signups(ev: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    """user_id, account_id, signup_at of users whose first sign-up is in [start, end]."""
    signups = (
        ev.loc[
            (ev["event_type"] == "signup") & ev["user_id"].notna(),
            ["user_id", "account_id", "event_time"],
        ]
        .groupby("user_id", as_index=False)
        .agg(account_id=("account_id", "min"), signup_at=("event_time", "min"))
    )
    in_range = (
        (signups["signup_at"] >= pd.Timestamp(start))
        & (signups["signup_at"] < pd.Timestamp(end + timedelta(days=1)))
    )
    return signups[in_range]


def _month_index(times: pd.Series) -> pd.Series:
    return times.dt.year * 12 + times.dt.month - 1


def pandas_retention(ev: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    """Monthly retention cohorts, long form, as metrics_retention.sql."""
    cohort = pandas_signups(ev, start, end)
    cohort = pd.DataFrame({"user_id": cohort["user_id"], "cohort_idx": _month_index(cohort["signup_at"])})
    sessions = ev.loc[
        (ev["event_type"] == "session")
        & (ev["event_time"] >= pd.Timestamp(start).to_period("M").to_timestamp())
        & (ev["event_time"] < pd.Timestamp(end + timedelta(days=1))),
        ["user_id", "event_time"],
    ]
    active = pd.DataFrame({"user_id": sessions["user_id"], "month_idx": _month_index(sessions["event_time"])})
    active = active.drop_duplicates()
    cells = active.merge(cohort, on="user_id")
    cells["months_since_signup"] = cells["month_idx"] - cells["cohort_idx"]
    cells = cells[cells["months_since_signup"] >= 0]
    counts = cells.groupby(["cohort_idx", "months_since_signup"]).size().rename("active_users")
    sizes = cohort.groupby("cohort_idx").size().rename("cohort_users")
    end_idx = end.year * 12 + end.month - 1
    spans = (end_idx - sizes.index.to_numpy() + 1)
    grid = pd.DataFrame({
        "cohort_idx": np.repeat(sizes.index.to_numpy(), spans),
        "months_since_signup": np.concatenate([np.arange(n) for n in spans]) if len(spans) else [],
    })
    grid = grid.join(sizes, on="cohort_idx").join(counts, on=["cohort_idx", "months_since_signup"])
    grid["active_users"] = grid["active_users"].fillna(0).astype("int64")
    grid["retention"] = grid["active_users"] / grid["cohort_users"]
    return grid.sort_values(["cohort_idx", "months_since_signup"], ignore_index=True)


def pandas_funnel(ev: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    """Signed up -> activated -> active in week 2 -> paying, as metrics_funnel.sql."""
    cohort = pandas_signups(ev, start, end)
    activated = cohort["user_id"].isin(ev.loc[ev["event_type"] == "activation", "user_id"].unique())
    signup_day = pd.DataFrame({"user_id": cohort["user_id"],
                               "signup_day": cohort["signup_at"].to_numpy().astype("datetime64[D]")})
    sessions = ev.loc[ev["event_type"] == "session", ["user_id", "event_time"]]
    sessions = pd.DataFrame({"user_id": sessions["user_id"],
                             "day": sessions["event_time"].to_numpy().astype("datetime64[D]")})
    sessions = sessions.merge(signup_day, on="user_id")
    days_after = (sessions["day"] - sessions["signup_day"]).dt.days
    week_2 = sessions.loc[(days_after >= 7) & (days_after <= 13), "user_id"].unique()
    paying_accounts = ev.loc[(ev["event_type"] == "invoice") & (ev["amount_usd"] > 0), "account_id"].unique()
    is_week_2 = activated & cohort["user_id"].isin(week_2)
    is_paying = is_week_2 & cohort["account_id"].isin(paying_accounts)
    users = [len(cohort), int(activated.sum()), int(is_week_2.sum()), int(is_paying.sum())]
    frame = pd.DataFrame({"step_order": [1, 2, 3, 4], "step": list(FUNNEL_STEPS), "users": users})
    frame["conversion_from_previous"] = frame["users"] / frame["users"].shift(1).replace(0, np.nan)
    frame["conversion_from_signup"] = frame["users"] / (users[0] or np.nan)
    return frame


# -- timing and checks ---------------------------------------------------------------------------------------
def best_of(runs: int, fn: Callable[[], pd.DataFrame]) -> tuple[float, float, pd.DataFrame]:
    """Best wall time (s) and best process CPU time (s, all threads) of `runs` calls after one warm-up call,
    and the last result. CPU time is the steadier figure on a shared machine."""
    result = fn()
    walls, cpus = [], []
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu_started)
    return min(walls), min(cpus), result


def check_same(name: str, duck: pd.DataFrame, pand: pd.DataFrame, keys: list[str], shares: list[str]) -> None:
    """Exit 1 unless both frames hold the same rows: counts exactly, shares to 1e-12."""
    duck = duck.reset_index(drop=True)
    pand = pand.reset_index(drop=True)
    problems = []
    if len(duck) != len(pand):
        problems.append(f"{len(duck)} rows in DuckDB, {len(pand)} in pandas")
    else:
        for col in keys:
            if not np.array_equal(duck[col].to_numpy(dtype="int64"), pand[col].to_numpy(dtype="int64")):
                problems.append(f"column {col} differs")
        for col in shares:
            a, b = duck[col].to_numpy(dtype="float64"), pand[col].to_numpy(dtype="float64")
            if not np.allclose(a, b, rtol=0, atol=1e-12, equal_nan=True):
                problems.append(f"column {col} differs")
    if problems:
        print(f"MISMATCH in {name}: {'; '.join(problems)}")
        sys.exit(1)


def open_workspace(events: int, threads: int) -> Workspace:
    """The bench workspace for `events`, built on first use (about a minute for 10M events)."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"workspace_{events}.duckdb"
    fresh = not path.exists()
    started = time.perf_counter()
    ws = Workspace.open(path, demo_events=events, threads=threads)
    verb = "built" if fresh else "reused"
    print(f"workspace {path.relative_to(ROOT)} {verb} in {time.perf_counter() - started:.1f} s "
          f"({ws.row_count('events'):,} events)")
    return ws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000, help="sample events to generate (approx.)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per query, after one warm-up")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB worker threads")
    args = parser.parse_args()

    ws = open_workspace(args.events, args.threads)
    span = data_span(ws)
    if span is None:
        sys.exit("the workspace has no events")
    filters = MetricFilters(start=span[0], end=span[1])
    params = prepare_source(ws, filters)

    started = time.perf_counter()
    ev = ws.sql("select event_time, user_id, account_id, event_type, amount_usd from metric_events")
    ev["event_type"] = ev["event_type"].astype("category")
    load_s = time.perf_counter() - started

    duck_cohort_s, duck_cohort_cpu, duck_cohort = best_of(
        args.runs, lambda: run_query(ws, "metrics_retention", params))
    duck_funnel_s, duck_funnel_cpu, duck_funnel = best_of(
        args.runs, lambda: run_query(ws, "metrics_funnel", params))
    pd_cohort_s, pd_cohort_cpu, pd_cohort = best_of(
        args.runs, lambda: pandas_retention(ev, filters.start, filters.end))
    pd_funnel_s, pd_funnel_cpu, pd_funnel = best_of(
        args.runs, lambda: pandas_funnel(ev, filters.start, filters.end))

    check_same("retention", duck_cohort, pd_cohort, ["months_since_signup", "cohort_users", "active_users"],
               ["retention"])
    check_same("funnel", duck_funnel, pd_funnel, ["step_order", "users"],
               ["conversion_from_previous", "conversion_from_signup"])
    speedup = (pd_cohort_s + pd_funnel_s) / (duck_cohort_s + duck_funnel_s)

    load_1m = os.getloadavg()[0]
    print(f"range {filters.start} .. {filters.end}; DuckDB threads={args.threads}; "
          f"best of {args.runs} warm runs; {os.cpu_count()} CPUs, load average {load_1m:.1f} "
          "(a load above the CPU count inflates wall times)")
    print(f"pandas load of 5 columns (excluded from timings): {load_s:.2f} s, "
          f"{ev.memory_usage(deep=True).sum() / 2**20:.0f} MiB")
    print(f"{'query':<11}{'duckdb_s':>9}{'pandas_s':>9}{'speedup':>8}{'duck_cpu_s':>11}{'pd_cpu_s':>9}"
          f"{'cpu_ratio':>10}  check")
    for name, d_s, p_s, d_cpu, p_cpu, rows in (
        ("retention", duck_cohort_s, pd_cohort_s, duck_cohort_cpu, pd_cohort_cpu,
         f"{len(duck_cohort)} cells agree"),
        ("funnel", duck_funnel_s, pd_funnel_s, duck_funnel_cpu, pd_funnel_cpu,
         f"{len(duck_funnel)} steps agree"),
    ):
        print(f"{name:<11}{d_s:>9.3f}{p_s:>9.3f}{p_s / d_s:>8.1f}"
              f"{d_cpu:>11.3f}{p_cpu:>9.3f}{p_cpu / d_cpu:>10.1f}  {rows}")
    ws.close()
    print(f"events={args.events} cohort_s={duck_cohort_s:.3f} funnel_s={duck_funnel_s:.3f} "
          f"speedup_vs_pandas={speedup:.1f}")


if __name__ == "__main__":
    main()
