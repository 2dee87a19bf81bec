"""Frozen, validated configuration for a training run.

The resolved config is saved as `config.json` in every run folder; `TrainConfig.from_dict`
reads it back, so a CLI flag, a JSON/YAML config file and the Python API are the same thing.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import numbers
import os
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from analytics.settings import settings
from models.errors import ConfigError

METHODS = ("classic", "linear_probe", "full", "lora", "zero_shot", "sft", "sft_lora")
"""Training methods: the classifiers cheapest first, then supervised fine-tuning of a causal LM to write
replies (sft: every weight; sft_lora: LoRA adapters, merged into the exported model)."""
SFT_METHODS = ("sft", "sft_lora")
"""Methods that train a causal LM to write the assistant's replies (models.training.sft)."""
DATA_FORMATS = ("auto", "messages", "alpaca", "prompt_response")
"""How a generation dataset's file is laid out (TrainConfig.data_format)."""
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16")
HEAD_INITS = ("random", "probe")
"""How a fine-tune's classification head starts (TrainConfig.head_init)."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides what a run does. Defaults suit MiniLM on BANKING77 on a laptop CPU."""

    method: str = "full"
    """One of classic, linear_probe, full, lora, zero_shot (classifiers), sft, sft_lora (reply writers)."""
    model: str = "all-MiniLM-L6-v2"
    """Registry name, local folder or Hugging Face hub id. Ignored by `classic`."""
    dataset: str = "banking77"
    """Dataset catalog name or a path to a user file (CSV/TSV/Parquet/JSONL)."""
    text_column: str | None = None
    """For user files: the column holding the text."""
    label_column: str | None = None
    """For user files: the column holding the label (sft methods: the optional intent column, which intent
    match needs)."""
    response_column: str | None = None
    """sft methods, prompt/response files: the column holding the reply (text_column is the prompt)."""
    system_column: str | None = None
    """sft methods, prompt/response files: an optional column holding each example's system message."""
    data_format: str = "auto"
    """sft methods: auto (detected), messages (OpenAI-style JSONL), alpaca (instruction/input/output) or
    prompt_response (a prompt column and a reply column)."""
    system_prompt: str | None = None
    """sft methods: system message put before every example that has none; None keeps the chat template's own
    default. The same prompt is used for the base model, the fine-tuned model and the Playground."""
    max_new_tokens: int = 256
    """sft methods: longest reply generated when judging the test requests (Bitext replies: median 112 words,
    about 150 tokens; 95th percentile 166 words)."""
    compare_base: bool = True
    """sft methods: also generate the untrained base model's replies to the same test prompts, so every score
    has its before-and-after."""
    packing: bool = False
    """sft methods: pack several examples into each max_length row (attention never crosses an example's
    boundary); fewer padding tokens on GPUs, no gain on a CPU with length-grouped batches."""
    # 4 epochs x batch 16 x lr 1e-4: MiniLM reaches 92.7% on BANKING77 in 8.1 min on 2 CPU cores
    # (bench/train.py)
    epochs: int = 4
    """Passes over the training split."""
    max_steps: int | None = None
    """Stop after this many optimizer steps (overrides epochs when smaller); None for no cap."""
    learning_rate: float = 1e-4
    """Peak AdamW learning rate (after warm-up); for linear_probe/classic the inverse L2 strength C is
    separate."""
    batch_size: int = 16
    """Training examples per optimizer step (per process under DDP)."""
    eval_batch_size: int = 128
    """Examples per forward pass during evaluation and prediction."""
    max_length: int = 128
    """Tokens kept per text; BANKING77 has a 98-token maximum under MiniLM's tokenizer."""
    warmup_ratio: float = 0.06
    """Fraction of total steps spent warming the learning rate up linearly from 0."""
    weight_decay: float = 0.01
    """AdamW decoupled weight decay (not applied to biases and LayerNorm weights)."""
    max_grad_norm: float = 1.0
    """Gradient clipping threshold (L2 norm); 0 disables clipping."""
    early_stopping_patience: int = 2
    """Epochs without validation-accuracy improvement before stopping; 0 disables."""
    validate_every_epoch: bool = True
    """full/lora: score the validation split at every epoch end (the best epoch's weights are kept, early
    stopping can act). False scores it once, after the last epoch, and keeps the last weights: one pass over
    the validation split instead of one per epoch (the quick demo: 1,000 texts, seconds each on a CPU);
    needs early_stopping_patience=0."""
    checkpoint_every_steps: int = 0
    """Save a resumable checkpoint every N optimizer steps; 0 saves only at epoch ends."""
    seed: int = 42
    """Seed for splits, shuffling, initialisation and dropout."""
    device: str = "auto"
    """auto (CUDA, then MPS, then CPU), cpu, cuda or mps."""
    precision: str = "auto"
    """auto (bf16 autocast on GPUs that support it, else fp32), fp32 or bf16."""
    freeze_embeddings: bool = True
    """full only: keep the embedding block (token, position and type tables, their LayerNorm) as pretrained.
    Skips the dense gradient and AdamW update of the token table every step (~8% of a CPU step for MiniLM,
    bench/train_step.py)."""
    attention_dropout: float | None = 0.0
    """full only, BERT-family models: dropout on attention probabilities while training; None keeps the
    model's own (0.1 for MiniLM/BERT). 0 by default: in a 4-epoch budget the model still underfits
    (validation accuracy rises every epoch) and MiniLM on BANKING77 reached 92.7% with 0 against 91.9% with
    0.1 (same seed)."""
    head_init: str = "random"
    """full only: how the classification head starts. random: transformers' fresh head. probe (LP-FT,
    Kumar et al. 2022): a logistic regression (C = classic_c) fitted on the frozen model's own head inputs
    over the training texts, then everything is fine-tuned; the loss starts low, so a few epochs at a small
    learning rate suffice (the quick demo's recipe). Costs one forward pass over the training split."""
    lora_r: int = 8
    """LoRA rank."""
    lora_alpha: int = 16
    """LoRA scaling numerator (scale = alpha / r)."""
    lora_dropout: float = 0.1
    """Dropout on the LoRA branch."""
    classic_c: float = 10.0
    """Inverse regularisation strength of the logistic regression (classic and linear_probe)."""
    few_shot_k: int = 0
    """zero_shot only: examples per class put in the prompt (0 = zero-shot)."""
    eval_limit: int | None = None
    """zero_shot only: score at most this many test examples (a seeded random subset, CPU time); None scores
    all. eval.json records n_test_scored and n_test_total."""
    train_examples_per_class: int | None = None
    """Use at most this many training examples per class (learning curves); None uses all."""
    pii_scrub: bool = False
    """Mask emails, phone numbers, card numbers and IBANs before training."""
    runs_dir: str = field(default_factory=lambda: str(settings().runs_dir))
    """Folder under which each run gets its own folder (default `$STRATLAB_RUNS_DIR`, else data/runs)."""
    run_name: str | None = None
    """Run folder name; None makes one from method, model and time."""
    num_threads: int | None = None
    """CPU threads for torch; None leaves torch's default."""
    log_every_steps: int = 10
    """full/lora: write a progress event (loss, lr, samples/s, memory, ETA) every N optimizer steps."""

    def __post_init__(self) -> None:
        _check_types(self)
        _check_choice("method", self.method, METHODS)
        _check_choice("device", self.device, DEVICES)
        _check_choice("precision", self.precision, PRECISIONS)
        _check_choice("head_init", self.head_init, HEAD_INITS)
        if self.head_init != "random" and self.method != "full":
            raise ConfigError(f"head_init={self.head_init!r} applies to method full only (got method "
                              f"{self.method!r}); use head_init='random' or method full")
        if not isinstance(self.epochs, int) or self.epochs < 1:
            raise ConfigError(f"epochs must be a whole number of at least 1, got {self.epochs!r}")
        if self.epochs > 1000:
            raise ConfigError(f"epochs={self.epochs} is absurd; use at most 1000 "
                              "(early stopping ends runs sooner)")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"max_steps must be at least 1 or None, got {self.max_steps}")
        _check_positive_finite("learning_rate", self.learning_rate, upper=1.0)
        _check_positive_finite("classic_c", self.classic_c, upper=1e6)
        for name in ("batch_size", "eval_batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 1 <= value <= 8192:
                raise ConfigError(f"{name} must be between 1 and 8192, got {value!r}")
        if not 8 <= self.max_length <= 8192:
            raise ConfigError(f"max_length must be between 8 and 8192 tokens, got {self.max_length}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ConfigError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if not (math.isfinite(self.weight_decay) and 0.0 <= self.weight_decay <= 1.0):
            raise ConfigError(f"weight_decay must be in [0, 1], got {self.weight_decay}")
        if not (math.isfinite(self.max_grad_norm) and self.max_grad_norm >= 0):
            raise ConfigError(f"max_grad_norm must be >= 0 (0 disables clipping), got {self.max_grad_norm}")
        for name in ("early_stopping_patience", "checkpoint_every_steps", "few_shot_k"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not self.validate_every_epoch and self.early_stopping_patience:
            raise ConfigError(f"early stopping needs a validation every epoch: with "
                              f"validate_every_epoch=False set early_stopping_patience=0 "
                              f"(got {self.early_stopping_patience})")
        if self.lora_r < 1 or self.lora_alpha < 1:
            raise ConfigError(f"lora_r and lora_alpha must be >= 1, "
                              f"got r={self.lora_r}, alpha={self.lora_alpha}")
        if self.attention_dropout is not None and not (
                math.isfinite(self.attention_dropout) and 0.0 <= self.attention_dropout < 1.0):
            raise ConfigError(f"attention_dropout must be in [0, 1) or None (the model's own), "
                              f"got {self.attention_dropout}")
        if not 0.0 <= self.lora_dropout < 1.0:
            raise ConfigError(f"lora_dropout must be in [0, 1), got {self.lora_dropout}")
        if self.eval_limit is not None and (not isinstance(self.eval_limit, int) or self.eval_limit < 1):
            raise ConfigError(f"eval_limit must be a whole number >= 1 or None (score all), "
                              f"got {self.eval_limit!r}")
        if self.train_examples_per_class is not None and self.train_examples_per_class < 1:
            raise ConfigError(f"train_examples_per_class must be >= 1 or None, "
                              f"got {self.train_examples_per_class}")
        if not isinstance(self.log_every_steps, int) or self.log_every_steps < 1:
            raise ConfigError(f"log_every_steps must be a whole number >= 1, got {self.log_every_steps!r}")
        if self.num_threads is not None and self.num_threads < 1:
            raise ConfigError(f"num_threads must be >= 1 or None, got {self.num_threads}")
        _check_choice("data_format", self.data_format, DATA_FORMATS)
        if not isinstance(self.max_new_tokens, int) or not 1 <= self.max_new_tokens <= 4096:
            raise ConfigError(f"max_new_tokens must be between 1 and 4096, got {self.max_new_tokens!r}")
        if self.method in SFT_METHODS:
            _check_sft_columns(self)
        elif (self.text_column is None) != (self.label_column is None):
            raise ConfigError("give both text_column and label_column, or neither (catalog datasets)")
        elif self.response_column is not None or self.system_column is not None:
            raise ConfigError(f"response_column and system_column are for the reply-writing methods "
                              f"({', '.join(SFT_METHODS)}), not {self.method!r}; drop them or pick sft")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of every field."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainConfig:
        """Build from a mapping (config file, saved config.json); unknown keys are an error.

        Raises ConfigError naming the first wrong key, its expected type or its allowed range.
        """
        if not isinstance(values, Mapping):
            raise ConfigError(f"a config must be a mapping of key: value, got {type(values).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(str(k) for k in values if k not in known)
        if unknown:
            raise ConfigError(f"unknown config keys {unknown}; known keys are: {', '.join(sorted(known))}")
        return cls(**values)

    @classmethod
    def from_file(cls, path: str | Path) -> TrainConfig:
        """Read a JSON or YAML config file; its keys are the CLI flags' names with underscores.

        YAML numbers such as 5e-5 are read as numbers (YAML 1.2), not as text. Raises ConfigError whose
        message starts with the file name as given and, for a bad value, the line of its key.
        """
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"cannot read config file {path}: {e.strerror}") from e
        except UnicodeDecodeError as e:
            raise ConfigError(f"config file {path} is not UTF-8 text ({e.reason}); save it as UTF-8") from e
        values, key_lines = _parse_config_text(path, text)
        try:
            return cls.from_dict(values)
        except ConfigError as e:
            raise ConfigError(f"{_where(path, key_lines, str(e))}: {e}") from e

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with `changes` applied (and validated)."""
        return dataclasses.replace(self, **changes)


def _check_sft_columns(config: TrainConfig) -> None:
    """sft methods: a prompt column needs a reply column and the other way round (messages and Alpaca files
    name no columns); a system column only beside them."""
    if (config.text_column is None) != (config.response_column is None):
        raise ConfigError("give both text_column (the prompt) and response_column (the reply) for a "
                          "prompt/response file, or neither (catalog datasets, messages and Alpaca files)")
    if config.system_column is not None and config.text_column is None:
        raise ConfigError("system_column needs text_column and response_column (a prompt/response file)")
    if config.data_format in ("messages", "alpaca") and config.text_column is not None:
        raise ConfigError(f"data_format={config.data_format!r} takes no text_column/response_column (the "
                          "file's own keys say what is prompt and reply); use data_format='prompt_response'")


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def _check_positive_finite(name: str, value: float, upper: float) -> None:
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{name} must be a positive finite number, got {value!r}")
    if value > upper:
        raise ConfigError(f"{name}={value} is above the sane maximum {upper}; lower it")


# ---------------------------------------------------------------- types


_TYPE_WORDS = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}


@functools.lru_cache(maxsize=1)
def field_types() -> dict[str, tuple[type, bool]]:
    """TrainConfig field name -> (base type, None allowed), from the annotations.

    `int | None` gives (int, True). Raises TypeError for an annotation the checks do not know.
    """
    out: dict[str, tuple[type, bool]] = {}
    for name, hint in typing.get_type_hints(TrainConfig).items():
        args = typing.get_args(hint) if isinstance(hint, types.UnionType) else ()
        base = next((a for a in args if a is not type(None)), hint)
        if base not in _TYPE_WORDS or len(args) > 2:
            raise TypeError(f"TrainConfig.{name} has type {hint}; teach models/config.py to check it")
        out[name] = (base, type(None) in args)
    return out


def type_words(name: str) -> str:
    """What a field takes, in words: 'a whole number', 'a number or None'..."""
    base, optional = field_types()[name]
    return _TYPE_WORDS[base] + (" or None (null in YAML/JSON)" if optional else "")


def _check_types(config: TrainConfig) -> None:
    """Refuse a value of the wrong type with a ConfigError naming the field; normalise the accepted ones.

    An int is fine for a float field (stored as float); a float with an integral value (3.0, YAML 1e3) is
    fine for an int field (stored as int); a bool is never a number; a path is fine for a text field.
    """
    for name, (base, optional) in field_types().items():
        value = getattr(config, name)
        if value is None and optional:
            continue
        converted = _convert(value, base)
        if converted is None:
            raise ConfigError(_type_message(name, value))
        if converted is not value:
            object.__setattr__(config, name, converted)


def _convert(value: Any, base: type) -> Any:
    """`value` as `base` when it is acceptable as one (see `_check_types`), else None."""
    if base is bool:
        return value if isinstance(value, bool) else None
    if isinstance(value, bool) or value is None:
        return None
    if base is int and isinstance(value, numbers.Integral):
        return value if type(value) is int else int(value)
    if base is int and isinstance(value, numbers.Real) and math.isfinite(value) and float(value).is_integer():
        return int(value)
    if base is float and isinstance(value, numbers.Real):
        return value if type(value) is float else float(value)
    if base is str and isinstance(value, (str, os.PathLike)):
        return value if type(value) is str else os.fspath(value)
    return None


def _type_message(name: str, value: Any) -> str:
    base = field_types()[name][0]
    if base is bool:
        fix = "write true or false"
    elif base is str:
        fix = f"write it as quoted text, e.g. \"{value}\""
    else:
        default = next(f.default for f in fields(TrainConfig) if f.name == name)
        example = default if default is not None else {int: 100, float: 0.1}[base]
        fix = f"give a value such as {example}" + (" without quotes" if isinstance(value, str) else "")
    got = "nothing (None)" if value is None else f"{value!r} ({type(value).__name__})"
    return f"{name} must be {type_words(name)}, got {got}; {fix}"


# ---------------------------------------------------------------- config files


class _YamlLoader(yaml.SafeLoader):
    """SafeLoader that reads 5e-5 and 1e3 as numbers (YAML 1.2) instead of strings (PyYAML's YAML 1.1)."""


_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."))


def _parse_config_text(path: Path, text: str) -> tuple[Any, dict[str, int]]:
    """(values, key -> line number) of a JSON or YAML config file's text."""
    is_yaml = path.suffix.lower() in (".yaml", ".yml")
    try:
        values = (yaml.load(text, Loader=_YamlLoader) or {}) if is_yaml else json.loads(text)
    except (yaml.YAMLError, ValueError) as e:
        kind = "YAML" if is_yaml else "JSON"
        raise ConfigError(f"config file {path} is not valid {kind}: {' '.join(str(e).split())}") from e
    if not isinstance(values, dict):
        raise ConfigError(f"config file {path} must hold a mapping of key: value, e.g. `epochs: 3`")
    return values, _key_lines(text, is_yaml)


def _key_lines(text: str, is_yaml: bool) -> dict[str, int]:
    """Line (1-based) of each top-level key; keys not found are left out."""
    if is_yaml:
        node = yaml.compose(text, Loader=_YamlLoader)
        pairs = node.value if isinstance(node, yaml.MappingNode) else []
        return {str(k.value): k.start_mark.line + 1 for k, _ in pairs}  # the last wins, as in load
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        for key in re.findall(r'"([A-Za-z_][A-Za-z0-9_]*)"\s*:', line):
            lines[key] = number  # the last wins, as in json.loads
    return lines


def _where(path: Path, key_lines: dict[str, int], message: str) -> str:
    """'run.yaml, line 3' when the message starts with a key of the file, else 'run.yaml'."""
    first = re.match(r"[A-Za-z_][A-Za-z0-9_]*", message)
    line = key_lines.get(first.group(0)) if first else None
    return f"{path}, line {line}" if line else str(path)
