"""Deterministic sample data for a fictional B2B AI customer-support startup, "Lumen Desk".

Everything here is generated from a seed by this code: no file is copied from anywhere. The data is
labelled as sample data in the workspace (`is_sample` columns, workspace_meta 'demo_label').
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

DEFAULT_EVENTS = 1_000_000
SAMPLE_LABEL = "Sample data: Lumen Desk, a fictional B2B AI customer-support startup (generated, seed {seed})"

REGIONS = ("North America", "Europe", "APAC", "LATAM")
REGION_SHARE = (0.45, 0.30, 0.17, 0.08)
INDUSTRIES = ("E-commerce", "SaaS", "Fintech", "Healthcare", "Travel", "Telecom")
INDUSTRY_SHARE = (0.26, 0.24, 0.16, 0.12, 0.12, 0.10)
SIZES = ("SMB", "Mid-market", "Enterprise")
SIZE_SHARE = (0.66, 0.26, 0.08)
PLANS = (("free", 0.0, 0), ("starter", 19.0, 1), ("pro", 49.0, 2), ("enterprise", 99.0, 3))
START = np.datetime64("2024-11-01")
END = np.datetime64("2026-11-01")  # exclusive: 24 full months of history
EVENTS_PER_ACCOUNT_GUESS = 200.0


@dataclass(frozen=True)
class DemoConfig:
    """How much sample data to generate."""

    events: int = DEFAULT_EVENTS
    """Approximate number of product events (the generator lands within a few percent)."""
    seed: int = 7
    """Seed of every random draw; the same seed gives the same data."""

    def __post_init__(self) -> None:
        if not 1_000 <= self.events <= 200_000_000:
            raise ValueError(f"events must be between 1,000 and 200,000,000, got {self.events}")


def seed_workspace(workspace, events: int = DEFAULT_EVENTS, seed: int = 7) -> dict[str, int]:
    """Generate all sample tables and write them in one transaction. Returns row counts per table."""
    config = DemoConfig(events=events, seed=seed)
    tables = generate(config)
    with workspace.transaction() as tx:
        for name in ("events", "users", "accounts", "plans", "competitors", "market_segments"):
            tx.execute(f"delete from {name}", label=f"emptying {name}")  # noqa: S608 - fixed table names
        for name, frame in tables.items():
            tx.insert_frame(name, frame)
        seed_strategy(tx, seed)
        tx.set_meta("demo_seeded", datetime.now(timezone.utc).isoformat(timespec="seconds"))
        tx.set_meta("demo_label", SAMPLE_LABEL.format(seed=seed))
        tx.set_meta("demo_events", str(len(tables["events"])))
    counts = {name: len(frame) for name, frame in tables.items()}
    log.info("seeded sample data: %s", counts)
    return counts


def seed_strategy(tx, seed: int = 7) -> None:
    """The sample roadmap and the sample experiment (on the sample users' activation), inside `tx`; also
    called once for a sample workspace created before they existed (analytics.db.Workspace.open)."""
    from analytics.ingest.sample_experiment import seed_sample_experiment
    from analytics.ingest.sample_roadmap import seed_sample_roadmap

    seed_sample_roadmap(tx)
    seed_sample_experiment(tx, seed=seed)
    tx.set_meta("strategy_seeded", datetime.now(timezone.utc).isoformat(timespec="seconds"))


def generate(config: DemoConfig) -> dict[str, pd.DataFrame]:
    """All sample tables as DataFrames, keyed by table name."""
    rng = np.random.default_rng(config.seed)
    n_accounts = max(20, int(round(config.events / EVENTS_PER_ACCOUNT_GUESS)))
    accounts = _accounts(rng, n_accounts)
    users = _users(rng, accounts)
    events = _events(rng, accounts, users)
    return {
        "market_segments": market_segments(np.random.default_rng(config.seed + 1)),
        "competitors": competitors(np.random.default_rng(config.seed + 2)),
        "plans": pd.DataFrame(PLANS, columns=["plan", "price_per_seat_usd", "tier"]),
        "accounts": accounts.drop(columns=["seats", "start_plan", "paid_day", "cancel_day", "expansion"]),
        "users": users[["user_id", "account_id", "signup_at"]],
        "events": events,
    }


def market_segments(rng: np.random.Generator) -> pd.DataFrame:
    """Region x industry x company size: companies, AI-support adoption, ACV and growth."""
    base_companies = {"SMB": 42_000, "Mid-market": 6_500, "Enterprise": 900}
    base_acv = {"SMB": 3_600.0, "Mid-market": 24_000.0, "Enterprise": 140_000.0}
    region_scale = {"North America": 1.0, "Europe": 0.85, "APAC": 0.9, "LATAM": 0.35}
    region_price = {"North America": 1.0, "Europe": 0.9, "APAC": 0.7, "LATAM": 0.55}
    rows = []
    for region in REGIONS:
        for i, industry in enumerate(INDUSTRIES):
            for size in SIZES:
                companies = base_companies[size] * region_scale[region] * INDUSTRY_SHARE[i] * 4
                rows.append({
                    "region": region,
                    "industry": industry,
                    "company_size": size,
                    "companies": int(companies * rng.uniform(0.8, 1.2)),
                    "adoption_rate": round(float(rng.uniform(0.08, 0.35)), 3),
                    "acv_usd": round(
                        base_acv[size] * region_price[region] * float(rng.uniform(0.85, 1.15)), -1,
                    ),
                    "growth_rate": round(float(rng.uniform(0.10, 0.45)), 3),
                    "is_sample": True,
                })
    frame = pd.DataFrame(rows)
    frame.insert(0, "segment_id", np.arange(1, len(frame) + 1, dtype=np.int32))
    return frame


_COMPETITORS = (
    # name, price/seat, automation, accuracy, integrations, analytics, funding $M, launch, target
    ("AnswerLoop", 39.0, 7.5, 7.0, 8.5, 6.0, 120.0, 2019, "Mid-market"),
    ("TicketPilot", 25.0, 6.0, 6.5, 7.0, 5.0, 45.0, 2020, "SMB"),
    ("CaseMind", 89.0, 8.5, 8.5, 7.5, 8.0, 310.0, 2017, "Enterprise"),
    ("HelpForge", 15.0, 5.0, 5.5, 6.0, 4.0, 12.0, 2022, "SMB"),
    ("QueueZero", 55.0, 8.0, 7.5, 6.5, 7.0, 85.0, 2021, "Mid-market"),
    ("Resolvd", 69.0, 7.0, 8.0, 8.0, 8.5, 150.0, 2018, "Enterprise"),
    ("DeskGenie", 29.0, 6.5, 6.0, 5.5, 5.5, 30.0, 2023, "SMB"),
    ("ReplyRocket", 45.0, 7.5, 6.5, 7.5, 6.5, 60.0, 2022, "Mid-market"),
    ("Triagely", 119.0, 9.0, 9.0, 8.0, 9.0, 420.0, 2016, "Enterprise"),
    ("Lumen Desk (us)", 49.0, 8.0, 8.0, 7.0, 7.5, 18.0, 2024, "Mid-market"),
)


def competitors(rng: np.random.Generator) -> pd.DataFrame:
    """Ten fictional competitors (our own product included) with prices and capability scores."""
    frame = pd.DataFrame(
        _COMPETITORS,
        columns=["name", "price_per_seat_usd", "cap_automation", "cap_accuracy", "cap_integrations",
                 "cap_analytics", "funding_usd_m", "launch_year", "target_segment"],
    )
    caps = frame[["cap_automation", "cap_accuracy", "cap_integrations", "cap_analytics"]]
    frame["capability_score"] = caps.mean(axis=1).round(2)
    frame["is_sample"] = True
    frame.insert(0, "competitor_id", np.arange(1, len(frame) + 1, dtype=np.int32))
    return frame


def _accounts(rng: np.random.Generator, n_accounts: int) -> pd.DataFrame:
    days = int((END - START) / np.timedelta64(1, "D"))
    # Sign-ups grow ~6%/month: sample day offsets from an exponential density on [0, days).
    growth_per_day = np.log(1.06) / 30.4
    u = rng.random(n_accounts)
    offset = np.floor(np.log1p(u * np.expm1(growth_per_day * days)) / growth_per_day).astype(np.int64)
    offset = np.sort(np.clip(offset, 0, days - 1))
    size = rng.choice(3, size=n_accounts, p=SIZE_SHARE)
    seats_mu = np.array([np.log(6), np.log(30), np.log(160)])[size]
    seats = np.maximum(2, np.round(np.exp(rng.normal(seats_mu, 0.5)))).astype(np.int64)
    # Start plan: most start on free; some buy straight away.
    start_plan = rng.choice(4, size=n_accounts, p=[0.70, 0.18, 0.09, 0.03])
    start_plan = np.where(size == 2,
                          np.maximum(start_plan, rng.choice([0, 3], size=n_accounts, p=[0.5, 0.5])),
                          start_plan)
    # Free accounts that convert do so after an exponential delay (days); -1 = never.
    converts = rng.random(n_accounts) < np.array([0.30, 0.42, 0.55])[size]
    paid_day = np.where(start_plan > 0, 0,
                        np.where(converts, np.ceil(rng.exponential(20, n_accounts)), -1)).astype(np.int64)
    monthly_churn = np.array([0.045, 0.025, 0.012])[size]
    lifetime_months = rng.geometric(monthly_churn)
    cancel_day = (lifetime_months * 30.4 + rng.integers(0, 30, n_accounts)).astype(np.int64)
    # monthly seat growth of paying accounts
    expansion = rng.normal(0.012, 0.02, n_accounts).clip(-0.03, 0.08)
    return pd.DataFrame({
        "account_id": np.arange(1, n_accounts + 1, dtype=np.int32),
        "account_name": [f"Sample Co {i:05d}" for i in range(1, n_accounts + 1)],
        "region": np.array(REGIONS)[rng.choice(4, size=n_accounts, p=REGION_SHARE)],
        "industry": np.array(INDUSTRIES)[rng.choice(6, size=n_accounts, p=INDUSTRY_SHARE)],
        "company_size": np.array(SIZES)[size],
        "signup_date": (START + offset.astype("timedelta64[D]")).astype("datetime64[s]"),
        "is_sample": True,
        "seats": seats,
        "start_plan": start_plan,
        "paid_day": paid_day,
        "cancel_day": cancel_day,
        "expansion": expansion,
    })


def _users(rng: np.random.Generator, accounts: pd.DataFrame) -> pd.DataFrame:
    per_account = np.maximum(1, np.minimum(accounts["seats"].to_numpy(), rng.poisson(
        np.array([3.0, 8.0, 20.0])[pd.Categorical(accounts["company_size"], categories=SIZES).codes])))
    account_ids = np.repeat(accounts["account_id"].to_numpy(), per_account)
    account_start = np.repeat(accounts["signup_date"].to_numpy(), per_account)
    first = np.r_[True, account_ids[1:] != account_ids[:-1]]
    delay_s = np.where(first, 0, rng.exponential(8 * 86400, len(account_ids))).astype(np.int64)
    signup_at = (account_start + delay_s.astype("timedelta64[s]")
                 + rng.integers(8 * 3600, 18 * 3600, len(account_ids)).astype("timedelta64[s]"))
    users = pd.DataFrame({"account_id": account_ids, "signup_at": signup_at})
    users = users[users["signup_at"] < END].sort_values(["signup_at", "account_id"], kind="stable")
    users.insert(0, "user_id", np.arange(1, len(users) + 1, dtype=np.int32))
    return users.reset_index(drop=True)


def _events(rng: np.random.Generator, accounts: pd.DataFrame, users: pd.DataFrame) -> pd.DataFrame:
    acc = accounts.set_index("account_id")
    end_s = END.astype("datetime64[s]")
    account_cancel = (acc["signup_date"].to_numpy() + acc["cancel_day"].to_numpy().astype("timedelta64[D]"))
    frames = [
        _user_events(rng, users, acc, account_cancel, end_s),
        _account_events(rng, acc, account_cancel, end_s),
    ]
    events = pd.concat(frames, ignore_index=True)
    events = events[events["event_time"] < end_s].sort_values(["event_time", "account_id"], kind="stable")
    events.insert(0, "event_id", np.arange(1, len(events) + 1, dtype=np.int64))
    events["user_id"] = events["user_id"].astype("Int32")
    events["account_id"] = events["account_id"].astype(np.int32)
    return events.reset_index(drop=True)


def _user_events(rng, users, acc, account_cancel, end_s) -> pd.DataFrame:
    n = len(users)
    uid = users["user_id"].to_numpy()
    aid = users["account_id"].to_numpy()
    signup = users["signup_at"].to_numpy().astype("datetime64[s]")
    size_code = pd.Categorical(acc.loc[aid, "company_size"], categories=SIZES).codes
    activated = rng.random(n) < np.array([0.58, 0.68, 0.78])[size_code]
    act_at = signup + rng.exponential(2.5 * 86400, n).astype(np.int64).astype("timedelta64[s]")
    user_churn = act_at + (rng.exponential(300, n) * 86400).astype(np.int64).astype("timedelta64[s]")
    stop = np.minimum(np.minimum(user_churn, account_cancel[aid - 1].astype("datetime64[s]")), end_s)
    life_days = np.maximum(0, (stop - act_at).astype(np.int64) / 86400.0)
    engagement = rng.beta(2.0, 3.5, n) * activated
    sessions = rng.binomial(np.floor(life_days).astype(np.int64), engagement)
    rep = np.repeat(np.arange(n), sessions)
    session_offset_s = (rng.random(len(rep)) * life_days[rep] * 86400).astype(np.int64)
    session_at = act_at[rep] + session_offset_s.astype("timedelta64[s]")
    parts = [
        pd.DataFrame({"event_time": signup, "user_id": uid, "account_id": aid, "event_type": "signup"}),
        pd.DataFrame({"event_time": act_at[activated], "user_id": uid[activated],
                      "account_id": aid[activated], "event_type": "activation"}),
        pd.DataFrame({"event_time": session_at, "user_id": uid[rep], "account_id": aid[rep],
                      "event_type": "session"}),
    ]
    out = pd.concat(parts, ignore_index=True)
    out["plan"] = None
    out["amount_usd"] = np.nan
    return out


def _account_events(rng, acc, account_cancel, end_s) -> pd.DataFrame:
    prices = np.array([p[1] for p in PLANS])
    names = np.array([p[0] for p in PLANS])
    rows_time, rows_acc, rows_type, rows_plan, rows_amount = [], [], [], [], []
    signup = acc["signup_date"].to_numpy().astype("datetime64[s]")
    for i, account_id in enumerate(acc.index.to_numpy()):
        paid_day = int(acc["paid_day"].iat[i])
        if paid_day < 0:
            continue
        plan = int(acc["start_plan"].iat[i]) or int(rng.choice([1, 2], p=[0.7, 0.3]))
        start = signup[i] + np.timedelta64(paid_day * 86400 + 36000, "s")
        cancel = min(account_cancel[i].astype("datetime64[s]"), end_s)
        if start >= end_s or start >= cancel:
            continue
        if int(acc["start_plan"].iat[i]) == 0:
            rows_time.append(start); rows_acc.append(account_id); rows_type.append("upgrade")  # noqa: E702
            rows_plan.append(names[plan]); rows_amount.append(np.nan)  # noqa: E702
        seats = float(acc["seats"].iat[i])
        month = 0
        when = start
        while when < cancel:
            if month and month % 9 == 0 and plan < 3 and rng.random() < 0.25:
                plan += 1
                rows_time.append(when - np.timedelta64(3600, "s")); rows_acc.append(account_id)  # noqa: E702
                rows_type.append("upgrade"); rows_plan.append(names[plan]); rows_amount.append(np.nan)  # noqa: E702
            amount = round(max(1.0, np.round(seats)) * prices[plan], 2)
            rows_time.append(when); rows_acc.append(account_id); rows_type.append("invoice")  # noqa: E702
            rows_plan.append(names[plan]); rows_amount.append(amount)  # noqa: E702
            seats *= 1.0 + float(acc["expansion"].iat[i])
            month += 1
            when = start + np.timedelta64(int(month * 30.4375 * 86400), "s")
        if cancel < end_s:
            rows_time.append(cancel); rows_acc.append(account_id); rows_type.append("cancel")  # noqa: E702
            rows_plan.append(names[plan]); rows_amount.append(np.nan)  # noqa: E702
    return pd.DataFrame({
        "event_time": np.array(rows_time, dtype="datetime64[s]"),
        "user_id": pd.array([None] * len(rows_time), dtype="Int32"),
        "account_id": np.array(rows_acc, dtype=np.int64),
        "event_type": rows_type,
        "plan": rows_plan,
        "amount_usd": np.array(rows_amount, dtype=float),
    })
