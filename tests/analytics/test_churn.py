"""Churn features on a tiny hand-made workspace: exact rows, no leakage past the cut-off, refusals, the
feature folder.

The workspace (2025): plans free / starter / pro; cut-off 2025-06-30 (seen through its end, so features read
events before 2025-07-01), horizon 30 days (label: a cancel from 2025-07-01 to 2025-07-30). Windows: the last
4 weeks start 2025-06-03, the last 12 weeks 2025-04-08, MRR looks at invoices from 2025-05-31.

- account 1: signed up 2025-01-10, starts paid on starter (no upgrade event: the first invoice says the
  plan), users 1 and 2 (user 3 joins after the cut-off), sessions 04-20 (12 weeks only), 06-20 and 06-25,
  invoices of $38 on 02-10 and 06-15, cancels 07-15: label 1. After the cut-off: a session, an invoice.
- account 2: signed up 03-01 on free, upgrade to pro 05-01 (invoice $49), downgrade to starter 06-10
  (invoice $19), one session 06-29 23:30 by user 4; an upgrade after the cut-off must not change its plan.
- account 3: cancelled 05-15, before the cut-off: not eligible.
- account 4: signed up on the cut-off day, no users or events before it: plan free (the lowest tier);
  cancels 07-31 00:00, one day after the horizon: label 0.
- account 5: signs up 07-02, after the cut-off: not in the train set, scored on the last day (07-31).
"""

from __future__ import annotations

import json
import math
from datetime import date

import pandas as pd
import pytest

from analytics.compute.churn import features as churn
from analytics.compute.churn.features import ChurnInputError, ChurnRequest
from analytics.db import Workspace

CUTOFF = date(2025, 6, 30)
REQUEST = ChurnRequest(cutoff=CUTOFF, horizon_days=30)
PLANS = [("free", 0.0, 0), ("starter", 19.0, 1), ("pro", 49.0, 2)]
ACCOUNTS = [(1, "2025-01-10"), (2, "2025-03-01"), (3, "2025-02-01"), (4, "2025-06-30"), (5, "2025-07-02")]
USERS = [(1, 1, "2025-01-10 09:00"), (2, 1, "2025-03-01 09:00"), (3, 1, "2025-07-05 09:00"),
         (4, 2, "2025-03-01 10:00"), (5, 3, "2025-02-01 10:00"), (6, 5, "2025-07-02 10:00")]
EVENTS = [  # event_time, user_id, account_id, event_type, plan, amount_usd
    ("2025-01-10 09:00", 1, 1, "signup", None, None),
    ("2025-03-01 09:00", 2, 1, "signup", None, None),
    ("2025-02-10 10:00", None, 1, "invoice", "starter", 38.0),
    ("2025-04-20 10:00", 2, 1, "session", None, None),
    ("2025-06-15 10:00", None, 1, "invoice", "starter", 38.0),
    ("2025-06-20 10:00", 1, 1, "session", None, None),
    ("2025-06-25 10:00", 1, 1, "session", None, None),
    ("2025-07-01 10:00", 1, 1, "session", None, None),          # after the cut-off
    ("2025-07-05 09:00", 3, 1, "signup", None, None),           # after the cut-off
    ("2025-07-10 10:00", None, 1, "invoice", "starter", 57.0),  # after the cut-off
    ("2025-07-15 00:00", None, 1, "cancel", "starter", None),   # inside the horizon: label 1
    ("2025-03-01 10:00", 4, 2, "signup", None, None),
    ("2025-05-01 09:00", None, 2, "upgrade", "pro", None),
    ("2025-05-01 10:00", None, 2, "invoice", "pro", 49.0),
    ("2025-06-10 09:00", None, 2, "downgrade", "starter", None),
    ("2025-06-10 10:00", None, 2, "invoice", "starter", 19.0),
    ("2025-06-29 23:30", 4, 2, "session", None, None),
    ("2025-07-20 09:00", None, 2, "upgrade", "pro", None),     # after the cut-off
    ("2025-02-01 10:00", 5, 3, "signup", None, None),
    ("2025-02-01 11:00", None, 3, "invoice", "starter", 19.0),
    ("2025-05-15 00:00", None, 3, "cancel", "starter", None),  # before the cut-off: not eligible
    ("2025-07-31 00:00", None, 4, "cancel", None, None),       # one day past the horizon: label 0
    ("2025-07-02 10:00", 6, 5, "signup", None, None),
    ("2025-07-03 10:00", 6, 5, "session", None, None),
]
FEATURES = ["plan_free", "plan_starter", "plan_pro", "plan_tier", "tenure_days", "seats", "sessions_4w",
            "sessions_12w", "sessions_trend", "active_users_4w", "active_users_12w", "active_users_share_4w",
            "days_since_last_session", "invoices", "invoiced_usd", "current_mrr_usd", "upgrades",
            "downgrades"]
