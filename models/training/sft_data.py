"""Conversations as training rows for supervised fine-tuning: token ids, assistant-only labels, batches.

`encode_examples` tokenizes each conversation once through the model's chat template
(models.modeling.chat_template.encode_chat); `pad_chat_batch` pads a length-grouped batch on the right with
attention 0 and label -100; `pack_examples` concatenates conversations into rows of at most max_length tokens
whose position ids restart at every conversation, so attention never crosses one (transformers builds the
block-causal mask from the position ids when no attention mask is given).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from models.modeling.chat_template import IGNORE_INDEX, encode_chat
from models.modeling.tokenize import token_lengths


@dataclass(frozen=True)
class EncodedChats:
    """Token ids and labels of a split's conversations, unpadded; row i is kept example `kept[i]`."""

    token_ids: tuple[np.ndarray, ...]
    """int64 token ids per row (chat template applied, cut to max_length)."""
    label_ids: tuple[np.ndarray, ...]
    """int64 labels per row: the token id on assistant tokens, -100 elsewhere."""
    position_ids: tuple[np.ndarray, ...] | None = None
    """Packed rows only: positions restarting at 0 at each conversation; None for one conversation per row."""
    truncated: int = 0
    """Conversations whose end was cut by max_length (their reply keeps its beginning)."""
    dropped: int = 0
    """Conversations left out because not one reply token fitted in max_length."""

    def __len__(self) -> int:
        return len(self.token_ids)

    @property
    def lengths(self) -> np.ndarray:
        """Tokens per row, shape [n]."""
        return token_lengths(self.token_ids)

    @property
    def label_tokens(self) -> int:
        """Tokens the loss is computed on (assistant tokens; a row's first token is never predicted)."""
        return int(sum(int((labels[1:] != IGNORE_INDEX).sum()) for labels in self.label_ids))


def encode_examples(tokenizer: Any, conversations: Sequence[Sequence[tuple[str, str]]],
                    max_length: int) -> EncodedChats:
    """Tokenize every conversation (chat template, assistant-only labels), cut to `max_length`.

    A conversation with no reply token inside max_length is dropped and counted (the validator warned).
    """
    ids, labels, truncated, dropped = [], [], 0, 0
    for messages in conversations:
        row_ids, row_labels = encode_chat(tokenizer, messages, max_length + 1)
        if len(row_ids) > max_length:
            truncated += 1
            row_ids, row_labels = row_ids[:max_length], row_labels[:max_length]
        if not any(label != IGNORE_INDEX for label in row_labels[1:]):
            dropped += 1
            continue
        ids.append(np.asarray(row_ids, dtype=np.int64))
        labels.append(np.asarray(row_labels, dtype=np.int64))
    return EncodedChats(tuple(ids), tuple(labels), None, truncated, dropped)


def pack_examples(encoded: EncodedChats, max_length: int, seed: int) -> EncodedChats:
    """Conversations concatenated, in a seeded order, into rows of at most `max_length` tokens (first fit
    in that order); each conversation's position ids restart at 0."""
    order = np.random.default_rng(seed).permutation(len(encoded))
    rows: list[list[int]] = []
    room: list[int] = []
    for index in order:
        length = len(encoded.token_ids[index])
        target = next((r for r, free in enumerate(room) if free >= length), None)
        if target is None:
            rows.append([])
            room.append(max_length)
            target = len(rows) - 1
        rows[target].append(int(index))
        room[target] -= length
    ids = tuple(np.concatenate([encoded.token_ids[i] for i in row]) for row in rows)
    labels = tuple(np.concatenate([encoded.label_ids[i] for i in row]) for row in rows)
    positions = tuple(np.concatenate([np.arange(len(encoded.token_ids[i])) for i in row]) for row in rows)
    return EncodedChats(ids, labels, positions, encoded.truncated, encoded.dropped)


def pad_chat_batch(encoded: EncodedChats, rows: np.ndarray, pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded tensors of `rows`: input_ids, labels (-100 on padding), and attention_mask (unpacked) or
    position_ids (packed, no mask: the positions mark the conversations' boundaries)."""
    width = max(len(encoded.token_ids[i]) for i in rows)
    input_ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    labels = np.full((len(rows), width), IGNORE_INDEX, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    positions = np.zeros((len(rows), width), dtype=np.int64)
    for r, i in enumerate(rows):
        n = len(encoded.token_ids[i])
        input_ids[r, :n], labels[r, :n], mask[r, :n] = encoded.token_ids[i], encoded.label_ids[i], 1
        if encoded.position_ids is not None:
            positions[r, :n] = encoded.position_ids[i]
            positions[r, n:] = np.arange(width - n)  # padding is its own 'conversation', never a label
    batch = {"input_ids": torch.from_numpy(input_ids), "labels": torch.from_numpy(labels),
             "tokens": torch.tensor(int(mask.sum()))}
    if encoded.position_ids is None:
        batch["attention_mask"] = torch.from_numpy(mask)
    else:
        batch["position_ids"] = torch.from_numpy(positions)
    return batch


def chat_fingerprint(conversations: Sequence[Sequence[tuple[str, str]]], ids: Sequence[str]) -> str:
    """SHA-256 over the training examples' ids and messages (a resume with other data is refused)."""
    digest = hashlib.sha256(json.dumps([list(ids), [list(map(list, m)) for m in conversations]]).encode())
    return digest.hexdigest()
