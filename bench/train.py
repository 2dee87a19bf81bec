"""Our fine-tuning loop against transformers.Trainer on BANKING77 with all-MiniLM-L6-v2, same run.

    python bench/train.py                  # full data, TrainConfig defaults (the 2-core CPU goal run)
    python bench/train.py --quick          # a stratified subset, under 3 minutes on 2 cores
    python bench/train.py --only ours      # our loop alone (e.g. to time the full fine-tune goal)

Both sides get the same model (same seed, so the same new classification head), the same tokenized
texts (input_ids + attention_mask, truncated at max_length, tokenized once), the same hyperparameters
(batch size, learning rate, linear warm-up/decay, AdamW weight decay, clipping, epochs), dynamic padding
(ours: per batch; Trainer: DataCollatorWithPadding) with length-grouped training batches on both
(Trainer: train_sampling_strategy='group_by_length'), per-epoch validation with the best epoch kept
(Trainer: eval/save per epoch, load_best_model_at_end, EarlyStoppingCallback with the same patience),
and the same thread count. Timed: from the loaded dataset to test-set predictions (model load,
training, validation, checkpoints, test prediction). Accuracy on the same test rows.
Each side runs in its own fresh Python process (our loop tunes the process's allocator; nothing carries
over from one side to the other); the dataset is loaded before either clock starts.

Ours runs with its defaults, which differ from the model's own recipe in two places, both part of what
is being measured: the embedding block is frozen (TrainConfig.freeze_embeddings, for speed) and attention
probabilities get no dropout (TrainConfig.attention_dropout=0, for accuracy in 4 epochs). `--same-recipe`
trains the embeddings and keeps the model's attention dropout, as Trainer does, so only the exact-maths
speed-ups remain (lean BERT forward, allocator, cheaper dropout masks).
Last line: speedup_vs_trainer=<x> ours_acc=<a> trainer_acc=<b> (x = Trainer seconds / ours).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.core.config import TrainConfig  # noqa: E402
from models.data.types import DataSplits  # noqa: E402

MODEL = "all-MiniLM-L6-v2"
QUICK_PER_CLASS = 8
"""--quick: training rows per class (77 classes: 616 rows, 20 steps of 32 per epoch)."""


def parse_args() -> argparse.Namespace:
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_PER_CLASS} train / {QUICK_PER_CLASS // 4} validation / "
                        f"{QUICK_PER_CLASS // 2} test rows per class, 2 epochs")
    parser.add_argument("--train-per-class", type=int, default=None,
                        help=f"with --quick: training rows per class (default {QUICK_PER_CLASS})")
    parser.add_argument("--epochs", type=int, default=None, help=f"default {defaults.epochs} (quick: 2)")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--eval-batch-size", type=int, default=defaults.eval_batch_size)
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument("--max-length", type=int, default=defaults.max_length)
    parser.add_argument("--warmup-ratio", type=float, default=defaults.warmup_ratio)
    parser.add_argument("--patience", type=int, default=defaults.early_stopping_patience)
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch CPU threads (both sides)")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--only", choices=("both", "ours", "trainer"), default="both")
    parser.add_argument("--runs-dir", default=None, help="keep our run folder here (default: a temp folder)")
    parser.add_argument("--same-recipe", action="store_true",
                        help="ours trains the embeddings and keeps the model's attention dropout, "
                        "like Trainer")
    parser.add_argument("--json-out", help=argparse.SUPPRESS)  # a side's figures, when run as a child process
    return parser.parse_args()


def load_data(quick: bool, seed: int, per_class: int | None) -> DataSplits:
    from models.data.catalog import load_dataset
    from models.data.splits import limit_per_class

    data = load_dataset("banking77", seed=seed)
    if not quick:
        return data
    k = per_class or QUICK_PER_CLASS
    return dataclasses.replace(data, train=limit_per_class(data.train, k, seed),
                               validation=limit_per_class(data.validation, max(1, k // 4), seed),
                               test=limit_per_class(data.test, max(1, k // 2), seed))


def make_config(args: argparse.Namespace, runs_dir: str) -> TrainConfig:
    defaults = TrainConfig()
    recipe = {"freeze_embeddings": False, "attention_dropout": None} if args.same_recipe else {}
    return TrainConfig(method="full", model=MODEL, dataset="banking77",
                       epochs=args.epochs or (2 if args.quick else defaults.epochs),
                       batch_size=args.batch_size, eval_batch_size=args.eval_batch_size,
                       learning_rate=args.learning_rate, max_length=args.max_length,
                       warmup_ratio=args.warmup_ratio,
                       early_stopping_patience=args.patience, seed=args.seed, device="cpu",
                       num_threads=args.threads, runs_dir=runs_dir, run_name="bench-ours", **recipe)


def warm_up(model: str) -> None:
    """Pay one-time costs (imports, registry look-ups) before either side's clock starts."""
    import transformers.trainer  # noqa: F401

    import models.core.evaluate  # noqa: F401
    import models.training.finetune  # noqa: F401
    from models.modeling.loading import load_tokenizer
    from models.modeling.registry import resolve_model

    load_tokenizer(resolve_model(model))


