"""Conversations for reply generation (SFT): the example types, seeded subsets, and the one loader.

    from models.data.chat import load_chat_data
    data = load_chat_data(TrainConfig(method="sft_lora", dataset="bitext_customer_support"))

A `ChatExample` is one conversation whose last message is the reply the model learns (the assistant's);
everything before it is the prompt. Catalog datasets come from `models.data.catalog`, user files from
`models.data.chat_files`; both are checked by `models.data.chat_validate` before any split is made.
Example ids are stable: 'train-00042' (row 42 of a catalog file, 0-based) or 'row-00003' (data row or JSON
line 3 of a user file, 1-based, as in validation messages).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from models.errors import ConfigError, DatasetError, DataValidationError

log = logging.getLogger(__name__)

ROLES = ("system", "user", "assistant")
"""The roles a message may have (OpenAI / Hugging Face chat-template names)."""
TEST_FRACTION = 0.10
"""Share of the examples held out for the test split (stratified by intent when the data has intents)."""
VALIDATION_FRACTION = 0.05
"""Share of the examples held out for the validation split (early stopping, validation loss)."""
MIN_CHAT_EXAMPLES = 20
"""Fewest examples a dataset may have: fewer cannot be split into train, validation and test."""

Messages = tuple[tuple[str, str], ...]
"""(role, content) pairs of one conversation."""


@dataclass(frozen=True)
class ChatExample:
    """One conversation: (role, content) messages, the last being the assistant reply to learn."""

    id: str
    """Stable id pointing back at the source row ('train-00042', 'row-00003')."""
    messages: tuple[tuple[str, str], ...]
    """(role, content) pairs in order; roles are system | user | assistant (the validator checks)."""
    intent: str | None = None
    """The request's intent label when the data has one (Bitext's 'intent' column), else None."""

    def __post_init__(self) -> None:
        try:
            messages = tuple((role, content) for role, content in self.messages)
        except (TypeError, ValueError) as e:
            raise DataValidationError(f"example {self.id}: messages must be (role, content) pairs") from e
        bad = [i for i, (role, content) in enumerate(messages)
               if not isinstance(role, str) or not isinstance(content, str)]
        if bad:
            raise DataValidationError(f"example {self.id}: message {bad[0] + 1} needs a text role and a text "
                                      "content")
        object.__setattr__(self, "messages", messages)

    @property
    def prompt_messages(self) -> tuple[tuple[str, str], ...]:
        """Every message but the last: what the model is given (system prompt, history, the request)."""
        return self.messages[:-1]

    @property
    def reference(self) -> str:
        """The last message's content when it is the assistant's (the reply to learn), else ''."""
        return self.messages[-1][1] if self.messages and self.messages[-1][0] == "assistant" else ""

    @property
    def request(self) -> str:
        """The content of the last user message of the prompt ('' when there is none)."""
        return next((content for role, content in reversed(self.prompt_messages) if role == "user"), "")

    @property
    def system(self) -> str | None:
        """The system message's content, None when the conversation has none."""
        return next((content for role, content in self.messages if role == "system"), None)


@dataclass(frozen=True)
class ChatSplits:
    """Train / validation / test conversations of one generation dataset."""

    name: str
    """Catalog name ('bitext_customer_support') or the user file's name."""
    train: tuple[ChatExample, ...]
    """Conversations the model learns from."""
    validation: tuple[ChatExample, ...]
    """Conversations for the validation loss and early stopping."""
    test: tuple[ChatExample, ...]
    """Held-out conversations whose requests are generated and judged."""
    intents: tuple[str, ...] = ()
    """Sorted distinct intents over all splits; () when the data has none."""
    meta: dict = field(default_factory=dict, compare=False)
    """Provenance: source, sha256, licence, seed, fractions, format, columns, pii report, warnings."""

    def rows(self) -> dict[str, int]:
        """Examples per split: {'train': n, 'validation': n, 'test': n}."""
        return {"train": len(self.train), "validation": len(self.validation), "test": len(self.test)}


# ---------------------------------------------------------------- seeded subsets


def _groups(examples: Sequence[ChatExample]) -> dict[str, list[int]]:
    """Positions per intent; examples without an intent form one group."""
    groups: dict[str, list[int]] = defaultdict(list)
    for position, example in enumerate(examples):
        groups["" if example.intent is None else example.intent].append(position)
    return groups


