"""pages/_shared/forms.py: help from TrainConfig docstrings (field_docs), form values -> config, atomic
uploads."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from analytics.settings import field_docs
from models.core.config import TrainConfig
from models.errors import ConfigError
from pages._shared.forms import build_config, model_choices, save_upload, training_rows


def test_every_field_has_help_from_its_docstring() -> None:
    helps = field_docs(TrainConfig)
    assert set(helps) == {f.name for f in fields(TrainConfig)}
    assert helps["epochs"] == "Passes over the training split."


def test_build_config_turns_zero_and_blank_into_none() -> None:
    config = build_config({"method": "classic", "dataset": "sst2", "max_steps": 0,
                           "train_examples_per_class": 0, "run_name": "  "})
    assert (config.max_steps, config.train_examples_per_class, config.run_name) == (None, None, None)


def test_build_config_refuses_bad_values_with_the_reason() -> None:
    with pytest.raises(ConfigError, match="epochs must be a whole number of at least 1"):
        build_config({"method": "full", "dataset": "sst2", "epochs": 0})
    with pytest.raises(ConfigError, match="choose a dataset"):
        build_config({"method": "full", "dataset": ""})
    with pytest.raises(ConfigError, match="unknown settings"):
        build_config({"method": "full", "dataset": "sst2", "colour": "red"})


def test_build_config_checks_the_model_family() -> None:
    with pytest.raises(ConfigError, match="zero_shot needs a causal_lm model"):
        build_config({"method": "zero_shot", "dataset": "sst2", "model": "all-MiniLM-L6-v2"},
                     model_family="encoder")
    classic = build_config({"method": "classic", "dataset": "sst2"}, model_family="causal_lm")
    assert classic.method == "classic"


def test_model_choices_filter_by_method_and_explain_unavailable() -> None:
    class Spec:
        def __init__(self, name: str, family: str, available: bool, note: str = "") -> None:
            self.name, self.family, self.available, self.note = name, family, available, note

    specs = [
        Spec("enc", "encoder", True), Spec("lm", "causal_lm", True), Spec("hub", "encoder", False, "offline")
    ]
    assert model_choices("linear_probe", specs) == [("enc", True, ""), ("hub", False, "offline")]
    assert model_choices("zero_shot", specs) == [("lm", True, "")]
    # full and lora also fine-tune a causal LM with a classification head (SmolLM2 on intents)
    for method in ("full", "lora"):
        assert model_choices(method, specs) == [("enc", True, ""), ("lm", True, ""),
                                                ("hub", False, "offline")]


def test_save_upload_is_content_addressed_and_checked(tmp_path: Path) -> None:
    first = save_upload("my data.csv", b"text,label\nhi,a\n", tmp_path)
    again = save_upload("my data.csv", b"text,label\nhi,a\n", tmp_path)
    assert first == again and first.read_bytes() == b"text,label\nhi,a\n"
    assert first.name.endswith("-my-data.csv") and first.parent == tmp_path
    assert [p.name for p in tmp_path.iterdir()] == [first.name]  # no temporary file left
    with pytest.raises(ConfigError, match="unsupported file type .xlsx"):
        save_upload("sheet.xlsx", b"x", tmp_path)
    with pytest.raises(ConfigError, match="is empty"):
        save_upload("empty.csv", b"", tmp_path)


def test_training_rows() -> None:
    assert training_rows(9003, 77, None) == 9003
    assert training_rows(9003, 77, 10) == 770
    assert training_rows(100, 2, 80) == 100