TRAIN_ROWS = [
    # account, label, free, starter, pro, tier, tenure, seats, s4w, s12w, trend, u4w, u12w, share, since,
    # invoices, invoiced, mrr, upgrades, downgrades
    (1, 1, 0, 1, 0, 1, 171, 2, 2, 3, 0.25, 1, 2, 0.5, 5 + 14 / 24, 2, 76, 38, 0, 0),
    (2, 0, 0, 1, 0, 1, 121, 1, 1, 1, 0.25 - 1 / 12, 1, 1, 1.0, 1 + 0.5 / 24, 2, 68, 19, 1, 1),
    (4, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0.0, 0, 0, 0.0, 1.0, 0, 0, 0, 0, 0),
]


def seed(ws, events=EVENTS, users=USERS) -> None:
    with ws.transaction() as tx:
        for row in PLANS:
            tx.execute("insert into plans values (?, ?, ?)", list(row))
        for account_id, signup in ACCOUNTS:
            tx.execute("insert into accounts values (?, ?, 'Europe', 'SaaS', 'SMB', ?, false)",
                       [account_id, f"Co {account_id}", signup])
        for row in users:
            tx.execute("insert into users values (?, ?, ?)", list(row))
        for i, (t, u, a, kind, plan, amount) in enumerate(sorted(events, key=lambda e: e[0]), start=1):
            tx.execute("insert into events values (?, ?, ?, ?, ?, ?, ?)", [i, t, u, a, kind, plan, amount])


