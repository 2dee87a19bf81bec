"""Churn models on the sample workspace: ROC-AUC and PR-AUC with 95% intervals, Brier score and training wall
time of logistic regression, gradient boosting and the MLP, against the base-rate predictor, same run.

    python bench/churn_models.py                       # the 1M-event sample workspace, 90-day horizon
    python bench/churn_models.py --events 200000 --horizon 60 --models logreg,gbm

Builds (or reuses) the sample workspace in --cache (default /tmp/stratlab-bench-churn-models/, copied from
bench/out/ when bench/analytics.py already built one of that size), writes the feature folder the Churn page
would write (analytics.compute.churn.features.new_feature_folder at the default cut-off: the data's last day
minus the horizon), trains with models.training.churn.train.train_churn, then ingests the runs into the
workspace copy and reads the expected churn back (analytics.compute.churn.results.expected_churn), as the
Churn and Business case pages do.

The base-rate predictor (every account scored at the training churn rate) has ROC-AUC 0.5 and Brier
p(1 - p) on the same test accounts: a model is useful when its interval clears 0.5 and its Brier is below.
Last line: roc_auc_<model>=<x> ... brier_ratio_<model>=<model Brier / base-rate Brier> train_s_<model>=<s>.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analytics.compute.churn.features import ChurnRequest, churn_span, new_feature_folder  # noqa: E402
from analytics.db import Workspace  # noqa: E402
from models.training.churn.config import ChurnConfig  # noqa: E402
from models.training.churn.train import train_churn  # noqa: E402

CACHE = Path("/tmp/stratlab-bench-churn-models")


def workspace(events: int, cache: Path) -> Workspace:
    """A private copy of the sample workspace of `events` events (built once, or copied from bench/out/)."""
    cache.mkdir(parents=True, exist_ok=True)
    built = cache / f"sample_{events}.duckdb"
    if not built.exists():
        prebuilt = ROOT / "bench" / "out" / f"workspace_{events}.duckdb"
        if prebuilt.exists():
            shutil.copy(prebuilt, built)
        else:
            print(f"building a {events:,}-event sample workspace (minutes for 10M)...", flush=True)
        Workspace.open(built, demo_events=events).close()
    copy = cache / f"run_{events}.duckdb"
    shutil.copy(built, copy)
    return Workspace.open(copy)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--horizon", type=int, default=90, help="label horizon in days (default 90)")
    parser.add_argument("--models", default="logreg,gbm,mlp")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args()
    ws = workspace(args.events, args.cache)
    span = churn_span(ws)
    request = ChurnRequest(cutoff=span.default_cutoff(args.horizon), horizon_days=args.horizon)
    for old in ("features", "runs"):
        shutil.rmtree(args.cache / old, ignore_errors=True)
    started = time.monotonic()
    folder = new_feature_folder(ws, request, root=args.cache / "features")
    features_s = time.monotonic() - started
    config = ChurnConfig(features_dir=str(folder), runs_dir=str(args.cache / "runs"), models=args.models,
                         seed=args.seed)
    started = time.monotonic()
    results = train_churn(config)
    total_s = time.monotonic() - started
    first = results[0].metrics
    base = first["base_rate_train"]
    base_brier = sum((base - y) ** 2 for y in _test_labels(results[0].run_dir)) / first["n_test"]
    print(f"sample workspace {args.events:,} events; cut-off {request.cutoff}, horizon {args.horizon} days; "
          f"{first['n_accounts']:,} accounts ({first['n_train']:,} train / {first['n_test']:,} test, "
          f"{first['positives_test']} churned in test, base rate {first['base_rate']:.3f}); "
          f"{first['n_score']:,} accounts scored; features built in {features_s:.2f} s")
    print(f"{'model':<14} {'ROC-AUC [95% CI]':<24} {'PR-AUC [95% CI]':<24} {'Brier':>7} {'acc@0.5':>8} "
          f"{'train s':>8}  top feature")
    print(f"{'base rate':<14} {'0.500':<24} {first['base_rate']:<24.3f} {base_brier:>7.4f} "
          f"{max(first['base_rate'], 1 - first['base_rate']):>8.3f} {0:>8.2f}  -")
    tail = []
    for r in results:
        m, name = r.metrics, r.method.removeprefix("churn_")
        if r.state != "succeeded":
            print(f"{name:<14} {r.state}: {r.extra.get('error')}")
            continue
        auc = f"{m['roc_auc']:.3f} [{m['roc_auc_ci_low']:.3f}, {m['roc_auc_ci_high']:.3f}]"
        pr = f"{m['pr_auc']:.3f} [{m['pr_auc_ci_low']:.3f}, {m['pr_auc_ci_high']:.3f}]"
        print(f"{name:<14} {auc:<24} {pr:<24} {m['brier']:>7.4f} {m['accuracy']:>8.3f} "
              f"{r.train_seconds:>8.2f}  {m['importance'][0]['feature']}")
        tail += [f"roc_auc_{name}={m['roc_auc']:.3f}", f"brier_ratio_{name}={m['brier'] / base_brier:.3f}",
                 f"train_s_{name}={r.train_seconds:.2f}"]
    print(f"all models with evaluation: {total_s:.1f} s")
    _ingest_and_read_back(ws, args.cache / "runs")
    ws.close()
    print(" ".join(tail))
    return 0 if all(r.state == "succeeded" for r in results) else 1


def _test_labels(run_dir: Path) -> list[int]:
    import pandas as pd

    frame = pd.read_parquet(run_dir / "predictions.parquet")
    return [1 if label == "churned" else 0 for label in frame["true_label"]]


def _ingest_and_read_back(ws: Workspace, runs_dir: Path) -> None:
    from analytics.compute.churn.results import expected_churn
    from analytics.ingest.runs import ingest_all

    ingested = ingest_all(ws, runs_dir)
    expected = expected_churn(ws)
    if expected is None:
        print(f"ingested {len(ingested)} runs; no expected churn read back")
        return
    print(f"ingested {len(ingested)} runs; expected churn from {expected.model} ({expected.run_id}): "
          f"{expected.monthly_churn_rate:.2%} of {expected.accounts:,} accounts a month, MRR at risk "
          f"${expected.mrr_at_risk_usd:,.0f} of ${expected.scored_mrr_usd:,.0f} over {expected.horizon_days} "
          "days")


if __name__ == "__main__":
    sys.exit(main())
