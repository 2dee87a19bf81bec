"""Our SFT loop against TRL's SFTTrainer: same model, data, sequence length, batch, learning rate, steps.

    python bench/sft.py            # 160 Bitext conversations, 1 epoch (40 steps of 4), 48 held out (~10 min)
    python bench/sft.py --quick    # 16 conversations, 4 steps, 8 held out (under 3 minutes on 2 cores)

Each side trains SmolLM2-135M-Instruct (all weights, fp32 without gradient checkpointing: TRL's own defaults
of bf16 and checkpointing are switched off for parity; fused AdamW, linear schedule, warm-up 6%, clipping
at 1.0) in its own process, with the loss on the assistant's tokens only: ours is `python -m models train
--method sft`; TRL gets the same conversations as prompt/completion pairs (its completion-only loss is the
same masking; SmolLM2's template has no {% generation %} markers for assistant_only_loss) and length-grouped
batches. Both trained models are then scored by the same function on the same held-out conversations (mean
cross-entropy per reply token), so the eval losses are comparable to the digit.

Timing is each trainer's own training time: TRL's train_runtime (its train() call: batching, steps, logging;
no evaluation or saving is asked of it) against our step_seconds (batching, steps; our one validation pass
and checkpoint, which TRL is not asked to do, are printed apart as train_seconds). Model loading and
tokenizing are excluded on both sides. Last line:
    speedup_vs_trl=<TRL s / our s> ours_eval_loss=<a> trl_eval_loss=<b>
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODEL = "SmolLM2-135M-Instruct"


def _splits(n_train: int, n_eval: int, seed: int):
    from models.core.config import TrainConfig
    from models.data.chat import ChatSplits, load_chat_data, stratified_subset

    config = TrainConfig(method="sft", model=MODEL, dataset="bitext_customer_support", seed=seed)
    data = load_chat_data(config)
    train = stratified_subset(data.train, n_train, seed)
    held_out = stratified_subset(data.validation, n_eval, seed)
    return ChatSplits(data.name, train, held_out, held_out[:2], data.intents, data.meta)


def run_ours(args: argparse.Namespace, out: Path) -> dict:
    import torch

    from models.core.config import TrainConfig
    from models.training.train import train

    torch.set_num_threads(args.threads)
    data = _splits(args.examples, args.eval_examples, args.seed)
    config = TrainConfig(method="sft", model=MODEL, dataset="bitext_customer_support", epochs=1,
                         batch_size=args.batch_size, learning_rate=args.lr, max_length=args.max_length,
                         seed=args.seed, runs_dir=str(out), run_name="ours", compare_base=False, eval_limit=2,
                         max_new_tokens=4, log_every_steps=5, warmup_ratio=0.06, early_stopping_patience=0)
    result = train(config, data)
    return {"train_s": result.extra["step_seconds"], "loop_s": result.train_seconds,
            "model_dir": str(result.run_dir / "model"), "steps": result.extra["steps"],
            "train_tokens": result.extra["train_tokens"]}


def run_trl(args: argparse.Namespace, out: Path) -> dict:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from models.modeling.causal_lm import ensure_converted
    from models.modeling.registry import resolve_model

    torch.set_num_threads(args.threads)
    folder = str(ensure_converted(resolve_model(MODEL)))
    data = _splits(args.examples, args.eval_examples, args.seed)
    rows = [{"prompt": [{"role": r, "content": c} for r, c in e.prompt_messages],
             "completion": [{"role": "assistant", "content": e.reference}]} for e in data.train]
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    config = SFTConfig(output_dir=str(out / "trl"), per_device_train_batch_size=args.batch_size,
                       learning_rate=args.lr, num_train_epochs=1, max_length=args.max_length,
                       lr_scheduler_type="linear", weight_decay=0.01, max_grad_norm=1.0,
                       warmup_steps=round(0.06 * -(-len(rows) // args.batch_size)),  # ours: warmup_ratio 0.06
                       optim="adamw_torch_fused", completion_only_loss=True, packing=False,
                       # TRL defaults to bf16 and gradient checkpointing; ours trains in fp32 without
                       # checkpointing, so the same here (bf16 autocast on a CPU without AMX is far slower)
                       bf16=False, fp16=False, gradient_checkpointing=False,
                       train_sampling_strategy="group_by_length", use_cpu=True, save_strategy="no",
                       report_to=[], logging_steps=5, seed=args.seed, dataloader_num_workers=0,
                       disable_tqdm=True)
    trainer = SFTTrainer(model=model, args=config, train_dataset=Dataset.from_list(rows),
                         processing_class=tokenizer)
    metrics = trainer.train().metrics
    model_dir = out / "trl-model"
    trainer.model.save_pretrained(str(model_dir))
    tokenizer.save_pretrained(str(model_dir))
    return {"train_s": metrics["train_runtime"], "model_dir": str(model_dir),
            "steps": trainer.state.global_step}


def eval_loss(args: argparse.Namespace, model_dir: str) -> float:
    """Mean cross-entropy per reply token of `model_dir` on the held-out conversations (one function for both
    sides)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from models.training.sft_data import encode_examples, pad_chat_batch
    from models.training.sft_model import ReplyLoss

    torch.set_num_threads(args.threads)
    data = _splits(args.examples, args.eval_examples, args.seed)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = ReplyLoss(AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval())
    encoded = encode_examples(tokenizer, [e.messages for e in data.validation], args.max_length)
    total = count = 0.0
    with torch.inference_mode():
        for start in range(0, len(encoded), 8):
            rows = list(range(start, min(start + 8, len(encoded))))
            batch = pad_chat_batch(encoded, rows, tokenizer.pad_token_id)
            s, c = model.loss_sum(batch["input_ids"], batch["labels"], batch["attention_mask"])
            total, count = total + float(s), count + float(c)
    return total / count


