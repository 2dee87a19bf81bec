"""Exception types of the model engine. Every message says what to change."""

from __future__ import annotations


class StratLabModelError(Exception):
    """Base class for every error raised by `models/`."""


class ConfigError(StratLabModelError, ValueError):
    """A configuration value is out of range or contradicts another one."""


class DatasetError(StratLabModelError):
    """A dataset could not be found, read or verified."""


class DatasetNotFoundError(DatasetError):
    """Neither the mirror folder nor the network has the dataset."""


class DataValidationError(DatasetError):
    """User data failed validation before training; `problems` lists every finding."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems: list[str] = list(problems or [])


class ModelNotFoundError(StratLabModelError):
    """The model name is not in the registry, not on disk, and not reachable on the hub."""


class ModelAccessError(StratLabModelError):
    """A model path lies outside the allowed model folders."""


class DeviceError(StratLabModelError):
    """The requested device (CUDA, MPS) is not available on this machine."""


class TrainingError(StratLabModelError):
    """Training failed in a way the user can act on (out of memory at batch size 1, NaN loss...)."""


class RunFolderError(StratLabModelError):
    """A run folder is missing, incomplete, or cannot be written."""


class InsufficientMemoryError(StratLabModelError):
    """Prediction (or loading a model) ran out of memory even at batch size 1; the message says what to
    lower."""


class EvaluationError(StratLabModelError, ValueError):
    """Predictions and labels do not fit together (shapes, label range, probabilities)."""


class EstimateError(StratLabModelError):
    """A memory or time measurement could not be made; the message says why and what to change."""


class JobError(StratLabModelError):
    """A job operation cannot be done; the message says what to do instead."""


class JobNotFoundError(JobError):
    """No job folder with that id."""


class InvalidTransitionError(JobError):
    """A state change that the transition table does not allow."""


class EndpointError(StratLabModelError):
    """An OpenAI-compatible endpoint could not be evaluated (unreachable, refused, over budget, failing)."""


class ServingError(StratLabModelError):
    """A run could not be served or load-tested (bad run folder, port taken, server failed to start)."""
