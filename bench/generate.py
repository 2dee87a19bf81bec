"""Generation speed of SmolLM2-135M-Instruct on Bitext test requests by batch size (the evaluation default).

    python bench/generate.py                    # 32 requests, max_new_tokens 256, batches 1, 8 and 16
    python bench/generate.py --quick            # 8 requests, max_new_tokens 48, batches 1 and 8
    python bench/generate.py --hf               # also transformers' generate() at the largest batch

The requests are the run's own: load_chat_data on bitext_customer_support (PII-scrubbed, seeded split),
then a seeded subset of the test split stratified by intent. Each batch size replies to the same requests
with models.serving.generation.generate_replies (greedy, left padding, KV cache, sorted by prompt length),
after one warm-up batch. Prefill tokens/s = real prompt tokens / time to each batch's first token; decode
tokens/s = tokens produced after the first / decode time; seconds = the whole call. The baseline is batch 1
(one request at a time) in the same process; --hf adds transformers' generate() on the same batches, the
loop's other baseline. The load average is printed before and after: on a shared machine it says how far
the figures can be trusted.
Last line: best_batch=<b> speedup_b<k>_vs_b1=<x>... decode_tps_b<k>=... seconds_b<k>=...
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _requests(n: int, seed: int) -> list:
    from models.core.config import TrainConfig
    from models.data.chat import load_chat_data, stratified_subset

    config = TrainConfig(method="sft_lora", dataset="bitext_customer_support", model="SmolLM2-135M-Instruct",
                         seed=seed)
    return list(stratified_subset(load_chat_data(config).test, n, seed))


def _hf_generate(model, tokenizer, prompts, max_new_tokens: int, batch_size: int) -> tuple[float, list[str]]:
    """Seconds and replies of transformers' generate() on the same length-sorted, left-padded batches."""
    import torch

    from models.serving.generation import prompt_ids

    rows = [prompt_ids(tokenizer, p) for p in prompts]
    order = sorted(range(len(rows)), key=lambda i: (len(rows[i]), i))
    replies = [""] * len(rows)
    start = time.perf_counter()
    for begin in range(0, len(order), batch_size):
        chunk = order[begin:begin + batch_size]
        width = max(len(rows[i]) for i in chunk)
        ids = torch.full((len(chunk), width), tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for j, i in enumerate(chunk):
            ids[j, width - len(rows[i]):] = torch.tensor(rows[i])
            mask[j, width - len(rows[i]):] = 1
        with torch.inference_mode():
            out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                                 do_sample=False, pad_token_id=tokenizer.pad_token_id)
        for j, i in enumerate(chunk):
            replies[i] = tokenizer.decode(out[j, width:], skip_special_tokens=True).strip()
    return time.perf_counter() - start, replies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--batch-sizes", default="1,8,16")
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--hf", action="store_true", help="also time transformers' generate()")
    parser.add_argument("--quick", action="store_true", help="8 requests, 48 new tokens, batches 1 and 8")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.max_new_tokens, args.batch_sizes = 8, 48, "1,8"
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]

    import torch

    from models.modeling.causal_lm import load_causal_lm
    from models.modeling.chat_template import ensure_chat_template
    from models.modeling.registry import resolve_model
    from models.serving.generation import generate_replies

    torch.set_num_threads(args.threads)
    examples = _requests(args.requests, args.seed)
    prompts = [ex.prompt_messages for ex in examples]
    model, tokenizer = load_causal_lm(resolve_model("SmolLM2-135M-Instruct"))
    ensure_chat_template(tokenizer)
    print(f"{len(prompts)} Bitext test requests, max_new_tokens={args.max_new_tokens}, "
          f"{args.threads} threads, torch {torch.__version__}, device {model.device}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    generate_replies(model, tokenizer, prompts[:2], max_new_tokens=8, batch_size=2)  # warm-up
    results = {}
    for batch in batch_sizes:
        result = generate_replies(model, tokenizer, prompts, max_new_tokens=args.max_new_tokens,
                                  batch_size=batch)
        results[batch] = result
        generated = sum(result.reply_tokens)
        print(f"batch {batch:>2}: {result.seconds:7.1f} s  prefill {result.prefill_tokens_per_s:8.1f} tok/s  "
              f"decode {result.decode_tokens_per_s:6.1f} tok/s  {generated} reply tokens "
              f"({generated / result.seconds:.1f}/s end to end)  "
              f"mean prompt {sum(result.prompt_tokens) / len(prompts):.0f}, "
              f"mean reply {generated / len(prompts):.0f} tokens")
    base = results[batch_sizes[0]]
    same = {b: sum(a == c for a, c in zip(base.replies, r.replies, strict=True)) for b, r in results.items()}
    print("replies equal to batch " + f"{batch_sizes[0]}'s: "
          + ", ".join(f"batch {b}: {n}/{len(prompts)}" for b, n in same.items()))
    if args.hf:
        largest = batch_sizes[-1]
        hf_s, hf_replies = _hf_generate(model, tokenizer, prompts, args.max_new_tokens, largest)
        agree = sum(a == c for a, c in zip(hf_replies, results[largest].replies, strict=True))
        print(f"transformers generate() at batch {largest}: {hf_s:.1f} s "
              f"(ours {results[largest].seconds:.1f} s: {hf_s / results[largest].seconds:.2f}x), "
              f"same replies {agree}/{len(prompts)}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    best = min(results, key=lambda b: results[b].seconds)
    figures = [f"best_batch={best}"]
    figures += [f"speedup_b{b}_vs_b{batch_sizes[0]}={base.seconds / results[b].seconds:.2f}"
                for b in batch_sizes[1:]]
    figures += [f"decode_tps_b{b}={results[b].decode_tokens_per_s:.1f}" for b in batch_sizes]
    figures += [f"prefill_tps_b{b}={results[b].prefill_tokens_per_s:.0f}" for b in batch_sizes]
    figures += [f"seconds_b{b}={results[b].seconds:.1f}" for b in batch_sizes]
    print(" ".join(figures))


if __name__ == "__main__":
    main()
