"""Dataset catalog from the offline mirror, verified file access, user-file validation, splitting.

Never touches the network: urllib is replaced by a stub that fails.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import urllib.request
import zipfile
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from models.data import catalog
from models.data.catalog import dataset_path, list_datasets, load_dataset, load_text_corpus
from models.data.splits import limit_per_class, stratified_split
from models.data.types import LabelledTexts
from models.data.user_files import (
    load_user_dataset,
    read_table,
    read_table_bytes,
    splits_from_frame,
    validate_labelled_frame,
)
from models.errors import ConfigError, DatasetError, DatasetNotFoundError, DataValidationError

MIRROR = Path(
    os.environ.get("STRATLAB_DATASET_MIRROR", Path(__file__).resolve().parents[3] / "shared" / "datasets")
)
needs_mirror = pytest.mark.skipif(not (MIRROR / "banking77").is_dir(), reason="dataset mirror not present")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network disabled in tests")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setenv("STRATLAB_DATASET_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("STRATLAB_DATASET_MIRROR", str(MIRROR))


def test_catalog_lists_every_builtin_with_pinned_sources() -> None:
    names = [entry.name for entry in list_datasets()]
    assert names == ["banking77", "bitext_customer_support", "sentiment_labelled_sentences", "sst2", "trec",
                     "tinyshakespeare"]
    for entry in list_datasets():
        for url, sha in entry.files.values():
            assert url.startswith("https://raw.githubusercontent.com/") and len(sha) == 64


@needs_mirror
def test_banking77_from_mirror() -> None:
    splits = load_dataset("banking77")
    assert splits.num_labels == 77 and splits.label_names[0] == "card_arrival"
    assert len(splits.test) == 3080
    assert len(splits.train) + len(splits.validation) == 10003
    assert (len(splits.train), len(splits.validation)) == (9003, 1000)
    assert splits.test.ids[0] == "test-00000" and splits.test.texts[0] == "How do I locate my card?"
    all_ids = splits.train.ids + splits.validation.ids + splits.test.ids
    assert len(set(all_ids)) == len(all_ids)
    assert splits.meta["seed"] == 42 and splits.meta["licence"] == "CC BY 4.0"
    assert splits.meta["source_urls"]["train.csv"].endswith(
        "57ec275d8078af65b7731c2a98be812d844a6d6b/banking_data/train.csv"
    )


@needs_mirror
def test_banking77_validation_is_stratified_and_seeded() -> None:
    first, again = load_dataset("banking77"), load_dataset("banking77")
    other = load_dataset("banking77", seed=7)
    assert first.validation.ids == again.validation.ids
    assert first.validation.ids != other.validation.ids
    train_counts, val_counts = Counter(first.train.labels), Counter(first.validation.labels)
    for label, count in val_counts.items():
        total = count + train_counts[label]
        assert abs(count - total / 10.003) <= 1.0


@needs_mirror
def test_sst2_uses_source_splits() -> None:
    splits = load_dataset("sst2")
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (60614, 6735, 872)
    assert splits.label_names == ("negative", "positive")
    assert Counter(splits.test.labels) == {1: 444, 0: 428}
    assert splits.validation.ids[0] == "dev-00000"


@needs_mirror
def test_sentiment_sentences_keep_every_line() -> None:
    splits = load_dataset("sentiment_labelled_sentences")
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (2400, 300, 300)
    every = splits.train.ids + splits.validation.ids + splits.test.ids
    assert sum(i.startswith("imdb-") for i in every) == 1000  # the two quote-broken lines are still rows
    assert Counter(splits.test.labels) == {0: 150, 1: 150}


@needs_mirror
def test_trec_coarse_and_fine() -> None:
    coarse = load_dataset("trec")
    assert coarse.label_names == ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")
    assert (len(coarse.train) + len(coarse.validation), len(coarse.test)) == (5452, 500)
    fine = load_dataset("trec", label_granularity="fine")
    assert fine.num_labels == 50 and "HUM:ind" in fine.label_names
    with pytest.raises(ConfigError, match="label_granularity"):
        load_dataset("trec", label_granularity="medium")


@needs_mirror
def test_text_corpus() -> None:
    text = load_text_corpus("tinyshakespeare")
    assert len(text) == 1115394 and text.startswith("First Citizen:")
    with pytest.raises(DatasetError, match="load_dataset"):
        load_text_corpus("banking77")


def test_unknown_dataset_lists_names() -> None:
    with pytest.raises(DatasetNotFoundError, match="banking77, sst2"):
        load_dataset("imagenet")


def fake_mirror(root: Path, content: bytes) -> Path:
    (root / "trec").mkdir(parents=True)
    (root / "trec" / "TREC.test").write_bytes(content)
    return root


def test_sha_mismatch_in_mirror_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(
        "STRATLAB_DATASET_MIRROR", str(fake_mirror(tmp_path / "mirror", b"NUM:count tampered ?\n"))
    )
    with pytest.raises(DatasetNotFoundError) as info:
        dataset_path("trec", "TREC.test")
    message = str(info.value)
    assert hashlib.sha256(b"NUM:count tampered ?\n").hexdigest() in message
    assert "033f22c028c2bbba9ca682f68ffe204dc1aa6e1cf35dd6207f2d4ca67f0d0e8e" in message
    assert "network disabled" in message


def test_missing_mirror_offline_says_how_to_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRATLAB_DATASET_MIRROR")
    with pytest.raises(DatasetNotFoundError) as info:
        dataset_path("banking77", "test.csv")
    message = str(info.value)
    assert "set STRATLAB_DATASET_MIRROR to a folder holding banking77/test.csv" in message
    assert "d12d6e3bc4c3103966ae786dc435913c0c563dfa328f5a3646d0e62cfeeb474d" in message
    assert "go online" in message


def test_download_is_verified_and_cached(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import io

    payload = b"NUM:count How many ?\n"
    entry = catalog.CATALOG["trec"]
    fake = catalog.DatasetEntry(**{**entry.__dict__, "name": "trec", "files": {
        "TREC.test": (entry.files["TREC.test"][0], hashlib.sha256(payload).hexdigest())}})
    monkeypatch.setitem(catalog.CATALOG, "trec", fake)
    monkeypatch.delenv("STRATLAB_DATASET_MIRROR")
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: io.BytesIO(payload))
    path = dataset_path("trec", "TREC.test")
    assert path == tmp_path / "cache" / "trec" / "TREC.test" and path.read_bytes() == payload
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".part")]


# ---------------------------------------------------------------- user files


def frame(n_per_class: int = 10, classes: tuple[str, ...] = ("refund", "card", "other")) -> pd.DataFrame:
    rows = [(f"{label} question number {i}", label) for label in classes for i in range(n_per_class)]
    return pd.DataFrame(rows, columns=["text", "intent"])


def test_valid_frame_has_no_findings() -> None:
    report = validate_labelled_frame(frame(), "text", "intent")
    assert report.ok and report.errors == [] and report.warnings == []


def test_missing_column_names_the_existing_ones() -> None:
    report = validate_labelled_frame(frame(), "message", "intent")
    assert report.errors == ["text column 'message' not found; columns are: text, intent"]


def test_too_few_rows_and_one_class() -> None:
    report = validate_labelled_frame(frame(n_per_class=5, classes=("only",)), "text", "intent")
    assert any("only 5 rows" in e for e in report.errors)
    assert any("one class ('only')" in e for e in report.errors)


def test_empty_texts_report_row_numbers() -> None:
    df = frame()
    for i in (1, 3, 5, 7, 9, 11):
        df.loc[i, "text"] = "   " if i % 2 else ""
    report = validate_labelled_frame(df, "text", "intent")
    assert (
        "6 rows have an empty or whitespace-only text in 'text' (rows 2, 4, 6, 8, 10 and 1 more)"
        in report.errors[0]
    )


def test_single_example_class_and_missing_label() -> None:
    df = pd.concat([frame(), pd.DataFrame([("a lonely one", "rare"), ("no label here", "")],
                                          columns=["text", "intent"])], ignore_index=True)
    report = validate_labelled_frame(df, "text", "intent")
    assert any("1 rows have no label in 'intent' (rows 32)" in e for e in report.errors)
    assert any("1 classes have a single example ('rare')" in e for e in report.errors)


def test_warnings_duplicates_label_variants_long_texts() -> None:
    df = frame()
    df.loc[0, "text"] = df.loc[1, "text"]
    df.loc[[2, 3], "intent"] = "Refund"
    df.loc[[5, 6], "intent"] = "Refund "
    df.loc[4, "text"] = "x" * 2500
    report = validate_labelled_frame(df, "text", "intent")
    assert report.ok
    assert any(w.startswith("1 duplicate texts") for w in report.warnings)
    assert any("'refund' and 'Refund' and 'Refund '" in w and "merge" in w for w in report.warnings)
    assert any("1 texts are longer than 2000 characters (longest 2500)" in w for w in report.warnings)


def test_splits_are_stratified_seeded_and_disjoint() -> None:
    df = frame(n_per_class=30, classes=("a", "b", "c", "d"))
    splits = splits_from_frame(df, "text", "intent", seed=1)
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (84, 12, 24)
    assert Counter(splits.test.labels) == {0: 6, 1: 6, 2: 6, 3: 6}
    assert Counter(splits.validation.labels) == {0: 3, 1: 3, 2: 3, 3: 3}
    ids = splits.train.ids + splits.validation.ids + splits.test.ids
    assert sorted(ids) == [f"row-{i:05d}" for i in range(1, 121)]
    assert splits_from_frame(df, "text", "intent", seed=1).test.ids == splits.test.ids
    assert splits_from_frame(df, "text", "intent", seed=2).test.ids != splits.test.ids


def test_invalid_frame_raises_with_problems() -> None:
    with pytest.raises(DataValidationError) as info:
        splits_from_frame(frame(n_per_class=3), "text", "label")
    assert info.value.problems == ["label column 'label' not found; columns are: text, intent"]


def test_stratified_split_keeps_tiny_classes_in_training() -> None:
    labels = [0] * 20 + [1] * 2
    kept, held = stratified_split(labels, 5, seed=0)
    assert len(held) == 5 and sorted(kept + held) == list(range(22))
    assert sum(labels[i] == 1 for i in kept) >= 1
    with pytest.raises(DataValidationError, match="cannot hold out"):
        stratified_split([0, 0, 1, 1], 3, seed=0)


def test_limit_per_class() -> None:
    split = LabelledTexts(tuple(f"id{i}" for i in range(30)), tuple(f"t{i}" for i in range(30)),
                          tuple([0] * 20 + [1] * 7 + [2] * 3))
    small = limit_per_class(split, 5, seed=0)
    assert Counter(small.labels) == {0: 5, 1: 5, 2: 3}
    assert list(small.ids) == sorted(small.ids, key=lambda i: int(i[2:]))
    assert limit_per_class(split, 5, seed=0).ids == small.ids


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".jsonl"])
def test_user_file_formats_round_trip(tmp_path: Path, suffix: str) -> None:
    df = frame()
    path = tmp_path / f"tickets{suffix}"
    if suffix == ".csv":
        path.write_text(df.to_csv(index=False, sep=";"), encoding="utf-8-sig")
    elif suffix == ".tsv":
        df.to_csv(path, index=False, sep="\t")
    elif suffix == ".parquet":
        df.to_parquet(path)
    else:
        df.to_json(path, orient="records", lines=True)
    splits = load_user_dataset(path, "text", "intent", pii_scrub=True)
    assert splits.label_names == ("card", "other", "refund")
    assert len(splits.train) + len(splits.validation) + len(splits.test) == 30
    assert splits.meta["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert splits.meta["pii_report"]["texts_total"] == 30


def test_latin1_csv_falls_back_with_warning(tmp_path: Path) -> None:
    path = tmp_path / "accents.csv"
    df = frame()
    df.loc[0, "text"] = "café crème refund"
    path.write_bytes(df.to_csv(index=False).encode("latin-1"))
    table = read_table(path)
    assert table.loc[0, "text"] == "café crème refund"
    report = validate_labelled_frame(table, "text", "intent")
    assert any("not UTF-8 (byte 0xE9 on line 2); it was read as cp1252" in w for w in report.warnings)


def test_pii_is_scrubbed_in_user_data() -> None:
    df = frame()
    df.loc[0, "text"] = "mail me at jane@example.com"
    splits = splits_from_frame(df, "text", "intent", pii_scrub=True)
    every = splits.train.texts + splits.validation.texts + splits.test.texts
    assert "mail me at [EMAIL]" in every
    assert splits.meta["pii_report"]["counts"]["email"] == 1


def test_unsupported_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "data.xlsx").write_bytes(b"x")
    with pytest.raises(DatasetError, match="unsupported file type .xlsx"):
        read_table(tmp_path / "data.xlsx")


# ---------------------------------------------------------------- one sniffing layer with the Data importer


def zipfile_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("tickets.csv", "text,label\nhi,a\n")
    return buffer.getvalue()


def _importer_refusal(name: str, data: bytes) -> list[str]:
    """What the Data page importer says about the same bytes: a refusal, or the problems parse_file lists."""
    from analytics.errors import ImportValidationError
    from analytics.ingest.importer import parse_file, sniff_file

    with pytest.raises(ImportValidationError) as info:
        parse_file(name, data, sniff_file(name, data))
    return info.value.problems


@pytest.mark.parametrize(("data", "what"), [
    (gzip.compress(b"text,label\nhi,a\n", mtime=0), "is gzip-compressed, not a text table"),
    (zipfile_bytes(), "is a ZIP archive"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "is a PNG image"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "is a PDF document"),
    ("text,label\nhi,a\n".encode("utf-16-le"), "contains NUL bytes"),
    ("text,label\nhi,a\n".encode("utf-16-be"), "contains NUL bytes"),
])
def test_binary_files_are_refused_with_the_importers_message(tmp_path: Path, data: bytes, what: str) -> None:
    saved = tmp_path / "0a1b2c3d4e5f-tickets.csv"  # how the Fine-tune page names a saved upload
    saved.write_bytes(data)
    with pytest.raises(DatasetError) as info:
        read_table(saved, display_name="tickets.csv")
    assert [str(info.value)] == _importer_refusal("tickets.csv", data)
    assert str(info.value).startswith(f"tickets.csv {what}")
    assert isinstance(info.value.__cause__, Exception) and "0a1b2c3d4e5f" not in str(info.value)


def test_utf16_with_bom_reads_the_same_in_both_paths() -> None:
    from analytics.ingest.importer import parse_file, sniff_file

    data = "text\tintent\ncafé crème\trefund\nmy card\tcard\n".encode("utf-16")
    table = read_table_bytes("u16.tsv", data)
    assert table.values.tolist() == [["café crème", "refund"], ["my card", "card"]]
    imported = parse_file("u16.tsv", data, sniff_file("u16.tsv", data))
    assert imported.values.tolist() == table.values.tolist()


def test_ragged_csv_is_refused_with_its_lines_in_both_paths() -> None:
    data = b"text,intent\nwhere is my card,card\nrefund please, now,refund\nhello\nok,other\nfine,card,x,y\n"
    with pytest.raises(DataValidationError) as info:
        read_table_bytes("tickets.csv", data)
    assert info.value.problems == _importer_refusal("tickets.csv", data)
    assert str(info.value) == "tickets.csv cannot be used for training: 4 problem(s) to fix first"
    assert info.value.problems[0].startswith(
        "tickets.csv: no delimiter gives every line the same number of fields")
    assert info.value.problems[1:] == [
        "tickets.csv, line 3: expected 2 fields (like the header), got 3: 'refund please, now,refund'",
        "tickets.csv, line 4: expected 2 fields (like the header), got 1: 'hello'",
        "tickets.csv, line 6: expected 2 fields (like the header), got 4: 'fine,card,x,y'"]


def test_unclosed_quote_is_refused_with_its_line_in_both_paths() -> None:
    data = b'text,intent\nhi,card\n"where is it,card\nok,refund\n'
    with pytest.raises(DataValidationError) as info:
        read_table_bytes("q.csv", data)
    assert info.value.problems == _importer_refusal("q.csv", data)
    assert len(info.value.problems) == 1
    assert info.value.problems[0].startswith("q.csv, line 3: a '\"' opens a quoted field that never closes")


def test_whitespace_only_cells_are_reported_in_both_paths() -> None:
    from analytics.ingest.importer import sniff_file

    df = frame()
    df.loc[[2, 5], "text"] = "   "
    data = df.to_csv(index=False).encode()
    table = read_table_bytes("spaces.csv", data)
    note = ("spaces.csv: 2 cells held only spaces and were stored as empty (the first on line 4, "
            "column 'text')")
    assert table.attrs["read_warnings"] == [note]
    assert note in sniff_file("spaces.csv", data).warnings
    report = validate_labelled_frame(table, "text", "intent")
    assert note in report.warnings
    assert any("2 rows have an empty or whitespace-only text" in e for e in report.errors)


def test_jsonl_lines_are_checked_by_line() -> None:
    with pytest.raises(DataValidationError) as info:
        read_table_bytes("t.jsonl", b'{"text": "a", "intent": "x"}\n{"text": "b"\n')
    assert info.value.problems == ["t.jsonl, line 2: not valid JSON (Expecting ',' delimiter, column 13); "
                                   "JSON Lines needs one complete object per line"]
    data = b'{"text": "a", "intent": 1}\n\n{"text": "b", "intent": 0}\n'
    table = read_table_bytes("t.jsonl", data)
    assert table["text"].tolist() == ["a", "b"] and table["intent"].tolist() == [1, 0]


def test_duplicate_and_empty_header_names_stay_distinct() -> None:
    table = read_table_bytes("d.csv", b"text,text,\na,b,c\n")
    assert list(table.columns) == ["text", "text.1", "column_3"]
