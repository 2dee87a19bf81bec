"""Seeded, stratified splits: hold rows out per class, cap examples per class, assemble `DataSplits`.

Every split keeps at least one row of each class in the kept part, so even 2-example classes work, and
the same seed always gives the same rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from models.data.pii import scrub_texts
from models.data.types import DataSplits, LabelledTexts
from models.errors import ConfigError, DatasetError, DataValidationError


@dataclass(frozen=True)
class Rows:
    """Labelled rows before labels become class indices (ids, texts and label names, aligned)."""

    ids: list[str]
    """Stable example ids ('train-00042', 'row-00001')."""
    texts: list[str]
    """The example texts."""
    labels: list[str]
    """Label names as text ('positive', 'card_arrival')."""

    def subset(self, positions: Sequence[int]) -> Rows:
        """The rows at `positions`, in that order."""
        return Rows([self.ids[i] for i in positions], [self.texts[i] for i in positions],
                    [self.labels[i] for i in positions])

    @staticmethod
    def concat(parts: Sequence[Rows]) -> Rows:
        """All rows of `parts`, one after another."""
        return Rows([i for p in parts for i in p.ids], [t for p in parts for t in p.texts],
                    [label for p in parts for label in p.labels])


def stratified_split(labels: Sequence[int], n_holdout: int, seed: int) -> tuple[list[int], list[int]]:
    """Split positions 0..len(labels)-1 into (kept, held out) with `n_holdout` rows held out.

    Each class contributes in proportion to its size (largest remainder, ties broken by the seed) and keeps
    at least one row, so even 2-example classes work. Both lists are in ascending order.
    Raises DataValidationError when `n_holdout` leaves some class no row.
    """
    by_class: dict[int, list[int]] = defaultdict(list)
    for position, label in enumerate(labels):
        by_class[label].append(position)
    classes = sorted(by_class)
    counts = np.array([len(by_class[c]) for c in classes])
    capacity = counts - 1
    if n_holdout > capacity.sum():
        raise DataValidationError(
            f"cannot hold out {n_holdout} of {len(labels)} rows while keeping every one of {len(classes)} "
            "classes in training; add rows or lower the test/validation fractions")
    rng = np.random.default_rng(seed)
    alloc = _allocate(counts, capacity, n_holdout, rng)
    kept: list[int] = []
    held: list[int] = []
    for c, take in zip(classes, alloc, strict=True):
        order = rng.permutation(len(by_class[c]))
        members = by_class[c]
        held += [members[i] for i in order[:take]]
        kept += [members[i] for i in order[take:]]
    return sorted(kept), sorted(held)


def _allocate(counts: np.ndarray, capacity: np.ndarray, total: int, rng: np.random.Generator) -> np.ndarray:
    """Integer allocation of `total` proportional to `counts`, capped by `capacity` (largest remainder)."""
    quota = total * counts / counts.sum()
    alloc = np.minimum(np.floor(quota).astype(int), capacity)
    remainder = quota - alloc
    tie_break = rng.permutation(len(counts))
    while alloc.sum() < total:
        room = alloc < capacity
        order = np.lexsort((tie_break, -remainder))
        pick = next(i for i in order if room[i])
        alloc[pick] += 1
        remainder[pick] -= 1.0
    return alloc



def holdout_count(fraction: float, n_rows: int) -> int:
    """Rows to hold out for `fraction` of `n_rows`: at least 1 when the fraction is positive."""
    return max(1, round(fraction * n_rows)) if fraction > 0 else 0


def limit_per_class(split: LabelledTexts, per_class: int, seed: int) -> LabelledTexts:
    """At most `per_class` random examples per class (seeded), in the original order. For learning curves.

    Raises ConfigError when per_class < 1.
    """
    if per_class < 1:
        raise ConfigError(f"examples per class must be at least 1, got {per_class}")
    rng = np.random.default_rng(seed)
    by_class: dict[int, list[int]] = defaultdict(list)
    for position, label in enumerate(split.labels):
        by_class[label].append(position)
    chosen: list[int] = []
    for label in sorted(by_class):
        members = by_class[label]
        chosen += [members[i] for i in rng.permutation(len(members))[:per_class]]
    return split.subset(sorted(chosen))


def carve(rows: Rows, n_holdout: int, seed: int) -> tuple[Rows, Rows]:
    """(kept, held out) rows, stratified by label (see `stratified_split`)."""
    codes = {label: i for i, label in enumerate(sorted(set(rows.labels)))}
    kept, held = stratified_split([codes[label] for label in rows.labels], n_holdout, seed)
    return rows.subset(kept), rows.subset(held)


def assemble_splits(name: str, label_names: Sequence[str], train: Rows, validation: Rows, test: Rows,
                    meta: dict[str, Any]) -> DataSplits:
    """`DataSplits` with labels as indices into `label_names`.

    Raises DatasetError when a row's label is not in `label_names`.
    """
    index = {label: i for i, label in enumerate(label_names)}
    unknown = sorted(set(train.labels + validation.labels + test.labels) - set(index))
    if unknown:
        raise DatasetError(f"{name}: labels {unknown[:5]} are not in the label list; "
                           "the source file changed?")
    return DataSplits(name, tuple(label_names), _to_split(train, index), _to_split(validation, index),
                      _to_split(test, index), meta)


def _to_split(rows: Rows, index: dict[str, int]) -> LabelledTexts:
    return LabelledTexts(tuple(rows.ids), tuple(rows.texts), tuple(index[label] for label in rows.labels))


def scrub_splits(splits: DataSplits) -> DataSplits:
    """The same splits with PII masked in every text; meta['pii_report'] says what was masked."""
    total: dict[str, Any] = {}
    parts = {}
    for split_name in ("train", "validation", "test"):
        split: LabelledTexts = getattr(splits, split_name)
        texts, report = scrub_texts(split.texts)
        parts[split_name] = replace(split, texts=tuple(texts))
        for key, value in report.to_dict().items():
            if isinstance(value, dict):
                bucket = total.setdefault(key, {})
                for kind, count in value.items():
                    bucket[kind] = bucket.get(kind, 0) + count
            else:
                total[key] = total.get(key, 0) + value
    return replace(splits, **parts, meta={**splits.meta, "pii_report": total})
