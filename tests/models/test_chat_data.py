"""Generation data: conversation files in three formats, the validator's findings, Bitext from the mirror.

Never touches the network. User files live in a temporary uploads folder (STRATLAB_UPLOADS_DIR), the only
place besides data/ and the dataset folders that conversation files may be read from.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from models.core.config import TrainConfig
from models.data import chat_files
from models.data.catalog import CATALOG, load_dataset
from models.data.chat import ChatExample, ChatSplits, limit_per_intent, load_chat_data, stratified_subset
from models.data.chat_files import read_chat_file, sniff_chat_file
from models.data.chat_validate import validate_chat
from models.errors import ConfigError, DatasetError, DataValidationError

MIRROR = Path(
    os.environ.get("STRATLAB_DATASET_MIRROR", Path(__file__).resolve().parents[3] / "shared" / "datasets")
)
needs_mirror = pytest.mark.skipif(not (MIRROR / "bitext_customer_support").is_dir(),
                                  reason="dataset mirror not present")
BITEXT = "bitext_customer_support"


def _env(mp: pytest.MonkeyPatch, root: Path) -> Path:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network disabled in tests")

    mp.setattr(urllib.request, "urlopen", refuse)
    mp.setenv("STRATLAB_DATASET_CACHE", str(root / "cache"))
    mp.setenv("STRATLAB_DATASET_MIRROR", str(MIRROR))
    uploads = root / "uploads"
    uploads.mkdir(exist_ok=True)
    mp.setenv("STRATLAB_UPLOADS_DIR", str(uploads))
    return uploads


@pytest.fixture(autouse=True)
def uploads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return _env(monkeypatch, tmp_path)


def _config(dataset: str = BITEXT, **changes: object) -> TrainConfig:
    return TrainConfig(method="sft_lora", model="HuggingFaceTB/SmolLM2-135M-Instruct", dataset=dataset,
                       **changes)


def _jsonl(path: Path, objects: list[object]) -> Path:
    path.write_text("".join(json.dumps(o) + "\n" for o in objects), encoding="utf-8")
    return path


def _chat(i: str, *messages: tuple[str, str], intent: str | None = None) -> ChatExample:
    return ChatExample(i, messages, intent)


def _pair(i: str, request: str = "where is my order?", reply: str = "It ships today.",
          intent: str | None = None) -> ChatExample:
    return _chat(i, ("user", request), ("assistant", reply), intent=intent)


# ---------------------------------------------------------------- the three formats


def test_messages_jsonl_multi_turn(uploads: Path) -> None:
    path = _jsonl(uploads / "support.jsonl", [
        {"messages": [{"role": "system", "content": "Be brief."},
                      {"role": "user", "content": "Hi\r\nI lost my card"},
                      {"role": "assistant", "content": "Sorry to hear that."},
                      {"role": "User", "content": [{"type": "text", "text": "Block it"}]},
                      {"role": "assistant", "content": " Done: it is blocked. "}], "intent": "lost_card"},
        {"messages": [{"role": "user", "content": "Refund?"}, {"role": "assistant", "content": "Yes."}]},
    ])
    guess = sniff_chat_file(path)
    assert (guess.data_format, guess.intent_column, guess.rows) == ("messages", "intent", 2)
    first, second = read_chat_file(path, system_prompt="You are a support agent.")
    assert first.id == "row-00001" and first.intent == "lost_card"
    assert first.messages[1] == ("user", "Hi\nI lost my card") and first.messages[3] == ("user", "Block it")
    assert first.reference == "Done: it is blocked." and first.request == "Block it"
    assert first.system == "Be brief." and len(first.prompt_messages) == 4
    assert second.messages[0] == ("system", "You are a support agent.") and second.intent is None


def test_alpaca_json_list_and_jsonl(uploads: Path) -> None:
    rows = [{"instruction": "Summarise the ticket", "input": "Card stuck in ATM", "output": "ATM kept card."},
            {"instruction": "Say hello", "input": "", "output": "Hello!"}]
    listed = uploads / "alpaca.json"
    listed.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    lines = _jsonl(uploads / "alpaca.jsonl", rows)
    assert sniff_chat_file(listed).data_format == "alpaca"
    for path in (listed, lines):
        first, second = read_chat_file(path)
        assert first.messages == (("user", "Summarise the ticket\n\nCard stuck in ATM"),
                                  ("assistant", "ATM kept card."))
        assert second.messages == (("user", "Say hello"), ("assistant", "Hello!"))
        assert second.id == "row-00002"


def test_prompt_response_tables(uploads: Path) -> None:
    frame = pd.DataFrame({"Question": ["Where is my parcel?", "Cancel order 42"],
                          "Answer": ["It is on its way,\nsee the tracking link.", "Cancelled."],
                          "system": ["", "Be formal."], "category": ["delivery", "cancel"]})
    csv = uploads / "pairs.csv"
    csv.write_bytes(frame.to_csv(index=False).replace("\n", "\r\n").encode("utf-8"))
    parquet = uploads / "pairs.parquet"
    frame.to_parquet(parquet)
    jsonl = _jsonl(uploads / "pairs.jsonl", frame.to_dict(orient="records"))
    for path in (csv, parquet, jsonl):
        guess = sniff_chat_file(path)
        assert (guess.data_format, guess.prompt_column, guess.response_column) == \
            ("prompt_response", "Question", "Answer"), path.name
        assert (guess.system_column, guess.intent_column, guess.rows) == ("system", "category", 2)
        first, second = read_chat_file(path)
        assert first.messages == (("user", "Where is my parcel?"),
                                  ("assistant", "It is on its way,\nsee the tracking link."))
        assert second.messages[0] == ("system", "Be formal.") and second.intent == "cancel"
    explicit = read_chat_file(csv, data_format="prompt_response", prompt_column="Answer",
                              response_column="Question", intent_column=None)
    assert explicit[1].reference == "Cancel order 42"


def test_encodings_are_detected_by_the_shared_sniffer(uploads: Path) -> None:
    latin = uploads / "latin.csv"
    latin.write_bytes("prompt;response\nMon caf\u00e9 est froid;D\u00e9sol\u00e9 !\n".encode("cp1252"))
    guess = sniff_chat_file(latin)
    assert (guess.prompt_column, guess.response_column) == ("prompt", "response")
    assert any("not UTF-8" in w for w in guess.warnings)
    assert read_chat_file(latin)[0].messages == (("user", "Mon caf\u00e9 est froid"),
                                                 ("assistant", "D\u00e9sol\u00e9 !"))
    bom = _jsonl(uploads / "bom.jsonl", [{"instruction": "Hi", "output": "Hello"}])
    bom.write_bytes(b"\xef\xbb\xbf" + bom.read_bytes())
    assert read_chat_file(bom)[0].reference == "Hello"


def test_structural_problems_name_the_line_or_column(uploads: Path) -> None:
    broken = uploads / "broken.jsonl"
    broken.write_text('{"messages": []}\n{"messages": [{"content": "no role"}]}\nnot json\n',
                      encoding="utf-8")
    with pytest.raises(DataValidationError, match="line 3: not valid JSON"):
        read_chat_file(broken)
    roles = _jsonl(uploads / "roles.jsonl", [{"messages": []}, {"messages": [{"content": "no role"}]},
                                             {"messages": "hello"}])
    with pytest.raises(DataValidationError) as info:
        read_chat_file(roles)
    problems = " ".join(info.value.problems)
    assert "line 1: 'messages' must be a non-empty list" in problems
    assert "line 2, message 1: needs a \"role\"" in problems and "line 3" in problems
    csv = uploads / "pairs.csv"
    csv.write_text("prompt,reply\nhi,hello\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match="response column 'answer' not found; columns are: prompt"):
        read_chat_file(csv, response_column="answer")
    with pytest.raises(ConfigError, match="data_format must be one of"):
        read_chat_file(csv, data_format="sharegpt")
    with pytest.raises(DataValidationError, match='no "messages" key; keys are: prompt, reply'):
        read_chat_file(csv, data_format="messages")


def test_hostile_paths_and_sizes_are_refused(uploads: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    secret = outside / "secret.jsonl"
    secret.write_text('{"prompt": "a", "response": "b"}\n', encoding="utf-8")
    (uploads / "link.jsonl").symlink_to(secret)
    for path in (secret, uploads / "link.jsonl", uploads / ".." / "elsewhere" / "secret.jsonl",
                 Path("/etc/passwd"), "data/uploads/\x00.jsonl"):
        with pytest.raises(DatasetError, match="outside the allowed data folders|not a usable file path"):
            read_chat_file(path)
    (uploads / "notes.txt").write_text("prompt,response\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="unsupported file type .txt"):
        sniff_chat_file(uploads / "notes.txt")
    (uploads / "folder.csv").mkdir()
    with pytest.raises(DatasetError, match="not a regular file"):
        read_chat_file(uploads / "folder.csv")
    big = uploads / "big.jsonl"
    big.write_text('{"prompt": "a", "response": "b"}\n' * 10, encoding="utf-8")
    monkeypatch.setattr(chat_files, "MAX_CHAT_FILE_BYTES", 100)
    with pytest.raises(DatasetError, match="the limit is"):
        read_chat_file(big)
    (uploads / "zip.csv").write_bytes(b"PK\x03\x04" + b"\x00" * 20)
    monkeypatch.setattr(chat_files, "MAX_CHAT_FILE_BYTES", 10_000)
    with pytest.raises(DatasetError, match="ZIP archive"):
        read_chat_file(uploads / "zip.csv")
    assert read_chat_file(secret, allowed_dirs=[outside])[0].reference == "b"  # explicitly allowed


# ---------------------------------------------------------------- the validator


def _words(messages: object) -> int:
    return sum(len(content.split()) + 2 for _, content in messages)  # type: ignore[attr-defined]


def test_clean_data_has_no_findings() -> None:
    report = validate_chat([_pair(f"row-{i}", f"question {i}", f"answer {i}") for i in range(5)],
                           count_tokens=_words, max_length=64)
    assert report.ok and not report.warnings
    assert report.token_stats == {"min": 8, "median": 8, "p95": 8, "max": 8}  # 2 words + 2, twice
    report.raise_for_errors()


def test_structure_errors_say_what_to_change() -> None:
    examples = [
        _pair("ok-1"),
        _chat("human", ("human", "hi"), ("gpt", "hello")),
        _chat("no-reply", ("user", "hi"), ("user", "anyone?")),
        _chat("ends-user", ("user", "hi"), ("assistant", "hello"), ("user", "thanks")),
        _pair("empty", reply="  "),
        _chat("no-request", ("system", "Be brief."), ("assistant", "Hello.")),
        _chat("late-system", ("user", "hi"), ("system", "Be brief."), ("assistant", "Hello.")),
    ]
    report = validate_chat(examples)
    codes = {f.code: f for f in report.errors}
    assert set(codes) == {"unknown_role", "no_assistant_turn", "not_ending_with_assistant", "empty_reply",
                          "no_request"}
    assert "'human' -> 'user'" in codes["unknown_role"].message and codes["unknown_role"].count == 1
    assert codes["no_assistant_turn"].example_ids == ("no-reply",)
    assert codes["not_ending_with_assistant"].example_ids == ("ends-user",)
    assert "'user'" in codes["not_ending_with_assistant"].message
    assert codes["empty_reply"].example_ids == ("empty",) and "delete" in codes["empty_reply"].message
    assert codes["no_request"].example_ids == ("no-request",)
    assert report.finding("system_position").example_ids == ("late-system",)
    with pytest.raises(DataValidationError) as info:
        report.raise_for_errors("support.jsonl")
    assert str(info.value).startswith("support.jsonl: 5 problem(s) to fix before training")
    assert len(info.value.problems) == 5


def test_all_empty_replies_and_no_assistant_at_all() -> None:
    empty = validate_chat([_pair(f"r{i}", reply="") for i in range(4)])
    assert [f.code for f in empty.errors] == ["all_replies_empty"]
    assert "every reply is empty (4 of 4)" in empty.errors[0].message
    requests_only = validate_chat([_chat(f"r{i}", ("user", "hi")) for i in range(3)])
    assert [f.code for f in requests_only.errors] == ["no_assistant_turn"]
    assert "no conversation has an assistant turn" in requests_only.errors[0].message
    assert validate_chat([_pair("a")], min_examples=20).finding("too_few_examples") is not None


def test_duplicates_and_placeholders_are_counted() -> None:
    examples = [_pair("a", "q1", "r1"), _pair("b", "q1", "r1"), _pair("c", "q1", "r1"),
                _pair("d", "q2", "r2"),
                _pair("e", "q3", "Log in to {{Website URL}} and open {{Order History}}."),
                _pair("f", "q4", "Call {{Customer Support Phone Number}}."), _pair("g", "q2", "other")]
    report = validate_chat(examples)
    assert report.ok
    dup = report.finding("duplicates")
    assert dup.count == 2 and dup.example_ids == ("b", "c") and "1 distinct conversations" in dup.message
    assert report.finding("conflicting_replies").count == 1
    assert report.finding("missing_intent") is None
    mixed = validate_chat([_pair("x", intent="refund"), _pair("y", "other question")])
    assert mixed.finding("missing_intent").example_ids == ("y",)
    slots = report.finding("placeholders")
    assert slots.count == 2 and slots.example_ids == ("e", "f")
    assert "2 of 7 (29%) replies" in slots.message and "3 distinct" in slots.message
    assert "fill them in at serving time" in slots.message


def test_context_length_findings() -> None:
    short = _pair("short", "hi", "ok")  # 1+2 + 1+2 = 6 tokens
    long = _pair("long", "hi", " ".join(["word"] * 30))  # 3 + 32 = 35 tokens
    huge = _chat("huge", ("user", " ".join(["w"] * 40)), ("assistant", "fine"))  # 42 + 3 = 45, prompt 42
    report = validate_chat([short, long, huge], count_tokens=_words, max_length=20)
    assert report.ok
    cut = report.finding("reply_truncated")
    assert cut.count == 2 and cut.example_ids == ("long", "huge")
    assert "2 of 3 (67%)" in cut.message and "stop mid-sentence" in cut.message
    assert report.finding("prompt_fills_context").example_ids == ("huge",)
    assert "raise max_length to 44 (95% fit)" in cut.message
    one_long = [_pair(f"s{i}", "hi", "ok") for i in range(30)] + [long]
    assert "raise max_length to 35 (all fit)" in validate_chat(
        one_long, count_tokens=_words, max_length=20).finding("reply_truncated").message
    too_short = validate_chat([short, long], count_tokens=_words, max_length=5)
    error = too_short.finding("context_too_short")
    assert error in too_short.errors and "shortest example (6 tokens, short)" in error.message
    assert "raise max_length to at least" in error.message


# ---------------------------------------------------------------- subsets


def test_stratified_subset_and_cap_per_intent() -> None:
    examples = [_pair(f"r{i:03d}", f"q{i}", f"a{i}", intent=intent)
                for i, intent in enumerate(["a"] * 50 + ["b"] * 30 + ["c"] * 20)]
    subset = stratified_subset(examples, 10, seed=1)
    assert Counter(e.intent for e in subset) == {"a": 5, "b": 3, "c": 2}
    assert [e.id for e in subset] == sorted(e.id for e in subset)
    assert subset == stratified_subset(examples, 10, seed=1) != stratified_subset(examples, 10, seed=2)
    assert len(stratified_subset(examples, 2, seed=0)) == 2
    assert stratified_subset(examples, None, seed=0) == tuple(examples)
    capped = limit_per_intent(examples, 25, seed=0)
    assert Counter(e.intent for e in capped) == {"a": 25, "b": 25, "c": 20}
    with pytest.raises(ConfigError):
        stratified_subset(examples, 0, seed=0)


# ---------------------------------------------------------------- load_chat_data


def test_user_file_is_validated_and_split(uploads: Path) -> None:
    rows = [{"prompt": f"question {i}", "response": f"answer {i}", "intent": "ab"[i % 2]} for i in range(40)]
    good = _jsonl(uploads / "good.jsonl", rows)
    data = load_chat_data(_config(str(good), seed=3))
    assert isinstance(data, ChatSplits) and data.rows() == {"train": 34, "validation": 2, "test": 4}
    assert data.intents == ("a", "b") and Counter(e.intent for e in data.test) == {"a": 2, "b": 2}
    assert data.meta["format"] == "prompt_response" and data.meta["columns"]["intent"] == "intent"
    assert len(data.meta["sha256"]) == 64
    bad = _jsonl(uploads / "bad.jsonl",
                 [{**r, "response": ""} if i in (4, 9) else r for i, r in enumerate(rows)])
    with pytest.raises(DataValidationError, match=r"2 of 40 \(5%\) replies are missing or empty \(ids "
                                                  r"row-00005, row-00010\)"):
        load_chat_data(_config(str(bad)))
    with pytest.raises(DatasetError, match="outside the allowed data folders"):
        load_chat_data(_config(str(uploads.parent / "nowhere.jsonl")))
    plain = _jsonl(uploads / "plain.jsonl", [{"messages": [{"role": "user", "content": f"q{i}"},
                                                           {"role": "assistant", "content": f"a{i}"}]}
                                             for i in range(25)])
    no_intents = load_chat_data(_config(str(plain), train_examples_per_class=5))
    assert no_intents.intents == () and no_intents.meta["format"] == "messages"
    assert no_intents.rows() == {"train": 5, "validation": 1, "test": 2}  # the cap is a total without intents
    with pytest.raises(DataValidationError, match="only 3 conversations; need at least 20"):
        load_chat_data(_config(str(_jsonl(uploads / "tiny.jsonl", rows[:3]))))


def test_catalog_entry_serves_both_tasks() -> None:
    entry = CATALOG[BITEXT]
    assert entry.tasks == ("classification", "generation") and entry.generation
    assert CATALOG["banking77"].tasks == ("classification",) and not CATALOG["banking77"].generation
    assert entry.files["train.csv"][0].endswith(
        "337b96868e02b40a05f9c0df3290c65a15ea573e/data/train/Bitext_Sample_Customer_Support_Training_Dataset.csv")
    assert entry.files["train.csv"][1] == "079b0cec48d34c319c9877b6d178390bf7187a7f7a604958e0ed5a096bba5af6"
    with pytest.raises(DatasetError, match="without replies"):
        load_chat_data(_config("banking77"))


@pytest.fixture(scope="module")
def bitext(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatSplits]:
    with pytest.MonkeyPatch.context() as mp:
        _env(mp, tmp_path_factory.mktemp("bitext"))
        yield load_chat_data(_config())


@needs_mirror
def test_bitext_generation_split(bitext: ChatSplits) -> None:
    assert bitext.name == BITEXT and bitext.rows() == CATALOG[BITEXT].rows
    assert bitext.rows() == {"train": 3837, "validation": 226, "test": 451} and len(bitext.intents) == 27
    every = bitext.train + bitext.validation + bitext.test
    assert len({e.id for e in every}) == 4514 and all(e.id.startswith("train-") for e in every)
    assert all(len(e.messages) == 2 and "\r" not in e.reference and e.reference for e in every)
    first = min(every, key=lambda e: e.id)
    assert first.id == "train-00000" and first.request == "how can I cancel purchase 113542617735902?"
    assert first.intent == "cancel_order" and first.reference.startswith("I understand how unnerving")
    totals, tests = Counter(e.intent for e in every), Counter(e.intent for e in bitext.test)
    for intent, n in totals.items():
        assert abs(tests[intent] - n * 0.10) <= 1.0, intent
    assert bitext.meta["licence"] == "CDLA-Sharing-1.0" and bitext.meta["seed"] == 42
    assert any("placeholders" in w for w in bitext.meta["warnings"])


@needs_mirror
def test_bitext_classification_uses_the_same_split(bitext: ChatSplits) -> None:
    splits = load_dataset(BITEXT)
    assert splits.num_labels == 27 and splits.label_names == bitext.intents
    for part in ("train", "validation", "test"):
        chats = getattr(bitext, part)
        texts = getattr(splits, part)
        assert texts.ids == tuple(e.id for e in chats)
        assert texts.texts == tuple(e.request for e in chats)
        assert tuple(splits.label_names[y] for y in texts.labels) == tuple(e.intent for e in chats)


@needs_mirror
def test_bitext_seed_cap_system_prompt_and_pii(bitext: ChatSplits) -> None:
    data = load_chat_data(_config(seed=7, train_examples_per_class=10, system_prompt="You are Acme's agent.",
                                  pii_scrub=True))
    assert {e.id for e in data.test} != {e.id for e in bitext.test}
    assert len(data.train) == 270 and set(Counter(e.intent for e in data.train).values()) == {10}
    assert (len(data.validation), len(data.test)) == (226, 451)
    every = data.train + data.validation + data.test
    assert all(e.messages[0] == ("system", "You are Acme's agent.") for e in every)
    report = data.meta["pii_report"]
    assert report["requests"]["counts"]["card"] > 0 and report["replies"]["total"] > 0
    raw = {e.id: e for e in bitext.train + bitext.validation + bitext.test}
    hit = next(e for e in every if "113542617735902" in raw[e.id].request)
    assert "113542617735902" not in hit.request and "[CARD]" in hit.request
    assert "113542617735902" not in hit.reference
