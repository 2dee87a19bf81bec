"""Every `STRATLAB_*` environment variable, read once into one frozen `Settings`.

Field `runs_dir` is set by `$STRATLAB_RUNS_DIR`, `max_jobs` by `$STRATLAB_MAX_JOBS`: the variable is
`STRATLAB_` + the field name in capitals. An unset or blank variable keeps the default; a value that
cannot be used raises `SettingsError` naming the variable, the value and what it accepts.

Read them with `settings()`: parsed once and cached (keyed on the `STRATLAB_*` variables, so a variable
set at run time is seen; `settings.cache_clear()` empties the cache). Job processes inherit the
environment, so they see the same values. README's Configuration table is generated from this module
(`settings_table_markdown`).

A pure leaf: standard library and `analytics.errors` only, so `models` may import it too.
"""

from __future__ import annotations

import ast
import functools
import inspect
import math
import os
import re
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from typing import Any

from analytics.errors import SettingsError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
"""The repository root: default folders live under its data/."""
ENV_PREFIX = "STRATLAB_"
_MEMORY_PATTERN = re.compile(r"^(\d+(\.\d+)?\s*([a-z]+|%)|-1|none)$", re.IGNORECASE)
"""What DuckDB's memory_limit accepts: a number with a unit (700MB, 4GiB, 80%), or -1 / none for no limit."""
_FUNCTION_PATTERN = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


@dataclass(frozen=True)
class Settings:
    """Where Strategy Lab keeps its files and how much it may use, from the `STRATLAB_*` variables."""

    workspace: Path = PROJECT_ROOT / "data" / "workspace.duckdb"
    """The workspace database file."""
    duckdb_memory: str = "2GB"
    """DuckDB's memory limit for the workspace, e.g. `700MB` or `4GB` (sorts and joins spill to disk
    beyond it; one query cannot take the machine's memory)."""
    demo_events: int = 1_000_000
    """Sample events generated on first start."""
    password: str | None = field(default=None, repr=False, metadata={"verbatim": True})
    """Password for shared demos (or `password` in `.streamlit/secrets.toml`); unset: no password."""
    dataset_mirror: Path | None = None
    """Folder read before downloading catalog datasets (`<mirror>/<dataset>/<file>`); `make test` sets
    `../shared/datasets`, `make run` too when that folder exists."""
    dataset_cache: Path = PROJECT_ROOT / "data" / "cache" / "datasets"
    """Datasets downloaded and verified (SHA-256) when online."""
    runs_dir: Path = PROJECT_ROOT / "data" / "runs"
    """Where model runs are written, one folder per run."""
    jobs_dir: Path = PROJECT_ROOT / "data" / "jobs"
    """The persistent job queue (one folder per job: state, log, pid)."""
    uploads_dir: Path = PROJECT_ROOT / "data" / "uploads"
    """Training files uploaded on the Fine-tune page."""
    max_jobs: int | None = None
    """Jobs running at once; unset: one per `STRATLAB_GPUS_PER_JOB` GPUs, 1 on CPU."""
    gpus_per_job: int = 1
    """GPUs each job gets; more than 1 runs a job under `accelerate launch --multi_gpu`."""
    model_cache: Path = PROJECT_ROOT / "data" / "cache" / "models"
    """Converted models (SmolLM2 GGUF -> safetensors, once)."""
    model_dirs: tuple[Path, ...] = ()
    """Extra folders (os.pathsep-separated) local models may be loaded from."""
    inference_bench_s: float = 2.0
    """Seconds of the inference benchmark after each run (0 skips it)."""
    playground_llm: str | None = None
    """Registry name or folder of the Playground's language model; unset: SmolLM2-135M-Instruct."""
    train_function: str | None = None
    """Test seam: `module:function` the job runner calls instead of `models.training.train.train`."""
    chromium: str | None = None
    """Chromium executable for the browser tests and benchmarks; unset: the usual Debian path or the PATH."""

    def __post_init__(self) -> None:
        checks = (_check_memory(self.duckdb_memory), _check_whole("demo_events", self.demo_events),
                  _check_whole("max_jobs", self.max_jobs), _check_whole("gpus_per_job", self.gpus_per_job),
                  _check_seconds(self.inference_bench_s), _check_function(self.train_function))
        problems = [p for p in checks if p]
        if problems:
            raise SettingsError("; ".join(problems))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from `environ` (default `os.environ`); unset or blank variables keep their defaults.

        Raises:
            SettingsError: a variable is not of its field's type or out of range (the message names it).
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(env_name(f.name), "")
            if raw.strip():
                parse = _parse_verbatim if f.metadata.get("verbatim") else _PARSERS[str(f.type)]
                values[f.name] = parse(env_name(f.name), raw)
        return cls(**values)


