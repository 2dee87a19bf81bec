"""Fine-tuning engine: end-to-end runs on a tiny BERT and real sentences, exact resume, early stopping,
out-of-memory halving, devices, bad input, and 2-process DDP on CPU."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from models.core.config import TrainConfig
from models.core.memory import is_out_of_memory
from models.core.runs import RunWriter, read_events, run_status
from models.data.types import DataSplits
from models.errors import ConfigError, DataValidationError, DeviceError, TrainingError
from models.training import finetune, loop
from models.training.checkpoints import BEST_WEIGHTS, latest_checkpoint
from models.training.setup import build_optimizer, linear_schedule
from models.training.train import resume_run, train

ROOT = Path(__file__).resolve().parents[2]
RUN_FILES = (
    "config.json", "environment.json", "events.jsonl", "eval.json", "predictions.parquet", "status.json"
)
MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json", "labels.json")


def tiny_config(tmp_path: Path, model: str, **changes) -> TrainConfig:
    values = dict(method="full", model=model, dataset="sentiment_labelled_sentences", epochs=2, batch_size=16,
                  eval_batch_size=32, max_length=32, learning_rate=1e-3, runs_dir=str(tmp_path / "runs"),
                  num_threads=1, log_every_steps=2, seed=0)
    values.update(changes)
    return TrainConfig(**values)


def model_probs(model_dir: Path, texts: list[str]) -> np.ndarray:
    """Probabilities from the saved model/ folder with plain transformers (no peft, no project code)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    with torch.inference_mode():
        batch = tokenizer(texts, truncation=True, max_length=32, padding=True, return_tensors="pt")
        return torch.softmax(model(**batch).logits, dim=-1).numpy()


def saved_probs(run_dir: Path, label_names: tuple[str, ...]) -> np.ndarray:
    frame = pd.read_parquet(run_dir / "predictions.parquet")
    probs = np.array([list(row) for row in frame["probs"]], dtype=np.float32)
    assert probs.shape[1] == len(label_names)
    return probs


# ---------------------------------------------------------------- optimizer and schedule


def test_linear_schedule_warms_up_then_decays_to_zero() -> None:
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([param], lr=1.0)
    scheduler = linear_schedule(optimizer, warmup_steps=3, total_steps=10)
    lrs = []
    for _ in range(10):
        lrs.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    assert lrs[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert lrs[-1] == pytest.approx(1 / 7)
    assert scheduler.get_last_lr()[0] == 0.0


def test_optimizer_skips_weight_decay_on_biases_and_layernorm() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3))
    groups = build_optimizer(model, TrainConfig(weight_decay=0.05)).param_groups
    assert [g["weight_decay"] for g in groups] == [0.05, 0.0]
    assert [len(g["params"]) for g in groups] == [1, 3]


# ---------------------------------------------------------------- end to end


@pytest.mark.slow
def test_full_run_writes_every_file_and_the_best_model(tmp_path: Path, tiny_model: str,
                                                       sentences: DataSplits) -> None:
    config = tiny_config(tmp_path, tiny_model, checkpoint_every_steps=4, run_name="full-e2e")
    result = train(config, sentences)

    run_dir = result.run_dir
    assert run_dir == tmp_path / "runs" / "full-e2e"
    for name in RUN_FILES:
        assert (run_dir / name).is_file(), name
    for name in MODEL_FILES:
        assert (run_dir / "model" / name).is_file(), name
    assert run_status(run_dir)["state"] == "succeeded"
    # 96 rows / 16 = 6 steps x 2 epochs
    assert result.extra["steps"] == 12 and result.extra["epochs_run"] == 2
    assert sorted(p.name for p in (run_dir / "checkpoints").glob("step-*")) == ["step-12", "step-8"]
    assert not list(run_dir.glob(".*tmp*")) and not list((run_dir / "checkpoints").glob(".tmp*"))

    events = read_events(run_dir)
    steps = [e for e in events if e.kind == "step"]
    assert [e.step for e in steps] == [2, 4, 6, 8, 10, 12]
    for key in ("epoch", "loss", "lr", "samples_per_s", "tokens_per_s", "memory_bytes", "eta_s"):
        assert all(np.isfinite(getattr(e, key)) for e in steps), key
    epochs = [e for e in events if e.kind == "epoch"]
    assert [e.epoch for e in epochs] == [1, 2] and all(0 <= e.val_accuracy <= 1 for e in epochs)

    eval_metrics = json.loads((run_dir / "eval.json").read_text())
    assert eval_metrics["accuracy"] == pytest.approx(result.metrics["accuracy"])
    probs = saved_probs(run_dir, sentences.label_names)
    assert probs.shape == (32, 2)
    accuracy = float((probs.argmax(1) == np.array(sentences.test.labels)).mean())
    assert accuracy == pytest.approx(eval_metrics["accuracy"])
    # the saved model is the best validation epoch's and reproduces the predictions with plain transformers
    best = load_file(run_dir / "checkpoints" / BEST_WEIGHTS)
    final = load_file(run_dir / "model" / "model.safetensors")
    assert all(torch.equal(best[k], final[k]) for k in final)
    np.testing.assert_allclose(model_probs(run_dir / "model", list(sentences.test.texts)), probs, atol=1e-5)