@pytest.fixture
def tiny(empty_ws):
    """A private tiny workspace, for tests that change it."""
    seed(empty_ws)
    return empty_ws


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One tiny workspace shared by the tests that only read it."""
    ws = Workspace.open(tmp_path_factory.mktemp("churn") / "tiny.duckdb", seed_demo=False)
    seed(ws)
    yield ws
    ws.close()


def rows(frame: pd.DataFrame) -> list[tuple]:
    return [tuple(round(v, 9) if isinstance(v, float) else v for v in r)
            for r in frame.astype(object).itertuples(index=False)]


def expected(rows_: list[tuple]) -> list[tuple]:
    return [tuple(round(float(v), 9) if i > 1 else v for i, v in enumerate(r)) for r in rows_]


# -- the query and the encoded frames ----------------------------------------------------------------------
def test_feature_query_rows(shared):
    frame = churn.feature_frame(shared, CUTOFF, 30)
    assert list(frame.columns) == ["account_id", "label", "plan", *FEATURES[3:]]
    assert frame["plan"].tolist() == ["starter", "starter", "free"]
    assert rows(frame.drop(columns=["plan"])) == [
        tuple(round(float(v), 9) if i > 1 else v for i, v in enumerate(r[:2] + r[5:])) for r in TRAIN_ROWS]


def test_build_features_train_and_score_sets(shared):
    built = churn.build_features(shared, REQUEST)
    assert built.feature_names == tuple(FEATURES)
    assert list(built.train.columns) == ["account_id", "label", *FEATURES]
    assert rows(built.train) == expected(TRAIN_ROWS)
    assert str(built.train["account_id"].dtype) == "int64" and str(built.train["label"].dtype) == "int8"
    assert all(str(built.train[c].dtype) == "float64" for c in FEATURES)
    assert built.positives == 1
    # scored on the data's last day (07-31): account 2 and the newcomer 5; 1 and 4 have cancelled by then
    assert built.score_cutoff == date(2025, 7, 31)
    assert list(built.score.columns) == ["account_id", *FEATURES, "mrr_usd"]
    assert built.score["account_id"].tolist() == [2, 5]
    score = built.score.set_index("account_id")
    assert score.loc[2, "plan_pro"] == 1.0 and score.loc[2, "upgrades"] == 2.0  # the 07-20 upgrade counts now
    assert score.loc[2, "mrr_usd"] == 0.0  # its last invoice (06-10) is more than 31 days old on 07-31
    # its 07-03 session is in the 12 weeks, not the 4 weeks (07-04 to 07-31) ending on the score day
    assert score.loc[5, ["sessions_4w", "sessions_12w", "tenure_days"]].tolist() == [0, 1, 29]
    assert set(built.feature_descriptions) == set(FEATURES)


def test_label_window_edges(shared):
    # a 14-day horizon ends 07-14: account 1's 07-15 cancel is outside it (and the window fits the data)
    short = churn.feature_frame(shared, CUTOFF, 14)
    assert short["label"].tolist() == [0, 0, 0]
    # 31 days reach 07-31 00:00: account 4's cancel is inside
    assert churn.feature_frame(shared, CUTOFF, 31)["label"].tolist() == [1, 0, 1]


# -- leakage -----------------------------------------------------------------------------------------------
def _features_only(ws, cutoff=CUTOFF, horizon=30) -> pd.DataFrame:
    return churn.feature_frame(ws, cutoff, horizon).drop(columns=["label"])


def test_nothing_after_the_cutoff_leaks(tiny, tmp_path):
    before = _features_only(tiny)
    seen = [e for e in EVENTS if e[0] < "2025-07-01"]
    changed = [(t, u, a, {"session": "cancel", "invoice": "downgrade"}.get(k, "session"), "pro", 999.0)
               for t, u, a, k, _, _ in EVENTS if t >= "2025-07-01"]
    with tiny.transaction() as tx:  # every later event changed: types, plans, amounts; later users gone
        tx.execute("delete from events where event_time >= '2025-07-01'")
        tx.execute("delete from users where signup_at >= '2025-07-01'")
        for i, (t, u, a, kind, plan, amount) in enumerate(changed, start=100):
            tx.execute("insert into events values (?, ?, ?, ?, ?, ?, ?)", [i, t, u, a, kind, plan, amount])
    pd.testing.assert_frame_equal(_features_only(tiny), before)
    other = Workspace.open(tmp_path / "seen.duckdb", seed_demo=False)  # and with no later event at all
    try:
        seed(other, events=seen, users=[u for u in USERS if u[2] < "2025-07-01"])
        pd.testing.assert_frame_equal(_features_only(other), before)
    finally:
        other.close()


def test_nothing_after_the_cutoff_leaks_on_sample_data(ws):
    span = churn.churn_span(ws)
    cutoff = span.default_cutoff(90)
    before = _features_only(ws, cutoff, 90)
    assert len(before) > 20 and before["sessions_4w"].sum() > 0
    with ws.transaction() as tx:
        tx.execute("update events set event_type = 'cancel', amount_usd = 1e6, plan = 'enterprise' "
                   "where event_time >= ?::date + 1 and event_id % 2 = 0", [cutoff])
        tx.execute("delete from events where event_time >= ?::date + 1 and event_id % 2 = 1", [cutoff])
        tx.execute("delete from users where signup_at >= ?::date + 1", [cutoff])
    pd.testing.assert_frame_equal(_features_only(ws, cutoff, 90), before)


# -- refusals ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("request_", "message"), [
    (ChurnRequest(date(2025, 7, 31), 30), "leaves no later data"),
    (ChurnRequest(date(2025, 8, 15), 30), "leaves no later data"),
    (ChurnRequest(date(2025, 7, 10), 30), "past the data's last day 2025-07-31"),
    (ChurnRequest(date(2024, 12, 1), 30), "no account exists on cut-off 2024-12-01"),
    (ChurnRequest(date(2025, 6, 30), 14), "no eligible account cancelled within 14 days"),
])
def test_refusals(shared, request_, message):
    with pytest.raises(ChurnInputError, match=message):
        churn.build_features(shared, request_)


def test_refusal_says_the_latest_usable_cutoff(shared):
    with pytest.raises(ChurnInputError, match="on or before 2025-07-01"):
        churn.build_features(shared, ChurnRequest(date(2025, 7, 10), 30))


def test_empty_workspace_is_refused(empty_ws):
    with pytest.raises(ChurnInputError, match="no accounts or events"):
        churn.build_features(empty_ws, REQUEST)


@pytest.mark.parametrize("horizon", [0, -5, 366, 30.0, True])
def test_request_checks_the_horizon(horizon):
    with pytest.raises(ChurnInputError, match="horizon_days"):
        ChurnRequest(CUTOFF, horizon)


def test_request_needs_a_date():
    with pytest.raises(ChurnInputError, match="cutoff must be a date"):
        ChurnRequest("2025-06-30", 30)  # type: ignore[arg-type]


def test_span_and_default_cutoff(shared):
    span = churn.churn_span(shared)
    assert (span.first_signup, span.last_day, span.accounts) == (date(2025, 1, 10), date(2025, 7, 31), 5)
    assert span.default_cutoff(30) == date(2025, 7, 1)


# -- the feature folder ------------------------------------------------------------------------------------
def test_feature_folder_follows_the_contract(shared, tmp_path):
    folder = churn.new_feature_folder(shared, REQUEST, tmp_path / "churn")
    assert folder.parent == tmp_path / "churn" and folder.name.startswith("workspace_churn_2025-06-30_30d-")
    assert sorted(p.name for p in folder.iterdir()) == ["features.json", "score.parquet", "train.parquet"]
    assert [p.name for p in (tmp_path / "churn").iterdir()] == [folder.name]  # no temporary folder left
    meta = json.loads((folder / "features.json").read_text(encoding="utf-8"))
    assert {k: meta[k] for k in ("cutoff", "horizon_days", "score_cutoff", "n_train", "positives", "n_score",
                                 "dataset", "source")} == {
        "cutoff": "2025-06-30", "horizon_days": 30, "score_cutoff": "2025-07-31", "n_train": 3,
        "positives": 1, "n_score": 2, "dataset": "workspace_churn_2025-06-30_30d",
        "source": "DuckDB SQL analytics/sql/churn_features.sql"}
    assert meta["feature_names"] == FEATURES and set(meta["feature_descriptions"]) == set(FEATURES)
    assert len(meta["sql_sha256"]) == 64 and meta["workspace"] == str(shared.path)
    train = pd.read_parquet(folder / "train.parquet")
    assert rows(train) == expected(TRAIN_ROWS)
    assert str(train["label"].dtype) == "int8"
    score = pd.read_parquet(folder / "score.parquet")
    assert list(score.columns) == ["account_id", *FEATURES, "mrr_usd"] and len(score) == 2


def test_feature_folder_is_never_overwritten(shared, tmp_path):
    built = churn.build_features(shared, REQUEST)
    target = churn.write_feature_folder(built, tmp_path / "set", shared.path)
    with pytest.raises(ChurnInputError, match="never overwritten"):
        churn.write_feature_folder(built, target, shared.path)


def test_a_refused_request_writes_nothing(shared, tmp_path):
    with pytest.raises(ChurnInputError):
        churn.new_feature_folder(shared, ChurnRequest(date(2025, 7, 31), 30), tmp_path / "churn")
    assert not (tmp_path / "churn").exists()


def test_unknown_plans_encode_as_zeros_and_names_are_safe(tiny):
    with tiny.transaction() as tx:
        tx.execute("insert into plans values ('Team Plus!', 29.0, 5)")
    assert churn.plan_columns(tiny)["Team Plus!"] == "plan_team_plus"
    frame = pd.DataFrame({"account_id": [1], "label": [0], "plan": ["legacy"], "seats": [2.0]})
    encoded = churn.encode(frame, {"free": "plan_free"})
    assert list(encoded.columns) == ["account_id", "label", "plan_free", "seats"]
    assert encoded["plan_free"].tolist() == [0.0] and not math.isnan(encoded["seats"].iloc[0])
