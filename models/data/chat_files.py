"""User files of conversations for reply generation: find the format and columns, read them as ChatExamples.

Three shapes people bring:
    messages         JSONL (or a JSON list) of {"messages": [{"role": "user", "content": "..."}, ...]}
                     (OpenAI fine-tuning format; system/user/assistant, several turns allowed)
    alpaca           {"instruction", "input", "output"} objects, as a JSON list or JSONL (or a table)
    prompt_response  CSV/TSV/Parquet/JSONL with a prompt column and a response column (optional system and
                     intent columns)
Bytes are decoded and parsed by the shared readers (`analytics.ingest.sniff` / `readers` through
`models.data.user_files`), so a file is refused with the same messages as on the Data page. Files are read
only from the allowed folders (`chat_file_dirs`) and up to MAX_CHAT_FILE_BYTES. Structural problems (a line
that is not JSON, a message without a role, a missing column) raise DataValidationError naming the line or
row; content problems (empty replies, unknown roles...) are the validator's (`models.data.chat_validate`).
Example ids are 'row-00003': data row 3 of a table, or line (item) 3 of a JSON file, 1-based.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analytics.errors import ImportValidationError
from analytics.ingest import readers, sniff
from analytics.settings import settings
from models.data.chat import ChatExample
from models.errors import ConfigError, DatasetError, DatasetNotFoundError, DataValidationError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHAT_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".parquet")
"""File suffixes a conversation file may have."""
FORMATS = ("auto", "messages", "alpaca", "prompt_response")
"""Values of TrainConfig.data_format; 'auto' detects the shape from the keys or columns."""
MAX_CHAT_FILE_BYTES = 200 * 1024 * 1024
"""Largest file read (the Fine-tune page's upload limit)."""
MAX_CHAT_EXAMPLES = 500_000
"""Most conversations one file may hold."""
MAX_MESSAGE_CHARS = 100_000
"""Longest message content accepted (about 25k tokens: far beyond any context a small model has)."""
MAX_TURNS = 256
"""Most messages one conversation may have."""

_PROMPT_NAMES = ("prompt", "instruction", "question", "request", "query", "input", "user", "customer",
                 "utterance", "message", "text")
_RESPONSE_NAMES = ("response", "reply", "answer", "output", "completion", "assistant", "agent", "target")
_SYSTEM_NAMES = ("system", "system_prompt", "system_message")
_INTENT_NAMES = ("intent", "label", "category", "class", "topic")


@dataclass(frozen=True)
class ChatFileGuess:
    """What `sniff_chat_file` found: the shape and the suggested column mapping (the page preselects it)."""

    data_format: str
    """'messages', 'alpaca' or 'prompt_response'."""
    columns: tuple[str, ...]
    """The file's keys (JSON) or columns (tables), in order."""
    prompt_column: str | None
    """The request column (alpaca: 'instruction'); None for messages files."""
    response_column: str | None
    """The reply column (alpaca: 'output'); None for messages files."""
    system_column: str | None
    """An optional system-message column, None when there is none."""
    intent_column: str | None
    """An optional intent / label column (used for stratified splits and intent match)."""
    rows: int
    """Conversations (lines, items or data rows) in the file."""
    input_column: str | None = None
    """Alpaca's optional 'input' (appended to the instruction); None otherwise."""
    warnings: tuple[str, ...] = field(default=())
    """Reader notes: a guessed encoding, whitespace-only cells stored as empty..."""


@dataclass(frozen=True)
class _Table:
    """A file's records as columns, with the 1-based number of each record."""

    name: str
    columns: dict[str, list[Any]]
    numbers: list[int]
    word: str
    warnings: tuple[str, ...]


# ---------------------------------------------------------------- where files may come from


def chat_file_dirs(extra: Sequence[Path | str] | None = None) -> list[Path]:
    """Folders conversation files may be read from (resolved): the uploads folder, the project's data/, the
    dataset mirror and download cache, and `extra`."""
    s = settings()
    dirs: list[Path] = [s.uploads_dir, PROJECT_ROOT / "data", s.dataset_cache]
    dirs += [s.dataset_mirror] if s.dataset_mirror else []
    dirs += [Path(p) for p in (extra or [])]
    return [Path(os.path.realpath(Path(d).expanduser())) for d in dirs]


def resolve_chat_path(path: str | Path, allowed_dirs: Sequence[Path | str] | None = None) -> Path:
    """The real path of a conversation file, checked: inside `chat_file_dirs(allowed_dirs)` (symlinks and
    '..' resolved), a regular file with a CHAT_SUFFIXES suffix, at most MAX_CHAT_FILE_BYTES.

    Raises DatasetError (outside the folders, wrong type, too large) or DatasetNotFoundError (missing).
    """
    try:
        real = Path(os.path.realpath(Path(path).expanduser()))
    except (ValueError, OSError) as e:  # a NUL byte in the name, a loop of links
        raise DatasetError(f"{path!r} is not a usable file path ({e})") from e
    allowed = chat_file_dirs(allowed_dirs)
    if not any(real == d or real.is_relative_to(d) for d in allowed):
        raise DatasetError(f"{path} (resolved to {real}) is outside the allowed data folders: "
                           f"{', '.join(map(str, allowed))}; upload it on the Fine-tune page or copy it into "
                           "data/uploads")
    if real.suffix.lower() not in CHAT_SUFFIXES:
        raise DatasetError(f"unsupported file type {real.suffix or '(none)'} for {real.name}; use "
                           f"{', '.join(CHAT_SUFFIXES)}")
    if not real.exists():
        raise DatasetNotFoundError(f"file {real} does not exist; check the path")
    if not real.is_file():
        raise DatasetError(f"{real} is not a regular file; give a file of conversations")
    size = real.stat().st_size
    if size > MAX_CHAT_FILE_BYTES:
        raise DatasetError(f"{real.name} is {size / 2**20:,.0f} MiB; the limit is "
                           f"{MAX_CHAT_FILE_BYTES / 2**20:,.0f} MiB: keep a sample of the conversations")
    return real


# ---------------------------------------------------------------- reading


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise DatasetError(f"cannot read {path}: {e.strerror}") from e


def _load_table(name: str, data: bytes) -> _Table:
    """Records of file `name`: JSON through readers.read_json_lines, tables through user_files."""
    from models.data.user_files import read_table_bytes

    if len(data) > MAX_CHAT_FILE_BYTES:
        raise DatasetError(f"{name} is {len(data) / 2**20:,.0f} MiB; the limit is "
                           f"{MAX_CHAT_FILE_BYTES / 2**20:,.0f} MiB")
    if Path(name).suffix.lower() not in CHAT_SUFFIXES:
        raise DatasetError(f"unsupported file type {Path(name).suffix or '(none)'} for {name}; use "
                           f"{', '.join(CHAT_SUFFIXES)}")
    try:
        fmt, warnings = sniff.detect_format(name, data)
        if fmt == "jsonl":
            table = readers.read_json_lines(name, data)
            _refuse(name, list(table.problems))
            word = "item" if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"[" else "line"
            columns = {key: list(col) for key, col in zip(table.header, table.columns, strict=True)}
            return _Table(name, columns, [int(n) for n in table.lines], word,
                          tuple(warnings) + tuple(table.warnings))
    except ImportValidationError as e:
        raise DatasetError(str(e)) from e
    frame = read_table_bytes(name, data)
    columns = {str(c): list(frame[c]) for c in frame.columns}
    return _Table(name, columns, list(range(1, len(frame) + 1)), "row",
                  tuple(frame.attrs.get("read_warnings", [])))


def _find(columns: Sequence[str], names: Sequence[str], taken: Sequence[str | None] = ()) -> str | None:
    """The first of `columns` whose lower-cased name is in `names` (in `names` order), not already taken."""
    lower = {c.strip().lower(): c for c in reversed(list(columns)) if c not in taken}
    return next((lower[n] for n in names if n in lower), None)


def _detect_format(columns: Sequence[str]) -> str:
    lower = {c.strip().lower() for c in columns}
    if "messages" in lower:
        return "messages"
    if {"instruction", "output"} <= lower:
        return "alpaca"
    return "prompt_response"


def _guess(table: _Table, data_format: str) -> ChatFileGuess:
    cols = tuple(table.columns)
    rows = len(table.numbers)
    if data_format == "messages":
        return ChatFileGuess("messages", cols, None, None, None, _find(cols, _INTENT_NAMES), rows,
                             warnings=table.warnings)
    if data_format == "alpaca":
        prompt, response = _find(cols, ("instruction",)), _find(cols, ("output",))
        system = _find(cols, _SYSTEM_NAMES)
        return ChatFileGuess("alpaca", cols, prompt, response, system,
                             _find(cols, _INTENT_NAMES, (prompt, response, system)), rows,
                             _find(cols, ("input",)), table.warnings)
    prompt = _find(cols, _PROMPT_NAMES)
    response = _find(cols, _RESPONSE_NAMES, (prompt,))
    system = _find(cols, _SYSTEM_NAMES, (prompt, response))
    intent = _find(cols, _INTENT_NAMES, (prompt, response, system))
    free = [c for c in cols if c not in (prompt, response, system, intent)]
    prompt = prompt or (free.pop(0) if free else None)
    response = response or (free.pop(0) if free else None)
    return ChatFileGuess("prompt_response", cols, prompt, response, system, intent, rows,
                         warnings=table.warnings)


def sniff_chat_file(path: str | Path, *, allowed_dirs: Sequence[Path | str] | None = None) -> ChatFileGuess:
    """The format, columns and suggested column mapping of a conversation file (for the page's mapping).

    Raises DatasetError / DatasetNotFoundError (see `resolve_chat_path`, unreadable or binary files) or
    DataValidationError (lines that are not JSON objects, ragged CSV lines...).
    """
    real = resolve_chat_path(path, allowed_dirs)
    return sniff_chat_bytes(real.name, _read_bytes(real))


def sniff_chat_bytes(name: str, data: bytes) -> ChatFileGuess:
    """`sniff_chat_file` for bytes held in memory (an upload not saved yet); `name` gives the suffix."""
    table = _load_table(name, data)
    return _guess(table, _detect_format(list(table.columns)))


def read_chat_file(path: str | Path, *, data_format: str = "auto", prompt_column: str | None = None,
                   response_column: str | None = None, system_column: str | None = None,
                   intent_column: str | None = None, system_prompt: str | None = None,
                   allowed_dirs: Sequence[Path | str] | None = None) -> list[ChatExample]:
    """The conversations of a user file, one ChatExample per line / item / row (ids 'row-00003').

    `data_format` 'auto' detects the shape; None columns take `sniff_chat_file`'s suggestions (for
    prompt_response the prompt and response columns must exist). `system_prompt` is put before every
    conversation without a system message. Contents are stripped and line breaks normalised to '\\n'.
    Raises ConfigError (unknown format), DatasetError / DatasetNotFoundError (path, type, size, unreadable)
    or DataValidationError listing every structural problem with its line or row.
    """
    real = resolve_chat_path(path, allowed_dirs)
    examples, _ = read_chat_bytes(real.name, _read_bytes(real), data_format=data_format,
                                  prompt_column=prompt_column, response_column=response_column,
                                  system_column=system_column, intent_column=intent_column,
                                  system_prompt=system_prompt)
    return examples


def read_chat_bytes(name: str, data: bytes, *, data_format: str = "auto", prompt_column: str | None = None,
                    response_column: str | None = None, system_column: str | None = None,
                    intent_column: str | None = None, system_prompt: str | None = None
                    ) -> tuple[list[ChatExample], ChatFileGuess]:
    """`read_chat_file` for bytes in memory; also returns the mapping actually used (format and columns)."""
    if data_format not in FORMATS:
        raise ConfigError(f"data_format must be one of {', '.join(FORMATS)}; got {data_format!r}")
    table = _load_table(name, data)
    fmt = _detect_format(list(table.columns)) if data_format == "auto" else data_format
    guess = _guess(table, fmt)
    if guess.rows > MAX_CHAT_EXAMPLES:
        raise DataValidationError(f"{name} holds {guess.rows:,} conversations; at most {MAX_CHAT_EXAMPLES:,} "
                                  "can be used: keep a sample", problems=[f"{guess.rows:,} conversations"])
    if fmt == "messages":
        used = replace(guess, intent_column=intent_column or guess.intent_column)
        column = _find(table.columns, ("messages",))
        if column is None:
            raise DataValidationError(f"{name} has no \"messages\" key; keys are: "
                                      f"{', '.join(table.columns) or '(none)'}; use data_format "
                                      "'prompt_response' or 'alpaca' for this file", problems=["no messages"])
        _require(table, {"intent": intent_column})
        return _read_messages(table, column, used.intent_column, system_prompt), used
    used = replace(guess, prompt_column=prompt_column or guess.prompt_column,
                          response_column=response_column or guess.response_column,
                          system_column=system_column or guess.system_column,
                          intent_column=intent_column or guess.intent_column)
    what = "instruction" if fmt == "alpaca" else "prompt"
    prompt, response = used.prompt_column, used.response_column
    if prompt is None or response is None or prompt == response:
        raise DataValidationError(f"{name}: choose two different columns for the {what} and the reply; "
                                  f"columns are: {', '.join(table.columns)}",
                                  problems=["prompt and response columns"])
    _require(table, {what: used.prompt_column, "response": used.response_column,
                     "system": system_column, "intent": intent_column})
    return _read_columns(table, used, system_prompt), used


def _require(table: _Table, roles: dict[str, str | None]) -> None:
    """DataValidationError for each named column the file lacks."""
    missing = [f"{role} column {column!r} not found" for role, column in roles.items()
               if column is not None and column not in table.columns]
    if missing:
        raise DataValidationError(f"{table.name}: {'; '.join(missing)}; columns are: "
                                  f"{', '.join(table.columns) or '(none)'}", problems=missing)


# ---------------------------------------------------------------- values


def _is_blank(value: Any) -> bool:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return True
    return isinstance(value, str) and not value.strip()


def _text(value: Any, where: str, problems: list[str]) -> str:
    """A cell or JSON value as message text ('' when blank); lists and objects are problems."""
    if _is_blank(value):
        return ""
    if isinstance(value, (dict, list, tuple, np.ndarray)):
        problems.append(f"{where} holds a {type(value).__name__}, expected text")
        return ""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n").strip()
    if len(text) > MAX_MESSAGE_CHARS:
        problems.append(f"{where} is {len(text):,} characters; at most {MAX_MESSAGE_CHARS:,} per message: "
                        "shorten it or drop the row")
        return ""
    return text


def _intent(value: Any) -> str | None:
    return None if _is_blank(value) else str(value).strip()


def _refuse(name: str, problems: list[str]) -> None:
    """DataValidationError listing `problems` (the first three in the message), when there are any."""
    if problems:
        raise DataValidationError(f"{name} cannot be used for training: {len(problems)} problem(s) to fix "
                                  "first: " + " | ".join(problems[:3]), problems=problems)


def _raise_problems(table: _Table, problems: list[str]) -> None:
    _refuse(table.name, sniff.capped(problems, f"{table.name}: more {table.word}s have problems"))


def _with_system(messages: list[tuple[str, str]], system_prompt: str | None) -> tuple[tuple[str, str], ...]:
    if system_prompt and not (messages and messages[0][0] == "system"):
        messages = [("system", system_prompt.strip()), *messages]
    return tuple(messages)


# ---------------------------------------------------------------- the three shapes


def _content(value: Any, where: str, problems: list[str]) -> str:
    """OpenAI content: a string, null (''), or a list of parts whose 'text' pieces are joined."""
    if isinstance(value, (list, np.ndarray)):
        parts = [p.get("text") for p in value if isinstance(p, dict) and isinstance(p.get("text"), str)]
        if len(parts) != len(value):
            problems.append(f"{where}: content parts must be {{'type': 'text', 'text': ...}} objects")
        value = "\n".join(parts)
    return _text(value, where, problems)


def _parse_messages(value: Any, where: str, problems: list[str]) -> list[tuple[str, str]]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            pass
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, list) or not value:
        got = "nothing" if _is_blank(value) else type(value).__name__
        problems.append(f"{where}: 'messages' must be a non-empty list of "
                        f"{{\"role\": ..., \"content\": ...}} objects, got {got}")
        return []
    if len(value) > MAX_TURNS:
        problems.append(f"{where}: {len(value)} messages; at most {MAX_TURNS} per conversation")
        return []
    out: list[tuple[str, str]] = []
    for k, message in enumerate(value, start=1):
        if not isinstance(message, dict) or _is_blank(message.get("role")):
            problems.append(f"{where}, message {k}: needs a \"role\" and a \"content\" "
                            f"(got {json.dumps(message, default=str)[:60]})")
            continue
        out.append((str(message["role"]).strip().lower(),
                    _content(message.get("content"), f"{where}, message {k}", problems)))
    return out


