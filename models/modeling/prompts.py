"""The words of the zero-shot classification prompt, torch-free.

One text for both its readers: the label scorer (models.modeling.label_scorer) asks the causal LM with it,
and the post-run record (models.serving.benchmark_record) counts the tokens a hosted API would bill for it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from models.data.types import LabelledTexts

TEXT_SLOT = "\u0000TEXT\u0000"
"""Where the message goes in `prompt_body`'s text."""
MAX_EXAMPLE_CHARS = 200
"""Few-shot example texts are cut to this many characters."""
INSTRUCTIONS = "Classify the customer message into exactly one of these categories:"
"""The prompt's first line; the label names follow, one per line."""
ANSWER_RULE = "Answer with the category name only."
"""The line after the label list (and examples), before the message."""


def readable_label(name: str) -> str:
    """'card_arrival' -> 'card arrival' (what the LM is asked to say)."""
    return " ".join(str(name).replace("_", " ").replace("-", " ").split())


def prompt_body(label_texts: Sequence[str], examples: Sequence[tuple[str, str]] = ()) -> str:
    """The prompt listing `label_texts`, with optional (text, label) examples; TEXT_SLOT marks the message."""
    lines = [INSTRUCTIONS]
    lines += [f"- {label}" for label in label_texts]
    if examples:
        lines.append("\nExamples:")
        for text, label in examples:
            lines.append(f"Message: {text[:MAX_EXAMPLE_CHARS]}\nCategory: {label}")
    lines.append(f"\n{ANSWER_RULE}\n\nMessage:" + TEXT_SLOT)
    return "\n".join(lines)


def few_shot_examples(train: LabelledTexts, label_names: Sequence[str], k: int,
                      seed: int) -> list[tuple[str, str]]:
    """k random train examples per class (seeded), shuffled, as (text, readable label): the one draw of the
    zero_shot method and of evaluate-endpoint's few-shot prompts."""
    if k == 0:
        return []
    rng = random.Random(seed)
    by_label: dict[int, list[int]] = {}
    for i, y in enumerate(train.labels):
        by_label.setdefault(y, []).append(i)
    chosen = [i for y in sorted(by_label) for i in rng.sample(by_label[y], min(k, len(by_label[y])))]
    rng.shuffle(chosen)
    return [(train.texts[i], readable_label(label_names[train.labels[i]])) for i in chosen]
