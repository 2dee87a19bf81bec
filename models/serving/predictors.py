"""Inference from any run folder: one `Predictor` interface, optional int8/bf16, re-evaluation.

    predictor = load_predictor(Path("data/runs/<id>"))
    probs = predictor.predict_proba(["my card has not arrived"])      # [1, num_labels]

Transformer predictors tokenize the whole request list in one fast-tokenizer call, sort by length, pad
each batch only to its own longest text (models.modeling.tokenize) and run under `torch.inference_mode`;
results come back in input order. Latency and throughput: models.serving.benchmark.

Out of memory while predicting retries the request with half the batch, down to 1 (the predictor then keeps
the size that fitted), and raises InsufficientMemoryError with what ran out and what to lower when even 1
fails.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.core.config import TrainConfig
from models.core.device import resolve_device
from models.core.memory import explained, with_smaller_batches
from models.core.outputs import read_label_names
from models.core.runs import read_json, run_status
from models.data.types import DataSplits, LabelledTexts
from models.errors import ConfigError, RunFolderError
from models.modeling.tokenize import iter_padded_batches, pad_token_id, tokenize_all

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "int8", "bf16")
"""fp32: as trained; int8: dynamic int8 Linear layers (CPU only); bf16: bfloat16 weights (for GPUs)."""


class Predictor:
    """Class probabilities for raw texts from one trained run."""

    method: str = ""
    label_names: tuple[str, ...] = ()
    precision: str = "fp32"

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities [len(texts), num_labels] (float64 rows summing to 1), in input order.

        Raises InsufficientMemoryError when even one text at a time does not fit in memory."""
        raise NotImplementedError

    def predict(self, texts: Sequence[str]) -> list[str]:
        """Most likely label name per text."""
        probs = self.predict_proba(texts)
        return [self.label_names[i] for i in probs.argmax(axis=1)]