def _read_messages(table: _Table, column: str, intent_column: str | None,
                   system_prompt: str | None) -> list[ChatExample]:
    problems: list[str] = []
    examples = []
    intents = table.columns.get(intent_column) if intent_column else None
    for position, number in enumerate(table.numbers):
        where = f"{table.name}, {table.word} {number}"
        messages = _parse_messages(table.columns[column][position], where, problems)
        intent = _intent(intents[position]) if intents is not None else None
        examples.append(ChatExample(f"row-{number:05d}", _with_system(messages, system_prompt), intent))
    _raise_problems(table, problems)
    return examples


def _read_columns(table: _Table, used: ChatFileGuess, system_prompt: str | None) -> list[ChatExample]:
    """Alpaca and prompt/response rows: [system], user (instruction + input), assistant."""
    problems: list[str] = []
    examples = []
    cols = table.columns
    for position, number in enumerate(table.numbers):
        where = f"{table.name}, {table.word} {number}"

        def cell(column: str | None, where: str = where, position: int = position) -> str:
            return _text(cols[column][position], f"{where}, column {column!r}", problems) if column else ""

        request = cell(used.prompt_column)
        extra = cell(used.input_column)
        request = f"{request}\n\n{extra}" if request and extra else request or extra
        messages = [("user", request), ("assistant", cell(used.response_column))]
        system = cell(used.system_column)
        messages = [("system", system), *messages] if system else messages
        intent = _intent(cols[used.intent_column][position]) if used.intent_column else None
        examples.append(ChatExample(f"row-{number:05d}", _with_system(messages, system_prompt), intent))
    _raise_problems(table, problems)
    return examples
