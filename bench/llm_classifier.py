"""SmolLM2-135M-Instruct with a classification head against MiniLM's quick-demo recipe, on BANKING77.

    nice -n 5 python bench/llm_classifier.py                    # SmolLM2 lora, then MiniLM's LP-FT demo run
    nice -n 5 python bench/llm_classifier.py --methods lora,full --epochs 3
    nice -n 5 python bench/llm_classifier.py --methods "" --threads 1      # MiniLM's demo run alone
    nice -n 5 python bench/llm_classifier.py --methods lora --no-minilm --max-steps 10   # a smoke run

Every run trains on the quick demo's subset (train_examples_per_class=16: 1,232 texts, seeded) and is scored
on all 3,080 test texts; each runs in its own Python process with `--threads` torch threads (2, the CPU's
cores; on a machine other jobs keep busy 1 is several times faster: 2 threads stall waiting for each
other, 15 s against 61-76 s per SmolLM2 LoRA step of 16 x 24 tokens at a load average of 10), through
`models.training.train.train`, so the run folders are what the app would make. MiniLM runs its demo
recipe exactly (models.jobs.demo_plan.finetune_config: full, LP-FT head, C=1, 4 epochs at 2e-4, batch 32,
validated once). SmolLM2 (the packaged GGUF, converted once into the model cache) gets a fresh `score`
head on its last token:
    lora  rank 8 on q/k/v/o (the head trained in full), --lora-lr (1e-3, the Fine-tune page's LoRA
          default: adapters want ~10x a full fine-tune's step), --epochs (1) at --batch-size (8: for a
          fixed number of tokens, twice the updates of batch 16 at about the same CPU time)
    full  every weight but the token table (freeze_embeddings), the head started from a linear probe of the
          last token's hidden state (LP-FT, C=1 as the demo), --full-lr (5e-5), the same epochs and batch
One epoch because SmolLM2 is 6x MiniLM's size with 5x its depth: an epoch of 1,232 texts is about 25k
tokens, minutes on an idle 2-core CPU but tens of minutes on a shared one. Validation is scored once,
after the last epoch (validate_every_epoch=False, as the demo), so the epochs are a fixed budget, not
early-stopped.

Figures per run: test accuracy with its Wilson 95% CI (eval.json), macro-F1, wall seconds of the whole
train() call (model load, tokenizing, training, validation, test scoring, saving; the dataset load too),
the run's own training seconds, trainable parameters, and the load average before and after (the machine
may be shared: read the times with it). Last line: `smollm2_<method>_acc=<a> smollm2_<method>_wall_s=<s>
... minilm_acc=<b> minilm_wall_s=<s>`.
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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EPOCHS = 1
LORA_LR = 1e-3
FULL_LR = 5e-5
BATCH_SIZE = 8


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default="lora", help="SmolLM2 methods, comma-separated: lora, full")
    parser.add_argument("--no-minilm", action="store_true", help="skip MiniLM's demo run")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help=f"SmolLM2 epochs (default {EPOCHS})")
    parser.add_argument("--lora-lr", type=float, default=LORA_LR)
    parser.add_argument("--full-lr", type=float, default=FULL_LR)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--max-steps", type=int, default=None, help="cap SmolLM2's steps (smoke runs)")
    parser.add_argument("--eval-limit", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs-dir", default=None, help="keep the run folders here (default: a temp folder)")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # a config.json to train, in a child process
    parser.add_argument("--json-out", help=argparse.SUPPRESS)
    return parser.parse_args()


def smollm2_config(method: str, args: argparse.Namespace, runs_dir: str) -> Any:
    from models.core.config import TrainConfig
    from models.jobs.demo_plan import DEMO_DATASET, DEMO_EXAMPLES_PER_CLASS, FINETUNE_HEAD_C
    from models.modeling.registry import SMOLLM2_NAME

    recipe: dict[str, Any] = {"learning_rate": args.lora_lr}
    if method == "full":
        recipe = {"learning_rate": args.full_lr, "head_init": "probe", "classic_c": FINETUNE_HEAD_C}
    return TrainConfig(method=method, model=SMOLLM2_NAME, dataset=DEMO_DATASET,
                       train_examples_per_class=DEMO_EXAMPLES_PER_CLASS, epochs=args.epochs,
                       batch_size=args.batch_size, eval_batch_size=64, max_steps=args.max_steps,
                       validate_every_epoch=False, early_stopping_patience=0, num_threads=args.threads,
                       seed=42, runs_dir=runs_dir, run_name=f"smollm2-{method}", **recipe)


def minilm_config(args: argparse.Namespace, runs_dir: str) -> Any:
    from models.jobs.demo_plan import DEMO_DATASET, finetune_config

    return finetune_config(dataset=DEMO_DATASET, runs_dir=runs_dir, num_threads=args.threads, seed=42,
                           run_name="minilm-lpft")


def run_child(config_path: str, json_out: str) -> None:
    """Train one config (this process only) and write its figures."""
    from models.core.config import TrainConfig
    from models.core.runs import read_events
    from models.training.train import train

    config = TrainConfig.from_dict(json.loads(Path(config_path).read_text()))
    load_before = os.getloadavg()
    start = time.perf_counter()
    result = train(config)
    wall = time.perf_counter() - start
    metrics = json.loads((result.run_dir / "eval.json").read_text())
    start_event = next(e for e in read_events(result.run_dir) if e.kind == "start")
    figures = {
        "run": result.run_dir.name, "method": config.method, "model": config.model,
        "accuracy": metrics["accuracy"], "accuracy_ci95": metrics["accuracy_ci95"],
        "macro_f1": metrics.get("macro_f1"), "n_test": metrics.get("n"),
        "wall_s": round(wall, 1), "train_s": round(result.train_seconds, 1),
        "steps": result.extra.get("steps"), "epochs": config.epochs, "learning_rate": config.learning_rate,
        "batch_size": config.batch_size, "head_init": config.head_init,
        "trainable_parameters": start_event.extra.get("trainable_parameters"),
        "samples_per_s": result.extra.get("samples_per_s"),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }
    Path(json_out).write_text(json.dumps(figures, indent=2))


def run_side(config: Any, work: Path) -> dict[str, Any]:
    """Train `config` in a fresh process; its figures."""
    config_path, out = work / f"{config.run_name}.config.json", work / f"{config.run_name}.figures.json"
    config_path.write_text(json.dumps(config.to_dict()))
    print(f"-- {config.run_name}: {config.method} {config.model}, {config.epochs} epochs at "
          f"lr {config.learning_rate:g}, batch {config.batch_size}, uptime: {_uptime()}", flush=True)
    subprocess.run([sys.executable, __file__, "--child", str(config_path), "--json-out", str(out)],
                   check=True)
    figures = json.loads(out.read_text())
    low, high = figures["accuracy_ci95"]
    print(f"   accuracy {figures['accuracy']:.1%} (95% CI {low:.1%}-{high:.1%}, n={figures['n_test']}), "
          f"macro-F1 {figures['macro_f1']:.3f}, wall {figures['wall_s']:.0f} s (training "
          f"{figures['train_s']:.0f} s, {figures['steps']} steps), trainable "
          f"{figures['trainable_parameters']:,} params, load average {figures['loadavg_before'][0]} -> "
          f"{figures['loadavg_after'][0]}", flush=True)
    return figures


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "load average {:.2f}, {:.2f}, {:.2f}".format(*os.getloadavg())


def main() -> None:
    args = parse_args()
    os.environ.setdefault("STRATLAB_DATASET_MIRROR", str(ROOT.parent / "shared" / "datasets"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.child:
        run_child(args.child, args.json_out)
        return
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    with tempfile.TemporaryDirectory(prefix="llm-classifier-") as tmp:
        runs_dir = args.runs_dir or str(Path(tmp) / "runs")
        work = Path(tmp)
        results: dict[str, dict[str, Any]] = {}
        for method in methods:
            results[f"smollm2_{method}"] = run_side(smollm2_config(method, args, runs_dir), work)
        if not args.no_minilm:
            results["minilm"] = run_side(minilm_config(args, runs_dir), work)
        print(json.dumps(results, indent=2))
        print(f"uptime after: {_uptime()}")
        parts = []
        for name, figures in results.items():
            parts += [f"{name}_acc={figures['accuracy']:.4f}", f"{name}_wall_s={figures['wall_s']:.0f}"]
        print(" ".join(parts))


if __name__ == "__main__":
    main()
