"""Zero-/few-shot classification with a small causal LM, by label log-likelihood (no free-text parsing).

The zero_shot method's model: training (models.training.zeroshot) builds a LabelScorer to score the test
split, serving (models.serving.predictors) rebuilds it from model/base.json. For each text the model reads
one prompt (task, allowed label names, optional k examples per class, the text) and we score every label's
tokens as the answer. Cost per text is kept small by:
  * the shared prompt prefix (instructions, label list, examples) is run once and its KV cache reused;
  * all labels are scored in ONE forward pass: label token sequences form a trie (shared first words
    like "card ..." are computed once), packed into one row with a tree attention mask, each node
    attending to the cached prompt and its own ancestors;
  * the cache is cropped back to the prefix after each text (no copies).

Scores are contextually calibrated (Zhao et al., 2021, "Calibrate before use"): the log-likelihood each
label gets for content-free inputs ("N/A", "", "[MASK]") is subtracted, then divided by the label's token
count. Without it a 135M model answers nearly every BANKING77 text with the same one or two labels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from models.modeling.prompts import TEXT_SLOT, prompt_body, readable_label

CONTENT_FREE_INPUTS = ("N/A", "", "[MASK]")
"""Inputs whose label scores are the model's bias (subtracted when calibrating)."""


@dataclass(frozen=True)
class PromptParts:
    """A prompt split around the text: prefix (shared by all texts), suffix after the text, answer end."""

    prefix: str
    suffix: str
    answer_prefix: str
    answer_end: str
    chat: bool


def build_prompt(tokenizer: Any, label_texts: Sequence[str],
                 examples: Sequence[tuple[str, str]]) -> PromptParts:
    """Classification prompt listing `label_texts`, with optional (text, label) examples."""
    body = prompt_body(label_texts, examples)
    if getattr(tokenizer, "chat_template", None):
        rendered = tokenizer.apply_chat_template(
            [{"role": "user", "content": body}], tokenize=False, add_generation_prompt=True
        )
        prefix, suffix = rendered.split(TEXT_SLOT)
        return PromptParts(prefix, suffix, "", tokenizer.eos_token or "\n", chat=True)
    prefix, suffix = body.split(TEXT_SLOT)
    return PromptParts(prefix, suffix + "\nCategory:", " ", "\n", chat=False)


@dataclass(frozen=True)
class LabelTrie:
    """Label token sequences as a trie packed into one row.

    node_tokens[i] is fed at relative position node_pos[i]; output row r (0 = the text's last position,
    i + 1 = node i) predicts the next token. Label l's log-prob is the sum over its steps of
    logprobs[step_rows, step_tokens] where step_labels == l.
    """

    node_tokens: torch.Tensor  # [N] int64
    node_pos: torch.Tensor  # [N] int64, 0-based depth
    tree_mask: torch.Tensor  # [N, N] bool, True where node i may attend node j
    step_labels: torch.Tensor  # [S] int64
    step_rows: torch.Tensor  # [S] int64
    step_tokens: torch.Tensor  # [S] int64
    label_lengths: torch.Tensor  # [L] float, tokens per label


def build_label_trie(sequences: Sequence[Sequence[int]]) -> LabelTrie:
    """Trie over all proper prefixes of `sequences` (each a label's answer tokens, at least one)."""
    node_of: dict[tuple[int, ...], int] = {}
    tokens: list[int] = []
    parents: list[int] = []
    steps: list[tuple[int, int, int]] = []
    for label, seq in enumerate(sequences):
        steps.append((label, 0, seq[0]))
        for k in range(1, len(seq)):
            prefix = tuple(seq[:k])
            if prefix not in node_of:
                node_of[prefix] = len(tokens)
                tokens.append(seq[k - 1])
                parents.append(node_of[prefix[:-1]] if k > 1 else -1)
            steps.append((label, node_of[prefix] + 1, seq[k]))
    n = len(tokens)
    mask = torch.zeros((n, n), dtype=torch.bool)
    depth = [0] * n
    for i in range(n):
        j = i
        while j != -1:
            mask[i, j] = True
            j = parents[j]
        depth[i] = int(mask[i].sum()) - 1
    labels, rows, toks = zip(*steps, strict=True)
    return LabelTrie(
        node_tokens=torch.tensor(tokens, dtype=torch.long),
        node_pos=torch.tensor(depth, dtype=torch.long),
        tree_mask=mask,
        step_labels=torch.tensor(labels, dtype=torch.long),
        step_rows=torch.tensor(rows, dtype=torch.long),
        step_tokens=torch.tensor(toks, dtype=torch.long),
        label_lengths=torch.tensor([float(len(s)) for s in sequences]),
    )


