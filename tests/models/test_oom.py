"""Out of memory while training or predicting: detection, automatic smaller batches, clear messages, and a
real allocation failure in a child process whose address space is limited (never the machine's own
memory)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from models.core import memory
from models.core.config import TrainConfig
from models.core.runs import write_json_atomic
from models.data.types import DataSplits
from models.errors import InsufficientMemoryError, StratLabModelError

ROOT = Path(__file__).resolve().parents[2]
CPU_OOM = ("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: "
           "you tried to allocate 8589934592 bytes. Error code 12 (Cannot allocate memory)")
"""torch's own words when a CPU allocation fails (copied from torch 2.13 under a memory limit)."""


def _classifier_run(run: Path, *, hidden_size: int = 32, intermediate_size: int = 64, max_length: int = 32,
                    eval_batch_size: int = 64) -> Path:
    """A finished `full` run folder holding a random 2-layer BERT classifier with MiniLM's tokenizer."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from models.core.outputs import write_label_names
    from models.modeling.registry import minilm_dir

    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=hidden_size, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=intermediate_size, max_position_embeddings=512, num_labels=2)
    BertForSequenceClassification(config).save_pretrained(run / "model")
    AutoTokenizer.from_pretrained(minilm_dir()).save_pretrained(run / "model")
    write_label_names(run / "model", ("neg", "pos"))
    train_config = TrainConfig(method="full", model="tiny-bert", runs_dir=str(run.parent), dataset="toy",
                               max_length=max_length, eval_batch_size=eval_batch_size)
    write_json_atomic(run / "config.json", train_config.to_dict())
    write_json_atomic(run / "status.json", {"state": "succeeded"})
    return run


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _classifier_run(tmp_path_factory.mktemp("runs") / "small")


# ------------------------------------------------------------------------------------------ detection


@pytest.mark.parametrize("error", [
    RuntimeError(CPU_OOM),
    torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
    torch.OutOfMemoryError("x"),
    MemoryError(),
    RuntimeError("generation failed: DefaultCPUAllocator: can't allocate memory: "
                 "you tried to allocate 9 bytes"),
    RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`"),
    RuntimeError("could not create a primitive"),  # oneDNN under memory pressure
])
def test_out_of_memory_is_recognised(error: BaseException) -> None:
    assert memory.is_out_of_memory(error)


@pytest.mark.parametrize("error", [
    RuntimeError("shape mismatch"), ValueError("out of memory"), OSError(12, "x"),
])
def test_other_errors_are_not_out_of_memory(error: BaseException) -> None:
    assert not memory.is_out_of_memory(error)


def test_memory_kind_tells_gpu_from_ram() -> None:
    assert memory.memory_kind(torch.OutOfMemoryError("CUDA out of memory")) == "GPU"
    assert memory.memory_kind(RuntimeError(CPU_OOM)) == "RAM"
    assert memory.memory_kind(MemoryError()) == "RAM"


# ------------------------------------------------------------------------------------------ halving


def test_with_smaller_batches_halves_until_it_fits() -> None:
    tried: list[int] = []

    def fits_eight(size: int) -> str:
        tried.append(size)
        if size > 8:
            raise RuntimeError(CPU_OOM)
        return f"done at {size}"

    assert memory.with_smaller_batches(fits_eight, 50, doing="testing", fix="lower it") == ("done at 6", 6)
    assert tried == [50, 25, 12, 6]


def test_with_smaller_batches_gives_a_clear_error_at_batch_size_one() -> None:
    tried: list[int] = []

    def never_fits(size: int) -> None:
        tried.append(size)
        raise MemoryError()

    with pytest.raises(InsufficientMemoryError) as caught:
        memory.with_smaller_batches(never_fits, 4, doing="predicting 9 texts", fix="predict fewer texts")
    assert tried == [4, 2, 1]
    message = str(caught.value)
    assert message.startswith(
        "out of memory (RAM) while predicting 9 texts even at batch size 1 (started at 4)"
    )
    assert message.endswith("; predict fewer texts")
    assert isinstance(caught.value.__cause__, MemoryError)


def test_with_smaller_batches_passes_other_errors_through_at_once() -> None:
    tried: list[int] = []

    def broken(size: int) -> None:
        tried.append(size)
        raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input"):
        memory.with_smaller_batches(broken, 16, doing="x", fix="y")
    assert tried == [16]


def test_transformer_predictor_retries_with_smaller_batches_and_keeps_the_size(
    small_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from models.serving.predictors import load_predictor

    texts = [f"review number {i} " + "good " * (i % 7) for i in range(40)]
    predictor = load_predictor(small_run, device="cpu")
    expected = predictor.predict_proba(texts)
    model = predictor.model
    real_forward = model.forward
    batch_sizes: list[int] = []

    def fits_only_ten(*args, **kwargs):
        size = int(kwargs["input_ids"].shape[0])
        batch_sizes.append(size)
        if size > 10:
            raise RuntimeError(CPU_OOM)
        return real_forward(*args, **kwargs)

    monkeypatch.setattr(model, "forward", fits_only_ten)
    got = predictor.predict_proba(texts)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert batch_sizes[:3] == [40, 32, 16] and max(batch_sizes[3:]) == 8  # 64 -> 32 -> 16 -> 8 texts a batch
    assert predictor.batch_size == 8
    batch_sizes.clear()
    predictor.predict_proba(texts)  # the next request starts at the size that fitted: no failed attempt
    assert max(batch_sizes) == 8


def test_predictor_says_what_to_lower_when_one_text_does_not_fit(small_run: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from models.serving.predictors import load_predictor

    predictor = load_predictor(small_run, device="cpu")

    def never_fits(*args, **kwargs):
        raise RuntimeError(CPU_OOM)

    monkeypatch.setattr(predictor.model, "forward", never_fits)
    with pytest.raises(InsufficientMemoryError) as caught:
        predictor.predict_proba(["one text"])
    message = str(caught.value)
    assert "out of memory (RAM) while predicting 1 text with the full model even at batch size 1" in message
    assert "lower the run's max_length (now 32 tokens)" in message and "precision int8" in message


def test_classic_predictor_splits_the_request_when_memory_runs_out(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from models.modeling import tfidf
    from models.serving.predictors import ClassicPredictor

    calls: list[int] = []

    def proba(pipeline, texts, num_labels):
        calls.append(len(texts))
        if len(texts) > 3:
            raise MemoryError()
        return np.full((len(texts), num_labels), 1.0 / num_labels)

    monkeypatch.setattr(tfidf, "predict_proba_aligned", proba)
    predictor = ClassicPredictor(pipeline=None, label_names=("a", "b"))
    probs = predictor.predict_proba([f"t{i}" for i in range(10)])
    assert probs.shape == (10, 2) and calls[:2] == [10, 5] and set(calls[2:]) <= {2}


@pytest.mark.slow
def test_training_halves_the_batch_on_cpu_allocator_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_encoder_dir: Path,
    small_sentiment: Callable[..., DataSplits],
) -> None:
    from models.core.runs import read_events
    from models.training import loop
    from models.training.train import train

    model = tiny_encoder_dir
    real_step = loop.train_step

    def fits_only_four(session, batch):
        if len(batch["labels"]) > 4:
            raise RuntimeError(CPU_OOM)
        return real_step(session, batch)

    monkeypatch.setattr(loop, "train_step", fits_only_four)
    config = TrainConfig(method="full", model=str(model), runs_dir=str(tmp_path / "runs"), epochs=1,
                         batch_size=16, max_steps=2, max_length=32, run_name="cpu-oom")
    result = train(config, small_sentiment(n_train=64, n_test=8))
    assert [r["to_batch_size"] for r in result.extra["oom_retries"]] == [8, 4]
    assert [e.extra["to_batch_size"] for e in read_events(result.run_dir) if e.kind == "oom_retry"] == [8, 4]
    assert result.extra["batch_size"] == 4


# ------------------------------------------------------------------------------------------ a real limit


_CHILD = textwrap.dedent("""
    import logging, resource, sys
    import torch
    torch.set_num_threads(1)
    from models.cli import error_line
    from models.errors import StratLabModelError
    from models.serving.predictors import load_predictor

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    run_dir, headroom_mb, n_texts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    predictor = load_predictor(run_dir, device="cpu")
    predictor.predict_proba(["warm up every code path once"])
    texts = [f"text {i} " + "word " * 600 for i in range(n_texts)]  # 512 tokens each after truncation
    vm_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmSize:"))
    limit = (vm_kb * 1024) + headroom_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))  # this process only
    try:
        probs = predictor.predict_proba(texts)
    except StratLabModelError as e:
        print(error_line(e))
        sys.exit(2)
    print(f"ok {probs.shape[0]} rows, batch size now {predictor.batch_size}")