def settings() -> Settings:
    """This process's settings from the `STRATLAB_*` variables of `os.environ`, parsed once and cached.

    The cache is keyed on those variables, so code that sets one at run time (tests, bench scripts) gets
    fresh settings without stale values; `settings.cache_clear()` empties it.

    Raises:
        SettingsError: a `STRATLAB_*` variable has a value that cannot be used.
    """
    return _settings_for(tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(ENV_PREFIX))))


@functools.lru_cache(maxsize=8)
def _settings_for(variables: tuple[tuple[str, str], ...]) -> Settings:
    return Settings.from_env(dict(variables))


settings.cache_clear = _settings_for.cache_clear  # type: ignore[attr-defined]


def env_name(field_name: str) -> str:
    """The environment variable of a Settings field: `runs_dir` -> `STRATLAB_RUNS_DIR`."""
    return ENV_PREFIX + field_name.upper()


def settings_table_markdown() -> str:
    """README's Configuration table: one row per Settings field (variable, default, what it sets)."""
    docs = field_docs(Settings)
    rows = ["| variable | default | what |", "|---|---|---|"]
    rows += [f"| `{env_name(f.name)}` | {_shown_default(f)} | {docs[f.name]} |" for f in fields(Settings)]
    return "\n".join(rows) + "\n"


# ---------------------------------------------------------------- parsing (raw text -> typed value)


def _parse_path(name: str, raw: str) -> Path:
    return Path(raw.strip()).expanduser()


def _parse_paths(name: str, raw: str) -> tuple[Path, ...]:
    return tuple(Path(p.strip()).expanduser() for p in raw.split(os.pathsep) if p.strip())


def _parse_whole(name: str, raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError as e:
        raise SettingsError(f"{name}={raw!r} must be a whole number >= 1; set it to e.g. 2, or unset it "
                            "for the default") from e


def _parse_number(name: str, raw: str) -> float:
    try:
        return float(raw.strip())
    except ValueError as e:
        raise SettingsError(f"{name}={raw!r} must be a number of seconds >= 0 (0 skips the benchmark); "
                            "set it to e.g. 2, or unset it for the default") from e


def _parse_text(name: str, raw: str) -> str:
    return raw.strip()


def _parse_verbatim(name: str, raw: str) -> str:
    """Secrets are kept as typed, surrounding spaces included."""
    return raw


_PARSERS: dict[str, Callable[[str, str], Any]] = {
    "Path": _parse_path, "Path | None": _parse_path, "tuple[Path, ...]": _parse_paths,
    "int": _parse_whole, "int | None": _parse_whole, "float": _parse_number,
    "str": _parse_text, "str | None": _parse_text,
}
"""Settings field annotation -> parser of the variable's text."""


# ---------------------------------------------------------------- checks (one message per bad value)


def _check_memory(value: str) -> str | None:
    if _MEMORY_PATTERN.match(value):
        return None
    return (f"{env_name('duckdb_memory')}={value!r} is not a DuckDB memory limit; use a number and a unit, "
            "e.g. 700MB or 4GB (DuckDB syntax)")


def _check_whole(name: str, value: int | None) -> str | None:
    if value is None or (isinstance(value, int) and value >= 1):
        return None
    return (f"{env_name(name)}={value!r} must be a whole number >= 1; set it to e.g. 2, "
            "or unset it for the default")


def _check_seconds(value: float) -> str | None:
    if math.isfinite(value) and value >= 0:
        return None
    return (f"{env_name('inference_bench_s')}={value!r} must be a number of seconds >= 0 "
            "(0 skips the benchmark); set it to e.g. 2, or unset it for the default")


def _check_function(value: str | None) -> str | None:
    if value is None or _FUNCTION_PATTERN.match(value):
        return None
    return (f"{env_name('train_function')}={value!r} must name a function as 'package.module:function', "
            "e.g. tests.models.fake_train:train")


# ---------------------------------------------------------------- README table


def _shown_default(setting: Field[Any]) -> str:
    value = setting.default
    if value is MISSING or value is None or value == ():
        return "unset"
    if isinstance(value, Path):
        return f"`{value.relative_to(PROJECT_ROOT).as_posix()}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    return f"`{value}`"


def field_docs(cls: type) -> dict[str, str]:
    """Docstrings written under each dataclass field (`x: int = 1` then a string literal), by field name.

    Whitespace is folded to single spaces. The one reader of field docstrings: this module's README table,
    the models CLI's flag help and the Fine-tune form's help all use it (a standard-library leaf, so the
    model engine may import it). Raises OSError/TypeError when the source of `cls` cannot be read.
    """
    return dict(_field_docs(cls))


@functools.lru_cache(maxsize=16)
def _field_docs(cls: type) -> tuple[tuple[str, str], ...]:
    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body  # type: ignore[attr-defined]
    docs: list[tuple[str, str]] = []
    for node, following in zip(body, body[1:], strict=False):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)):
            docs.append((node.target.id, " ".join(following.value.value.split())))
    return tuple(docs)