def stratified_subset(examples: Sequence[ChatExample], n: int | None, seed: int) -> tuple[ChatExample, ...]:
    """At most `n` examples, seeded, each intent in proportion to its share, kept in their original order.

    What `eval_limit` uses to pick the test requests to generate. `n` None (or at least len) keeps all.
    With fewer rows than intents, the largest-remainder allocation (ties broken by the seed) picks which
    intents get one. Raises ConfigError when n < 1.
    """
    from models.data.splits import _allocate

    if n is None or n >= len(examples):
        return tuple(examples)
    if n < 1:
        raise ConfigError(f"a subset needs at least 1 example, got {n}")
    groups = _groups(examples)
    keys = sorted(groups)
    rng = np.random.default_rng(seed)
    counts = np.array([len(groups[k]) for k in keys])
    alloc = _allocate(counts, counts, n, rng)
    chosen: list[int] = []
    for key, take in zip(keys, alloc, strict=True):
        members = groups[key]
        chosen += [members[i] for i in rng.permutation(len(members))[:take]]
    return tuple(examples[i] for i in sorted(chosen))


def limit_per_intent(examples: Sequence[ChatExample], per_intent: int, seed: int) -> tuple[ChatExample, ...]:
    """At most `per_intent` seeded examples of each intent, in the original order (train_examples_per_class).

    Examples without an intent are one group, so for data without intents the cap is the total count.
    Raises ConfigError when per_intent < 1.
    """
    if per_intent < 1:
        raise ConfigError(f"examples per intent must be at least 1, got {per_intent}")
    rng = np.random.default_rng(seed)
    groups = _groups(examples)
    chosen: list[int] = []
    for key in sorted(groups):
        members = groups[key]
        chosen += [members[i] for i in rng.permutation(len(members))[:per_intent]]
    return tuple(examples[i] for i in sorted(chosen))


def split_examples(examples: Sequence[ChatExample], seed: int, *, test_fraction: float = TEST_FRACTION,
                   validation_fraction: float = VALIDATION_FRACTION
                   ) -> tuple[tuple[ChatExample, ...], tuple[ChatExample, ...], tuple[ChatExample, ...]]:
    """(train, validation, test), seeded and stratified by intent, every intent keeping a training example.

    The test rows are held out first (seed), then validation from the rest (seed + 1): the same positions
    `models.data.splits.carve` gives a classification dataset with the same labels, so both tasks of a
    catalog dataset see the same test requests. Raises DataValidationError when there are too few rows.
    """
    from models.data.splits import Rows, carve, holdout_count

    if len(examples) < MIN_CHAT_EXAMPLES:
        raise DataValidationError(
            f"only {len(examples)} usable examples; need at least {MIN_CHAT_EXAMPLES} to split into train, "
            "validation and test (aim for a few hundred): add conversations",
            problems=[f"only {len(examples)} examples"])
    positions = [str(i) for i in range(len(examples))]
    intents = ["" if e.intent is None else e.intent for e in examples]
    rows = Rows(positions, positions, intents)
    n = len(examples)
    rest, test = carve(rows, holdout_count(test_fraction, n), seed)
    train, validation = carve(rest, holdout_count(validation_fraction, n), seed + 1)
    return tuple(tuple(examples[int(i)] for i in part.ids) for part in (train, validation, test))


# ---------------------------------------------------------------- PII


def scrub_examples(examples: Sequence[ChatExample]) -> tuple[tuple[ChatExample, ...], dict[str, Any]]:
    """The examples with PII masked (models.data.pii) in every message, and what was masked.

    The report has one `PiiReport.to_dict()` per role group: 'requests' (user and system messages) and
    'replies' (assistant messages), plus 'total' masked matches.
    """
    from models.data.pii import scrub_texts

    flat = [(i, j, role, content)
            for i, e in enumerate(examples) for j, (role, content) in enumerate(e.messages)]
    groups = {"requests": [f for f in flat if f[2] != "assistant"],
              "replies": [f for f in flat if f[2] == "assistant"]}
    masked: dict[tuple[int, int], str] = {}
    report: dict[str, Any] = {}
    for group, items in groups.items():
        texts, pii = scrub_texts(content for *_, content in items)
        masked.update({(i, j): text for (i, j, _, _), text in zip(items, texts, strict=True)})
        report[group] = pii.to_dict()
    report["total"] = sum(part["total"] for part in report.values())
    out = tuple(replace(e, messages=tuple((role, masked[(i, j)]) for j, (role, _) in enumerate(e.messages)))
                for i, e in enumerate(examples))
    return out, report


# ---------------------------------------------------------------- loading


