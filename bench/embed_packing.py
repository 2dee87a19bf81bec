"""A server-sized batch embedded packed (one sequence, positions restarting per text, block-diagonal
attention) against the same batch padded to its longest text, same encoder, same texts.

    python bench/embed_packing.py                     # all-MiniLM-L6-v2, 40 random 16-text BANKING77 batches
    python bench/embed_packing.py --batch 8 --batches 20 --threads 1

The batches are what a dynamic-batching server hands the probe predictor: a few random short requests, not
a length-sorted slice of a dataset. Both paths are models.modeling.embeddings: `embed_token_ids` packs when
`can_pack` says so; the padded side is the same call with packing turned off. Each side runs every batch
once untimed, then is timed over --rounds rounds, alternating sides.
Last line: packed_vs_padded=<x> padded_share_real=<s> max_abs_diff=<d>
(x = texts/s packed / texts/s padded; s = real tokens / tokens computed when padded).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--batch", type=int, default=16, help="texts per batch (a server's dynamic batch)")
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from models.data.catalog import load_dataset
    from models.modeling import embeddings
    from models.modeling.embeddings import embed_token_ids, load_frozen_encoder
    from models.modeling.tokenize import pad_token_id, tokenize_all

    torch.set_num_threads(args.threads)
    encoder, tokenizer = load_frozen_encoder(args.model, "cpu")
    texts = list(load_dataset("banking77").test.texts)
    rng = random.Random(args.seed)
    batches = [tokenize_all(tokenizer, rng.sample(texts, args.batch), args.max_length)
               for _ in range(args.batches)]
    pad = pad_token_id(tokenizer)
    if not embeddings.can_pack(encoder, batches[0], args.batch):
        raise SystemExit(f"{args.model} cannot be packed (embeddings.can_pack): nothing to compare")
    real = sum(len(ids) for b in batches for ids in b)
    padded_tokens = sum(len(b) * max(len(ids) for ids in b) for b in batches)

    def run(packed: bool) -> list[np.ndarray]:
        original = embeddings.can_pack
        if not packed:
            embeddings.can_pack = lambda *a, **k: False  # the padded path of the same function
        try:
            return [embed_token_ids(encoder, b, batch_size=args.batch, pad_id=pad) for b in batches]
        finally:
            embeddings.can_pack = original

    packed_out, padded_out = run(True), run(False)  # warm-up, and the outputs compared
    diff = max(float(np.abs(a - b).max()) for a, b in zip(packed_out, padded_out, strict=True))
    seconds = {True: 0.0, False: 0.0}
    for _ in range(args.rounds):
        for side in (False, True):
            began = time.perf_counter()
            run(side)
            seconds[side] += time.perf_counter() - began
    n = args.batches * args.batch * args.rounds
    packed_rate, padded_rate = n / seconds[True], n / seconds[False]
    print(f"{args.model}, {args.batches} batches of {args.batch} BANKING77 test texts, {args.threads} "
          f"threads: padded {padded_rate:.1f} texts/s, packed {packed_rate:.1f} texts/s; padded batches "
          f"compute {padded_tokens:,} tokens for {real:,} real ones")
    print(f"packed_vs_padded={packed_rate / padded_rate:.2f} padded_share_real={real / padded_tokens:.2f} "
          f"max_abs_diff={diff:.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
