"""What the Fine-tune page needs from the model engine, without Streamlit and without torch.

Help texts come from the TrainConfig field docstrings (one source of truth); uploads are read and checked in
memory, then saved atomically under the uploads folder (so a detached job process can read them) once they
pass; `build_config` turns the form's values into a validated TrainConfig or raises ConfigError with the
reason.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analytics.settings import settings
from models.core.config import METHODS, TrainConfig
from models.core.runs import atomic_path
from models.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

UPLOAD_SUFFIXES = (".csv", ".tsv", ".parquet", ".jsonl")
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
"""Largest uploaded training file accepted (Streamlit's own default upload limit)."""

LORA_LEARNING_RATE = 1e-3
"""The page's starting learning rate for LoRA (adapters want ~10x the full fine-tune's; BANKING77 with
MiniLM, 4 epochs: 83.2% test accuracy at 1e-3)."""

METHOD_NOTES: dict[str, str] = {
    "classic": "TF-IDF words + logistic regression: seconds on a CPU, no neural model; the baseline to beat.",
    "linear_probe": "Frozen encoder embeddings + logistic regression: one forward pass over the data, cheap.",
    "full": ("Fine-tune the model and a new head (its embedding tables stay frozen unless you say "
             "otherwise): usually the most accurate, and the most compute and memory."),
    "lora": "Train small low-rank adapters (LoRA) on a frozen model: less memory, close to full accuracy.",
    "zero_shot": ("Ask a small LLM to pick the label from the label names: no training at all, "
                  "slow per example."),
    "sft": ("Fine-tune every weight of a small LLM on the replies (loss on the reply tokens only): the "
            "most memory and compute; best on a GPU."),
    "sft_lora": ("Train LoRA adapters on a frozen LLM, merged into one model at export: the CPU choice, "
                 "a fraction of the memory."),
}
"""One line per method for the page, cheapest first (same order as METHODS)."""

METHOD_FAMILIES: dict[str, tuple[str, ...]] = {
    "classic": (),
    "linear_probe": ("encoder",),
    "full": ("encoder", "causal_lm"),
    "lora": ("encoder", "causal_lm"),
    "zero_shot": ("causal_lm",),
    "sft": ("causal_lm",),
    "sft_lora": ("causal_lm",),
}
"""Model families each method can use (classic uses no model). full and lora take an encoder (MiniLM) or a
causal LM (SmolLM2), which gets a classification head on its last token."""

GENERATION_METHODS = ("sft", "sft_lora")
"""Methods that train a causal LM to draft replies (the 'Draft replies' task); the others classify."""

TASKS: dict[str, str] = {
    "classify": "Classify intents",
    "draft": "Draft replies",
}
"""The Fine-tune page's two tasks: label each request, or write the reply to it."""

SFT_LEARNING_RATE = 5e-5
"""The page's starting learning rate for a full SFT of a small LLM (all weights move: keep it small)."""

SFT_LORA_LEARNING_RATE = 2e-4
"""The page's starting learning rate for LoRA SFT (adapters want a larger step than full weights)."""

GENERATION_DEFAULTS: dict[str, Any] = {
    "method": "sft_lora",
    "epochs": 1,
    "train_examples_per_class": 38,
    "eval_limit": 200,
    "max_length": 320,
    "max_new_tokens": 256,
    "batch_size": 4,
}
"""Where the Draft-replies form starts, sized for a 2-core CPU: LoRA, one epoch over a subset of 38
requests per intent (about 1,000 Bitext examples, its 27 intents), 200 judged test requests, 320 tokens per
example (Bitext's replies fit), replies capped at 256 new tokens, batches of 4 (the issue's measured CPU
step: 4 x 192 tokens)."""


def defaults() -> dict[str, Any]:
    """TrainConfig's default value of every field."""
    return TrainConfig().to_dict()


def method_can_use(method: str, family: str) -> bool:
    """True when `method` can run a model of `family` ('encoder' or 'causal_lm')."""
    if method not in METHOD_FAMILIES:
        raise ConfigError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    return family in METHOD_FAMILIES[method]


def task_methods(task: str) -> tuple[str, ...]:
    """The methods of a task ('classify' or 'draft', see TASKS), in METHODS order."""
    if task not in TASKS:
        raise ConfigError(f"task must be one of {', '.join(TASKS)}; got {task!r}")
    if task == "draft":
        return GENERATION_METHODS
    return tuple(m for m in METHODS if m not in GENERATION_METHODS)


def model_choices(method: str, specs: Sequence[Any]) -> list[tuple[str, bool, str]]:
    """(name, usable, reason) for each registry spec a method could use; unusable ones carry the reason.

    Generation methods list only causal LMs that can generate (the registry's 'generation' task)."""
    out = []
    for spec in specs:
        if not method_can_use(method, spec.family):
            continue
        if method in GENERATION_METHODS and "generation" not in tuple(getattr(spec, "tasks", ())):
            continue
        reason = "" if spec.available else (spec.note or "not available on this machine")
        out.append((spec.name, bool(spec.available), reason))
    return out


# ---------------------------------------------------------------- uploads


def uploads_dir() -> Path:
    """`settings().uploads_dir` ($STRATLAB_UPLOADS_DIR, else data/uploads), resolved; created if missing."""
    root = settings().uploads_dir.resolve()
    root.mkdir(parents=True, exist_ok=True)
    return root


def check_upload(name: str, data: bytes, suffixes: tuple[str, ...] = UPLOAD_SUFFIXES) -> None:
    """Raise ConfigError for an upload with a suffix not in `suffixes`, no bytes, or more than
    MAX_UPLOAD_BYTES."""
    suffix = Path(name).suffix.lower()
    if suffix not in suffixes:
        raise ConfigError(f"unsupported file type {suffix or '(none)'} for {name}; upload "
                          f"{', '.join(suffixes)}")
    if not data:
        raise ConfigError(f"{name} is empty; upload a file with a header row and labelled rows")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ConfigError(f"{name} is {len(data) / 1e6:.0f} MB; the limit is {MAX_UPLOAD_BYTES / 1e6:.0f} MB")


CHAT_UPLOAD_SUFFIXES = (".csv", ".tsv", ".parquet", ".jsonl", ".json")
"""Conversation files the Draft-replies task accepts: OpenAI-style messages (JSONL), Alpaca (JSON or JSONL),
or a table with a prompt and a response column (CSV, TSV, Parquet, JSONL)."""

MAPPING_ROLES: dict[str, str] = {
    "prompt": "Request column",
    "response": "Reply column",
    "system": "System column",
    "intent": "Intent column",
}
"""The columns a prompt/response table maps, as the page names them (system and intent are optional)."""


def serves_generation(entry: Any) -> bool:
    """True when a catalog entry can train reply drafting (its `tasks` or `task` include 'generation')."""
    tasks = tuple(getattr(entry, "tasks", ()) or ()) + (str(getattr(entry, "task", "")),)
    return "generation" in tasks or bool(getattr(entry, "generation", False))


def check_chat_upload_file(name: str, data: bytes) -> None:
    """Raise ConfigError for a conversation upload with an unsupported suffix, no bytes, or too many."""
    check_upload(name, data, suffixes=CHAT_UPLOAD_SUFFIXES)


@dataclass(frozen=True)
class ChatUploadCheck:
    """What the validator says about an uploaded conversation file read with one column mapping."""

    examples: int
    """Conversations read."""
    intents: tuple[str, ...]
    """Distinct intents (sorted), () when the mapping has no intent column."""
    errors: tuple[str, ...]
    """Problems that block the launch, each saying what to change (structural or content)."""
    warnings: tuple[str, ...]
    """Findings that do not block it (duplicates, placeholders...)."""
    preview: tuple[tuple[str, str], ...] = ()
    """(request, reply) of the first few conversations, as the model will see them."""


def sniff_chat_upload(name: str, data: bytes) -> Any:
    """models.data.chat_files.sniff_chat_bytes of an upload not saved yet: the detected format, columns
    and suggested prompt/response/system/intent columns (a ChatFileGuess). Raises ConfigError (see
    `check_upload`), DatasetError or DataValidationError naming the file as uploaded."""
    from models.data.chat_files import sniff_chat_bytes

    check_chat_upload_file(name, data)
    return sniff_chat_bytes(name, data)


def check_chat_upload(name: str, data: bytes, *, data_format: str = "auto", prompt_column: str | None = None,
                      response_column: str | None = None, system_column: str | None = None,
                      intent_column: str | None = None,
                      system_prompt: str | None = None) -> ChatUploadCheck:
    """Read an upload with this mapping (models.data.chat_files.read_chat_bytes) and run the validator
    (models.data.chat_validate.validate_chat) on it, before anything is saved or submitted.

    A file the reader refuses (a missing column, a broken line) comes back as errors, not raised, so that
    the page shows every message next to the mapping that caused it. Too few conversations to split are an
    error here as in the job. Token lengths against the context are checked by the job itself with the
    model's tokenizer (no tokenizer is loaded here), before training.
    """
    from models.data.chat import MIN_CHAT_EXAMPLES
    from models.data.chat_files import read_chat_bytes
    from models.data.chat_validate import validate_chat
    from models.errors import StratLabModelError

    check_chat_upload_file(name, data)
    try:
        examples, _ = read_chat_bytes(name, data, data_format=data_format, prompt_column=prompt_column,
                                      response_column=response_column, system_column=system_column,
                                      intent_column=intent_column, system_prompt=system_prompt)
    except StratLabModelError as e:
        message, problems = str(e), [str(p) for p in getattr(e, "problems", []) or []]
        extra = [p for p in problems if p not in message] if len(problems) > 1 else []  # beyond the 3 cited
        return ChatUploadCheck(0, (), tuple([message] + extra), ())
    report = validate_chat(examples, min_examples=MIN_CHAT_EXAMPLES)  # as the job's load_chat_data asks
    intents = tuple(sorted({e.intent for e in examples if e.intent}))
    preview = tuple((e.request, e.reference) for e in examples[:3])
    return ChatUploadCheck(len(examples), intents, tuple(_finding_text(f) for f in report.errors),
                           tuple(_finding_text(f) for f in report.warnings), preview)


def _finding_text(finding: Any) -> str:
    """A validator finding (ChatFinding) as one line: its message, which already says what to change."""
    return str(getattr(finding, "message", finding))


def read_upload(name: str, data: bytes) -> pd.DataFrame:
    """An uploaded training file as a table, read and checked in memory: nothing is saved.

    Messages name the file as uploaded. Raises ConfigError (see `check_upload`), DatasetError (binary,
    compressed, undecodable...) or DataValidationError (ragged lines, a quote that never closes...).
    """
    from models.data.user_files import read_table_bytes

    check_upload(name, data)
    return read_table_bytes(name, data)


def save_upload(name: str, data: bytes, root: Path | None = None,
                suffixes: tuple[str, ...] = UPLOAD_SUFFIXES) -> Path:
    """Save an uploaded training file atomically as '<sha256[:12]>-<safe name>' and return its path.

    Call it once the file has passed `read_upload` and `validate_labelled_frame`, so that refused files are
    never written. The same content under the same name maps to the same file (saved once). Raises
    ConfigError as `check_upload` does (for `suffixes`).
    """
    check_upload(name, data, suffixes)
    suffix = Path(name).suffix.lower()
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(name).stem).strip("-.")[:60] or "upload"
    target = (root or uploads_dir()) / f"{hashlib.sha256(data).hexdigest()[:12]}-{stem}{suffix}"
    if not target.is_file():
        with atomic_path(target) as tmp:
            tmp.write_bytes(data)
        log.info("saved upload %s (%d bytes)", target, len(data))
    return target


