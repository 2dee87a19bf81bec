"""TrainConfig types at every door: the dataclass, from_dict, config files, the form, CLI flags, --config."""

from __future__ import annotations

import dataclasses
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from models.cli import main
from models.core.config import TrainConfig, field_types, type_words
from models.errors import ConfigError
from pages._shared.forms import build_config

ROOT = Path(__file__).resolve().parents[2]

NUMERIC_FIELDS = ("max_length", "warmup_ratio", "max_steps", "weight_decay", "learning_rate", "epochs",
                  "seed")
INT_FIELDS = ("max_length", "max_steps", "epochs", "seed")


def _bad_values(name: str) -> list[object]:
    """A word, a number in quotes, a bool, and for whole-number fields a fractional float."""
    values: list[object] = ["abc", "5", True, False]
    if name in INT_FIELDS:
        values += [2.5, math.inf]
    return values


CASES = [(name, value) for name in NUMERIC_FIELDS for value in _bad_values(name)]


def _expected(name: str) -> str:
    return f"{name} must be {'a whole number' if name in INT_FIELDS else 'a number'}"


@pytest.mark.parametrize(("name", "value"), CASES)
def test_wrong_type_is_a_config_error_naming_field_and_type(name: str, value: object) -> None:
    with pytest.raises(ConfigError) as info:
        TrainConfig(**{name: value})
    message = str(info.value)
    assert message.startswith(_expected(name)), message
    assert f"got {value!r} ({type(value).__name__})" in message


@pytest.mark.parametrize(("name", "value"), CASES)
def test_build_config_gives_the_same_error(name: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"^{_expected(name)}"):
        build_config({"method": "full", "dataset": "sst2", name: value})


def test_false_is_not_zero_in_the_form() -> None:
    with pytest.raises(ConfigError, match="^max_steps must be a whole number or None"):
        build_config({"method": "full", "dataset": "sst2", "max_steps": False})


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(TrainConfig)])
def test_every_field_refuses_a_foreign_object(name: str) -> None:
    expected = "^" + re.escape(f"{name} must be {type_words(name)}, got [1] (list)")
    with pytest.raises(ConfigError, match=expected):
        TrainConfig(**{name: [1]})


@pytest.mark.parametrize("name", [n for n, (_, optional) in field_types().items() if not optional])
def test_none_only_where_the_annotation_allows_it(name: str) -> None:
    with pytest.raises(ConfigError, match=f"^{name} must be .*, got nothing \\(None\\)"):
        TrainConfig(**{name: None})


def test_accepted_values_are_normalised() -> None:
    config = TrainConfig(epochs=3.0, learning_rate=1, max_steps=np.int64(7), seed=np.int32(5),
                         runs_dir=Path("/tmp/runs"), attention_dropout=None)
    assert (config.epochs, config.learning_rate, config.max_steps, config.seed) == (3, 1.0, 7, 5)
    assert [type(v) for v in (config.epochs, config.learning_rate, config.max_steps, config.seed)] == \
        [int, float, int, int]
    assert config.runs_dir == "/tmp/runs" and config.attention_dropout is None
    assert TrainConfig.from_dict(config.to_dict()) == config


def test_nan_in_a_number_field_is_refused_by_name() -> None:
    for name in ("warmup_ratio", "weight_decay", "learning_rate"):
        with pytest.raises(ConfigError, match=f"^{name} must"):
            TrainConfig(**{name: math.nan})


def test_from_dict_refuses_non_mappings_and_odd_keys() -> None:
    with pytest.raises(ConfigError, match="must be a mapping"):
        TrainConfig.from_dict(["epochs", 3])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"unknown config keys \['1', 'colour'\]"):
        TrainConfig.from_dict({1: 2, "colour": "red", "epochs": 2})  # type: ignore[dict-item]


def test_yaml_reads_exponents_as_numbers(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("learning_rate: 5e-5\nmax_steps: 1e3\nweight_decay: .5\nepochs: 2\n", encoding="utf-8")
    config = TrainConfig.from_file(path)
    got = (config.learning_rate, config.max_steps, config.weight_decay, config.epochs)
    assert got == (5e-5, 1000, 0.5, 2)


@pytest.mark.parametrize(("suffix", "text", "line"), [
    (".yaml", "method: full\n\nmax_length: abc\n", 3),
    (".yml", "max_length: '128'\n", 1),
    (".json", '{\n  "method": "full",\n  "max_length": true\n}\n', 3),
])
def test_config_file_errors_name_file_line_and_field(tmp_path: Path, suffix: str, text: str,
                                                    line: int) -> None:
    path = tmp_path / f"run{suffix}"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=f"^{path}, line {line}: max_length must be a whole number, got"):
        TrainConfig.from_file(path)


def test_config_file_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("- epochs\n- 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        TrainConfig.from_file(path)


# ---------------------------------------------------------------- the CLI


def _run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own errors
        code = int(e.code or 0)
    return code, capsys.readouterr().err.strip()


@pytest.mark.parametrize("name", NUMERIC_FIELDS)
@pytest.mark.parametrize("text", ["abc", "true", "1,5"])
def test_flag_with_wrong_type_names_the_type_in_words(name: str, text: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run_main(["train", "--runs-dir", str(tmp_path), "--" + name.replace("_", "-"), text], capsys)
    words = "a whole number" if name in INT_FIELDS else "a number"
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"error: argument --{name.replace('_', '-')}: expected {words}"), err
    assert f"got {text!r}" in err and "invalid" not in err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("name", INT_FIELDS)
def test_flag_with_a_fraction_for_a_whole_number(name: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    flag = "--" + name.replace("_", "-")
    code, err = _run_main(["train", "--runs-dir", str(tmp_path), flag, "2.5"], capsys)
    assert code == 2 and "expected a whole number" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(("name", "value"), [(n, v) for n, v in CASES if not isinstance(v, float)])
def test_config_file_with_wrong_type_is_one_line_exit_2(name: str, value: object, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "run.yaml"
    written = f"'{value}'" if isinstance(value, str) else str(value).lower()
    path.write_text(f"method: full\n{name}: {written}\n", encoding="utf-8")
    code, err = _run_main(["train", "--config", str(path), "--runs-dir", str(tmp_path / "runs")], capsys)
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"error: {path}, line 2: {_expected(name)}"), err
    assert not (tmp_path / "runs").exists()


def test_the_process_prints_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("max_length: abc\nwarmup_ratio: '0.1'\n", encoding="utf-8")
    for argv in (["--config", str(path)], ["--max-length", "abc"], ["--seed", "1.5"]):
        command = [sys.executable, "-m", "models", "train", *argv, "--runs-dir", str(tmp_path / "r")]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
        assert "Traceback" not in done.stderr
