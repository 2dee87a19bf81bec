"""What a churn training does: `ChurnConfig`, frozen and checked when built.

    from models.training.churn.config import ChurnConfig
    config = ChurnConfig(features_dir="data/jobs/<id>/churn-input", models=("logreg", "gbm", "mlp"))

One config trains every model it names on one feature folder (the analytics side's churn features, see
analytics.compute.churn) and writes one run folder per model; each folder's config.json holds this config
resolved, plus that model's method, model, dataset and task. No torch at import.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from analytics.settings import settings
from models.core.checks import finite as _finite
from models.core.checks import whole as _whole
from models.errors import ConfigError

CHURN_MODELS = ("logreg", "gbm", "mlp")
"""Models a churn training can fit: logistic regression and histogram gradient boosting (scikit-learn) and a
small torch MLP."""
CHURN_METHODS = {name: f"churn_{name}" for name in CHURN_MODELS}
"""config.json `method` of each model's run folder."""
MODEL_NAMES = {"logreg": "logistic-regression", "gbm": "hist-gradient-boosting", "mlp": "mlp"}
"""config.json `model` of each model's run folder (the MLP's gets its layer sizes: mlp-64-32)."""
CHURN_DEVICES = ("cpu", "auto", "cuda")
CHURN_PRECISIONS = ("fp32", "auto", "bf16")


@dataclass(frozen=True)
class ChurnConfig:
    """One churn training: where the features are, which models, and how each one is fitted."""

    features_dir: str
    """Feature folder written by the analytics side: train.parquet, score.parquet, features.json."""
    runs_dir: str = ""
    """Where the run folders go (one per model); empty: settings().runs_dir ($STRATLAB_RUNS_DIR)."""
    run_prefix: str = ""
    """Run folders are named '<run_prefix>-<model>'; empty: '<UTC time>-churn' when training starts."""
    models: tuple[str, ...] = CHURN_MODELS
    """Models to train, in this order: any of logreg, gbm, mlp."""
    seed: int = 42
    """Seed of the train/test split, the MLP's validation share and weights, bootstrap and permutations."""
    test_share: float = 0.25
    """Share of train.parquet's accounts held out (stratified by label) to evaluate every model on."""
    validation_share: float = 0.15
    """MLP only: share of the training part held out (stratified) for early stopping."""
    min_positives: int = 20
    """Fewest churned accounts (label 1), and fewest stayed ones, train.parquet must hold: fewer leave a
    test share too small for a ROC-AUC with a useful interval."""
    logreg_c: float = 1.0
    """Inverse L2 strength of the logistic regression (scikit-learn's C), on standardised features."""
    logreg_class_weight: str = "none"
    """'none' (plain likelihood: scores stay calibrated probabilities, which MRR at risk sums) or
    'balanced' (weights classes by inverse frequency: better recall at 0.5, inflated probabilities)."""
    gbm_max_iter: int = 100
    """Boosting rounds of HistGradientBoostingClassifier."""
    gbm_learning_rate: float = 0.05
    """Shrinkage of each boosting round."""
    gbm_max_leaf_nodes: int = 4
    """Leaves per tree. Small trees and large leaves (below) because a workspace holds a few thousand
    accounts and a few hundred churned: in 5-fold CV on the sample workspace's training part, 4 leaves of
    at least 50 accounts gave ROC-AUC 0.759 and Brier 0.0420 against 0.753 and 0.0456 for 15 leaves of 20
    (which scored worse than the base rate's 0.0432)."""
    gbm_min_samples_leaf: int = 50
    """Fewest accounts in a leaf."""
    hidden_sizes: tuple[int, ...] = (64, 32)
    """MLP: widths of the hidden dense layers (ReLU, dropout after each), input = standardised features."""
    dropout: float = 0.2
    """MLP: dropout probability after every hidden layer."""
    epochs: int = 60
    """MLP: most passes over the training part (early stopping may end sooner)."""
    early_stopping_patience: int = 8
    """MLP: stop after this many epochs without a lower validation loss (0: never stop early)."""
    batch_size: int = 64
    """MLP: accounts per optimizer step."""
    learning_rate: float = 1e-3
    """MLP: AdamW learning rate (constant)."""
    weight_decay: float = 1e-4
    """MLP: AdamW weight decay on the weight matrices (not on biases)."""
    device: str = "cpu"
    """MLP: cpu (default: a 64-32 MLP on thousands of rows is faster on CPU than its GPU launch), auto or
    cuda."""
    precision: str = "fp32"
    """MLP: fp32, auto (bf16 autocast where the GPU has it) or bf16."""
    num_threads: int | None = None
    """CPU threads for the MLP's torch ops and scikit-learn's OpenMP / BLAS pools; None: one. Models and
    matrices this small lose more to thread hand-offs than they gain (on a busy 2-core machine a 64-row MLP
    step took 68 ms on two threads, 1.3 ms on one)."""
    n_bootstrap: int = 1000
    """Bootstrap resamples of the test accounts behind the ROC-AUC and PR-AUC 95% intervals."""
    permutation_repeats: int = 5
    """Shuffles per feature in the permutation importance (ROC-AUC drop on the test accounts)."""
    calibration_bins: int = 10
    """Quantile bins of the calibration table (each holds about the same number of test accounts)."""

    def __post_init__(self) -> None:
        if not isinstance(self.features_dir, (str, Path)) or not str(self.features_dir).strip():
            raise ConfigError("features_dir must name a churn feature folder (train.parquet, score.parquet, "
                              "features.json), e.g. --features data/jobs/<id>/churn-input")
        object.__setattr__(self, "features_dir", str(self.features_dir))
        object.__setattr__(self, "runs_dir", str(self.runs_dir or ""))
        object.__setattr__(self, "models", _models(self.models))
        object.__setattr__(self, "hidden_sizes", _hidden_sizes(self.hidden_sizes))
        _whole("seed", self.seed, 0, 2**32 - 1)
        _share("test_share", self.test_share, 0.05, 0.5)
        _share("validation_share", self.validation_share, 0.05, 0.5)
        _whole("min_positives", self.min_positives, 2, 1_000_000)
        _positive("logreg_c", self.logreg_c, 1e6)
        if self.logreg_class_weight not in ("none", "balanced"):
            raise ConfigError("logreg_class_weight must be 'none' or 'balanced', "
                              f"got {self.logreg_class_weight!r}")
        _whole("gbm_max_iter", self.gbm_max_iter, 1, 10_000)
        _positive("gbm_learning_rate", self.gbm_learning_rate, 1.0)
        _whole("gbm_max_leaf_nodes", self.gbm_max_leaf_nodes, 2, 1024)
        _whole("gbm_min_samples_leaf", self.gbm_min_samples_leaf, 1, 1_000_000)
        if not (isinstance(self.dropout, (int, float)) and 0 <= self.dropout < 1):
            raise ConfigError(f"dropout must be from 0 to below 1 (e.g. 0.2), got {self.dropout!r}")
        _whole("epochs", self.epochs, 1, 10_000)
        _whole("early_stopping_patience", self.early_stopping_patience, 0, 10_000)
        _whole("batch_size", self.batch_size, 1, 1_000_000)
        _positive("learning_rate", self.learning_rate, 1.0)
        if not (_finite(self.weight_decay) and 0 <= self.weight_decay <= 1):
            raise ConfigError(f"weight_decay must be from 0 to 1 (e.g. 1e-4), got {self.weight_decay!r}")
        _choice("device", self.device, CHURN_DEVICES)
        _choice("precision", self.precision, CHURN_PRECISIONS)
        _whole("num_threads", self.num_threads, 1, 1024, optional=True)
        _whole("n_bootstrap", self.n_bootstrap, 10, 100_000)
        _whole("permutation_repeats", self.permutation_repeats, 1, 100)
        _whole("calibration_bins", self.calibration_bins, 2, 100)

    @property
    def resolved_runs_dir(self) -> Path:
        """runs_dir, else settings().runs_dir."""
        return Path(self.runs_dir).expanduser() if self.runs_dir else settings().runs_dir

    def model_name(self, model: str) -> str:
        """config.json `model` of `model`'s run: logistic-regression, hist-gradient-boosting, mlp-64-32."""
        if model == "mlp":
            return "mlp-" + "-".join(str(h) for h in self.hidden_sizes)
        return MODEL_NAMES[model]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (tuples as lists), as config.json and job.json hold them."""
        values = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ChurnConfig:
        """A config from `to_dict`'s output (extra keys of a run's config.json are ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


