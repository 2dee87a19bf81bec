"""Check conversations before reply-generation training: one report, every finding saying what to change.

    report = validate_chat(examples, count_tokens=count, max_length=config.max_length)
    report.raise_for_errors("support.jsonl")    # DataValidationError listing every error

Errors block training (nothing useful can be learned as the data stands): no examples, unknown roles, no
assistant turn, a conversation that does not end with the assistant, empty replies (or a reply column that
is all empty), no request, a context shorter than the shortest example. Warnings do not: replies cut by
the context, prompts that fill the context, duplicates, {{placeholder}} slots, a system message that is
not first, conversations missing the intent the others have. Readers (`models.data.chat_files`) have
already refused structural problems (bad JSON, missing columns); this module looks at the content.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from models.data.chat import ROLES, ChatExample
from models.errors import DataValidationError

PLACEHOLDER = re.compile(r"\{\{\s*([^{}\n]{1,80}?)\s*\}\}")
"""A template slot such as {{Order Number}} (Bitext's replies use them for company details)."""
IDS_KEPT = 50
"""Example ids a finding keeps (the message shows the first few)."""
IDS_SHOWN = 5
_ROLE_FIXES = {"human": "user", "customer": "user", "client": "user", "gpt": "assistant", "bot": "assistant",
               "model": "assistant", "agent": "assistant", "ai": "assistant", "chatbot": "assistant",
               "support": "assistant", "developer": "system", "instructions": "system"}

Messages = Sequence[tuple[str, str]]


@dataclass(frozen=True)
class ChatFinding:
    """One problem of the data: a code for tests and pages, a message that says what to change."""

    code: str
    """Stable identifier ('empty_reply', 'reply_truncated', 'placeholders'...)."""
    message: str
    """What is wrong, how many, which examples, and how to fix it."""
    count: int
    """Examples concerned."""
    example_ids: tuple[str, ...] = ()
    """Up to IDS_KEPT ids of the examples concerned, in data order."""


@dataclass
class ChatReport:
    """What `validate_chat` found: errors block training, warnings do not."""

    examples: int
    """Conversations checked."""
    errors: list[ChatFinding] = field(default_factory=list)
    """Problems to fix before training."""
    warnings: list[ChatFinding] = field(default_factory=list)
    """Problems training survives, worth knowing or fixing."""
    token_stats: dict[str, int] | None = None
    """Chat-templated tokens per example (min, median, p95, max) when `count_tokens` was given."""

    @property
    def ok(self) -> bool:
        """True when nothing blocks training."""
        return not self.errors

    def finding(self, code: str) -> ChatFinding | None:
        """The error or warning with `code`, None when there is none."""
        return next((f for f in self.errors + self.warnings if f.code == code), None)

    def raise_for_errors(self, name: str = "the data") -> None:
        """Raise DataValidationError listing every error (what, how many, which ids, the fix); no-op if ok."""
        if self.errors:
            messages = [f.message for f in self.errors]
            raise DataValidationError(f"{name}: {len(messages)} problem(s) to fix before training: "
                                      + " | ".join(messages), problems=messages)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for run folders and pages."""
        def rows(items: list[ChatFinding]) -> list[dict[str, Any]]:
            return [{"code": f.code, "message": f.message, "count": f.count,
                     "example_ids": list(f.example_ids)} for f in items]

        return {"examples": self.examples, "errors": rows(self.errors), "warnings": rows(self.warnings),
                "token_stats": self.token_stats}


def _ids(examples: Sequence[ChatExample]) -> tuple[str, ...]:
    return tuple(e.id for e in examples[:IDS_KEPT])


def _shown(examples: Sequence[ChatExample]) -> str:
    ids = ", ".join(e.id for e in examples[:IDS_SHOWN])
    return ids + (f" and {len(examples) - IDS_SHOWN:,} more" if len(examples) > IDS_SHOWN else "")


def _of(count: int, total: int) -> str:
    share = count / total if total else 0.0
    return f"{count:,} of {total:,} ({share:.0%})" if share >= 0.01 else f"{count:,} of {total:,}"


def _finding(code: str, message: str, examples: Sequence[ChatExample]) -> ChatFinding:
    return ChatFinding(code, message, len(examples), _ids(examples))


# ---------------------------------------------------------------- structure of each conversation


def _check_roles(examples: Sequence[ChatExample], report: ChatReport) -> None:
    bad = [e for e in examples if any(role not in ROLES for role, _ in e.messages)]
    if not bad:
        return
    roles = Counter(role for e in bad for role, _ in e.messages if role not in ROLES)
    listed = ", ".join(f"{role!r} x{n:,}" for role, n in roles.most_common(5))
    fixes = [f"{role!r} -> {_ROLE_FIXES[role]!r}" for role in roles if role in _ROLE_FIXES]
    fix = f"rename them ({', '.join(fixes[:3])})" if fixes else "rename each to system, user or assistant"
    report.errors.append(_finding(
        "unknown_role", f"{_of(len(bad), report.examples)} conversations use roles other than system, user "
        f"and assistant ({listed}; ids {_shown(bad)}): {fix}", bad))


def _check_turns(examples: Sequence[ChatExample], report: ChatReport) -> list[ChatExample]:
    """Errors for missing assistant turns, wrong last turn, empty replies, missing requests; returns the
    examples that are well-formed (end with a non-empty reply after a request). Conversations with unknown
    roles are left to `_check_roles`: once renamed they may be fine."""
    examples = [e for e in examples if all(role in ROLES for role, _ in e.messages)]
    none = [e for e in examples if not any(role == "assistant" for role, _ in e.messages)]
    if none and len(none) == len(examples) == report.examples:
        report.errors.append(_finding(
            "no_assistant_turn", f"no conversation has an assistant turn ({len(none):,} checked): the data "
            "holds requests only, and the model learns from the replies: map the column holding the replies "
            "as the response column, or add {\"role\": \"assistant\"} messages", none))
    elif none:
        report.errors.append(_finding(
            "no_assistant_turn", f"{_of(len(none), report.examples)} conversations have no assistant turn "
            f"(ids {_shown(none)}): add the reply the model should learn, or delete them", none))
    ending = [e for e in examples if e.messages and e.messages[-1][0] == "assistant"]
    no_reply = {id(e) for e in none}
    wrong_end = [e for e in examples if id(e) not in no_reply and e.messages[-1][0] != "assistant"]
    if wrong_end:
        last = Counter(e.messages[-1][0] for e in wrong_end)
        report.errors.append(_finding(
            "not_ending_with_assistant", f"{_of(len(wrong_end), report.examples)} conversations end with a "
            f"{' or '.join(map(repr, sorted(last)))} message instead of the assistant's reply (ids "
            f"{_shown(wrong_end)}): the model learns the final assistant message; drop the trailing messages "
            "or add the reply", wrong_end))
    empty = [e for e in ending if not e.reference.strip()]
    if empty and len(empty) == len(ending):
        report.errors.append(_finding(
            "all_replies_empty", f"every reply is empty ({len(empty):,} of {len(ending):,}): the response "
            "column holds no text; choose the column that holds the replies", empty))
    elif empty:
        report.errors.append(_finding(
            "empty_reply", f"{_of(len(empty), report.examples)} replies are missing or empty (ids "
            f"{_shown(empty)}): write them or delete those conversations; an empty reply teaches the model "
            "to answer nothing", empty))
    no_request = [e for e in ending if not e.request.strip()]
    if no_request:
        report.errors.append(_finding(
            "no_request", f"{_of(len(no_request), report.examples)} conversations have no user request "
            f"before the reply, or an empty one (ids {_shown(no_request)}): fill in the prompt column or "
            "delete them", no_request))
    late_system = [e for e in examples if any(role == "system" for role, _ in e.messages[1:])]
    if late_system:
        report.warnings.append(_finding(
            "system_position", f"{_of(len(late_system), report.examples)} conversations have a system "
            f"message after the first turn (ids {_shown(late_system)}); many chat templates expect it first: "
            "move it to the start", late_system))
    bad = {id(e) for e in none + wrong_end + empty + no_request}
    return [e for e in ending if id(e) not in bad]


# ---------------------------------------------------------------- content


def _check_duplicates(examples: Sequence[ChatExample], report: ChatReport) -> None:
    seen: dict[tuple[tuple[str, str], ...], int] = {}
    repeats: list[ChatExample] = []
    for e in examples:
        key = tuple((role, content.strip()) for role, content in e.messages)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            repeats.append(e)
    prompts: dict[tuple[tuple[str, str], ...], set[str]] = {}
    for e in examples:
        prompts.setdefault(tuple(e.prompt_messages), set()).add(e.reference.strip())
    conflicting = sum(1 for replies in prompts.values() if len(replies) > 1)
    if repeats:
        groups = sum(1 for n in seen.values() if n > 1)
        report.warnings.append(_finding(
            "duplicates", f"{_of(len(repeats), report.examples)} conversations are exact duplicates of an "
            f"earlier one ({groups:,} distinct conversations repeated; ids {_shown(repeats)}): duplicates "
            "can land in both train and test and inflate the scores, and the model over-learns them: remove "
            "them", repeats))
    if conflicting:
        report.warnings.append(ChatFinding(
            "conflicting_replies", f"{conflicting:,} prompts appear with different replies: fine for varied "
            "answers, but check they do not contradict each other", conflicting))


def _check_intents(examples: Sequence[ChatExample], report: ChatReport) -> None:
    missing = [e for e in examples if e.intent is None]
    if missing and len(missing) < len(examples):
        report.warnings.append(_finding(
            "missing_intent", f"{_of(len(missing), report.examples)} conversations have no intent although "
            f"the others have one (ids {_shown(missing)}): they are split as one extra group and left out of "
            "intent match; label them or delete them", missing))


def _check_placeholders(examples: Sequence[ChatExample], report: ChatReport) -> None:
    with_slots = [e for e in examples if PLACEHOLDER.search(e.reference)]
    if not with_slots:
        return
    slots = Counter(m.group(1) for e in with_slots for m in PLACEHOLDER.finditer(e.reference))
    top = ", ".join("{{" + s + "}}" for s, _ in slots.most_common(3))
    report.warnings.append(_finding(
        "placeholders", f"{_of(len(with_slots), report.examples)} replies contain template placeholders "
        f"such as {top} ({len(slots):,} distinct): the model will learn to write them too; fill them in at "
        "serving time (replace each {{...}} with your company's value), or in the data before training",
        with_slots))


def _check_lengths(examples: Sequence[ChatExample], report: ChatReport,
                   count_tokens: Callable[[Messages], int], max_length: int | None) -> None:
    if not examples:
        return
    lengths = np.array([int(count_tokens(e.messages)) for e in examples])
    report.token_stats = {"min": int(lengths.min()), "median": int(np.median(lengths)),
                          "p95": int(np.percentile(lengths, 95)), "max": int(lengths.max())}
    if max_length is None:
        return
    stats = report.token_stats
    if stats["min"] > max_length:
        shortest = examples[int(lengths.argmin())]
        report.errors.append(_finding(
            "context_too_short", f"max_length {max_length:,} tokens is shorter than the shortest example "
            f"({stats['min']:,} tokens, {shortest.id}): every reply would be cut; raise max_length to at "
            f"least {stats['p95']:,} (95% of examples fit) or {stats['max']:,} (all fit)", examples))
        return
    long = [e for e, n in zip(examples, lengths, strict=True) if n > max_length]
    if not long:
        return
    fit = (f"{stats['p95']:,} (95% fit)" if stats["p95"] > max_length else f"{stats['max']:,} (all fit)")
    report.warnings.append(_finding(
        "reply_truncated", f"{_of(len(long), len(examples))} examples are longer than max_length "
        f"{max_length:,} tokens (longest {stats['max']:,}; ids {_shown(long)}): truncation cuts the end of "
        f"the reply, so the model learns replies that stop mid-sentence; raise max_length to "
        f"{fit}, or shorten or drop those replies", long))
    full = [e for e in long if int(count_tokens(e.prompt_messages)) >= max_length]
    if full:
        report.warnings.append(_finding(
            "prompt_fills_context", f"{len(full):,} prompts alone fill the {max_length:,}-token context (ids "
            f"{_shown(full)}): nothing of their reply is learned; shorten their history or raise "
            "max_length", full))


def validate_chat(examples: Sequence[ChatExample], *, count_tokens: Callable[[Messages], int] | None = None,
                  max_length: int | None = None, min_examples: int = 1) -> ChatReport:
    """Check conversations before training; returns every finding in one report (see the module doc).

    `count_tokens(messages) -> int` is the chat-templated length the caller builds from the tokenizer;
    with it the report has token_stats, and with `max_length` (tokens) too, the truncation findings.
    `min_examples` is the fewest conversations accepted (load_chat_data asks for MIN_CHAT_EXAMPLES).
    """
    report = ChatReport(examples=len(examples))
    least = max(1, min_examples)
    if len(examples) < least:
        report.errors.append(ChatFinding(
            "too_few_examples", f"only {len(examples):,} conversations; need at least {least:,} "
            "(aim for a few hundred): add conversations", len(examples)))
        if not examples:
            return report
    _check_roles(examples, report)
    usable = _check_turns(examples, report)
    _check_duplicates(examples, report)
    _check_intents(examples, report)
    _check_placeholders(usable, report)
    if count_tokens is not None:
        _check_lengths(usable, report, count_tokens, max_length)
    return report
