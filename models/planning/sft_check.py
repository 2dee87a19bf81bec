"""Check and size an sft / sft_lora run before launch, in a separate process so that the app never loads torch
or a tokenizer: read the conversations exactly as the job will (models.data.chat.load_chat_data), load the
model's tokenizer and chat template, run the validator with real chat-templated token lengths against
max_length (a context shorter than the shortest example is an error here, before any job), and measure the
token statistics the time estimate needs (models.planning.sft_estimate.data_stats).

    python -m models.planning.sft_check '<TrainConfig as JSON>'    # prints one JSON line

`check_sft(config)` runs that process and returns an `SftCheck`; the Fine-tune page calls it behind its
"Check and estimate" button.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from models.core.config import SFT_METHODS, TrainConfig
from models.errors import ConfigError, EstimateError, StratLabModelError
from models.planning.sft_estimate import SftDataStats

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHECK_TIMEOUT_S = 300.0
"""Longest the checking process may take (reading Bitext and tokenizing it takes seconds; converting the
packaged GGUF model on its very first use takes longer)."""


@dataclass(frozen=True)
class SftCheck:
    """What the data and the tokenizer say about an sft config, before anything is submitted."""

    stats: SftDataStats | None
    """Token statistics for the estimate; None when the data cannot be used (see `errors`)."""
    params: int | None
    """Parameters of the model (registry), to scale the measured rates; None when unknown."""
    fallback_template: bool
    """True when the tokenizer has no chat template and the run will use the ChatML fallback."""
    errors: tuple[str, ...]
    """Problems that block the launch, each saying what to change."""
    warnings: tuple[str, ...]
    """Findings that do not block it (long replies cut at max_length, placeholders, duplicates...)."""
    token_stats: dict[str, int] | None
    """Chat-templated tokens per conversation: min, median, p95, max."""


def check_sft(config: TrainConfig, *, timeout_s: float = CHECK_TIMEOUT_S) -> SftCheck:
    """Check `config`'s data with its model's tokenizer in a fresh `python -m models.planning.sft_check`
    process. Raises ConfigError for a classifier method, EstimateError when the process fails or times out
    (data problems come back as `SftCheck.errors`, not raised)."""
    if config.method not in SFT_METHODS:
        raise ConfigError(f"check_sft covers {', '.join(SFT_METHODS)}, not {config.method!r}")
    command = [sys.executable, "-m", "models.planning.sft_check", json.dumps(config.to_dict())]
    try:
        done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout_s,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise EstimateError(f"checking the conversations took over {timeout_s:.0f} s; launch without the "
                            "check (the job validates the data before training)") from e
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise EstimateError(f"the check failed: {last}")
    found = json.loads(lines[-1])
    stats = SftDataStats(**found["stats"]) if found.get("stats") else None
    return SftCheck(stats, found.get("params"), bool(found.get("fallback_template")),
                    tuple(found.get("errors", ())), tuple(found.get("warnings", ())),
                    found.get("token_stats"))


def _tokenizer(config: TrainConfig) -> tuple[Any, Any]:
    """The tokenizer the job will use (as models.training.sft loads it) and the registry spec."""
    from models.modeling.loading import load_tokenizer
    from models.modeling.registry import resolve_model

    spec = resolve_model(config.model)
    if spec.family != "causal_lm":
        raise ConfigError(f"{config.method} trains a causal LM to write replies; {spec.name} is an "
                          f"{spec.family}: pick a causal LM such as SmolLM2-135M-Instruct")
    if spec.gguf_file:
        from transformers import AutoTokenizer

        from models.modeling.causal_lm import ensure_converted

        return AutoTokenizer.from_pretrained(str(ensure_converted(spec))), spec
    return load_tokenizer(spec), spec


def check_here(config: TrainConfig) -> dict[str, Any]:
    """The checking process's work (loads the tokenizer): the JSON `check_sft` reads."""
    from models.data.chat import load_chat_data
    from models.data.chat_validate import validate_chat
    from models.modeling.chat_template import count_tokens, ensure_chat_template
    from models.planning.sft_estimate import data_stats

    try:
        data = load_chat_data(config)
    except StratLabModelError as e:  # structural problems: the file, a column, too few conversations
        problems = [str(p) for p in getattr(e, "problems", []) or []]
        return {"errors": [str(e)] + ([p for p in problems if p not in str(e)] if len(problems) > 1 else [])}
    tokenizer, spec = _tokenizer(config)
    fallback = ensure_chat_template(tokenizer)

    def count(messages: Any) -> int:
        return count_tokens(tokenizer, messages)

    report = validate_chat(list(data.train) + list(data.validation) + list(data.test), count_tokens=count,
                           max_length=config.max_length)
    stats = data_stats(data, config, count) if data.train and not report.errors else None
    return {"stats": asdict(stats) if stats else None, "params": spec.params, "fallback_template": fallback,
            "errors": [f.message for f in report.errors], "warnings": [f.message for f in report.warnings],
            "token_stats": report.token_stats}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the checking process: one TrainConfig as JSON in, one JSON line out."""
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if len(args) != 1:
        print("usage: python -m models.planning.sft_check '<TrainConfig json>'", file=sys.stderr)  # noqa: T201
        return 2
    try:
        found = check_here(TrainConfig.from_dict(json.loads(args[0])))
    except StratLabModelError as e:  # the model or the config: the caller shows this line
        print(f"{type(e).__name__}: {e}", file=sys.stderr)  # noqa: T201
        return 1
    print(json.dumps(found), flush=True)  # noqa: T201 - the process's one result line
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
