"""A small MLP for tabular binary classification (churn), its standardiser, and a scikit-learn face for it.

The product brief's example architecture: standardised features -> dense layers with ReLU and dropout
(64 -> 32 by default) -> one logit; trained with binary cross-entropy (models.training.churn.mlp). The
`ProbabilityEstimator` wraps any `[n, features] -> P(label 1)` function as a fitted scikit-learn classifier,
so sklearn.inspection.permutation_importance and the scorers treat the MLP like the baselines.

Saved as model/model.safetensors (weights) and model/tabular.json (feature names, layer sizes, dropout and
the standardiser's mean and scale), read back by `load_tabular`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_model, save_model
from sklearn.base import BaseEstimator, ClassifierMixin

from models.errors import RunFolderError

SPEC_FILE = "tabular.json"
WEIGHTS_FILE = "model.safetensors"


@dataclass(frozen=True)
class Standardiser:
    """Per-feature (x - mean) / scale, fitted on the training part only; constant columns get scale 1."""

    mean: tuple[float, ...]
    """Training mean of each feature."""
    scale: tuple[float, ...]
    """Training standard deviation of each feature (1 where it is 0)."""

    @classmethod
    def fit(cls, x: np.ndarray) -> Standardiser:
        """Mean and scale of `x` [n, features]."""
        scale = x.std(axis=0)
        return cls(mean=tuple(map(float, x.mean(axis=0))),
                   scale=tuple(float(s) if s > 0 else 1.0 for s in scale))

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Standardised float32 copy of `x` [n, features]."""
        return ((x - np.asarray(self.mean)) / np.asarray(self.scale)).astype(np.float32)


class TabularMLP(torch.nn.Module):
    """Dense layers with ReLU and dropout, then one logit per row: [batch, features] -> [batch]."""

    def __init__(self, n_features: int, hidden_sizes: Sequence[int] = (64, 32), dropout: float = 0.2) -> None:
        super().__init__()
        layers: list[torch.nn.Module] = []
        width = n_features
        for size in hidden_sizes:
            layers += [torch.nn.Linear(width, size), torch.nn.ReLU(), torch.nn.Dropout(dropout)]
            width = size
        layers.append(torch.nn.Linear(width, 1))
        self.net = torch.nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


@dataclass(frozen=True)
class TabularSpec:
    """What rebuilds a saved MLP: features in order, layer sizes, dropout, the standardiser."""

    feature_names: tuple[str, ...]
    hidden_sizes: tuple[int, ...]
    dropout: float
    standardiser: Standardiser


def mlp_probabilities(model: torch.nn.Module, standardiser: Standardiser, x: np.ndarray,
                      device: torch.device | str = "cpu", batch_size: int = 8192) -> np.ndarray:
    """P(label 1) of each row of raw features `x` [n, features], float64 [n] (eval mode, no gradients)."""
    model.eval()
    features = torch.from_numpy(standardiser.transform(x))
    out = []
    with torch.inference_mode():
        for start in range(0, len(features), batch_size):
            logits = model(features[start:start + batch_size].to(device))
            out.append(torch.sigmoid(logits.float()).cpu())
    return torch.cat(out).numpy().astype(np.float64) if out else np.zeros(0)


class ProbabilityEstimator(ClassifierMixin, BaseEstimator):
    """A fitted binary classifier around `predict_one` ([n, features] float64 -> P(label 1) [n]).

    `fit` is not supported: the function is trained elsewhere; this face exists for scorers and
    permutation_importance, which call predict_proba / predict on permuted copies of the test features.
    """

    def __init__(self, predict_one: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        self.predict_one = predict_one
        self.classes_ = np.array([0, 1])
        self.is_fitted_ = True

    def fit(self, x: np.ndarray, y: np.ndarray) -> ProbabilityEstimator:
        raise NotImplementedError("ProbabilityEstimator wraps a model trained elsewhere; it cannot fit")

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """[n, 2]: P(label 0), P(label 1)."""
        p = np.clip(np.asarray(self.predict_one(np.asarray(x, dtype=np.float64)), dtype=np.float64), 0, 1)
        return np.column_stack([1.0 - p, p])

    def predict(self, x: np.ndarray) -> np.ndarray:
        """1 where P(label 1) > 0.5, else 0."""
        return (self.predict_proba(x)[:, 1] > 0.5).astype(np.int64)


def save_tabular(model: torch.nn.Module, spec: TabularSpec, model_dir: Path) -> None:
    """Write model_dir/model.safetensors and model_dir/tabular.json."""
    model_dir.mkdir(parents=True, exist_ok=True)
    save_model(model, str(model_dir / WEIGHTS_FILE))
    payload = {**asdict(spec), "architecture": "TabularMLP"}
    (model_dir / SPEC_FILE).write_text(json.dumps(payload, indent=1), encoding="utf-8")


def load_tabular(model_dir: Path) -> tuple[TabularMLP, TabularSpec]:
    """The saved MLP (CPU, eval mode) and its spec; RunFolderError when the files are missing or torn."""
    try:
        raw = json.loads((Path(model_dir) / SPEC_FILE).read_text(encoding="utf-8"))
        spec = TabularSpec(feature_names=tuple(raw["feature_names"]), hidden_sizes=tuple(raw["hidden_sizes"]),
                           dropout=float(raw["dropout"]),
                           standardiser=Standardiser(mean=tuple(raw["standardiser"]["mean"]),
                                                     scale=tuple(raw["standardiser"]["scale"])))
        model = TabularMLP(len(spec.feature_names), spec.hidden_sizes, spec.dropout)
        load_model(model, str(Path(model_dir) / WEIGHTS_FILE))
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
        raise RunFolderError(f"cannot load the tabular model in {model_dir}: {e}; train it again") from e
    return model.eval(), spec
