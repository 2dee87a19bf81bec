"""Where the SFT step's speed comes from: one optimizer step of SmolLM2-135M-Instruct, one change at a time.

    python bench/sft_step.py              # 6 timed steps per variant, batch 4 x 192 tokens, replies on ~60%
    python bench/sft_step.py --steps 10 --threads 2

Each variant runs in a fresh process, with the same seeded batches (Bitext-like: the first 40% of every row
is system prompt, request and template, the rest the assistant's reply): forward, loss, backward, clipping,
fused AdamW step. Variants:
  transformers   LlamaForCausalLM(labels=...) as loaded: logits and softmax over all 49,152 tokens at every
                 position (what Trainer and TRL's SFTTrainer run)
  labelled-head  models.training.sft_model.ReplyLoss: the LM head and softmax only where a label exists
                 (exact: the same loss and gradients)
  allocator      + glibc allocator thresholds raised (models.modeling.lean_bert.tune_cpu_allocator; exact)
  lora           sft_lora: LoRA r=8 on q/k/v/o, everything else frozen (another method, for reference)
Last line: step_speedup=<transformers ms / allocator ms> tokens_per_s=<allocator> lora_tokens_per_s=<lora>
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

VARIANTS = ("transformers", "labelled-head", "allocator", "lora")
BATCH, WIDTH, PROMPT_SHARE = 4, 192, 0.4


def one_variant(variant: str, steps: int, threads: int) -> float:
    """Milliseconds per optimizer step for `variant` (run in this process)."""
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from models.core.config import TrainConfig
    from models.modeling import lean_bert
    from models.modeling.causal_lm import load_causal_lm
    from models.modeling.registry import resolve_model
    from models.training.setup import build_optimizer
    from models.training.sft_model import ReplyLoss, wrap_lora

    torch.set_num_threads(threads)
    if variant in ("allocator", "lora"):
        lean_bert.tune_cpu_allocator()
    torch.manual_seed(0)
    lm, _ = load_causal_lm(resolve_model("SmolLM2-135M-Instruct"))
    lm.config.use_cache = False
    lm.train()
    config = TrainConfig(method="sft_lora" if variant == "lora" else "sft", model="SmolLM2-135M-Instruct")
    if variant == "lora":
        lm = wrap_lora(lm, config)
    model = ReplyLoss(lm)
    optimizer = build_optimizer(model, config.replace(learning_rate=1e-5))
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(0, 49_000, (BATCH, WIDTH), generator=generator)
    labels = input_ids.clone()
    labels[:, : int(WIDTH * PROMPT_SHARE)] = -100
    mask = torch.ones_like(input_ids)

    def step() -> None:
        if variant == "transformers":
            loss = lm(input_ids=input_ids, attention_mask=mask, labels=labels).loss
        else:
            loss = model(input_ids, labels, mask)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step()  # warm-up: allocator, kernels
    began = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - began) / steps * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        print(json.dumps({"ms": one_variant(args.variant, args.steps, args.threads)}))
        return
    results: dict[str, float] = {}
    for variant in VARIANTS:
        out = subprocess.run([sys.executable, __file__, "--variant", variant, "--steps", str(args.steps),
                              "--threads", str(args.threads)], capture_output=True, text=True, check=True)
        results[variant] = json.loads(out.stdout.strip().splitlines()[-1])["ms"]
        tokens_per_s = BATCH * WIDTH / (results[variant] / 1000)
        print(f"{variant:14s} {results[variant]:8.0f} ms/step  {tokens_per_s:6.0f} tokens/s  "
              f"x{results['transformers'] / results[variant]:.2f}", flush=True)
    print(f"load_average={os.getloadavg()[0]:.1f}")
    print(f"step_speedup={results['transformers'] / results['allocator']:.2f} "
          f"tokens_per_s={BATCH * WIDTH / (results['allocator'] / 1000):.0f} "
          f"lora_tokens_per_s={BATCH * WIDTH / (results['lora'] / 1000):.0f}")


if __name__ == "__main__":
    main()