# ---------------------------------------------------------------- ours


def run_ours(config: TrainConfig, data: DataSplits) -> dict[str, float]:
    from models.training.train import train

    # a run normally ends with a short latency benchmark for the Compare page (inference.json); Trainer does
    # nothing like it, so it is switched off here and the clock stops at test predictions on both sides
    os.environ["STRATLAB_INFERENCE_BENCH_S"] = "0"
    started = time.perf_counter()
    result = train(config, data)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "train_seconds": result.train_seconds, "accuracy": result.metrics["accuracy"],
            "samples_per_s": result.extra["samples_per_s"] or 0.0, "epochs": result.extra["epochs_run"]}


# ---------------------------------------------------------------- transformers.Trainer


class _Features(torch.utils.data.Dataset):
    """Pre-tokenized rows as dicts, what DataCollatorWithPadding and LengthGroupedSampler expect."""

    def __init__(self, tokenizer, texts: tuple[str, ...], labels: tuple[int, ...], max_length: int) -> None:
        encoded = tokenizer(list(texts), truncation=True, max_length=max_length, return_token_type_ids=False)
        self.rows = [{"input_ids": ids, "attention_mask": mask, "labels": label}
                     for ids, mask, label in zip(encoded["input_ids"], encoded["attention_mask"], labels,
                                                 strict=True)]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict:
        return self.rows[index]


def _accuracy(eval_prediction) -> dict[str, float]:
    logits, labels = eval_prediction
    return {"accuracy": float((np.argmax(logits, axis=1) == labels).mean())}


def _trainer_arguments(config: TrainConfig, output_dir: str):
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=output_dir, per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.eval_batch_size, learning_rate=config.learning_rate,
        num_train_epochs=config.epochs, warmup_steps=config.warmup_ratio, weight_decay=config.weight_decay,
        max_grad_norm=config.max_grad_norm, lr_scheduler_type="linear", seed=config.seed,
        data_seed=config.seed,
        train_sampling_strategy="group_by_length", eval_strategy="epoch", save_strategy="epoch",
        save_total_limit=2, load_best_model_at_end=True, metric_for_best_model="accuracy",
        logging_strategy="steps", logging_steps=config.log_every_steps, report_to="none", disable_tqdm=True,
        use_cpu=config.device == "cpu", dataloader_num_workers=0,
    )