class ClassicPredictor(Predictor):
    """TF-IDF + logistic regression (method classic)."""

    def __init__(self, pipeline: Any, label_names: tuple[str, ...]) -> None:
        self.method, self.pipeline, self.label_names = "classic", pipeline, label_names

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        from models.modeling.tfidf import predict_proba_aligned

        if not texts:
            return np.zeros((0, len(self.label_names)))
        texts = list(texts)

        def in_chunks(size: int) -> np.ndarray:  # a chunk of texts plays the part of a batch here
            parts = [predict_proba_aligned(self.pipeline, texts[i : i + size], len(self.label_names))
                     for i in range(0, len(texts), size)]
            return np.concatenate(parts)

        probs, _ = with_smaller_batches(in_chunks, len(texts), doing=_doing(len(texts), self.method),
                                        fix=_FEWER_TEXTS)
        return probs


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Temporarily run torch CPU ops on `count` threads (None: leave as is)."""
    before = torch.get_num_threads()
    if count is None or count == before:
        yield
        return
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class TransformerPredictor(Predictor):
    """Encoder + classification head (methods full and lora: merged weights in model/).

    `single_request_threads`: torch threads for a one-text request on CPU. A single short text is too
    little work to split across cores: the threads mostly wait on each other, and on a busy machine a
    descheduled peer stalls the whole forward pass (measured 10x slower with 2 threads than 1 on a loaded
    2-core box). Batches use all threads. None keeps torch's setting for every call.
    """

    def __init__(self, model: Any, tokenizer: Any, label_names: tuple[str, ...], *, batch_size: int,
                 max_length: int, method: str, precision: str = "fp32",
                 single_request_threads: int | None = 1) -> None:
        self.model, self.tokenizer, self.label_names = model, tokenizer, label_names
        self.batch_size, self.max_length = batch_size, max_length
        self.method, self.precision = method, precision
        self.single_request_threads = single_request_threads
        self.pad_id = pad_token_id(tokenizer)
        first = next(iter(model.parameters()), None)
        self.device = first.device if first is not None else torch.device("cpu")

    @torch.inference_mode()
    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), len(self.label_names)), dtype=np.float64)
        if not texts:
            return out
        with explained(f"tokenizing {len(texts):,} texts", _FEWER_TEXTS):
            token_ids = tokenize_all(self.tokenizer, texts, self.max_length)
        threads = self.single_request_threads if len(texts) == 1 and self.device.type == "cpu" else None
        with torch_threads(threads):
            _, used = with_smaller_batches(lambda size: self._fill(out, token_ids, size), self.batch_size,
                                           doing=_doing(len(texts), self.method),
                                           fix=_lower_fix(self.max_length))
        self.batch_size = _keep_smaller(self.batch_size, used)
        return out

    def _fill(self, out: np.ndarray, token_ids: list[list[int]], batch_size: int) -> None:
        """Probabilities of every text into `out` [n, num_labels], `batch_size` texts per forward pass."""
        for idx, batch in iter_padded_batches(token_ids, batch_size, self.pad_id, self.device):
            if bool(batch["attention_mask"].all()):
                batch = {"input_ids": batch["input_ids"]}  # no padding: let SDPA skip the mask
            logits = self.model(**batch).logits  # [B, num_labels]
            out[idx] = torch.softmax(logits.float(), dim=-1).cpu().numpy()


class ProbePredictor(Predictor):
    """Frozen encoder embeddings + logistic-regression head (method linear_probe)."""

    def __init__(self, encoder: Any, tokenizer: Any, head: Any, label_names: tuple[str, ...], *,
                 batch_size: int, max_length: int, precision: str = "fp32") -> None:
        self.method, self.encoder, self.tokenizer, self.head = "linear_probe", encoder, tokenizer, head
        self.label_names, self.batch_size = label_names, batch_size
        self.max_length, self.precision = max_length, precision
        self.pad_id = pad_token_id(tokenizer)

    @torch.inference_mode()
    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        from models.modeling.embeddings import embed_token_ids, head_proba

        if not texts:
            return np.zeros((0, len(self.label_names)))
        with explained(f"tokenizing {len(texts):,} texts", _FEWER_TEXTS):
            token_ids = tokenize_all(self.tokenizer, texts, self.max_length)

        def embed(batch_size: int) -> np.ndarray:  # normalised mean-pooled embeddings [n, H] float32
            return embed_token_ids(self.encoder, token_ids, batch_size=batch_size, pad_id=self.pad_id)

        embeddings, used = with_smaller_batches(embed, self.batch_size, doing=_doing(len(texts), self.method),
                                                fix=_lower_fix(self.max_length))
        self.batch_size = _keep_smaller(self.batch_size, used)
        with explained(_doing(len(texts), self.method), _FEWER_TEXTS):
            return head_proba(self.head, embeddings, len(self.label_names))


class ZeroShotPredictor(Predictor):
    """Label log-likelihood scoring with a causal LM (method zero_shot)."""

    def __init__(self, scorer: Any, label_names: tuple[str, ...]) -> None:
        self.method, self.scorer, self.label_names = "zero_shot", scorer, label_names

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        with explained(_doing(len(texts), self.method), "predict fewer or shorter texts at once, or give the "
                                                        "prompt fewer examples"):
            return self.scorer.predict_proba(list(texts))


_FEWER_TEXTS = "predict fewer texts at once (split the file), or shorten the longest texts"


def _doing(count: int, method: str) -> str:
    return f"predicting {count:,} text{'s' if count != 1 else ''} with the {method} model"


def _lower_fix(max_length: int) -> str:
    return (f"predict fewer or shorter texts at once, lower the run's max_length (now {max_length} tokens), "
            f"or use precision int8 or a smaller model")


def _keep_smaller(current: int, fitted: int) -> int:
    """The batch size later calls start from: the one that fitted after an out-of-memory retry."""
    if fitted < current:
        log.info("out of memory at batch size %d: this predictor now predicts %d texts per batch",
                 current, fitted)
    return min(current, fitted)


def load_predictor(run_dir: Path | str, *, device: str = "auto", precision: str = "fp32",
                   batch_size: int | None = None) -> Predictor:
    """A Predictor for a finished run folder of any method (reads config.json and model/).

    `precision`: fp32, int8 (dynamic int8 Linear layers; CPU only) or bf16 (meant for GPUs).
    Raises RunFolderError (not a finished run), ConfigError (bad precision), ModelNotFoundError, DeviceError,
    InsufficientMemoryError (the model does not fit in memory).
    """
    run_dir = Path(run_dir)
    config = _finished_run_config(run_dir)
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    model_dir = run_dir / "model"
    label_names = read_label_names(model_dir)
    torch_device = resolve_device(device if device != "auto" else config.device)
    if precision == "int8" and torch_device.type != "cpu":
        raise ConfigError("int8 dynamic quantisation runs on the CPU only; "
                          "use --device cpu or precision bf16")
    batch = batch_size or config.eval_batch_size
    with explained(f"loading the {config.method} model of run {run_dir.name}",
                   "close other programs or models, or use precision int8 or a smaller model"):
        return _load_method(model_dir, config, label_names, torch_device, precision, batch)


def _load_method(model_dir: Path, config: TrainConfig, label_names: tuple[str, ...], device: torch.device,
                 precision: str, batch: int) -> Predictor:
    if config.method == "classic":
        from models.modeling.tfidf import load_pipeline

        return ClassicPredictor(load_pipeline(model_dir), label_names)
    if config.method == "linear_probe":
        return _load_probe(model_dir, label_names, device, precision, batch)
    if config.method == "zero_shot":
        return _load_zero_shot(model_dir, label_names, device, precision)
    return _load_transformer(model_dir, config, label_names, device, precision, batch)


def _finished_run_config(run_dir: Path) -> TrainConfig:
    if not (run_dir / "config.json").is_file():
        raise RunFolderError(f"{run_dir} is not a run folder (no config.json); pass a folder under data/runs")
    status = run_status(run_dir)
    if not status or status.get("state") != "succeeded":
        state = status.get("state") if status else "unfinished"
        raise RunFolderError(f"run {run_dir.name} is {state}; only succeeded runs can predict - "
                             "train it again")
    return TrainConfig.from_dict(read_json(run_dir / "config.json"))


def apply_precision(model: torch.nn.Module, precision: str) -> torch.nn.Module:
    """fp32: unchanged; int8: torch dynamic quantisation of every nn.Linear (CPU); bf16: bfloat16 weights."""
    if precision == "int8":
        import warnings

        from torch.ao.quantization import quantize_dynamic

        with warnings.catch_warnings():  # torch marks quantized tensor creation as deprecated; it still works
            warnings.filterwarnings("ignore", message=".*quantized tensor creation functions.*")
            return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    if precision == "bf16":
        return model.to(torch.bfloat16)
    return model


def lean_for_inference(model: torch.nn.Module) -> torch.nn.Module:
    """Eval-mode `model` behind the lean BERT forward (models.modeling.lean_bert) when it has one, else as
    is."""
    from models.modeling import lean_bert as fastpath
    if fastpath.supports(model):
        return fastpath.FastSequenceClassifier(model).freeze_for_inference()
    return model.eval()


def _load_transformer(model_dir: Path, config: TrainConfig, label_names: tuple[str, ...],
                      device: torch.device, precision: str, batch_size: int) -> TransformerPredictor:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from models.modeling.loading import quiet_transformers

    try:
        with quiet_transformers():
            model = AutoModelForSequenceClassification.from_pretrained(model_dir, use_safetensors=True)
            tokenizer = AutoTokenizer.from_pretrained(model_dir)
    except (OSError, ValueError) as e:
        raise RunFolderError(f"cannot load the fine-tuned model from {model_dir}: {e}") from e
    model = apply_precision(lean_for_inference(model.to(device)), precision)
    return TransformerPredictor(model, tokenizer, label_names, batch_size=batch_size,
                                max_length=config.max_length, method=config.method, precision=precision)


def _load_probe(model_dir: Path, label_names: tuple[str, ...], device: torch.device, precision: str,
                batch_size: int) -> ProbePredictor:
    from models.modeling.embeddings import BASE_FILE, load_head
    from models.modeling.loading import load_encoder, load_tokenizer
    from models.modeling.registry import resolve_model

    base = read_json(model_dir / BASE_FILE)
    spec = resolve_model(base["model"])
    encoder = apply_precision(load_encoder(spec).to(device).eval(), precision)
    head = load_head(model_dir)  # our own run folder only (pickle)
    return ProbePredictor(encoder, load_tokenizer(spec), head, label_names, batch_size=batch_size,
                          max_length=int(base.get("max_length", 128)), precision=precision)


def _load_zero_shot(model_dir: Path, label_names: tuple[str, ...], device: torch.device,
                    precision: str) -> ZeroShotPredictor:
    from models.modeling.causal_lm import load_causal_lm
    from models.modeling.label_scorer import LabelScorer
    from models.modeling.registry import resolve_model

    base = read_json(model_dir / "base.json")
    model, tokenizer = load_causal_lm(resolve_model(base["model"]), device)
    model = apply_precision(model, precision)
    examples = [tuple(e) for e in base.get("examples", [])]
    scorer = LabelScorer(model, tokenizer, label_names, examples, max_length=int(base.get("max_length", 128)),
                         length_normalise=bool(base.get("length_normalise", True)),
                         calibrate=bool(base.get("calibrate", True)))
    return ZeroShotPredictor(scorer, label_names)


# ---------------------------------------------------------------- evaluation


def split_of(data: DataSplits, split: str) -> LabelledTexts:
    """data.train / validation / test by name; ConfigError for anything else."""
    if split not in ("train", "validation", "test"):
        raise ConfigError(f"split must be train, validation or test, got {split!r}")
    return getattr(data, split)


def _run_data(run_dir: Path, data: DataSplits | None,
              split: str) -> tuple[TrainConfig, LabelledTexts, DataSplits]:
    config = TrainConfig.from_dict(read_json(run_dir / "config.json"))
    if data is None:
        from models.data.loading import load_training_data

        data = load_training_data(config)
    texts = split_of(data, split)
    if config.method == "zero_shot" and split == "test":
        from models.data.loading import scored_subset

        texts = scored_subset(texts, config.eval_limit, config.seed)
    return config, texts, data


def evaluate_run(run_dir: Path | str, data: DataSplits | None = None, split: str = "test", *,
                 device: str = "auto", precision: str = "fp32") -> dict[str, Any]:
    """Re-evaluate a saved run's model on `split` of `data` (None: the run's own dataset and seed).

    Returns evaluate_predictions' metrics plus split, n and precision. Zero-shot runs score the same
    eval_limit subset of the test split as in training.
    """
    from models.core.evaluate import evaluate_predictions

    run_dir = Path(run_dir)
    _, texts, data = _run_data(run_dir, data, split)
    predictor = load_predictor(run_dir, device=device, precision=precision)
    _check_labels(predictor, data)
    probs = predictor.predict_proba(list(texts.texts))
    metrics = evaluate_predictions(np.asarray(texts.labels), probs, data.label_names)
    return {**metrics, "split": split, "precision": precision, "run": run_dir.name}


def _check_labels(predictor: Predictor, data: DataSplits) -> None:
    if tuple(predictor.label_names) != tuple(data.label_names):
        raise ConfigError(f"the run was trained on labels {list(predictor.label_names)[:6]}... but the data "
                          f"has {list(data.label_names)[:6]}...; evaluate on the dataset the run was "
                          "trained on")


def compare_precision(run_dir: Path | str, precision: str, data: DataSplits | None = None,
                      split: str = "test", limit: int | None = None) -> dict[str, Any]:
    """Accuracy of `precision` (int8 or bf16) against fp32 on the same examples, and their speed.

    Returns accuracy_fp32, accuracy_<precision>, accuracy_change (points, new - fp32), agreement
    (share of identical predictions), seconds for each, and n. `limit` caps the examples (first n).
    """
    run_dir = Path(run_dir)
    _, texts, data = _run_data(run_dir, data, split)
    if limit is not None:
        texts = texts.subset(range(min(limit, len(texts))))
    y = np.asarray(texts.labels)
    result: dict[str, Any] = {"n": len(texts), "split": split, "precision": precision}
    preds = {}
    device = "cpu" if precision == "int8" else "auto"
    for name in ("fp32", precision):
        predictor = load_predictor(run_dir, device=device, precision=name)
        start = time.perf_counter()
        preds[name] = predictor.predict_proba(list(texts.texts)).argmax(axis=1)
        result[f"seconds_{name}"] = round(time.perf_counter() - start, 3)
        result[f"accuracy_{name}"] = float(np.mean(preds[name] == y))
    result["accuracy_change"] = round(100 * (result[f"accuracy_{precision}"] - result["accuracy_fp32"]), 3)
    result["agreement"] = float(np.mean(preds["fp32"] == preds[precision]))
    return result
