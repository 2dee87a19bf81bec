"""`python -m models`: help, one-line errors with exit status 2, config files, a full classic run, predict."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from analytics.settings import field_docs
from models.cli import build_parser, config_from_args, main
from models.core.config import TrainConfig

ROOT = Path(__file__).resolve().parents[2]


def test_every_config_field_has_a_documented_flag() -> None:
    docs = field_docs(TrainConfig)
    names = [f.name for f in dataclasses.fields(TrainConfig)]
    assert set(docs) == set(names)
    help_text = build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    for name in names:
        assert "--" + name.replace("_", "-") in help_text


def test_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "python -m models train --method classic" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["train", "--learning-rate", "nan"], "error: learning_rate must be a positive finite number, got nan"),
    (["train", "--epochs", "0"], "error: epochs must be a whole number of at least 1, got 0"),
    (["train", "--batch-size", "100000"], "error: batch_size must be between 1 and 8192, got 100000"),
    (["train", "--method", "zero_shot", "--model", "no-such-model"], "error: unknown model 'no-such-model'"),
    (["train", "--epochs", "three"], "error: argument --epochs: expected a whole number, got 'three'"),
    (["train", "--config", "/nonexistent/run.yaml"], "error: cannot read config file /nonexistent/run.yaml"),
    (["predict", "--run", "/nonexistent/run", "hello"], "error: /nonexistent/run is not a run folder"),
])
def test_bad_input_gives_one_error_line_and_exit_2(argv: list[str], message: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main([*argv, "--runs-dir", str(tmp_path)] if argv[0] == "train" else argv)
    except SystemExit as e:  # argparse's own errors
        code = e.code
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and err.startswith(message), err
    assert not any(tmp_path.iterdir())  # no run folder left behind


def test_config_file_equals_flags_and_flags_win(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("method: lora\nlearning_rate: 0.0005\nepochs: 2\npii_scrub: true\nmax_steps: 7\n")
    parser = build_parser()
    from_file = config_from_args(parser.parse_args(["train", "--config", str(path)]))
    assert (from_file.method, from_file.learning_rate, from_file.epochs, from_file.pii_scrub) == (
        "lora", 5e-4, 2, True
    )
    flags = config_from_args(parser.parse_args(["train", "--method", "lora", "--learning-rate", "0.0005",
                                                "--epochs", "2", "--pii-scrub", "--max-steps", "7"]))
    assert flags == from_file
    mixed = config_from_args(parser.parse_args(["train", "--config", str(path), "--epochs", "5",
                                                "--no-pii-scrub", "--max-steps", "none"]))
    assert (mixed.epochs, mixed.pii_scrub, mixed.max_steps, mixed.method) == (5, False, None, "lora")


@pytest.mark.slow
def test_full_classic_run_then_predict_and_evaluate(tmp_path: Path) -> None:
    env = {**os.environ, "STRATLAB_INFERENCE_BENCH_S": "0"}
    runs = tmp_path / "runs"
    train = subprocess.run(
        [sys.executable, "-m", "models", "train", "--method", "classic",
         "--dataset", "sentiment_labelled_sentences", "--runs-dir", str(runs), "--run-name", "cli-classic"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert train.returncode == 0, train.stderr
    summary = json.loads(train.stdout.strip().splitlines()[-1])
    run = runs / "cli-classic"
    assert summary["run_dir"] == str(run) and summary["accuracy"] > 0.7 and summary["n_test"] == 300
    assert json.loads((run / "status.json").read_text())["state"] == "succeeded"

    inputs = tmp_path / "texts.txt"
    inputs.write_text("This is a wonderful phone, I love it.\nAbsolutely horrible, it broke at once.\n")
    out_jsonl = tmp_path / "out.jsonl"
    assert main(
        ["predict", "--run", str(run), "--input", str(inputs), "--output", str(out_jsonl), "--top-k", "2"]
    ) == 0
    rows = [json.loads(line) for line in out_jsonl.read_text().splitlines()]
    assert [r["label"] for r in rows] == ["positive", "negative"]
    assert rows[0]["top_k"].startswith("positive:")
    out_csv = tmp_path / "out.csv"
    assert main(["predict", "--run", str(run), "great", "--output", str(out_csv)]) == 0
    assert out_csv.read_text().splitlines()[0] == "text,label,confidence"
    assert main(["evaluate", "--run", str(run)]) == 0


RAGGED = b"text,intent\nwhere is my card,card\nrefund please, now,refund\nhello\nok,other\nfine,card,x,y\n"


def test_refused_training_file_leaves_no_run_folder_and_is_reported_once(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    data = tmp_path / "tickets.csv"
    data.write_bytes(RAGGED)
    env = {**os.environ, "STRATLAB_RUNS_DIR": str(runs), "STRATLAB_INFERENCE_BENCH_S": "0"}
    done = subprocess.run(
        [sys.executable, "-m", "models", "train", "--method", "classic", "--dataset", str(data),
         "--text-column", "text", "--label-column", "intent", "--runs-dir", str(runs)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert [line for line in output.splitlines() if "error" in line.lower()] == [done.stderr.strip()], output
    assert done.stderr.startswith("error: tickets.csv cannot be used for training: 4 problem(s) to fix "
                                  "first - tickets.csv: no delimiter gives every line the same number of "
                                  "fields")
    for shown in ("'refund please, now,refund'", "'fine,card,x,y'",
                  "line 4: expected 2 fields (like the header), got 1: 'hello'"):
        assert output.count(shown) == 1, output
    assert not runs.exists() or not any(runs.iterdir()), "a refused file must leave no run folder"


@pytest.mark.parametrize(("content", "problem"), [
    (b"text,intent\n" + b"".join(b"text %d,same\n" % i for i in range(30)), "has only one class ('same')"),
    (b"\x1f\x8b\x08\x00rest", "tickets.csv is gzip-compressed, not a text table"),
])
def test_invalid_training_data_is_refused_before_the_run_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, problem: str) -> None:
    data = tmp_path / "tickets.csv"
    data.write_bytes(content)
    runs = tmp_path / "runs"
    code = main(["train", "--method", "classic", "--dataset", str(data), "--text-column", "text",
                 "--label-column", "intent", "--runs-dir", str(runs)])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == "" and len(captured.err.splitlines()) == 1 and captured.err.startswith("error: ")
    assert captured.err.count(problem) == 1, captured.err
    assert not runs.exists() or not any(runs.iterdir())
