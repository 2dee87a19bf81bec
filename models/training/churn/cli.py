"""`python -m models train-churn`: the churn models on one feature folder (models/cli.py registers it).

    python -m models train-churn --features data/jobs/<id>/churn-input
    python -m models train-churn --features <dir> --runs-dir data/runs --models logreg,gbm

Prints one line per model (ROC-AUC and PR-AUC with 95% intervals, Brier, training seconds, run folder).
A refusal (missing or invalid feature folder, one class, too few churned accounts, non-numeric columns, bad
flag) prints one `error: ...` line and exits 2; a model that failed while training exits 1.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from models.training.churn.config import CHURN_MODELS

EPILOG = """\
examples:
  python -m models train-churn --features data/jobs/<id>/churn-input            # logreg, gbm and mlp
  python -m models train-churn --features <dir> --models logreg,gbm --runs-dir /tmp/runs
  python -m models train-churn --features <dir> --models mlp --epochs 100 --device cuda

The feature folder is what the Churn page (analytics.compute.churn) writes: train.parquet, score.parquet and
features.json. One run folder per model, '<time>-churn-<model>', which the app ingests like any run.
"""


def add_parsers(sub: Any) -> None:
    """Register `train-churn` on `sub` (argparse subparsers)."""
    p = sub.add_parser("train-churn", help="train churn models (logreg, gbm, mlp) on a churn feature folder",
                       description="Fit logistic regression, gradient boosting and a small torch MLP on a "
                                   "churn feature folder (a seeded stratified 75/25 split by account) and "
                                   "write one run folder per model: ROC-AUC and PR-AUC with bootstrap "
                                   "intervals, calibration, permutation importance, and the score of every "
                                   "active account.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--features", required=True, metavar="DIR",
                   help="feature folder (train.parquet, score.parquet, features.json)")
    p.add_argument("--runs-dir", help="where the run folders go (default: STRATLAB_RUNS_DIR)")
    p.add_argument("--models", default=",".join(CHURN_MODELS),
                   help=f"comma-separated, in order (default {','.join(CHURN_MODELS)})")
    p.add_argument("--run-prefix", help="run folders are <prefix>-<model> (default: <UTC time>-churn)")
    p.add_argument("--seed", type=int, default=42, help="seed of the split, the MLP and the intervals")
    p.add_argument("--test-share", type=float, default=0.25, help="held-out share of accounts (0.25)")
    p.add_argument("--epochs", type=int, default=60, help="MLP: most epochs (early stopping may end sooner)")
    p.add_argument("--device", default="cpu", choices=("cpu", "auto", "cuda"), help="MLP device (cpu)")
    p.add_argument("--num-threads", type=int,
                   help="CPU threads for torch and scikit-learn (default 1: fastest for models this small)")
    p.add_argument("--n-bootstrap", type=int, default=1000, help="bootstrap resamples of the intervals")


def cmd_train_churn(args: argparse.Namespace) -> int:
    """`train-churn`: build the config, train every model, print one summary line per model."""
    from models.training.churn.config import ChurnConfig
    from models.training.churn.train import train_churn

    config = ChurnConfig(features_dir=args.features, runs_dir=args.runs_dir or "", models=args.models,
                         run_prefix=args.run_prefix or "", seed=args.seed, test_share=args.test_share,
                         epochs=args.epochs, device=args.device, num_threads=args.num_threads,
                         n_bootstrap=args.n_bootstrap)
    results = train_churn(config)
    for result in results:
        print(summary_line(result.method, result.state, result.metrics, result.train_seconds,  # noqa: T201
                           str(result.run_dir), result.extra.get("error")))
    return 0 if all(r.state == "succeeded" for r in results) else 1


def summary_line(method: str, state: str, metrics: dict[str, Any], train_seconds: float, run_dir: str,
                 error: str | None = None) -> str:
    """'churn_gbm  ROC-AUC 0.812 [0.771, 0.850]  PR-AUC ...  Brier 0.121  trained 0.41 s  <run dir>'."""
    if state != "succeeded":
        return f"{method:<13} {state}: {error or 'see its status.json'}  {run_dir}"
    m = metrics
    return (f"{method:<13} ROC-AUC {m['roc_auc']:.3f} [{m['roc_auc_ci_low']:.3f}, {m['roc_auc_ci_high']:.3f}]"
            f"  PR-AUC {m['pr_auc']:.3f} [{m['pr_auc_ci_low']:.3f}, {m['pr_auc_ci_high']:.3f}]"
            f"  Brier {m['brier']:.4f}  accuracy {m['accuracy']:.3f}  trained {train_seconds:.2f} s"
            f"  n_test {m['n_test']} ({m['positives_test']} churned)  {run_dir}")


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"train-churn": cmd_train_churn}
"""Subcommand name -> handler returning the exit status."""