@pytest.mark.parametrize("freeze", [True, False])
def test_full_run_uses_the_lean_forward_and_freezes_embeddings_when_asked(
        tmp_path: Path, tiny_model: str, sentences: DataSplits, freeze: bool) -> None:
    config = tiny_config(tmp_path, tiny_model, epochs=1, freeze_embeddings=freeze, run_name="lean")
    result = train(config, sentences)
    start = next(e for e in read_events(result.run_dir) if e.kind == "start")
    assert start.extra["lean_forward"] is True
    before = load_file(Path(tiny_model) / "model.safetensors")
    after = load_file(result.run_dir / "model" / "model.safetensors")

    def weight(weights: dict[str, torch.Tensor], suffix: str) -> torch.Tensor:
        return next(v for k, v in weights.items() if k.endswith(suffix))

    for suffix in ("embeddings.word_embeddings.weight", "embeddings.LayerNorm.weight"):
        assert torch.equal(weight(after, suffix), weight(before, suffix)) is freeze, suffix
    suffix = "encoder.layer.0.intermediate.dense.weight"  # the encoder itself trains either way
    assert not torch.equal(weight(after, suffix), weight(before, suffix))


def test_the_loop_trains_on_the_batches_the_seam_gives(tmp_path: Path, tiny_model: str, sentences: DataSplits,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # loop.epoch_batches is the get_dataloaders-style seam: replace it and the loop takes exactly those
    # batches
    seen: list[list[int]] = []
    real_step = loop.train_step

    def three_small_batches(session, progress) -> list[np.ndarray]:
        return [np.array([0, 1]), np.array([2, 3, 4]), np.array([5])]

    def recording_step(session, batch):
        seen.append(batch["index"].tolist())
        return real_step(session, batch)

    monkeypatch.setattr(loop, "epoch_batches", three_small_batches)
    monkeypatch.setattr(loop, "train_step", recording_step)
    result = train(tiny_config(tmp_path, tiny_model, epochs=1, run_name="seam"), sentences)
    assert seen == [[0, 1], [2, 3, 4], [5]]
    assert result.extra["steps"] == 3 and run_status(result.run_dir)["state"] == "succeeded"


@pytest.mark.slow
def test_lora_run_saves_merged_model_and_adapter(tmp_path: Path, tiny_model: str,
                                                 sentences: DataSplits) -> None:
    config = tiny_config(tmp_path, tiny_model, method="lora", epochs=1, learning_rate=5e-3,
                         run_name="lora-e2e")
    result = train(config, sentences)

    run_dir = result.run_dir
    assert run_status(run_dir)["state"] == "succeeded"
    assert (run_dir / "adapter" / "adapter_config.json").is_file()
    assert (run_dir / "adapter" / "adapter_model.safetensors").is_file()
    weights = load_file(run_dir / "model" / "model.safetensors")
    assert not any("lora" in k for k in weights)  # merged: plain transformers loads it without peft
    start = next(e for e in read_events(run_dir) if e.kind == "start")
    total = sum(v.numel() for v in weights.values())
    assert 0 < start.extra["trainable_parameters"] < total / 20
    probs = saved_probs(run_dir, sentences.label_names)
    np.testing.assert_allclose(model_probs(run_dir / "model", list(sentences.test.texts)), probs, atol=1e-5)


@pytest.mark.slow
def test_resume_after_a_crash_gives_identical_weights(tmp_path: Path, tiny_model: str, sentences: DataSplits,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # 96 rows / batch 32 = 3 steps per epoch; 8 steps cross two epoch ends; checkpoint at step 4
    common = dict(epochs=3, batch_size=32, max_steps=8, checkpoint_every_steps=4, early_stopping_patience=0)
    straight = train(tiny_config(tmp_path, tiny_model, run_name="straight", **common), sentences)

    real_step = loop.train_step
    calls = {"n": 0}

    def crash_after_five(session, batch):
        calls["n"] += 1
        if calls["n"] == 6:
            raise RuntimeError("simulated crash")
        return real_step(session, batch)

    monkeypatch.setattr(loop, "train_step", crash_after_five)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(tiny_config(tmp_path, tiny_model, run_name="crashed", **common), sentences)
    crashed_dir = tmp_path / "runs" / "crashed"
    assert run_status(crashed_dir)["state"] == "failed"
    assert latest_checkpoint(crashed_dir / "checkpoints").name == "step-4"
    monkeypatch.setattr(loop, "train_step", real_step)

    resumed = resume_run(crashed_dir, sentences)

    assert resumed.extra["resumed_from"] == "step-4" and resumed.extra["steps"] == 8
    assert run_status(crashed_dir)["state"] == "succeeded"
    for path in ("checkpoints/step-8/model.safetensors", "model/model.safetensors"):
        a, b = load_file(straight.run_dir / path), load_file(crashed_dir / path)
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a), path
    a = torch.load(straight.run_dir / "checkpoints/step-8/optimizer.pt", weights_only=True)
    b = torch.load(crashed_dir / "checkpoints/step-8/optimizer.pt", weights_only=True)
    assert all(torch.equal(a["state"][i]["exp_avg_sq"], b["state"][i]["exp_avg_sq"]) for i in a["state"])
    assert resumed.extra["final_loss"] == straight.extra["final_loss"]
    assert resumed.metrics["accuracy"] == straight.metrics["accuracy"]


@pytest.mark.slow
def test_early_stopping_ends_the_run_after_patience(tmp_path: Path, tiny_model: str,
                                                    sentences: DataSplits) -> None:
    # a learning rate this small cannot change a prediction: validation accuracy never improves after epoch 1
    config = tiny_config(tmp_path, tiny_model, epochs=6, batch_size=32, learning_rate=1e-12,
                         early_stopping_patience=2, run_name="early")
    result = train(config, sentences)
    assert result.extra["stopped_early"] is True
    assert result.extra["epochs_run"] == 3 and result.extra["steps"] == 9
    assert result.extra["best_epoch"] == 1
    epochs = [e for e in read_events(result.run_dir) if e.kind == "epoch"]
    assert [e.improved for e in epochs] == [True, False, False]


@pytest.mark.slow
def test_out_of_memory_halves_the_batch_and_says_so(tmp_path: Path, tiny_model: str, sentences: DataSplits,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    real_step = loop.train_step

    def fits_only_eight(session, batch):
        if len(batch["labels"]) > 8:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_step(session, batch)

    monkeypatch.setattr(loop, "train_step", fits_only_eight)
    config = tiny_config(tmp_path, tiny_model, epochs=1, batch_size=32, max_steps=3, run_name="oom")
    result = train(config, sentences)

    assert result.extra["oom_retries"] == [{"from_batch_size": 32, "to_batch_size": 16},
                                           {"from_batch_size": 16, "to_batch_size": 8}]
    assert result.extra["batch_size"] == 8 and result.extra["steps"] == 3
    retries = [e for e in read_events(result.run_dir) if e.kind == "oom_retry"]
    assert [e.extra["to_batch_size"] for e in retries] == [16, 8]
    assert run_status(result.run_dir)["state"] == "succeeded"


@pytest.mark.slow
def test_out_of_memory_at_batch_size_one_is_a_training_error(tmp_path: Path, tiny_model: str,
                                                             sentences: DataSplits,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    def never_fits(session, batch):
        raise RuntimeError("CUDA error: out of memory")

    monkeypatch.setattr(loop, "train_step", never_fits)
    with pytest.raises(TrainingError, match="batch size 1"):
        train(tiny_config(tmp_path, tiny_model, batch_size=2, run_name="oom1"), sentences)
    status = run_status(tmp_path / "runs" / "oom1")
    assert status["state"] == "failed" and "batch size 1" in status["error"]


# ---------------------------------------------------------------- devices and bad input


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on machines without CUDA")
def test_cuda_requested_without_cuda_is_a_device_error(tmp_path: Path, tiny_model: str,
                                                       sentences: DataSplits) -> None:
    with pytest.raises(DeviceError, match="no CUDA GPU is available.*use device 'auto' or 'cpu'"):
        train(tiny_config(tmp_path, tiny_model, device="cuda", run_name="nocuda"), sentences)
    assert run_status(tmp_path / "runs" / "nocuda")["state"] == "failed"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"learning_rate": float("nan")}, "learning_rate must be a positive finite number"),
        ({"learning_rate": -1e-4}, "learning_rate must be a positive finite number"),
        ({"epochs": 0}, "epochs must be a whole number of at least 1"),
        ({"batch_size": 100_000}, "batch_size must be between 1 and 8192"),
        ({"max_steps": 0}, "max_steps must be at least 1"),
        ({"log_every_steps": 0}, "log_every_steps must be a whole number >= 1"),
        ({"device": "tpu"}, "device must be one of"),
    ],
)
def test_bad_hyperparameters_are_config_errors(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**changes)