""")


@pytest.fixture(scope="module")
def wide_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A classifier whose feed-forward layers need ~64 MB of activations per 512-token text (intermediate
    32768; hidden size 8 keeps the arithmetic cheap)."""
    return _classifier_run(tmp_path_factory.mktemp("runs") / "wide", hidden_size=8, intermediate_size=32768,
                           max_length=512, eval_batch_size=64)


def _run_child(run_dir: Path, headroom_mb: int, n_texts: int) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false",
               PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", _CHILD, str(run_dir), str(headroom_mb), str(n_texts)],
                          capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)


@pytest.mark.slow
def test_a_real_memory_limit_is_met_with_smaller_batches(wide_run: Path) -> None:
    child = _run_child(wide_run, headroom_mb=1536, n_texts=12)
    assert child.returncode == 0, child.stdout + child.stderr
    assert "Traceback" not in child.stderr
    assert (
        "DefaultCPUAllocator: can't allocate memory" in child.stderr
        and "retrying at batch size" in child.stderr
    )
    size = int(child.stdout.split("batch size now")[1])
    assert child.stdout.startswith("ok 12 rows") and 1 <= size < 12


@pytest.mark.slow
def test_a_real_memory_limit_too_small_for_one_text_gives_the_message(wide_run: Path) -> None:
    child = _run_child(wide_run, headroom_mb=48, n_texts=4)
    assert child.returncode == 2, f"exit {child.returncode}: {child.stdout}{child.stderr}"
    assert "Traceback" not in child.stderr
    assert child.stdout.startswith("error: out of memory (RAM) while predicting 4 texts with the full model "
                                   "even at batch size 1 (started at 64"), child.stdout
    assert "lower the run's max_length (now 512 tokens)" in child.stdout


def test_memory_errors_are_model_errors_the_pages_show() -> None:
    assert issubclass(InsufficientMemoryError, StratLabModelError)


def test_training_message_at_batch_size_one_names_the_sizes_tried_and_the_fixes() -> None:
    from models.training import finetune
    config = TrainConfig(method="full", model="minilm", batch_size=1, max_length=256)
    retries = [{"from_batch_size": 4, "to_batch_size": 2}, {"from_batch_size": 2, "to_batch_size": 1}]
    message = str(finetune.out_of_memory_error(RuntimeError(CPU_OOM), config, retries))
    assert message.startswith("out of memory (RAM) while training minilm even at batch size 1 "
                              "(batch sizes tried: 4 -> 2 -> 1; [enforce fail")
    assert message.endswith("lower max_length (now 256), pick a smaller model, the LoRA method, "
                            "or use a device with more memory")