def _models(value: Any) -> tuple[str, ...]:
    names = tuple(value.split(",")) if isinstance(value, str) else tuple(value)
    names = tuple(str(n).strip() for n in names if str(n).strip())
    unknown = [n for n in names if n not in CHURN_MODELS]
    if unknown or not names:
        raise ConfigError(f"models must be some of {', '.join(CHURN_MODELS)} (comma-separated), got "
                          f"{', '.join(unknown) or 'none'}")
    if len(set(names)) != len(names):
        raise ConfigError(f"models lists a model twice ({', '.join(names)}); name each once")
    return names


def _hidden_sizes(value: Any) -> tuple[int, ...]:
    sizes = tuple(value)
    if not sizes or len(sizes) > 8 or any(isinstance(s, bool) or not isinstance(s, int) or not 1 <= s <= 4096
                                          for s in sizes):
        raise ConfigError(f"hidden_sizes must be 1 to 8 layer widths from 1 to 4096, e.g. (64, 32); "
                          f"got {value!r}")
    return sizes


def _share(name: str, value: object, low: float, high: float) -> None:
    if not _finite(value) or not low <= float(value) <= high:  # type: ignore[arg-type]
        raise ConfigError(f"{name} must be a share from {low} to {high} (e.g. 0.25), got {value!r}")


def _positive(name: str, value: object, high: float) -> None:
    if not _finite(value) or not 0 < float(value) <= high:  # type: ignore[arg-type]
        raise ConfigError(f"{name} must be a number above 0 and at most {high:g}, got {value!r}")


def _choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