# ---------------------------------------------------------------- form -> config


_OPTIONAL_ZERO_IS_NONE = ("max_steps", "train_examples_per_class", "eval_limit", "num_threads")
"""Number inputs where 0 means 'no limit' (None in TrainConfig)."""


def build_config(values: Mapping[str, Any], *, model_family: str | None = None) -> TrainConfig:
    """A validated TrainConfig from the form's values (TrainConfig field names).

    0 in max_steps, train_examples_per_class, eval_limit or num_threads means None; blank strings mean None.
    `model_family` (from the registry) is checked against the method. Raises ConfigError with the reason.
    """
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown settings {unknown}; known ones are TrainConfig fields")
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, str) and not value.strip():
            value = None
        if key in _OPTIONAL_ZERO_IS_NONE and value == 0 and not isinstance(value, bool):  # False is no 0
            value = None
        cleaned[key] = value
    if cleaned.get("dataset") is None:
        raise ConfigError("choose a dataset from the catalog or upload a file")
    config = TrainConfig.from_dict(cleaned)
    if (model_family is not None and config.method != "classic"
            and not method_can_use(config.method, model_family)):
        wanted = " or ".join(METHOD_FAMILIES[config.method])
        raise ConfigError(f"method {config.method} needs a {wanted} model, but {config.model} is a "
                          f"{model_family}; pick another model or method")
    return config


