"""Supervised fine-tuning of causal LMs (sft, sft_lora): masking, exact loss, packing, resume, LoRA merge,
bad input, and one end-to-end run on real Bitext conversations with a tiny random Llama."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from models.core.config import TrainConfig
from models.core.runs import run_status
from models.data.chat import ChatExample, ChatSplits
from models.errors import ConfigError, DataValidationError, TrainingError
from models.modeling.chat_template import (
    FALLBACK_TEMPLATE,
    IGNORE_INDEX,
    encode_chat,
    ensure_chat_template,
    prompt_ids,
)
from models.training import sft
from models.training.checkpoints import latest_checkpoint
from models.training.sft_data import encode_examples, pack_examples, pad_chat_batch
from models.training.sft_model import ReplyLoss, wrap_lora
from models.training.train import resume_run, train


@pytest.fixture(scope="module")
def tokenizer(tiny_lm_folder: Path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_lm_folder))
    ensure_chat_template(tok)
    return tok


@pytest.fixture(scope="module")
def lm_dir(tiny_lm_folder: Path, allowed_tmp: Path) -> str:
    return str(tiny_lm_folder)


def _assistant_text(tok, ids, labels) -> str:
    return tok.decode([i for i, label in zip(ids, labels, strict=True) if label != IGNORE_INDEX])


CONVERSATIONS = {
    "messages, multi-turn": (("system", "Be brief."), ("user", "Where is my card?"),
                             ("assistant", "It ships in 3 days."), ("user", "And the PIN?"),
                             ("assistant", "By post, separately.")),
    "alpaca": (("user", "Summarise the refund policy.\n\nRefunds within 30 days."),
               ("assistant", "Refunds are possible for 30 days.")),
    "prompt/response": (("user", "cancel order 123"),
                        ("assistant", "I have cancelled order {{Order Number}}.")),
}


@pytest.mark.parametrize("name", list(CONVERSATIONS))
def test_labels_are_exactly_the_assistant_tokens(tokenizer, name: str) -> None:
    messages = CONVERSATIONS[name]
    ids, labels = encode_chat(tokenizer, messages, 512)
    replies = [content for role, content in messages if role == "assistant"]
    assert _assistant_text(tokenizer, ids, labels) == "".join(f"{r}<|im_end|>\n" for r in replies)
    # every label equals its input token, every other position is ignored
    assert all(label in (IGNORE_INDEX, token) for token, label in zip(ids, labels, strict=True))
    first_reply = next(i for i, (role, _) in enumerate(messages) if role == "assistant")
    prompt = prompt_ids(tokenizer, messages[:first_reply])  # everything before the first reply is context
    assert labels[: len(prompt)] == [IGNORE_INDEX] * len(prompt) and labels[len(prompt)] == ids[len(prompt)]


def test_a_tokenizer_without_template_gets_chatml_and_says_so(tiny_lm_folder: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_lm_folder))
    tok.chat_template = None
    assert ensure_chat_template(tok) is True and tok.chat_template == FALLBACK_TEMPLATE
    ids, labels = encode_chat(tok, CONVERSATIONS["prompt/response"], 512)
    assert _assistant_text(tok, ids, labels).startswith("I have cancelled order")
    assert ensure_chat_template(tok) is False


def test_truncation_keeps_the_reply_start_and_drops_rows_without_reply(tokenizer) -> None:
    long = (("user", "hi"), ("assistant", "word " * 200))
    no_room = (("user", "please " * 100), ("assistant", "ok"))
    encoded = encode_examples(tokenizer, [long, no_room, CONVERSATIONS["alpaca"]], 64)
    assert len(encoded) == 2 and encoded.truncated == 2 and encoded.dropped == 1
    assert max(encoded.lengths) == 64


def test_reply_loss_equals_the_full_vocabulary_loss(tiny_lm_folder: Path, tokenizer) -> None:
    from transformers import AutoModelForCausalLM

    lm = AutoModelForCausalLM.from_pretrained(str(tiny_lm_folder))
    encoded = encode_examples(tokenizer, list(CONVERSATIONS.values()), 128)
    batch = pad_chat_batch(encoded, torch.arange(len(encoded)).numpy(), tokenizer.pad_token_id)
    ours = ReplyLoss(lm)(batch["input_ids"], batch["labels"], batch["attention_mask"])
    theirs = lm(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                labels=batch["labels"]).loss
    assert torch.allclose(ours, theirs, atol=1e-5)


def test_packed_rows_never_attend_across_conversations(tiny_lm_folder: Path, tokenizer) -> None:
    from transformers import AutoModelForCausalLM

    lm = ReplyLoss(AutoModelForCausalLM.from_pretrained(str(tiny_lm_folder)).eval())
    encoded = encode_examples(tokenizer, list(CONVERSATIONS.values()), 128)
    packed = pack_examples(encoded, 512, seed=0)
    assert len(packed) == 1 and packed.label_tokens == encoded.label_tokens
    with torch.no_grad():
        sums = [lm.loss_sum(**{k: v for k, v in pad_chat_batch(encoded, [i], 0).items() if k != "tokens"})
                for i in range(len(encoded))]
        packed_sum, packed_count = lm.loss_sum(**{k: v for k, v in pad_chat_batch(packed, [0], 0).items()
                                                 if k != "tokens"})
    assert int(packed_count) == sum(int(c) for _, c in sums)
    assert torch.allclose(packed_sum, sum(s for s, _ in sums), rtol=1e-4)


def test_lora_merge_reproduces_the_adapters_outputs(tiny_lm_folder: Path) -> None:
    from transformers import AutoModelForCausalLM

    lm = wrap_lora(AutoModelForCausalLM.from_pretrained(str(tiny_lm_folder)),
                   TrainConfig(method="sft_lora", lora_dropout=0.0))
    for name, param in lm.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.5)  # non-zero adapters, else the test proves nothing
    ids = torch.tensor([[1, 5, 9, 200, 3000]])
    lm.eval()
    with torch.no_grad():
        adapted = lm(input_ids=ids).logits
        base = lm.get_base_model()
        with lm.disable_adapter():
            plain = lm(input_ids=ids).logits
        merged = lm.merge_and_unload()(input_ids=ids).logits
    assert not torch.allclose(adapted, plain) and torch.allclose(adapted, merged, atol=1e-4)
    assert base is not None


# ---------------------------------------------------------------- runs


def _examples(n: int, prefix: str) -> tuple[ChatExample, ...]:
    intents = ("cancel_order", "track_order")
    return tuple(ChatExample(f"{prefix}-{i:05d}", (("user", f"please {intents[i % 2]} number {i}"),
                                                   ("assistant", f"Sure, I can {intents[i % 2]} {i} now.")),
                             intents[i % 2]) for i in range(n))


@pytest.fixture(scope="module")
def chats() -> ChatSplits:
    return ChatSplits("toy-support", _examples(16, "train"), _examples(4, "validation"), _examples(4, "test"),
                      ("cancel_order", "track_order"), {"licence": "test data"})


def _config(tmp_path: Path, model: str, **changes) -> TrainConfig:
    values = dict(method="sft", model=model, dataset="toy-support", runs_dir=str(tmp_path / "runs"), epochs=1,
                  batch_size=4, eval_batch_size=8, max_length=64, learning_rate=1e-3, log_every_steps=1,
                  max_new_tokens=6, seed=0, warmup_ratio=0.0)
    values.update(changes)
    return TrainConfig(**values)


def test_sft_run_fills_the_run_folder_and_judges_base_and_fine_tuned(tmp_path: Path, lm_dir: str,
                                                                     chats: ChatSplits) -> None:
    result = train(_config(tmp_path, lm_dir, run_name="full"), chats)
    run = result.run_dir
    assert run_status(run)["state"] == "succeeded"
    metrics = json.loads((run / "eval.json").read_text())
    assert metrics["task"] == "generation" and metrics["n_test_scored"] == 4
    assert math.isclose(metrics["perplexity"], math.exp(metrics["val_loss"]), rel_tol=1e-9)
    for key in ("rouge_l", "rouge_l_ci_low", "intent_match", "base_rouge_l", "decode_tokens_per_s"):
        assert key in metrics, key
    frame = pd.read_parquet(run / "generations.parquet")
    assert len(frame) == 4 and frame["base_reply"].notna().all() and (frame["reply_tokens"] <= 6).all()
    model_files = {p.name for p in (run / "model").iterdir()}
    assert {"model.safetensors", "tokenizer.json", "generation_config.json", "README.md"} <= model_files
    card = (run / "model" / "README.md").read_text()
    assert "toy-support" in card and "ROUGE-L" in card and "test data" in card
    data = json.loads((run / "data.json").read_text())
    assert data["task"] == "generation" and data["rows"] == {"train": 16, "validation": 4, "test": 4}
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    assert any(e.get("kind") == "epoch" and "val_perplexity" in e for e in events)
    assert all(e["tokens_per_s"] > 0 for e in events if e.get("kind") == "step")


def test_sft_lora_saves_adapter_and_merged_model_that_loads(tmp_path: Path, lm_dir: str,
                                                            chats: ChatSplits) -> None:
    from transformers import AutoModelForCausalLM

    result = train(_config(tmp_path, lm_dir, method="sft_lora", run_name="lora", compare_base=False,
                           max_steps=2), chats)
    assert (result.run_dir / "adapter" / "adapter_config.json").is_file()
    merged = AutoModelForCausalLM.from_pretrained(str(result.run_dir / "model"))
    assert not any("lora" in name for name, _ in merged.named_parameters())
    assert "base_rouge_l" not in result.metrics and result.extra["trainable_parameters"] < 100_000


def test_resume_after_a_crash_gives_identical_weights(tmp_path: Path, lm_dir: str, chats: ChatSplits,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    common = dict(epochs=2, checkpoint_every_steps=2, compare_base=False, eval_limit=2)
    straight = train(_config(tmp_path, lm_dir, run_name="straight", **common), chats)
    real_step, calls = sft.train_step, {"n": 0}

    def crash_after_five(session, batch):
        calls["n"] += 1
        if calls["n"] > 5:
            raise RuntimeError("simulated crash")
        return real_step(session, batch)

    monkeypatch.setattr(sft, "train_step", crash_after_five)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(_config(tmp_path, lm_dir, run_name="crashed", **common), chats)
    crashed = tmp_path / "runs" / "crashed"
    assert run_status(crashed)["state"] == "failed" and not (crashed / "model").exists()
    assert latest_checkpoint(crashed / "checkpoints").name == "step-4"
    monkeypatch.setattr(sft, "train_step", real_step)
    resumed = resume_run(crashed, chats)
    assert resumed.extra["resumed_from"] == "step-4" and resumed.extra["steps"] == 8
    a = load_file(straight.run_dir / "model/model.safetensors")
    b = load_file(crashed / "model/model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.extra["final_loss"] == straight.extra["final_loss"]


def test_a_nan_loss_stops_with_the_fix_and_writes_no_model(tmp_path: Path, lm_dir: str, chats: ChatSplits,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sft, "train_step", lambda session, batch: torch.tensor(float("nan")))
    with pytest.raises(TrainingError, match="lower learning_rate"):
        train(_config(tmp_path, lm_dir, run_name="nan"), chats)
    assert run_status(tmp_path / "runs" / "nan")["state"] == "failed"
    assert not (tmp_path / "runs" / "nan" / "model").exists()


def test_bad_data_is_refused_before_the_model_loads(tmp_path: Path, lm_dir: str, chats: ChatSplits,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def no_model(*args, **kwargs):
        raise AssertionError("the model must not be loaded for bad data")

    monkeypatch.setattr(sft, "_load_lm", no_model)
    no_reply = ChatSplits("bad", (ChatExample("train-00000", (("user", "hello"),)),) + chats.train[1:],
                          chats.validation, chats.test, chats.intents)
    with pytest.raises(DataValidationError, match="assistant"):
        train(_config(tmp_path, lm_dir, run_name="no-reply"), no_reply)
    with pytest.raises(DataValidationError, match="max_length"):
        train(_config(tmp_path, lm_dir, run_name="tiny-context", max_length=8), chats)


def test_sft_refuses_an_encoder_and_mismatched_columns(tmp_path: Path, tiny_encoder_folder: Path,
                                                       allowed_tmp: Path, chats: ChatSplits) -> None:
    with pytest.raises(ConfigError, match="causal LM"):
        train(_config(tmp_path, str(tiny_encoder_folder), run_name="encoder"), chats)
    with pytest.raises(ConfigError, match="response_column"):
        TrainConfig(method="sft", text_column="question")
    with pytest.raises(ConfigError, match="reply-writing"):
        TrainConfig(method="full", text_column="a", label_column="b", response_column="c")


def test_the_estimate_is_tokens_over_measured_rates(chats: ChatSplits, tokenizer) -> None:
    from models.modeling.chat_template import count_tokens
    from models.planning.sft_estimate import SftDataStats, SftRates, data_stats, sft_estimate

    rates = SftRates(train_tokens_per_s_full=100.0, train_tokens_per_s_lora=200.0,
                     forward_tokens_per_s=1000.0, decode_tokens_per_s=50.0, prefill_tokens_per_s=500.0,
                     fixed_s=10.0)
    stats = SftDataStats(n_train=40, n_validation=10, n_judged=8, mean_tokens=100.0, mean_prompt_tokens=50.0,
                         mean_reply_tokens=50.0)
    config = TrainConfig(method="sft_lora", batch_size=4, epochs=1)
    estimate = sft_estimate(config, stats, rates=rates)
    assert estimate.steps == 10 and estimate.train_s == pytest.approx(10 * 4 * 100 / 200)
    assert estimate.validate_s == pytest.approx(10 * 100 / 1000)
    assert estimate.judge_s == pytest.approx(16 * (50 / 50 + 50 / 500))  # base and fine-tuned answer
    assert estimate.total_s == pytest.approx(20 + 1 + 17.6 + 10) and "subset" in estimate.note
    assert "no GPU rate" in sft_estimate(config, stats, device="cuda", rates=rates).note
    measured = data_stats(chats, TrainConfig(method="sft", max_length=64),
                          lambda m: count_tokens(tokenizer, m))
    assert measured.n_train == 16 and measured.n_judged == 4 and 0 < measured.mean_prompt_tokens < 64
    with pytest.raises(ConfigError, match="sft_estimate covers"):
        sft_estimate(TrainConfig(method="full"), stats)
