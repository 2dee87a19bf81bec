"""Data contracts shared by datasets, training, evaluation and inference.

A dataset is a `DataSplits` of three `LabelledTexts`; labels are integer indices into
`label_names`, identical in all three splits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from models.errors import DataValidationError


@dataclass(frozen=True)
class LabelledTexts:
    """Texts with integer labels, in a fixed order."""

    ids: tuple[str, ...]
    """Stable example ids (e.g. 'train-00042'), unique within the dataset."""
    texts: tuple[str, ...]
    """Raw input texts."""
    labels: tuple[int, ...]
    """Label index per text, into the owning `DataSplits.label_names`."""

    def __post_init__(self) -> None:
        if not (len(self.ids) == len(self.texts) == len(self.labels)):
            raise DataValidationError(
                f"ids, texts and labels must have the same length, got "
                f"{len(self.ids)}, {len(self.texts)}, {len(self.labels)}"
            )

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: list[int] | range) -> LabelledTexts:
        """Rows at `indices`, in that order."""
        return LabelledTexts(
            ids=tuple(self.ids[i] for i in indices),
            texts=tuple(self.texts[i] for i in indices),
            labels=tuple(self.labels[i] for i in indices),
        )


@dataclass(frozen=True)
class DataSplits:
    """Train / validation / test splits of one labelled dataset."""

    name: str
    """Catalog name ('banking77') or the user file's name."""
    label_names: tuple[str, ...]
    """Class names; label index i means label_names[i]."""
    train: LabelledTexts
    """Examples the model learns from."""
    validation: LabelledTexts
    """Examples for early stopping and model selection."""
    test: LabelledTexts
    """Held-out examples every reported figure is measured on."""
    meta: dict = field(default_factory=dict, compare=False)
    """Provenance: source URL, sha256, licence, seed, PII report..."""

    def __post_init__(self) -> None:
        n = len(self.label_names)
        for split_name in ("train", "validation", "test"):
            split: LabelledTexts = getattr(self, split_name)
            bad = [y for y in split.labels if not 0 <= y < n]
            if bad:
                raise DataValidationError(
                    f"{split_name} has label index {bad[0]} but only {n} label names exist"
                )

    @property
    def num_labels(self) -> int:
        return len(self.label_names)
