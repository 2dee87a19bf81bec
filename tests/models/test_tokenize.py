"""models.modeling.tokenize: the one tokenise/sort/pad path of training, serving and the linear probe."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from models.modeling.tokenize import (
    EncodedTexts,
    iter_padded_batches,
    length_grouped_batches,
    pad_batch,
    pad_token_id,
    shard_batches,
    sorted_batches,
)


def test_length_grouped_batches_cover_every_index_once_and_group_lengths() -> None:
    rng = np.random.default_rng(1)
    lengths = rng.integers(3, 100, size=1000)
    batches = length_grouped_batches(lengths, batch_size=8, seed=5)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(1000))
    assert [len(b) for b in batches].count(8) == 125
    assert lengths[batches[0]].max() == lengths.max()  # longest batch first: OOM shows up at step 1
    padded = sum(len(b) * lengths[b].max() for b in batches)
    random_padded = sum(len(b) * lengths[b].max() for b in np.array_split(rng.permutation(1000), 125))
    assert padded < 0.6 * random_padded
    again = length_grouped_batches(lengths, batch_size=8, seed=5)
    assert all(np.array_equal(a, b) for a, b in zip(batches, again, strict=True))
    other = length_grouped_batches(lengths, batch_size=8, seed=6)
    assert not all(np.array_equal(a, b) for a, b in zip(batches, other, strict=True))


def test_shard_batches_gives_equal_disjoint_shares() -> None:
    batches = [np.array([i]) for i in range(7)]
    first, second = shard_batches(batches, 0, 2), shard_batches(batches, 1, 2)
    assert [int(b[0]) for b in first] == [0, 2, 4]
    assert [int(b[0]) for b in second] == [1, 3, 5]
    assert len(shard_batches(batches, 0, 1)) == 7


def test_pad_batch_pads_to_longest_in_batch() -> None:
    encoded = EncodedTexts(token_ids=(np.array([101, 7, 102]), np.array([101, 102]),
                                      np.array([101, 5, 6, 7, 102])), labels=np.array([0, 1, 0]))
    batch = pad_batch(encoded, np.array([1, 0]), pad_token_id=0)
    assert batch["input_ids"].tolist() == [[101, 102, 0], [101, 7, 102]]
    assert batch["attention_mask"].tolist() == [[1, 1, 0], [1, 1, 1]]
    assert batch["labels"].tolist() == [1, 0]
    assert [b.tolist() for b in sorted_batches(encoded.lengths, 2)] == [[2, 0], [1]]


def test_inference_batches_are_the_evaluation_batches_padded_the_same_way() -> None:
    token_ids = [[101, 7, 102], [101, 102], [101, 5, 6, 7, 102], [101, 9, 9, 102], [101, 102]]
    encoded = EncodedTexts(token_ids=tuple(np.array(t) for t in token_ids),
                           labels=np.zeros(5, dtype=np.int64))
    served = list(iter_padded_batches(token_ids, 2, 0, torch.device("cpu")))
    order = sorted_batches(encoded.lengths, 2)
    assert [idx.tolist() for idx, _ in served] == [rows.tolist() for rows in order] == [[2, 3], [0, 1], [4]]
    for (_, batch), rows in zip(served, order, strict=True):
        trained = pad_batch(encoded, rows, 0)
        assert torch.equal(batch["input_ids"], trained["input_ids"])
        assert torch.equal(batch["attention_mask"], trained["attention_mask"])


def test_pad_id_falls_back_to_eos_then_zero() -> None:
    assert pad_token_id(SimpleNamespace(pad_token_id=3, eos_token_id=2)) == 3
    assert pad_token_id(SimpleNamespace(pad_token_id=0, eos_token_id=2)) == 0
    assert pad_token_id(SimpleNamespace(pad_token_id=None, eos_token_id=2)) == 2
    assert pad_token_id(SimpleNamespace(pad_token_id=None)) == 0
