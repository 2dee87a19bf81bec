"""Where our training step's speed comes from: one optimizer step of all-MiniLM-L6-v2, one change at a time.

    python bench/train_step.py     # 30 timed steps per variant, batch 16 x ~15 tokens (BANKING77-like)
    python bench/train_step.py --steps 60

Each variant runs in a fresh process (the allocator setting is process-wide), with the same random
batches: forward, cross-entropy, backward, clipping, fused AdamW step. Variants, cumulative:
  transformers     BertForSequenceClassification as loaded (what Trainer runs)
  lean             + models/modeling/lean_bert.py forward (exact maths)
  allocator        + glibc allocator thresholds raised (exact)
  frozen-emb       + embedding block frozen (TrainConfig.freeze_embeddings, default)
  no-attn-dropout  + no dropout on attention probabilities (TrainConfig.attention_dropout=0, default for
                   accuracy)
Last line: step_speedup=<transformers ms / our default ms> exact_speedup=<transformers ms / allocator ms>
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

VARIANTS = ("transformers", "lean", "allocator", "frozen-emb", "no-attn-dropout")
LENGTHS = (12, 14, 16, 18, 13, 15, 20, 11)
"""Padded batch widths cycled through (BANKING77 under MiniLM: median 13 tokens, 95th percentile 37)."""


def one_variant(variant: str, steps: int, threads: int) -> float:
    """Milliseconds per optimizer step for `variant` (run in this process)."""
    import torch
    import torch.nn.functional as F

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from models.core.config import TrainConfig
    from models.modeling import lean_bert as fastpath
    from models.modeling.loading import load_sequence_classifier
    from models.modeling.registry import resolve_model
    from models.training.setup import build_optimizer, freeze_embeddings

    torch.set_num_threads(threads)
    level = VARIANTS.index(variant)
    if level >= VARIANTS.index("allocator"):
        fastpath.tune_cpu_allocator()
    torch.manual_seed(0)
    model = load_sequence_classifier(resolve_model("all-MiniLM-L6-v2"), [f"label{i}" for i in range(77)])
    if level >= VARIANTS.index("frozen-emb"):
        freeze_embeddings(model)
    if level >= VARIANTS.index("lean"):
        attention_dropout = 0.0 if level >= VARIANTS.index("no-attn-dropout") else None
        model = fastpath.FastSequenceClassifier(model, attention_dropout)
    optimizer = build_optimizer(model, TrainConfig())
    model.train()
    generator = torch.Generator().manual_seed(1)
    batches = [(torch.randint(1000, 20000, (16, n), generator=generator),
                torch.randint(0, 77, (16,), generator=generator))
               for n in LENGTHS]

    def step(number: int) -> None:
        ids, labels = batches[number % len(batches)]
        loss = F.cross_entropy(model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for i in range(3):
        step(i)
    began = time.perf_counter()
    for i in range(steps):
        step(i)
    return (time.perf_counter() - began) / steps * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)  # child process
    args = parser.parse_args()
    if args.variant:
        print(json.dumps({"ms": one_variant(args.variant, args.steps, args.threads)}))
        return
    results = {}
    for variant in VARIANTS:
        out = subprocess.run([sys.executable, __file__, "--variant", variant, "--steps", str(args.steps),
                              "--threads", str(args.threads)],
                             check=True, capture_output=True, text=True).stdout
        results[variant] = json.loads(out.strip().splitlines()[-1])["ms"]
        print(f"{variant:16s} {results[variant]:7.1f} ms/step  "
              f"{results['transformers'] / results[variant]:.2f}x", flush=True)
    print(f"step_speedup={results['transformers'] / results['no-attn-dropout']:.2f} "
          f"exact_speedup={results['transformers'] / results['allocator']:.2f}")


if __name__ == "__main__":
    main()