def child(args: argparse.Namespace) -> None:
    out = Path(args.out)
    if args.side == "ours":
        result = run_ours(args, out)
    elif args.side == "trl":
        result = run_trl(args, out)
    else:
        result = {"eval_loss": [eval_loss(args, d) for d in args.model_dir.split(os.pathsep)]}
    print(json.dumps(result))


def _spawn(args: argparse.Namespace, side: str, out: Path, model_dir: str = "") -> dict:
    command = [sys.executable, __file__, "--side", side, "--out", str(out), "--model-dir", model_dir,
               "--examples", str(args.examples), "--eval-examples", str(args.eval_examples),
               "--batch-size", str(args.batch_size), "--lr", str(args.lr),
               "--max-length", str(args.max_length),
               "--threads", str(args.threads), "--seed", str(args.seed)]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"})
    if done.returncode:
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit(f"{side} failed (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="16 conversations, 8 held out (< 3 min)")
    parser.add_argument("--examples", type=int, default=160)
    parser.add_argument("--eval-examples", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--side", choices=("ours", "trl", "eval"), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        child(args)
        return
    if args.quick:
        args.examples, args.eval_examples = 16, 8
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-sft-") as tmp:
        out = Path(tmp)
        ours = _spawn(args, "ours", out)
        print(f"ours: {ours['steps']} steps in {ours['train_s']:.1f} s "
              f"({ours['loop_s']:.1f} s with validation and checkpoint)", flush=True)
        trl = _spawn(args, "trl", out)
        print(f"trl:  {trl['steps']} steps in {trl['train_s']:.1f} s", flush=True)
        both = os.pathsep.join((ours["model_dir"], trl["model_dir"]))  # one process scores both models
        ours_loss, trl_loss = _spawn(args, "eval", out, both)["eval_loss"]
    tokens_per_s = ours["train_tokens"] / ours["train_s"]
    print(f"{args.examples} conversations, batch {args.batch_size}, max_length {args.max_length}, "
          f"lr {args.lr}; "
          f"ours {tokens_per_s:.0f} tokens/s; eval loss gap {100 * (ours_loss - trl_loss) / trl_loss:+.2f}%; "
          f"{time.monotonic() - began:.0f} s in all; load average {os.getloadavg()[0]:.1f}")
    print(f"speedup_vs_trl={trl['train_s'] / ours['train_s']:.2f} ours_eval_loss={ours_loss:.4f} "
          f"trl_eval_loss={trl_loss:.4f}")


if __name__ == "__main__":
    main()