class LabelScorer:
    """Scores every label for a text with a causal LM; build once per (model, labels, examples)."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        label_names: Sequence[str],
        examples: Sequence[tuple[str, str]] = (),
        *,
        max_length: int = 128,
        length_normalise: bool = True,
        calibrate: bool = True,
    ) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.device = next(model.parameters()).device
        self.max_length = max_length
        self.length_normalise = length_normalise
        label_texts = [readable_label(n) for n in label_names]
        self.parts = build_prompt(tokenizer, label_texts, examples)
        answers = [self.parts.answer_prefix + t + self.parts.answer_end for t in label_texts]
        sequences = [self._ids(a) for a in answers]
        self.trie = build_label_trie(sequences)
        self.prefix_ids = self._ids(self.parts.prefix, special=not self.parts.chat)
        self.suffix_ids = self._ids(self.parts.suffix)
        self._prefix_cache = self._run_prefix()
        self._bias = torch.zeros(len(sequences))
        if calibrate:
            self._bias = torch.stack([self.raw_log_scores(t) for t in CONTENT_FREE_INPUTS]).mean(0)

    def _ids(self, text: str, special: bool = False) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=special)["input_ids"])

    @torch.inference_mode()
    def _run_prefix(self) -> Any:
        ids = torch.tensor([self.prefix_ids], device=self.device)
        return self.model(input_ids=ids, use_cache=True).past_key_values

    def log_scores(self, text: str) -> torch.Tensor:
        """Per-label score [L]: calibrated log-likelihood, divided by the label's token count if
        length_normalise."""
        scores = self.raw_log_scores(text) - self._bias
        return scores / self.trie.label_lengths if self.length_normalise else scores

    @torch.inference_mode()
    def raw_log_scores(self, text: str) -> torch.Tensor:
        """Per-label sum of log-probs [L] of the label's answer tokens after the prompt with `text`."""
        cache = self._prefix_cache
        text_ids = self._ids(" " + text.strip())[: self.max_length] + self.suffix_ids
        out = self.model(input_ids=torch.tensor([text_ids], device=self.device), past_key_values=cache,
                         use_cache=True)
        base = cache.get_seq_length()
        trie = self.trie
        n = len(trie.node_tokens)
        dtype = out.logits.dtype
        mask = torch.zeros((1, 1, n, base + n), dtype=dtype, device=self.device)
        mask[0, 0, :, base:] = torch.where(trie.tree_mask, 0.0, torch.finfo(dtype).min).to(self.device, dtype)
        nodes = self.model(
            input_ids=trie.node_tokens[None].to(self.device),
            position_ids=(trie.node_pos + base)[None].to(self.device),
            attention_mask=mask,
            past_key_values=cache,
            use_cache=True,
        )
        cache.crop(-(len(text_ids) + n))  # back to the shared prefix
        logits = torch.cat([out.logits[0, -1:], nodes.logits[0]], dim=0).float()  # [1 + N, V]
        logprobs = torch.log_softmax(logits, dim=-1).cpu()
        step_lp = logprobs[trie.step_rows, trie.step_tokens]
        return torch.zeros(len(trie.label_lengths)).index_add_(0, trie.step_labels, step_lp)

    def predict_proba(self, texts: Sequence[str],
                      progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Softmax over label scores, [len(texts), L] float64."""
        rows = []
        for text in texts:
            rows.append(torch.softmax(self.log_scores(text).double(), dim=0).numpy())
            if progress is not None:
                progress(1)
        return np.stack(rows) if rows else np.zeros((0, len(self.trie.label_lengths)))
