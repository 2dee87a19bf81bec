"""`train_churn(config)`: every model of a churn config fitted on one feature folder, one run folder each.

    from models.training.churn.config import ChurnConfig
    from models.training.churn.train import train_churn
    for result in train_churn(ChurnConfig(features_dir="data/jobs/<id>/churn-input")):
        print(result.method, result.metrics["roc_auc"], result.run_dir)

The feature folder is read and checked first (models.training.churn.data): a refusal writes nothing. Then
each model gets `<runs_dir>/<run_prefix>-<model>/`:
    config.json         ChurnConfig resolved + method churn_<model>, model, dataset, task "tabular"
    environment.json    hardware, library versions, threads
    events.jsonl        train_start, (MLP: start, a step and an epoch event per epoch), trained, evaluated
    model/              pipeline.joblib (baselines) or model.safetensors + tabular.json (MLP)
    eval.json           models.training.churn.evaluate + importance, counts, the feature folder's provenance
    predictions.parquet the test accounts, the columns every classifier run writes (stayed / churned)
    scores.parquet      every account of score.parquet: account_id, score (P(churn)), mrr_usd
    status.json         written last
A model that fails gets status.json 'failed' with its error; the others still train.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.core.runs import (
    RunResult,
    RunWriter,
    atomic_path,
    cpu_environment_info,
    read_json,
    run_status,
    write_json_atomic,
)
from models.errors import RunFolderError
from models.training.churn.config import CHURN_METHODS, ChurnConfig
from models.training.churn.data import LABEL_NAMES, ChurnData, ChurnSplit, read_feature_folder, split_accounts
from models.training.churn.evaluate import churn_metrics, importance_table

log = logging.getLogger(__name__)

SCORES_FILE = "scores.parquet"
PROVENANCE_KEYS = ("cutoff", "horizon_days", "score_cutoff", "dataset", "sql_sha256", "source", "workspace",
                   "created_at")
"""features.json keys copied into every eval.json."""

Predict = Callable[[np.ndarray], np.ndarray]


def run_ids(config: ChurnConfig, now: datetime | None = None) -> dict[str, str]:
    """Run folder name of each model: '<run_prefix>-<model>' ('<UTC time>-churn-<model>' without one)."""
    prefix = config.run_prefix or f"{(now or datetime.now(timezone.utc)):%Y%m%d-%H%M%S}-churn"
    return {model: f"{prefix}-{model}" for model in config.models}


def train_churn(config: ChurnConfig, *, resume: bool = False) -> list[RunResult]:
    """Fit config.models in order and write their run folders; a RunResult each (state 'failed' for one that
    failed, its error in extra['error']).

    resume: a run folder that already succeeded is kept (its result read back); an unfinished or failed
    one is replaced. Raises FeatureFolderError (nothing written), ConfigError, or RunFolderError when a run
    folder exists and resume is False.
    """
    data = read_feature_folder(config.features_dir, config)
    split = split_accounts(data, config)
    ids = run_ids(config)
    log.info("churn: %d accounts (%d churned), %d test, %d to score; models %s", len(data.y), data.positives,
             len(split.test), len(data.score_ids), ", ".join(config.models))
    with _thread_limit(config):
        return [_train_one(model, config, data, split, config.resolved_runs_dir / ids[model], resume)
                for model in config.models]


@contextmanager
def _thread_limit(config: ChurnConfig) -> Iterator[None]:
    """config.num_threads (one when None) for scikit-learn's OpenMP / BLAS pools, fitting and evaluating
    alike (the MLP sets torch's own: mlp.train_mlp)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=config.num_threads or 1):
        yield


def _open_run(config: ChurnConfig, model: str, data: ChurnData, run_dir: Path, resume: bool) -> RunWriter:
    """Create run_dir with config.json and environment.json (replacing an unfinished one when resuming)."""
    if run_dir.exists():
        if not resume:
            raise RunFolderError(f"run folder {run_dir} already exists; choose another run prefix or resume")
        shutil.rmtree(run_dir)
    try:
        run_dir.mkdir(parents=True)
    except OSError as e:
        raise RunFolderError(f"cannot create run folder {run_dir}: {e.strerror}") from e
    resolved = {**config.to_dict(), "features_dir": str(Path(config.features_dir).resolve()),
                "runs_dir": str(run_dir.parent.resolve()), "run_prefix": run_dir.name.rsplit("-", 1)[0],
                "method": CHURN_METHODS[model], "model": config.model_name(model), "churn_model": model,
                "dataset": str(data.meta["dataset"]), "task": "tabular"}
    write_json_atomic(run_dir / "config.json", resolved)
    write_json_atomic(run_dir / "environment.json", _environment(model, config))
    return RunWriter(run_dir)


def _environment(model: str, config: ChurnConfig) -> dict[str, Any]:
    """Library versions from package metadata (models.core.runs.cpu_environment_info: importing
    transformers and peft for their versions would cost seconds); the MLP adds torch's threads and GPU."""
    info = {**cpu_environment_info(), "num_threads": config.num_threads or 1}
    if model == "mlp":
        import torch

        info["cuda_available"] = torch.cuda.is_available()
        if config.device != "cpu" and torch.cuda.is_available():
            info.update(gpu_name=torch.cuda.get_device_name(0), hardware=torch.cuda.get_device_name(0))
    return info


def _finished_result(run_dir: Path, model: str, config: ChurnConfig) -> RunResult | None:
    status = run_status(run_dir) if (run_dir / "config.json").is_file() else None
    if not status or status.get("state") != "succeeded":
        return None
    log.info("churn %s: run %s already succeeded; kept", model, run_dir.name)
    return RunResult(run_dir=run_dir, method=CHURN_METHODS[model], model=config.model_name(model),
                     metrics=read_json(run_dir / "eval.json"),
                     train_seconds=float(status.get("train_seconds", 0)))


def _train_one(model: str, config: ChurnConfig, data: ChurnData, split: ChurnSplit, run_dir: Path,
               resume: bool) -> RunResult:
    if resume and (kept := _finished_result(run_dir, model, config)) is not None:
        return kept
    writer = _open_run(config, model, data, run_dir, resume)
    try:
        return _fit_and_evaluate(model, config, data, split, writer)
    except KeyboardInterrupt:
        writer.finish("cancelled", error="interrupted")
        raise
    except Exception as e:  # noqa: BLE001 - recorded in status.json; the next model still trains
        log.exception("churn %s: run %s failed", model, run_dir.name)
        error = f"{type(e).__name__}: {e}"
        writer.finish("failed", error=error)
        return RunResult(run_dir=run_dir, method=CHURN_METHODS[model], model=config.model_name(model),
                         metrics={}, train_seconds=0.0, state="failed", extra={"error": error})


def _fit(model: str, config: ChurnConfig, data: ChurnData, split: ChurnSplit,
         writer: RunWriter) -> tuple[Predict, Any, dict[str, Any]]:
    """Fit `model` on the training part; (P(churn) function, estimator for permutation importance, extra)."""
    x, y = data.x[split.train], data.y[split.train]
    model_dir = writer.run_dir / "model"
    if model == "mlp":
        from models.modeling.tabular import ProbabilityEstimator, TabularSpec, mlp_probabilities, save_tabular
        from models.training.churn.mlp import train_mlp

        mlp = train_mlp(config, x, y, writer)
        save_tabular(mlp.model, TabularSpec(data.feature_names, config.hidden_sizes, config.dropout,
                                            mlp.standardiser), model_dir)

        def predict(rows: np.ndarray) -> np.ndarray:
            return mlp_probabilities(mlp.model, mlp.standardiser, rows, mlp.device)

        extra = {"device": mlp.device, "mixed_precision": mlp.mixed_precision, "steps": mlp.steps,
                 "epochs_run": len(mlp.history), "best_epoch": mlp.best_epoch,
                 "stopped_early": mlp.stopped_early, "samples_per_s": round(mlp.samples_per_s, 1),
                 "n_validation": mlp.n_validation, "loop_seconds": round(mlp.train_seconds, 3)}
        return predict, ProbabilityEstimator(predict), extra
    from models.training.churn.baselines import churn_probabilities, fit_baseline, save_baseline

    estimator = fit_baseline(model, config, x, y)
    save_baseline(estimator, model_dir)
    return (lambda rows: churn_probabilities(estimator, rows)), estimator, {"device": "cpu"}


def _fit_and_evaluate(model: str, config: ChurnConfig, data: ChurnData, split: ChurnSplit,
                      writer: RunWriter) -> RunResult:
    method = CHURN_METHODS[model]
    writer.event(stage="train_start", method=method, n_train=len(split.train))
    started = time.monotonic()
    predict, estimator, extra = _fit(model, config, data, split, writer)
    train_seconds = time.monotonic() - started
    writer.event(stage="trained", train_seconds=round(train_seconds, 3))
    x_test, y_test = data.x[split.test], data.y[split.test]
    p_test = predict(x_test)
    metrics = {**churn_metrics(y_test, p_test, config),
               "importance": importance_table(estimator, x_test, y_test, data.feature_names, config),
               **_counts(data, split), "method": method, "model": config.model_name(model),
               "label_names": list(LABEL_NAMES), "feature_names": list(data.feature_names),
               "features_sha256": data.features_sha256,
               **{k: data.meta[k] for k in PROVENANCE_KEYS if k in data.meta}}
    writer.write_json("eval.json", metrics)
    writer.write_predictions(_predictions(data.account_ids[split.test], y_test, p_test))
    _write_scores(writer.run_dir, data, predict(data.score_x) if len(data.score_ids) else np.zeros(0))
    writer.event(stage="evaluated", split="test", n=len(y_test), accuracy=metrics["accuracy"],
                 roc_auc=metrics["roc_auc"], pr_auc=metrics["pr_auc"])
    writer.finish("succeeded", train_seconds=round(train_seconds, 3), accuracy=metrics["accuracy"],
                  roc_auc=metrics["roc_auc"], **extra)
    log.info("churn %s: ROC-AUC %.3f [%.3f, %.3f] in %.2f s (%s)", model, metrics["roc_auc"],
             metrics["roc_auc_ci_low"], metrics["roc_auc_ci_high"], train_seconds, writer.run_dir.name)
    return RunResult(run_dir=writer.run_dir, method=method, model=config.model_name(model), metrics=metrics,
                     train_seconds=train_seconds, extra=extra)


def _counts(data: ChurnData, split: ChurnSplit) -> dict[str, Any]:
    y_train = data.y[split.train]
    return {"n_train": len(split.train), "positives_train": int(y_train.sum()),
            "base_rate_train": float(y_train.mean()), "n_accounts": len(data.y),
            "n_score": len(data.score_ids)}


def _predictions(account_ids: np.ndarray, y: np.ndarray, p: np.ndarray) -> pd.DataFrame:
    from models.core.evaluate import predictions_frame

    probs = np.column_stack([1.0 - p, p])
    return predictions_frame([str(int(i)) for i in account_ids], y, probs, LABEL_NAMES)


def _write_scores(run_dir: Path, data: ChurnData, scores: np.ndarray) -> None:
    frame = pd.DataFrame({"account_id": data.score_ids.astype(np.int64), "score": scores.astype(np.float64),
                          "mrr_usd": data.score_mrr_usd.astype(np.float64)})
    with atomic_path(run_dir / SCORES_FILE) as tmp:
        frame.to_parquet(tmp, index=False)
