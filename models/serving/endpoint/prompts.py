"""Classification prompts for a chat endpoint, the JSON schema of the answer, and reading an answer back.

The messages: a system message with the instructions and the label names (the words of the zero-shot
method, models.modeling.prompts), the few-shot examples as user/assistant turns (TRAIN split only), and the
text to classify as the LAST user message, alone; so a server that classifies the last user message (our
own `serve`) sees exactly the text.

Parsing (`parse_label`): a JSON object {"label": ...} when structured output was asked for, else the text:
an exact label, case-insensitive, '_'/'-' read as spaces (also on the first line alone), then the one label
the answer is a prefix of (3 characters or more), then the label named inside the answer as whole words
(the longest when one contains another). Anything else is unparseable and counts as wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from models.data.types import LabelledTexts
from models.modeling.prompts import ANSWER_RULE, INSTRUCTIONS, MAX_EXAMPLE_CHARS, readable_label
from models.modeling.prompts import few_shot_examples as shared_few_shot

SCHEMA_NAME = "classification"
"""`json_schema.name` of the structured-output request."""


def few_shot_examples(train: LabelledTexts, label_names: Sequence[str], k: int,
                      seed: int) -> list[tuple[str, str]]:
    """k seeded random TRAIN examples per class, shuffled, as (text cut to MAX_EXAMPLE_CHARS, readable label):
    the zero_shot method's draw (models.modeling.prompts.few_shot_examples)."""
    return [(text[:MAX_EXAMPLE_CHARS], label) for text, label in shared_few_shot(train, label_names, k, seed)]


def system_prompt(label_texts: Sequence[str]) -> str:
    """Instructions, one label per line, the answer rule."""
    return "\n".join([INSTRUCTIONS, *(f"- {label}" for label in label_texts), "", ANSWER_RULE])


def classification_messages(text: str, label_texts: Sequence[str],
                            examples: Sequence[tuple[str, str]] = ()) -> list[dict[str, str]]:
    """The chat messages that ask for `text`'s label: system, the examples as turns, the text last."""
    messages = [{"role": "system", "content": system_prompt(label_texts)}]
    for example, label in examples:
        messages += [{"role": "user", "content": example}, {"role": "assistant", "content": label}]
    messages.append({"role": "user", "content": text})
    return messages


def response_format(label_texts: Sequence[str]) -> dict[str, Any]:
    """OpenAI structured output: {"label": one of the labels}, strict."""
    return {"type": "json_schema", "json_schema": {
        "name": SCHEMA_NAME, "strict": True,
        "schema": {"type": "object", "properties": {"label": {"type": "string", "enum": list(label_texts)}},
                   "required": ["label"], "additionalProperties": False}}}


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[_\-]+", " ", text).lower().split()).strip(" .:;,!\"'`*")


@dataclass(frozen=True)
class LabelParser:
    """Reads an answer back to a label index; built once per run from the label names."""

    label_names: tuple[str, ...]
    """The dataset's label names, in index order."""

    def __post_init__(self) -> None:
        lookup: dict[str, int] = {}
        for i, name in enumerate(self.label_names):
            for form in (_norm(name), _norm(readable_label(name))):
                lookup.setdefault(form, i)
        object.__setattr__(self, "_lookup", lookup)

    def parse(self, answer: str | None) -> int | None:
        """The label index `answer` names, or None when it names none (or several equally)."""
        if not answer or not answer.strip():
            return None
        text = answer.strip()
        if text.startswith("{"):
            try:
                value = json.loads(text)
            except ValueError:
                value = None
            if isinstance(value, dict) and isinstance(value.get("label"), str):
                text = value["label"]
        return self._match(text)

    def _match(self, text: str) -> int | None:
        lookup: dict[str, int] = self._lookup  # type: ignore[attr-defined]
        norm = _norm(text)
        if norm in lookup:
            return lookup[norm]
        first_line = _norm(text.splitlines()[0]) if text.splitlines() else norm
        if first_line in lookup:
            return lookup[first_line]
        prefix_of = {i for form, i in lookup.items() if len(norm) >= 3 and form.startswith(norm)}
        if len(prefix_of) == 1:
            return prefix_of.pop()
        contained = [(len(form), i) for form, i in lookup.items()
                     if re.search(rf"(?<![a-z0-9]){re.escape(form)}(?![a-z0-9])", norm)]
        if not contained:
            return None
        longest = max(n for n, _ in contained)
        best = {i for n, i in contained if n == longest}
        return best.pop() if len(best) == 1 else None
