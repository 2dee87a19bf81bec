"""Small causal LMs: load (converting GGUF once into a safetensors cache), stream generations, prompt
templates.

The packaged SmolLM2 is a quantised GGUF file. transformers can de-quantise it, but that takes tens of
seconds on a CPU; we do it once, save plain safetensors + tokenizer into the model cache, and every later
load reads the cache (well under a second). The conversion is atomic (temp folder + rename) and guarded by
a file lock so two processes never convert at the same time.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from models.errors import ModelNotFoundError
from models.modeling.registry import model_cache_dir

log = logging.getLogger(__name__)

CONVERTED_MARKER = "stratlab_source.json"

PROMPT_TEMPLATES: dict[str, str] = {
    "support_reply": (
        "You are a friendly, concise customer-support agent. Write a reply to this customer message. "
        "Acknowledge the problem, give the next step, and do not invent account details.\n\n"
        "Customer message:\n{text}"
    ),
    "summarise_ticket": (
        "Summarise this support ticket in one sentence for the on-call engineer, then list the customer's "
        "request as a short bullet.\n\nTicket:\n{text}"
    ),
    "classify": (
        "Classify the message into exactly one of these categories: {labels}.\n"
        "Answer with the category name only.\n\nMessage:\n{text}"
    ),
}
"""Prompts a founder would try in the Playground; fill with str.format(text=..., labels=...)."""


def _spec_fields(spec: Any) -> tuple[str, Path | str, str | None]:
    return spec.name, spec.location, getattr(spec, "gguf_file", None)


def converted_dir_for(spec: Any) -> Path:
    """Cache folder of the converted model; the key includes the GGUF file's size and mtime."""
    name, location, gguf_file = _spec_fields(spec)
    source = Path(location) / gguf_file
    stat = source.stat()
    slug = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in name.lower())
    return model_cache_dir() / f"{slug}-gguf-{stat.st_size}-{int(stat.st_mtime)}"


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Exclusive advisory lock on `path` (created if missing); blocks until free."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _dequantise(location: Path, gguf_file: str) -> tuple[Any, Any]:
    """(fp32 model without quantization_config, tokenizer) from a GGUF file; slow (tens of seconds on CPU)."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from models.modeling.loading import quiet_transformers

    with quiet_transformers():
        loaded = AutoModelForCausalLM.from_pretrained(location, gguf_file=gguf_file, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(location, gguf_file=gguf_file)
        config = AutoConfig.from_pretrained(location, gguf_file=gguf_file)
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict(), strict=True)
    return model, tokenizer


def _save_atomically(model: Any, tokenizer: Any, target: Path, marker: dict[str, Any]) -> None:
    """save_pretrained into a temp folder beside `target`, write the marker last, then rename into place."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    tmp.chmod(0o755)
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / CONVERTED_MARKER).write_text(json.dumps(marker), encoding="utf-8")
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _convert_gguf(location: Path, gguf_file: str, target: Path) -> None:
    """De-quantise `location/gguf_file` into fp32 safetensors + tokenizer at `target` (atomic)."""
    start = time.monotonic()
    model, tokenizer = _dequantise(location, gguf_file)
    marker = {"gguf": str(location / gguf_file), "converted_s": round(time.monotonic() - start, 1)}
    _save_atomically(model, tokenizer, target, marker)
    log.info("converted %s to %s in %.1f s", gguf_file, target, time.monotonic() - start)


def ensure_converted(spec: Any) -> Path:
    """Folder with safetensors weights for a GGUF spec, converting on first use (locked, atomic)."""
    _, location, gguf_file = _spec_fields(spec)
    target = converted_dir_for(spec)
    if (target / CONVERTED_MARKER).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(target.parent / f".{target.name}.lock"):
        if not (target / CONVERTED_MARKER).is_file():  # another process may have finished meanwhile
            _convert_gguf(Path(location), gguf_file, target)
    return target


def load_causal_lm(spec: Any, device: torch.device | str = "cpu") -> tuple[Any, Any]:
    """(model in eval mode, tokenizer) for a causal-LM ModelSpec; GGUF entries load from the converted cache.

    Raises ModelNotFoundError when the weights are missing.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from models.modeling.loading import quiet_transformers

    if getattr(spec, "family", "causal_lm") != "causal_lm":
        raise ModelNotFoundError(f"{spec.name} is an {spec.family}, not a causal LM; "
                                 "use SmolLM2-135M-Instruct")
    _, location, gguf_file = _spec_fields(spec)
    folder = ensure_converted(spec) if gguf_file else Path(location)
    if getattr(spec, "source", "") != "hub" and not Path(folder).exists():
        raise ModelNotFoundError(f"model folder {folder} does not exist; "
                                 f"check the registry entry {spec.name!r}")
    with quiet_transformers():
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, use_safetensors=True)
        tokenizer = AutoTokenizer.from_pretrained(folder)
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.to(device).eval(), tokenizer


def chat_prompt(tokenizer: Any, user_message: str) -> str:
    """Wrap `user_message` in the model's chat template (if any), ready for the assistant's answer."""
    if getattr(tokenizer, "chat_template", None):
        messages = [{"role": "user", "content": user_message}]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return f"{user_message}\n\nAnswer:"


def generate_stream(
    model: Any, tokenizer: Any, prompt: str, max_new_tokens: int = 128, temperature: float = 0.7
) -> Iterator[str]:
    """Yield text pieces as the model generates them (transformers TextIteratorStreamer in a thread).

    `prompt` is sent as is (use `chat_prompt` first for instruct models). temperature 0 = greedy.
    """
    from transformers import TextIteratorStreamer

    inputs = tokenizer(prompt, return_tensors="pt").to(model.device)
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=300)
    sampling: dict[str, Any] = (
        {"do_sample": True, "temperature": temperature, "top_p": 0.95} if temperature > 0
        else {"do_sample": False}
    )
    kwargs = dict(**inputs, max_new_tokens=max_new_tokens, streamer=streamer,
                  pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id, **sampling)
    errors: list[BaseException] = []
    worker = threading.Thread(target=_generate_into, args=(model, kwargs, errors), daemon=True)
    worker.start()
    yield from streamer
    worker.join()
    if errors:
        raise RuntimeError(f"generation failed: {errors[0]}") from errors[0]


def _generate_into(model: Any, kwargs: dict[str, Any], errors: list[BaseException]) -> None:
    """Run generate; on failure record the error and close the streamer so the reader stops waiting."""
    try:
        with torch.inference_mode():
            model.generate(**kwargs)
    except Exception as e:  # noqa: BLE001 - re-raised in the reading thread
        errors.append(e)
        kwargs["streamer"].end()
