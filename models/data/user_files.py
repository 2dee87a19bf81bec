"""User files for training: read (CSV, TSV, Parquet, JSONL), validate a labelled table, split it.

Reading goes through `analytics.ingest.sniff` and `readers`, so the same files are refused with the same
messages as on the Data page. Example ids are 'row-00001'... (1-based data rows, as in validation messages).
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from analytics.errors import ImportValidationError
from analytics.ingest import readers, sniff
from models.data.catalog import file_sha256, load_dataset
from models.data.pii import scrub_texts
from models.data.splits import Rows, assemble_splits, carve, holdout_count, limit_per_class
from models.data.types import DataSplits
from models.errors import ConfigError, DatasetError, DatasetNotFoundError, DataValidationError

log = logging.getLogger(__name__)

MIN_ROWS = 20
"""Fewest labelled rows a user dataset may have."""
LONG_TEXT_CHARS = 2000
"""Texts longer than this get a warning: models read only the first max_length tokens (~500 chars at 128)."""
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".jsonl", ".ndjson")
"""File suffixes `read_table` accepts for user files."""


@dataclass
class ValidationReport:
    """Findings of `validate_labelled_frame`: errors block training, warnings do not."""

    errors: list[str] = field(default_factory=list)
    """Problems that must be fixed before training."""
    warnings: list[str] = field(default_factory=list)
    """Problems worth fixing that training survives."""

    @property
    def ok(self) -> bool:
        """True when there are no errors."""
        return not self.errors


def read_table(path: str | Path, *, display_name: str | None = None) -> pd.DataFrame:
    """Read a user's CSV, TSV, Parquet or JSONL file as a DataFrame (see `read_table_bytes`).

    `display_name` is the name messages use (an upload's original name); None uses the file's own name.
    Raises DatasetNotFoundError (missing file), DatasetError (unsupported or unreadable file) or
    DataValidationError (ragged lines, a quote that never closes...; `problems` lists them).
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetNotFoundError(f"file {path} does not exist; check the path")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DatasetError(f"cannot read {path}: {e.strerror}") from e
    return read_table_bytes(display_name or path.name, data)


def read_table_bytes(name: str, data: bytes) -> pd.DataFrame:
    """The table in file `name` holding `data`, read in memory through the shared sniffing layer.

    `analytics.ingest.sniff` refuses binary, image, archive, compressed and BOM-less UTF-16 files and
    detects the encoding, delimiter and quoting exactly as the Data page importer does, with the same
    messages. CSV/TSV need a header row; every cell is read as text. Notes (a guessed encoding,
    whitespace-only cells stored as empty) land in `frame.attrs['read_warnings']`.
    Raises DatasetError (unsupported or unreadable file) or DataValidationError listing every problem.
    """
    suffix = Path(name).suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise DatasetError(f"unsupported file type {suffix or '(none)'} for {name}; "
                           "use .csv, .tsv, .parquet or .jsonl")
    try:
        fmt, warnings = sniff.detect_format(name, data)
        if fmt == "parquet":
            frame = readers.read_parquet(name, data)
        elif fmt == "jsonl":
            frame = _from_json_lines(name, data)
        elif fmt in sniff.TEXT_FORMATS:
            frame = _from_delimited(name, data)
        else:
            raise DatasetError(f"{name} holds {fmt} data; save it as CSV, TSV, Parquet or JSONL")
    except ImportValidationError as e:
        raise DatasetError(str(e)) from e
    frame.attrs["read_warnings"] = warnings + list(frame.attrs.get("read_warnings", []))
    return frame


def _from_delimited(name: str, data: bytes) -> pd.DataFrame:
    table = readers.sniff_text_table(name, data, has_header=True)
    _refuse_problems(name, table.problems)
    frame = pd.DataFrame({j: column.astype(str) for j, column in enumerate(table.columns)})
    frame.columns = _column_names(table.header)
    frame.attrs["read_warnings"] = list(table.warnings)
    return frame


def _from_json_lines(name: str, data: bytes) -> pd.DataFrame:
    table = readers.read_json_lines(name, data)
    _refuse_problems(name, table.problems)
    frame = pd.DataFrame({j: column for j, column in enumerate(table.columns)})
    frame.columns = _column_names(table.header)
    frame.attrs["read_warnings"] = list(table.warnings)
    return frame


def _refuse_problems(name: str, problems: Sequence[str]) -> None:
    if problems:
        raise DataValidationError(f"{name} cannot be used for training: {len(problems)} problem(s) to fix "
                                  "first", problems=list(problems))


def _column_names(header: Sequence[str]) -> list[str]:
    """The file's column names, with empty ones as column_<n> and repeats as name.1, name.2 (like pandas)."""
    names: list[str] = []
    for position, raw in enumerate(header, start=1):
        name = str(raw).strip() or f"column_{position}"
        base, n = name, 0
        while name in names:
            n += 1
            name = f"{base}.{n}"
        names.append(name)
    return names


def _is_blank(value: Any) -> bool:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return True
    return not str(value).strip()


def _row_list(rows: Sequence[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:5])
    return shown + (f" and {len(rows) - 5} more" if len(rows) > 5 else "")


def validate_labelled_frame(df: pd.DataFrame, text_column: str, label_column: str) -> ValidationReport:
    """Check a user table before training. Row numbers in messages are 1-based data rows (header excluded).

    Errors: missing columns, fewer than 20 rows, one class, empty texts or labels, single-example classes.
    Warnings: duplicate texts, labels differing only in case/spaces, very long texts, read warnings.
    """
    report = ValidationReport(warnings=list(df.attrs.get("read_warnings", [])))
    columns = [str(c) for c in df.columns]
    for role, column in (("text", text_column), ("label", label_column)):
        if column not in df.columns:
            report.errors.append(f"{role} column {column!r} not found; columns are: {', '.join(columns)}")
    if text_column == label_column:
        report.errors.append(f"text and label columns are both {text_column!r}; choose two different columns")
    if report.errors:
        return report
    texts, labels = list(df[text_column]), list(df[label_column])
    if len(df) < MIN_ROWS:
        report.errors.append(f"only {len(df)} rows; need at least {MIN_ROWS} labelled examples "
                             "(aim for 20+ per class)")
    empty_texts = [i + 1 for i, t in enumerate(texts) if _is_blank(t)]
    if empty_texts:
        report.errors.append(f"{len(empty_texts)} rows have an empty or whitespace-only text in "
                             f"{text_column!r} (rows {_row_list(empty_texts)}); fill them in or delete them")
    empty_labels = [i + 1 for i, v in enumerate(labels) if _is_blank(v)]
    if empty_labels:
        report.errors.append(f"{len(empty_labels)} rows have no label in {label_column!r} "
                             f"(rows {_row_list(empty_labels)}); label them or delete them")
    _check_classes(report, [str(v) for v in labels if not _is_blank(v)], label_column)
    _warn_duplicates(report, texts, labels)
    _warn_long(report, texts)
    return report


def _check_classes(report: ValidationReport, labels: list[str], label_column: str) -> None:
    counts = Counter(labels)
    if len(counts) < 2:
        only = f" ({next(iter(counts))!r})" if counts else ""
        report.errors.append(f"column {label_column!r} has only one class{only}; a classifier needs at "
                             "least 2 different labels")
    singles = sorted(c for c, n in counts.items() if n == 1)
    if singles and len(counts) >= 2:
        shown = ", ".join(map(repr, singles[:5])) + (" ..." if len(singles) > 5 else "")
        report.errors.append(f"{len(singles)} classes have a single example ({shown}); each class needs at "
                             "least 2 (better 10+) to be split and learned: add examples or drop those rows")
    variants: dict[str, set[str]] = defaultdict(set)
    for label in counts:
        variants[re.sub(r"\s+", " ", label).strip().casefold()].add(label)
    for group in sorted(variants.values(), key=lambda g: sorted(g)):
        if len(group) > 1:
            ordered = sorted(group, key=lambda v: (-counts[v], v))
            report.warnings.append(f"labels {' and '.join(map(repr, ordered))} differ only in case or "
                                   f"spaces; merge them into one label (e.g. {ordered[0]!r})")


def _warn_duplicates(report: ValidationReport, texts: list[Any], labels: list[Any]) -> None:
    seen: dict[str, set[str]] = defaultdict(set)
    counts: Counter[str] = Counter()
    for text, label in zip(texts, labels, strict=True):
        if not _is_blank(text):
            key = str(text).strip()
            counts[key] += 1
            seen[key].add(str(label))
    duplicates = {t: n for t, n in counts.items() if n > 1}
    if not duplicates:
        return
    extra = sum(n - 1 for n in duplicates.values())
    conflicting = sum(1 for t in duplicates if len(seen[t]) > 1)
    examples = ", ".join(f"{t[:40]!r} x{n}" for t, n in sorted(duplicates.items(), key=lambda x: -x[1])[:3])
    conflict_note = f"; {conflicting} of them carry different labels" if conflicting else ""
    report.warnings.append(f"{extra} duplicate texts (e.g. {examples}){conflict_note}; duplicates can "
                           "land in both train and test and inflate accuracy: remove them")


def _warn_long(report: ValidationReport, texts: list[Any]) -> None:
    lengths = [len(str(t)) for t in texts if not _is_blank(t)]
    long_rows = [n for n in lengths if n > LONG_TEXT_CHARS]
    if long_rows:
        report.warnings.append(f"{len(long_rows)} texts are longer than {LONG_TEXT_CHARS} characters "
                               f"(longest {max(long_rows)}); transformer models read only the first "
                               "max_length tokens (about 500 characters at 128 tokens)")


def _sort_labels(labels: set[str]) -> list[str]:
    if all(re.fullmatch(r"-?\d+", label) for label in labels):
        return sorted(labels, key=int)
    return sorted(labels)


def splits_from_frame(df: pd.DataFrame, text_column: str, label_column: str, *, name: str = "uploaded",
                      seed: int = 42, test_fraction: float = 0.2, validation_fraction: float = 0.1,
                      pii_scrub: bool = False, source: str | None = None) -> DataSplits:
    """Validate a labelled table and split it stratified and seeded into train/validation/test.

    Ids are 'row-00001'... (1-based data rows). Labels are the column's values as text, sorted.
    Raises DataValidationError (with `problems`) when validation finds errors, ConfigError for bad fractions.
    """
    _check_fractions(test_fraction, validation_fraction)
    report = validate_labelled_frame(df, text_column, label_column)
    if not report.ok:
        raise DataValidationError(f"{name}: {len(report.errors)} problem(s) to fix before training: "
                                  + " | ".join(report.errors), problems=report.errors)
    for warning in report.warnings:
        log.warning("%s", warning if warning.startswith(name) else f"{name}: {warning}")
    texts = [str(t) for t in df[text_column]]
    pii_report = None
    if pii_scrub:
        texts, scrub = scrub_texts(texts)
        pii_report = scrub.to_dict()
    rows = Rows([f"row-{i + 1:05d}" for i in range(len(df))], texts, [str(v) for v in df[label_column]])
    n = len(rows.ids)
    rest, test = carve(rows, holdout_count(test_fraction, n), seed)
    train, validation = carve(rest, holdout_count(validation_fraction, n), seed + 1)
    meta = {"source": source or name, "seed": seed, "text_column": text_column, "label_column": label_column,
            "test_fraction": test_fraction, "validation_fraction": validation_fraction,
            "warnings": report.warnings, "pii_report": pii_report}
    return assemble_splits(name, _sort_labels(set(rows.labels)), train, validation, test, meta)


def _check_fractions(test_fraction: float, validation_fraction: float) -> None:
    for label, value in (("test_fraction", test_fraction), ("validation_fraction", validation_fraction)):
        if not (isinstance(value, (int, float)) and 0.0 < value < 0.5):
            raise ConfigError(f"{label} must be in (0, 0.5), got {value!r}")
    if test_fraction + validation_fraction >= 0.8:
        total = test_fraction + validation_fraction
        raise ConfigError(f"test_fraction + validation_fraction = {total} leaves "
                          "too little for training; keep the sum below 0.8")


def load_user_dataset(path: str | Path, text_column: str, label_column: str, *, seed: int = 42,
                      test_fraction: float = 0.2, validation_fraction: float = 0.1,
                      pii_scrub: bool = False) -> DataSplits:
    """Read, validate and split a user's CSV/TSV/Parquet/JSONL file (see `read_table`, `splits_from_frame`).

    Raises DatasetNotFoundError, DatasetError, DataValidationError or ConfigError, each saying what to fix.
    """
    path = Path(path)
    frame = read_table(path)
    splits = splits_from_frame(frame, text_column, label_column, name=path.name, seed=seed,
                               test_fraction=test_fraction, validation_fraction=validation_fraction,
                               pii_scrub=pii_scrub, source=str(path))
    return replace(splits, meta={**splits.meta, "sha256": file_sha256(path)})


def load_for_config(dataset: str, text_column: str | None = None, label_column: str | None = None, *,
                    seed: int = 42, pii_scrub: bool = False,
                    train_examples_per_class: int | None = None) -> DataSplits:
    """What TrainConfig.dataset names: a catalog name, or a user file when text/label columns are given.

    Applies PII scrubbing and the per-class training cap (validation and test stay whole).
    """
    if text_column is not None and label_column is not None:
        splits = load_user_dataset(dataset, text_column, label_column, seed=seed, pii_scrub=pii_scrub)
    elif Path(dataset).suffix.lower() in (".csv", ".tsv", ".parquet", ".jsonl", ".ndjson"):
        raise ConfigError(f"{dataset} is a file: give text_column and label_column too")
    else:
        splits = load_dataset(dataset, seed=seed, pii_scrub=pii_scrub)
    if train_examples_per_class is not None:
        train = limit_per_class(splits.train, train_examples_per_class, seed)
        splits = replace(splits, train=train, meta={**splits.meta, "train_examples_per_class":
                                                     train_examples_per_class})
    return splits
