"""The sample workspace's one finished A/B test, on the activation step of the fictional Lumen Desk.

"Onboarding checklist": every user signing up from 2026-08-01 to 2026-10-24 was assigned at sign-up, at
random and 50/50, to the current onboarding ('control') or a guided checklist ('checklist'); a unit converts
when it activates within 7 days of signing up. The units are the sample `users` of that window, read inside
the seeding transaction: a control user converts exactly when the sample `events` show an activation within 7
days. The checklist's effect is generated here: a treatment user who did not activate in time converts with
probability TREATMENT_EXTRA (about +5 points overall). Those extra conversions are the experiment's own
records and are not added to `events`: no existing sample table changes. Labelled is_sample,
generated from a seed.
"""

from __future__ import annotations

import logging
from datetime import date

import numpy as np
import pandas as pd

from analytics.compute.experiments.design import DesignInput, sample_size
from analytics.db import Transaction, Workspace, read_sql

log = logging.getLogger(__name__)

EXPERIMENT = "onboarding_checklist"
"""Id of the sample experiment."""
START, END = date(2026, 8, 1), date(2026, 10, 24)
"""First and last assignment day (inclusive); END + 7 days stays inside the sample's history."""
WINDOW_DAYS = 7
"""A unit converts when it activates within this many days of its assignment."""
DESIGN = DesignInput(baseline_rate=0.64, mde=0.04, mde_kind="absolute", power=0.8, alpha=0.05)
"""The plan: 64% activated within 7 days before the test; detect +4 points at 80% power, alpha 0.05."""
TREATMENT_EXTRA = 0.14
"""Chance that a checklist user who would not have activated in time does (0.36 x 0.14 = about +5 points)."""
META_KEY = "sample_experiment_seeded"
"""workspace_meta key set once the sample experiment is written."""


def seed_sample_experiment(tx: Transaction, seed: int = 7) -> int:
    """Write the sample experiment (plan and assignments) inside `tx`, replacing an earlier copy.

    Reads the sample users and their activation events through `tx`, so it runs in the same transaction that
    seeds them. Returns the number of units assigned.
    Raises:
        QueryError: a read or write failed (the transaction rolls back).
    """
    units = tx.frame(read_sql("experiment_sample_units"), {"start": START, "end": END},
                     label="reading the sample experiment's users")
    frame = assignments(units, seed)
    plan = sample_size(DESIGN)
    tx.execute("delete from experiment_assignments where experiment = ?", [EXPERIMENT],
               label="removing the old sample experiment")
    tx.execute("delete from experiments where experiment = ?", [EXPERIMENT], label="removing the old plan")
    tx.execute(
        "insert into experiments values ($experiment, $title, 'activation', $hypothesis, 'control', "
        "'checklist', 0.5, $baseline, $mde, $power, $alpha, $planned, $window, $start, $end, "
        "'finished', true)",
        {"experiment": EXPERIMENT, "title": "Onboarding checklist (sample)",
         "hypothesis": "A guided checklist at sign-up gets more new users to activate within 7 days.",
         "baseline": DESIGN.baseline_rate, "mde": DESIGN.mde_absolute, "power": DESIGN.power,
         "alpha": DESIGN.alpha, "planned": plan.control_units, "window": WINDOW_DAYS, "start": START,
         "end": END},
        label="writing the sample experiment's plan")
    tx.insert_frame("experiment_assignments", frame)
    tx.set_meta(META_KEY, str(len(frame)))
    log.info("seeded sample experiment %s: %d units", EXPERIMENT, len(frame))
    return len(frame)


def assignments(units: pd.DataFrame, seed: int = 7) -> pd.DataFrame:
    """experiment_assignments rows from (user_id, assigned_at, activated_at) units; deterministic in
    `seed`."""
    rng = np.random.default_rng(seed + 14)
    n = len(units)
    assigned = pd.to_datetime(units["assigned_at"]).to_numpy()
    activated = pd.to_datetime(units["activated_at"]).to_numpy()
    window = np.timedelta64(WINDOW_DAYS, "D")
    in_time = ~pd.isna(activated) & (activated <= assigned + window)
    treated = rng.random(n) < 0.5
    extra = treated & ~in_time & (rng.random(n) < TREATMENT_EXTRA)
    delay_s = rng.integers(3600, WINDOW_DAYS * 86400, n).astype("timedelta64[s]")
    converted_at = np.where(in_time, activated, np.where(extra, assigned + delay_s, np.datetime64("NaT")))
    return pd.DataFrame({
        "experiment": EXPERIMENT,
        "user_id": units["user_id"].astype(np.int32).to_numpy(),
        "variant": np.where(treated, "checklist", "control"),
        "assigned_at": assigned,
        "converted": (in_time | extra).astype(np.int32),
        "converted_at": pd.to_datetime(converted_at),
        "is_sample": True,
    })


def ensure_sample_experiment(ws: Workspace) -> bool:
    """Seed the sample experiment into a workspace that has the sample data but not yet the experiment
    (workspaces created before migration 011). True when it wrote it."""
    if ws.meta("demo_seeded") is None or ws.meta(META_KEY) is not None:
        return False
    with ws.transaction() as tx:
        seed_sample_experiment(tx)
    return True