def training_rows(n_train: int, num_labels: int, examples_per_class: int | None) -> int:
    """Training examples a run will see: the split's size, capped at examples_per_class x labels."""
    if examples_per_class is None:
        return n_train
    return min(n_train, examples_per_class * num_labels)


def test_texts(config: Mapping[str, Any]) -> dict[str, str]:
    """text_id -> text of the test split a run's config describes (to show its mistakes with their texts).

    Raises DatasetError / ConfigError when the data are no longer available (e.g. a deleted upload).
    """
    from models.data.user_files import load_for_config

    data = load_for_config(str(config["dataset"]), config.get("text_column"), config.get("label_column"),
                           seed=int(config.get("seed", 42)), pii_scrub=bool(config.get("pii_scrub", False)))
    return dict(zip(data.test.ids, data.test.texts, strict=True))


# ---------------------------------------------------------------- job cards


STEP_METHODS = ("full", "lora")
"""Methods trained in optimizer steps: they report loss, samples/s, memory and validation accuracy."""


def job_figures(method: str, progress: Any) -> list[str]:
    """The figures a job card shows (markdown, e.g. 'loss **0.412**'), only those the method has.

    Step-trained methods (STEP_METHODS) always show loss, samples/s, memory and validation accuracy, with
    '–' until the first is known; SFT methods (GENERATION_METHODS) loss, tokens/s, memory, validation loss
    and perplexity; classic, linear-probe and zero-shot runs never report a loss or a
    training speed, so they show only the figures their events carried (often none).
    `progress` is a models.jobs.queue.JobProgress.
    """
    from analytics.money import MISSING, format_number, format_percent

    figures = {
        "loss": format_number(progress.loss, 3) if progress.loss is not None else None,
        "samples/s": format_number(progress.samples_per_s, 3) if progress.samples_per_s else None,
        "memory": (f"{format_number(progress.memory_bytes / 2**30, 3)} GiB"
                   if progress.memory_bytes else None),
        "val. accuracy": (format_percent(progress.val_accuracy, 1, fixed=True)
                          if progress.val_accuracy is not None else None),
    }
    if method in GENERATION_METHODS:
        figures = _generation_figures(progress)
    if method in STEP_METHODS + GENERATION_METHODS:
        figures = {name: value or MISSING for name, value in figures.items()}
    return [f"**{value}** {name}" if name.endswith("/s") else f"{name} **{value}**"
            for name, value in figures.items() if value is not None]


def _generation_figures(progress: Any) -> dict[str, str | None]:
    """An SFT job's figures: loss, tokens/s (its examples differ in length, so tokens, not samples), memory,
    and the newest epoch's validation loss and perplexity (exp of the loss) instead of an accuracy."""
    import math

    from analytics.money import format_number

    tokens_per_s = getattr(progress, "tokens_per_s", None)
    epochs = [e for e in progress.epochs if e.val_loss is not None]
    val_loss = epochs[-1].val_loss if epochs else None
    return {
        "loss": format_number(progress.loss, 3) if progress.loss is not None else None,
        "tokens/s": format_number(tokens_per_s, 3) if tokens_per_s else None,
        "memory": (f"{format_number(progress.memory_bytes / 2**30, 3)} GiB"
                   if progress.memory_bytes else None),
        "val. loss": format_number(val_loss, 3) if val_loss is not None else None,
        "perplexity": (format_number(math.exp(val_loss), 3)
                       if val_loss is not None and val_loss < 50 else None),
    }
