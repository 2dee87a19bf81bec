"""Our batched inference against transformers.pipeline("text-classification", batch_size=32), same run.

    python bench/infer.py                       # MiniLM with a random head (same speed as a fine-tuned one)
    python bench/infer.py --run data/runs/<id>  # a fine-tuned full/LoRA run folder
    python bench/infer.py --limit 500 --min-seconds 2   # quicker
    python bench/infer.py --run data/runs/<id> --precision int8   # ours int8 (pipeline fp32), with accuracies

Both sides use the same model object, threads, max_length and texts (BANKING77 test). Ours: one fast
tokenizer call for the whole list, length-sorted batches padded only to their own longest text,
torch.inference_mode, and 1 torch thread for single-text requests (too little work to split; change
with --single-request-threads, 0 = same threads as the pipeline).
Last line: speedup_vs_pipeline=<x> p50_ms=<ours> pipeline_p50_ms=<theirs>
(speedup = our batch throughput / the pipeline's).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.modeling import lean_bert as fastpath  # noqa: E402
from models.serving.benchmark import benchmark  # noqa: E402
from models.serving.predictors import TransformerPredictor, lean_for_inference, load_predictor  # noqa: E402

PIPELINE_BATCH = 32


class PipelinePredictor:
    """transformers.pipeline wrapped to predict_proba(list[str]) -> [n, num_labels]."""

    def __init__(self, model: object, tokenizer: object, label_names: tuple[str, ...],
                 max_length: int) -> None:
        from transformers import pipeline

        self.pipe = pipeline("text-classification", model=model, tokenizer=tokenizer, device=model.device,
                             batch_size=PIPELINE_BATCH, top_k=None)
        self.index = {name: i for i, name in enumerate(label_names)}
        self.max_length = max_length

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        outputs = self.pipe(texts, batch_size=PIPELINE_BATCH, truncation=True, max_length=self.max_length)
        probs = np.zeros((len(texts), len(self.index)))
        for row, scores in enumerate(outputs):
            for item in scores:
                probs[row, self.index[item["label"]]] = item["score"]
        return probs


def load_texts(limit: int | None) -> tuple[list[str], np.ndarray, tuple[str, ...]]:
    from models.data.catalog import load_dataset

    data = load_dataset("banking77")
    return list(data.test.texts)[:limit], np.asarray(data.test.labels)[:limit], data.label_names


def make_predictor(run: str | None, label_names: tuple[str, ...], batch_size: int,
                   precision: str = "fp32") -> tuple[TransformerPredictor, str]:
    if run:
        predictor = load_predictor(Path(run), device="cpu", batch_size=batch_size, precision=precision)
        if not isinstance(predictor, TransformerPredictor):
            raise SystemExit(f"--run must be a full or lora run (got method {predictor.method})")
        return predictor, f"fine-tuned run {Path(run).name}"
    from models.modeling.loading import load_sequence_classifier, load_tokenizer
    from models.modeling.registry import resolve_model
    from models.serving.predictors import apply_precision

    spec = resolve_model("all-MiniLM-L6-v2")
    model = apply_precision(lean_for_inference(load_sequence_classifier(spec, label_names)), precision)
    predictor = TransformerPredictor(model, load_tokenizer(spec), label_names, batch_size=batch_size,
                                     max_length=128, method="full", precision=precision)
    return predictor, ("all-MiniLM-L6-v2 with a RANDOM classification head (no --run given): accuracy is "
                       "meaningless, speed is the same as a fine-tuned MiniLM classifier")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", help="a finished full/lora run folder")
    parser.add_argument("--limit", type=int, default=None, help="first N test texts (default: all 3,080)")
    parser.add_argument("--min-seconds", type=float, default=5.0)
    parser.add_argument("--batch-size", type=int, default=64, help="our batch size (pipeline keeps 32)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads for both sides")
    parser.add_argument("--single-request-threads", type=int, default=1,
                        help="our threads for one-text requests (0: same as --threads)")
    parser.add_argument("--precision", choices=("fp32", "int8"), default="fp32",
                        help="ours only: int8 = dynamic int8 quantisation (the pipeline stays fp32); "
                        "prints the accuracy of both on the texts")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    texts, labels, label_names = load_texts(args.limit)
    ours, what = make_predictor(args.run, label_names, args.batch_size, args.precision)
    ours.single_request_threads = args.single_request_threads or None
    print(f"model: {what}, ours in {args.precision}\ntexts: {len(texts)} BANKING77 test, threads: "
          f"{torch.get_num_threads()} "
          f"(ours on single requests: {ours.single_request_threads or torch.get_num_threads()})")
    reference, _ = (make_predictor(args.run, label_names, args.batch_size) if args.precision != "fp32"
                    else (ours, ""))
    theirs = PipelinePredictor(fastpath.unwrap(reference.model), ours.tokenizer, label_names, ours.max_length)
    checked = texts if args.precision != "fp32" and args.run else texts[:200]
    ours_pred, their_pred = ours.predict_proba(checked).argmax(1), theirs.predict_proba(checked).argmax(1)
    print(f"same predictions on {len(checked)} texts: {float(np.mean(ours_pred == their_pred)):.3f}")
    if args.run:
        truth = labels[: len(checked)]
        print(f"accuracy on {len(checked)} texts: "
              f"ours ({args.precision}) {float(np.mean(ours_pred == truth)):.4f}, "
              f"pipeline (fp32) {float(np.mean(their_pred == truth)):.4f}")
    results = {}
    for name, predictor in (("ours", ours), ("pipeline", theirs)):
        results[name] = benchmark(predictor, texts, min_seconds=args.min_seconds)
        r = results[name]
        print(f"{name:9s} p50 {r['latency_p50_ms']:7.2f} ms  p95 {r['latency_p95_ms']:7.2f} ms  "
              f"p99 {r['latency_p99_ms']:7.2f} ms  "
              f"throughput {r['throughput_samples_per_s']:8.1f} samples/s  "
              f"peak RSS {r['peak_rss_bytes'] / 2**20:.0f} MiB")
    speedup = results["ours"]["throughput_samples_per_s"] / results["pipeline"]["throughput_samples_per_s"]
    print(f"speedup_vs_pipeline={speedup:.2f} p50_ms={results['ours']['latency_p50_ms']:.2f} "
          f"pipeline_p50_ms={results['pipeline']['latency_p50_ms']:.2f}")


if __name__ == "__main__":
    main()
