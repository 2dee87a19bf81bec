"""'Why this label': word attributions by occlusion, for any predictor, and their rendering as highlighted
HTML.

Occlusion: drop one word (or a window of neighbouring words for long texts), predict again, and measure how
much the probability of the explained label falls. All occluded variants go to the predictor in ONE
`predict_proba` call, so a transformer runs them as padded batches. Works for every method (classic,
probe, fine-tuned, zero-shot) because it only needs `predict_proba(list[str]) -> [n, num_labels]`.

    attribution = occlusion(predictor, "my card has not arrived")
    html = attribution_html(attribution)   # escaped text in <span>s, background = effect size

No torch here: the page may import this module freely.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from models.errors import ConfigError

WORD_PATTERN = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")
"""A word (with inner apostrophes: "don't") or one punctuation character."""
MAX_VARIANTS = 128
"""Most occluded variants per explanation; longer texts occlude windows of neighbouring words."""
ZERO_SHOT_MAX_VARIANTS = 24
"""Zero-shot runs score every label with an LLM per text: far fewer variants keep an explanation to
seconds."""
SUPPORT_RGB = (46, 160, 67)
"""Green: removing the word lowers the label's probability (the word supports the label)."""
OPPOSE_RGB = (215, 58, 73)
"""Red: removing the word raises the label's probability (the word speaks against it)."""
MAX_ALPHA = 0.75
"""Background opacity of the strongest word (the others scale linearly with |effect|)."""


class ProbabilityModel(Protocol):
    """Anything with class probabilities for raw texts (models.serving.predictors.Predictor and friends)."""

    label_names: tuple[str, ...]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Attribution:
    """Occlusion result for one text and one label."""

    text: str
    """The explained input, unchanged."""
    spans: tuple[tuple[int, int], ...]
    """(start, end) character offsets of each word in `text`, in order."""
    effects: tuple[float, ...]
    """Per word: P(label | text) - P(label | text without the word's window); > 0 supports the label."""
    label: str
    """The explained label (by default the predicted one)."""
    probability: float
    """P(label | text), 0-1."""
    window: int
    """Words removed together per variant (1 unless the text has more than MAX_VARIANTS words)."""

    @property
    def words(self) -> list[str]:
        """The words themselves, in order."""
        return [self.text[a:b] for a, b in self.spans]

    def top(self, count: int = 5) -> list[tuple[str, float]]:
        """The `count` words with the largest |effect|, strongest first (ties: earlier word first)."""
        order = sorted(range(len(self.spans)), key=lambda i: (-abs(self.effects[i]), i))
        return [(self.words[i], self.effects[i]) for i in order[:count]]


def word_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the words and punctuation marks of `text` (see WORD_PATTERN)."""
    return [m.span() for m in WORD_PATTERN.finditer(text)]


def max_variants_for(method: str) -> int:
    """Occlusion budget for a run's method (zero-shot LLM scoring is ~100x slower per text)."""
    return ZERO_SHOT_MAX_VARIANTS if method == "zero_shot" else MAX_VARIANTS


def occluded_texts(text: str, spans: Sequence[tuple[int, int]], window: int = 1) -> list[str]:
    """One variant per window of `window` consecutive words, with exactly those words cut out.

    The characters between words stay, so removing 'not' from 'is not here' gives 'is  here'.
    """
    if window < 1:
        raise ConfigError(f"window must be at least 1 word, got {window}")
    variants = []
    for first in range(0, len(spans), window):
        cut = spans[first:first + window]
        pieces, cursor = [], 0
        for start, end in cut:
            pieces.append(text[cursor:start])
            cursor = end
        pieces.append(text[cursor:])
        variants.append("".join(pieces))
    return variants


def occlusion(model: ProbabilityModel, text: str, label: str | None = None,
              max_variants: int = MAX_VARIANTS) -> Attribution:
    """Attribution of each word of `text` to `label` (None: the predicted label) by occlusion.

    One `predict_proba` call on 1 + ceil(words / window) texts, window = ceil(words / max_variants).
    Raises ConfigError for an empty text, an unknown label or max_variants < 1.
    """
    if not text.strip():
        raise ConfigError("type a text to explain; it is empty")
    if max_variants < 1:
        raise ConfigError(f"max_variants must be at least 1, got {max_variants}")
    spans = word_spans(text)
    window = max(1, math.ceil(len(spans) / max_variants))
    # [1 + variants, labels]: the whole text first, then each occluded variant
    probs = np.asarray(model.predict_proba([text, *occluded_texts(text, spans, window)]))
    index = _label_index(model.label_names, label, probs[0])
    drops = probs[0, index] - probs[1:, index]  # [variants]
    effects = tuple(float(drops[i // window]) for i in range(len(spans)))
    return Attribution(text=text, spans=tuple(spans), effects=effects, label=model.label_names[index],
                       probability=float(probs[0, index]), window=window)


def _label_index(label_names: Sequence[str], label: str | None, probs: np.ndarray) -> int:
    if label is None:
        return int(np.argmax(probs))
    if label not in label_names:
        raise ConfigError(f"label {label!r} is not one of this model's labels: {', '.join(label_names[:10])}")
    return list(label_names).index(label)


def _background(effect: float, scale: float) -> str:
    rgb = SUPPORT_RGB if effect >= 0 else OPPOSE_RGB
    alpha = 0.0 if scale <= 0 else MAX_ALPHA * min(1.0, abs(effect) / scale)
    return f"rgba({rgb[0]},{rgb[1]},{rgb[2]},{alpha:.2f})"


def attribution_html(attribution: Attribution) -> str:
    """The text as HTML: each word in a <span> whose background shows its effect (green supports the label,
    red opposes it, opacity ~ |effect| relative to the strongest word); hover shows the number.

    Every piece of user text is HTML-escaped, so '<script>' in the input is shown, never run.
    """
    text, effects = attribution.text, attribution.effects
    scale = max((abs(e) for e in effects), default=0.0)
    parts, cursor = [], 0
    for (start, end), effect in zip(attribution.spans, effects, strict=True):
        parts.append(html.escape(text[cursor:start]))
        title = f"{'+' if effect >= 0 else '−'}{abs(effect) * 100:.1f} points of P({attribution.label})"
        parts.append(f'<span title="{html.escape(title)}" style="background:{_background(effect, scale)};'
                     f'border-radius:3px;padding:0 2px">{html.escape(text[start:end])}</span>')
        cursor = end
    parts.append(html.escape(text[cursor:]))
    return f'<div style="line-height:1.9;white-space:pre-wrap">{"".join(parts)}</div>'


def attribution_summary(attribution: Attribution, count: int = 3) -> str:
    """One sentence: which words pushed the label most, in percentage points (plain text)."""
    top = [(w, e) for w, e in attribution.top(count) if e != 0]
    if not top:
        return f"No single word changes P({attribution.label}); the label comes from the text as a whole."
    listed = ", ".join(f"'{w}' ({'+' if e > 0 else '−'}{abs(e) * 100:.1f} pts)" for w, e in top)
    window = (f" Words were removed {attribution.window} at a time (long text)."
              if attribution.window > 1 else "")
    return f"Removing these words changes P({attribution.label}) most: {listed}.{window}"