def run_trainer(config: TrainConfig, data: DataSplits) -> dict[str, float]:
    from transformers import DataCollatorWithPadding, EarlyStoppingCallback, Trainer, set_seed

    from models.modeling.loading import load_sequence_classifier, load_tokenizer
    from models.modeling.registry import resolve_model

    started = time.perf_counter()
    spec = resolve_model(config.model)
    tokenizer = load_tokenizer(spec)
    set_seed(config.seed)  # same seed before loading: the same random classification head as ours
    model = load_sequence_classifier(spec, data.label_names)
    splits = {name: _Features(tokenizer, getattr(data, name).texts, getattr(data, name).labels,
                              config.max_length)
              for name in ("train", "validation", "test")}
    with tempfile.TemporaryDirectory(prefix="bench-trainer-") as output_dir:
        callbacks = ([EarlyStoppingCallback(config.early_stopping_patience)]
                     if config.early_stopping_patience else [])
        trainer = Trainer(model=model, args=_trainer_arguments(config, output_dir),
                          train_dataset=splits["train"], eval_dataset=splits["validation"],
                          data_collator=DataCollatorWithPadding(tokenizer),
                          processing_class=tokenizer, compute_metrics=_accuracy, callbacks=callbacks)
        train_started = time.perf_counter()
        output = trainer.train()
        train_seconds = time.perf_counter() - train_started
        # Trainer may return test rows in its own (length-grouped) order: score against its label_ids
        prediction = trainer.predict(splits["test"])
    seconds = time.perf_counter() - started
    accuracy = float((np.argmax(prediction.predictions, axis=1) == np.asarray(prediction.label_ids)).mean())
    return {"seconds": seconds, "train_seconds": train_seconds, "accuracy": accuracy,
            "samples_per_s": output.metrics.get("train_samples_per_second", 0.0),
            "epochs": output.metrics.get("epoch", 0.0)}


# ---------------------------------------------------------------- report


def report(name: str, figures: dict[str, float]) -> None:
    print(f"{name:8s} total {figures['seconds']:7.1f} s   train {figures['train_seconds']:7.1f} s   "
          f"{figures['samples_per_s']:6.1f} samples/s   epochs {figures['epochs']:.0f}   "
          f"test accuracy {figures['accuracy']:.4f}", flush=True)


def run_side(side: str) -> dict[str, float]:
    """Run this script again for one side in a fresh process; its figures come back as JSON."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{side}-") as tmp:
        out = Path(tmp) / "figures.json"
        subprocess.run([sys.executable, __file__, *sys.argv[1:], "--only", side, "--json-out", str(out)],
                       check=True)
        return json.loads(out.read_text())


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.only == "both":
        ours, theirs = run_side("ours"), run_side("trainer")
    else:
        ours, theirs = run_one(args)
    if ours and theirs:
        speedup = theirs["seconds"] / ours["seconds"]
        print(f"speedup_vs_trainer={speedup:.2f} ours_acc={ours['accuracy']:.4f} "
              f"trainer_acc={theirs['accuracy']:.4f}")


def run_one(args: argparse.Namespace) -> tuple[dict[str, float] | None, dict[str, float] | None]:
    torch.set_num_threads(args.threads)
    data = load_data(args.quick, args.seed, args.train_per_class)
    warm_up(MODEL)
    with tempfile.TemporaryDirectory(prefix="bench-ours-") as tmp:
        config = make_config(args, args.runs_dir or tmp)
        if args.runs_dir:
            config = config.replace(run_name=f"bench-ours-{time.strftime('%Y%m%d-%H%M%S')}")
        if args.only == "ours" or not args.json_out:
            print(f"BANKING77 {'quick subset' if args.quick else 'full'}: train {len(data.train)}, "
                  f"validation {len(data.validation)}, test {len(data.test)}; {MODEL}; "
                  f"{args.threads} threads; epochs {config.epochs}, batch {config.batch_size}, "
                  f"lr {config.learning_rate}, max_length {config.max_length}; "
                  f"ours: freeze_embeddings={config.freeze_embeddings}, "
                  f"attention_dropout={config.attention_dropout}", flush=True)
        ours = run_ours(config, data) if args.only != "trainer" else None
        if ours:
            report("ours", ours)
        theirs = run_trainer(config, data) if args.only != "ours" else None
        if theirs:
            report("Trainer", theirs)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(ours or theirs))
    return ours, theirs


if __name__ == "__main__":
    main()
