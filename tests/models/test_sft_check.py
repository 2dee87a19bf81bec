"""models.planning.sft_check: the page's pre-launch check of an sft config in its own process, with the
model's real tokenizer (slow: the process imports torch and transformers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.core.config import TrainConfig
from models.errors import ConfigError
from models.planning.sft_check import check_sft

ROWS = b"question,answer,intent\n" + b"".join(
    b"where is my order %d,It is on its way.,order\n" % i for i in range(20)) + b"".join(
    b"refund %d please,%s,refund\n" % (i, b" ".join([b"Your refund is being processed today."] * 12))
    for i in range(20))
"""Short order replies that fit 60 tokens, long refund replies that do not."""


def test_a_classifier_method_is_refused() -> None:
    with pytest.raises(ConfigError, match="check_sft covers sft, sft_lora"):
        check_sft(TrainConfig(method="classic", dataset="toy"))


@pytest.mark.slow
def test_check_measures_real_token_lengths_and_warns_about_replies_cut_at_max_length(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from models.modeling.registry import resolve_model

    if not resolve_model("SmolLM2-135M-Instruct").available:
        pytest.skip("the packaged SmolLM2 is not installed")
    monkeypatch.setenv("STRATLAB_UPLOADS_DIR", str(tmp_path))
    path = tmp_path / "support.csv"
    path.write_bytes(ROWS)
    config = TrainConfig(method="sft_lora", model="SmolLM2-135M-Instruct", dataset=str(path),
                         text_column="question", response_column="answer", label_column="intent",
                         data_format="prompt_response", max_length=60, eval_limit=4)
    found = check_sft(config)  # one process: torch and the tokenizer load once
    assert found.errors == () and found.stats is not None and found.params == 134_515_008
    assert found.token_stats["min"] < 60 < found.token_stats["max"]
    assert found.stats.mean_prompt_tokens < found.stats.mean_tokens <= 60  # cut at max_length
    assert found.stats.n_judged == 4
    assert any("longer than max_length 60 tokens" in w for w in found.warnings), found.warnings