def is_chat_file(dataset: str) -> bool:
    """True when `dataset` names a file (by its suffix) rather than a catalog entry."""
    from models.data.chat_files import CHAT_SUFFIXES

    return Path(dataset).suffix.lower() in CHAT_SUFFIXES


def load_chat_data(config: Any) -> ChatSplits:
    """The conversations `config` names, validated, split, capped and PII-scrubbed as configured.

    `config.dataset` is a catalog name serving generation (bitext_customer_support) or a user file (see
    `models.data.chat_files.read_chat_file`, inside the allowed folders) read with config.data_format,
    text_column (prompt), response_column, system_column and label_column (intent). `system_prompt` goes
    before every conversation without a system message. The split is seeded (config.seed) and stratified
    by intent: test 10%, validation 5%, train the rest; `train_examples_per_class` then caps the training
    split per intent (validation and test stay whole). Errors of the validator (empty replies, unknown
    roles...) raise before anything is split; its warnings land in meta['warnings'].
    Raises DatasetNotFoundError, DatasetError, DataValidationError or ConfigError, each saying what to fix.
    """
    from models.data.chat_validate import validate_chat

    if is_chat_file(config.dataset):
        examples, meta = _from_file(config)
    else:
        examples, meta = _from_catalog(config)
    report = validate_chat(examples, min_examples=MIN_CHAT_EXAMPLES)
    report.raise_for_errors(str(meta.get("name", config.dataset)))
    for finding in report.warnings:
        log.warning("%s: %s", config.dataset, finding.message)
    pii_report = None
    if config.pii_scrub:
        examples, pii_report = scrub_examples(examples)
    if "split" in meta:
        by_id = {e.id: e for e in examples}
        train, validation, test = (tuple(by_id[i] for i in ids) for ids in meta.pop("split"))
    else:
        train, validation, test = split_examples(examples, config.seed)
    per_intent = config.train_examples_per_class
    if per_intent is not None:
        train = limit_per_intent(train, per_intent, config.seed)
    intents = tuple(sorted({e.intent for e in examples if e.intent is not None}))
    meta = {"test_fraction": TEST_FRACTION, "validation_fraction": VALIDATION_FRACTION, **meta,
            "seed": config.seed, "train_examples_per_class": per_intent,
            "system_prompt": config.system_prompt, "pii_report": pii_report,
            "warnings": [f.message for f in report.warnings]}
    name = str(meta.pop("name"))
    return ChatSplits(name, train, validation, test, intents, meta)


def _with_system(messages: Messages, system_prompt: str | None) -> Messages:
    if not system_prompt or (messages and messages[0][0] == "system"):
        return messages
    return (("system", system_prompt), *messages)


def _from_catalog(config: Any) -> tuple[list[ChatExample], dict[str, Any]]:
    from models.data.catalog import generation_rows, get_entry

    entry = get_entry(config.dataset)
    if "generation" not in entry.tasks:
        raise DatasetError(f"{entry.name} is a {entry.task} dataset without replies; for reply "
                           "generation choose bitext_customer_support or a file of conversations (JSONL "
                           "messages, Alpaca, or prompt/response columns)")
    rows, meta = generation_rows(entry.name, seed=config.seed)
    examples: list[ChatExample] = []
    split_ids: list[list[str]] = []
    for part in ("train", "validation", "test"):
        split_ids.append([row_id for row_id, *_ in rows[part]])
        examples += [ChatExample(row_id, _with_system((("user", request), ("assistant", reply)),
                                                      config.system_prompt), intent)
                     for row_id, request, reply, intent in rows[part]]
    return examples, {**meta, "name": entry.name, "source": entry.files["train.csv"][0], "split": split_ids}


def _from_file(config: Any) -> tuple[list[ChatExample], dict[str, Any]]:
    from models.data.catalog import file_sha256
    from models.data.chat_files import read_chat_bytes, resolve_chat_path

    path = resolve_chat_path(config.dataset)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DatasetError(f"cannot read {path}: {e.strerror}") from e
    examples, used = read_chat_bytes(path.name, data, data_format=config.data_format,
                                     prompt_column=config.text_column, response_column=config.response_column,
                                     system_column=config.system_column, intent_column=config.label_column,
                                     system_prompt=config.system_prompt)
    meta = {"name": path.name, "source": str(path), "sha256": file_sha256(path), "licence": None,
            "format": used.data_format,
            "columns": {"prompt": used.prompt_column, "response": used.response_column,
                        "system": used.system_column, "intent": used.intent_column,
                        "input": used.input_column},
            "read_warnings": list(used.warnings)}
    return examples, meta