def test_finetune_refuses_other_methods_and_unusable_data(tmp_path: Path, sentences: DataSplits) -> None:
    writer = RunWriter(tmp_path)
    with pytest.raises(ConfigError, match="handles methods full and lora"):
        finetune.train_finetune(TrainConfig(method="classic"), sentences, writer)
    empty = dataclasses.replace(sentences, train=sentences.train.subset([]))
    with pytest.raises(DataValidationError, match="must not be empty"):
        finetune.train_finetune(TrainConfig(), empty, writer)


def test_out_of_memory_detection() -> None:
    assert is_out_of_memory(torch.OutOfMemoryError("x"))
    assert is_out_of_memory(RuntimeError("MPS backend out of memory (MPS allocated: 1 GB)"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert not is_out_of_memory(ValueError("out of memory"))


# ---------------------------------------------------------------- GPU and DDP


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_run_uses_bf16_autocast(tmp_path: Path, tiny_model: str, sentences: DataSplits) -> None:
    result = train(tiny_config(tmp_path, tiny_model, device="cuda", epochs=1, run_name="gpu"), sentences)
    assert result.extra["device"].startswith("cuda")
    expected = "bf16" if torch.cuda.is_bf16_supported() else "no"
    assert result.extra["mixed_precision"] == expected
    assert result.extra["memory_kind"] == "cuda_max_allocated"
    assert run_status(result.run_dir)["state"] == "succeeded"


DDP_SCRIPT = """
import dataclasses, json, sys
from models.core.config import TrainConfig
from models.data.catalog import load_dataset
from models.training.train import train

model, runs = sys.argv[1], sys.argv[2]
data = load_dataset("sentiment_labelled_sentences", seed=0)
data = dataclasses.replace(data, train=data.train.subset(range(96)),
                           validation=data.validation.subset(range(30)), test=data.test.subset(range(31)))
config = TrainConfig(method="full", model=model, epochs=2, batch_size=8, eval_batch_size=8, max_length=32,
                     learning_rate=1e-3, runs_dir=runs, num_threads=1, log_every_steps=2,
                     checkpoint_every_steps=4, seed=0)
result = train(config, data)
print("RESULT", json.dumps({"steps": result.extra["steps"], "processes": result.extra["num_processes"],
                            "has_metrics": bool(result.metrics)}))
"""


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(),
                    reason="the CPU/gloo path; with CUDA torchrun would use the GPUs")
def test_two_process_ddp_on_cpu(tmp_path: Path, tiny_model: str) -> None:
    script = tmp_path / "ddp_train.py"
    script.write_text(textwrap.dedent(DDP_SCRIPT))
    runs = tmp_path / "runs"
    # accelerate 1.x starts N > 1 CPU processes through torchrun (--multi_gpu) or MPI; `--cpu` alone
    # starts one. On a machine without CUDA the engine then asks accelerate for CPU + gloo itself.
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               str(script), tiny_model, str(runs)]
    env = {**__import__("os").environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]

    results = [
        json.loads(line.split(" ", 1)[1]) for line in done.stdout.splitlines() if line.startswith("RESULT")
    ]
    # 96 rows / 8 = 12 batches, 6 per process per epoch, 2 epochs
    assert sorted(r["has_metrics"] for r in results) == [False, True]
    assert all(r == {**r, "steps": 12, "processes": 2} for r in results)
    run_dirs = list(runs.iterdir())
    assert len(run_dirs) == 1  # both processes agreed on one folder; only the main one wrote it
    run_dir = run_dirs[0]
    assert run_status(run_dir)["state"] == "succeeded"
    assert sorted(p.name for p in (run_dir / "checkpoints").glob("step-*")) == ["step-12", "step-8"]
    rng_files = {p.name for p in (run_dir / "checkpoints" / "step-12").glob("rng-*.pt")}
    assert rng_files == {"rng-0.pt", "rng-1.pt"}
    events = read_events(run_dir)
    assert [e.step for e in events if e.kind == "step"] == [2, 4, 6, 8, 10, 12]  # written once, not twice
    # every test example was predicted exactly once although 31 rows do not split evenly over 2 processes
    frame = pd.read_parquet(run_dir / "predictions.parquet")
    assert len(frame) == 31 and frame["text_id"].is_unique
