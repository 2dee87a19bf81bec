"""Tokenize once, sort or group by length, pad each batch only to its own longest text.

The one tokenise/pad path of training (models.training.loop), serving (models.serving.predictors) and the
linear probe. Padding every batch to the longest text of the whole dataset wastes most of the compute on
short support messages, so:
  * inference and evaluation sort texts by token length (longest first): every batch is nearly rectangular,
    and callers scatter results back to the input order with the row indices each batch carries;
  * training groups texts of similar length inside shuffled mega-batches (as Hugging Face's
    `LengthGroupedSampler` does), which keeps randomness; the batch order is a pure function of
    (seed, epoch), so a resumed run replays the exact same batches.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

MEGA_BATCH_FACTOR = 50
"""Texts per mega-batch = batch size x this (Hugging Face's default)."""


# ---------------------------------------------------------------- tokenize


def pad_token_id(tokenizer: Any) -> int:
    """The tokenizer's pad id, falling back to eos, then 0 (the one pad-id rule)."""
    for candidate in (tokenizer.pad_token_id, getattr(tokenizer, "eos_token_id", None)):
        if candidate is not None:
            return int(candidate)
    return 0


def tokenize_all(tokenizer: Any, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """Token ids per text (special tokens included, truncated to max_length), one fast batch call."""
    encoded = tokenizer(list(texts), truncation=True, max_length=max_length, padding=False)
    return encoded["input_ids"]


@dataclass(frozen=True)
class EncodedTexts:
    """Token ids of a split, unpadded, with labels; index i matches the split's row i."""

    token_ids: tuple[np.ndarray, ...]
    """One int64 array of token ids per text (already truncated)."""
    labels: np.ndarray
    """int64 label index per text, shape [n]."""

    def __len__(self) -> int:
        return len(self.token_ids)

    @property
    def lengths(self) -> np.ndarray:
        """Tokens per text, shape [n]."""
        return token_lengths(self.token_ids)


def encode_texts(tokenizer: Any, texts: Sequence[str], labels: Sequence[int],
                 max_length: int) -> EncodedTexts:
    """Tokenize every text once (truncating to `max_length` tokens), without padding."""
    if len(texts) == 0:
        return EncodedTexts(token_ids=(), labels=np.zeros(0, dtype=np.int64))
    token_ids = tuple(np.asarray(ids, dtype=np.int64) for ids in tokenize_all(tokenizer, texts, max_length))
    return EncodedTexts(token_ids=token_ids, labels=np.asarray(labels, dtype=np.int64))


def token_lengths(token_ids: Sequence[Sequence[int]]) -> np.ndarray:
    """Tokens per text, int64 [n]."""
    return np.fromiter((len(ids) for ids in token_ids), dtype=np.int64, count=len(token_ids))


# ---------------------------------------------------------------- batch order


def sorted_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Deterministic batches of row indices (inference, evaluation): longest texts first, no shuffling."""
    order = np.argsort(-lengths, kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def length_grouped_batches(lengths: np.ndarray, batch_size: int, seed: int) -> list[np.ndarray]:
    """Shuffled batches of indices whose texts have similar lengths.

    Shuffle all indices with `seed`, cut into mega-batches of `batch_size * MEGA_BATCH_FACTOR`, sort
    each by length (longest first) and cut into batches; then shuffle the batch order, keeping the
    longest batch first so that an out-of-memory error shows up on the first step, not hours in.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(lengths))
    mega = batch_size * MEGA_BATCH_FACTOR
    batches: list[np.ndarray] = []
    for start in range(0, len(order), mega):
        chunk = order[start : start + mega]
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    if not batches:
        return batches
    longest = int(np.argmax([lengths[b].max() for b in batches]))
    rest = [b for i, b in enumerate(batches) if i != longest]
    return [batches[longest]] + [rest[i] for i in rng.permutation(len(rest))]


def shard_batches(batches: list[np.ndarray], process_index: int, num_processes: int) -> list[np.ndarray]:
    """This process's share of `batches`: every num_processes-th batch, equal counts on every process.

    Up to num_processes - 1 trailing batches are dropped so that all processes take the same number of
    optimizer steps (DDP needs every process in every all-reduce); a new shuffle each epoch drops others.
    """
    per_process = len(batches) // num_processes if num_processes > 1 else len(batches)
    return batches[process_index::num_processes][:per_process]


# ---------------------------------------------------------------- pad


def pad_rows(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """(input_ids, attention_mask), both int64 [len(rows), longest row], padded on the right with `pad_id`."""
    width = max(len(r) for r in rows)
    input_ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    attention_mask = np.zeros((len(rows), width), dtype=np.int64)
    for row, ids in enumerate(rows):
        input_ids[row, : len(ids)] = ids
        attention_mask[row, : len(ids)] = 1
    return input_ids, attention_mask


def pad_batch(encoded: EncodedTexts, indices: np.ndarray, pad_token_id: int) -> dict[str, torch.Tensor]:
    """input_ids and attention_mask [batch, longest in batch], labels [batch] and row indices [batch]."""
    input_ids, attention_mask = pad_rows([encoded.token_ids[i] for i in indices], pad_token_id)
    return {
        "input_ids": torch.from_numpy(input_ids),
        "attention_mask": torch.from_numpy(attention_mask),
        "labels": torch.from_numpy(encoded.labels[indices]),
        "index": torch.from_numpy(np.asarray(indices, dtype=np.int64)),
    }


def iter_padded_batches(
    token_ids: list[list[int]], batch_size: int, pad_id: int, device: torch.device
) -> Iterator[tuple[np.ndarray, dict[str, torch.Tensor]]]:
    """Yield (original indices, {'input_ids', 'attention_mask'}) batches, longest texts first.

    Each batch is padded on the right to its own longest row: tensors are [batch, longest_in_batch].
    """
    for idx in sorted_batches(token_lengths(token_ids), batch_size):
        input_ids, mask = pad_rows([token_ids[i] for i in idx], pad_id)
        batch = {
            "input_ids": torch.from_numpy(input_ids).to(device, non_blocking=True),
            "attention_mask": torch.from_numpy(mask).to(device, non_blocking=True),
        }
        yield idx, batch


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of token vectors over real tokens of a padded batch: hidden [B, T, H], mask [B, T] -> [B, H]."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
