"""Judging replies (models.core.judge): ROUGE-L, bootstrap CIs, the intent judge, placeholders and the
generations frame / eval metrics of an sft run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

import models.serving.generation as generation
from models.core.judge import (
    BASE_METRIC_KEYS,
    FRAME_COLUMNS,
    IntentJudge,
    bootstrap_ci,
    evaluate_generations,
    placeholder_count,
    rouge_l_scores,
)
from models.data.chat import ChatExample
from models.errors import EvaluationError
from models.serving.generation import GenerationResult

METRIC_KEYS = {
    "task", "n_test_scored", "n_test_total", "rouge_l", "rouge_l_ci_low", "rouge_l_ci_high", "intent_match",
    "intent_match_ci_low", "intent_match_ci_high", "mean_prompt_tokens", "mean_reply_tokens",
    "mean_reference_tokens", "placeholder_rate", "prefill_tokens_per_s", "decode_tokens_per_s",
    "generation_seconds", "generation_device", "intent_judge_accuracy",
}

REPLIES = {
    "refund": ["Your refund for {{Order Number}} is on its way; money back within five days.",
               "I have issued the refund, the money returns to your card in a few days.",
               "We refund the amount to your original payment method, money back soon."],
    "password": ["To reset your password, open the login page and click 'forgot password'.",
                 "Choose a new password from the login screen; the reset link expires in an hour.",
                 "Your password reset email is sent; follow the link to set a new password."],
    "shipping": ["Your parcel ships tomorrow; the tracking number follows by email.",
                 "Delivery takes three days; track the parcel with the link in your email.",
                 "We changed the shipping address; the parcel leaves the warehouse today."],
}


def _example(i: int, intent: str | None, request: str, reply: str) -> ChatExample:
    return ChatExample(f"row-{i:03d}", (("user", request), ("assistant", reply)), intent)


def _splits(intents: bool = True) -> tuple[list[ChatExample], list[ChatExample]]:
    train, test = [], []
    for intent, replies in REPLIES.items():
        for reply in replies:
            train.append(_example(len(train), intent if intents else None, f"question about {intent}", reply))
    test = [_example(100 + i, intent if intents else None, f"help with {intent} please", replies[0])
            for i, (intent, replies) in enumerate(REPLIES.items())]
    return train, test


# --- ROUGE-L ----------------------------------------------------------------------------------------------


def test_rouge_l_hand_computed() -> None:
    scores = rouge_l_scores(
        ["the cat sat on the mat", "dogs bark loudly", "the cat on mat", "Cats running!", ""],
        ["the cat sat on the mat", "a quiet evening", "the cat sat on the mat", "cat runs", "anything"])
    # identical 1; disjoint 0; LCS 4 of 4 reply / 6 reference tokens: F = 2 * 1 * 4/6 / (1 + 4/6) = 0.8;
    # the stemmer makes cats/cat and running/runs equal; an empty reply scores 0
    np.testing.assert_allclose(scores, [1.0, 0.0, 0.8, 1.0, 0.0])


def test_rouge_l_needs_one_reply_per_reference() -> None:
    with pytest.raises(EvaluationError, match="2 replies but 1 references"):
        rouge_l_scores(["a", "b"], ["a"])


# --- bootstrap --------------------------------------------------------------------------------------------


def test_bootstrap_ci_contains_the_mean_and_is_seeded() -> None:
    values = np.random.default_rng(0).uniform(size=200)
    low, high = bootstrap_ci(values)
    assert low < values.mean() < high
    assert 0.05 < high - low < 0.2  # about 4 standard errors (0.29 / sqrt(200) = 0.02)
    assert bootstrap_ci(values) == (low, high)
    assert bootstrap_ci(values, seed=7) != (low, high)
    wider = bootstrap_ci(values, level=0.99)
    assert wider[0] < low and wider[1] > high
    assert bootstrap_ci([1.0, 1.0, 1.0]) == (1.0, 1.0)
    assert bootstrap_ci([True, False, True, True], n_resamples=50)[1] <= 1.0


def test_bootstrap_ci_refuses_what_it_cannot_bootstrap() -> None:
    with pytest.raises(EvaluationError, match="non-empty"):
        bootstrap_ci([])
    with pytest.raises(EvaluationError, match="NaN"):
        bootstrap_ci([0.5, float("nan")])
    with pytest.raises(EvaluationError, match="level"):
        bootstrap_ci([0.5], level=95)


# --- intent judge, placeholders ---------------------------------------------------------------------------


def test_intent_judge_learns_a_toy_set() -> None:
    train, _ = _splits()
    judge = IntentJudge().fit([ex.reference for ex in train], [ex.intent for ex in train])
    assert judge.intents == ("password", "refund", "shipping")
    assert judge.predict(["the money is refunded to your card", "click forgot password to reset it",
                          "the parcel tracking link"]) == ["refund", "password", "shipping"]
    assert judge.predict([]) == []


def test_intent_judge_errors() -> None:
    with pytest.raises(EvaluationError, match="two distinct intents"):
        IntentJudge().fit(["a", "b"], ["x", "x"])
    with pytest.raises(EvaluationError, match="before fit"):
        IntentJudge().predict(["a"])


def test_placeholder_count() -> None:
    assert placeholder_count("Your {{Order Number}} and {{ Account ID }} are {{Website Name}}.") == 3
    assert placeholder_count("{single} {{}} {{ }} {{line\nbreak}} no slots") == 0


# --- evaluate_generations ---------------------------------------------------------------------------------


def _fake_generate(replies: list[str]) -> Any:
    """generate_replies stand-in that answers with fixed texts (4 tokens a prompt, 1 token a word)."""

    def fake(model: Any, tokenizer: Any, prompts: Any, **kwargs: Any) -> GenerationResult:
        assert len(prompts) == len(replies)
        return GenerationResult(tuple(replies), (4,) * len(replies), tuple(len(r.split()) for r in replies),
                                (0.5,) * len(replies), 100.0, 20.0, 1.5, "cpu")

    return fake


class _Tokenizer:
    """Counts words: enough for mean_reference_tokens."""

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict[str, list[int]]:
        return {"input_ids": list(range(len(text.split())))}


def test_evaluate_generations_scores_hand_made_replies(monkeypatch: pytest.MonkeyPatch) -> None:
    train, test = _splits()
    tuned = [test[0].reference, "click forgot password on the login page", "a reply about nothing"]
    base = ["no idea", "no idea", "no idea"]
    calls = iter([_fake_generate(tuned), _fake_generate(base)])
    monkeypatch.setattr(generation, "generate_replies", lambda *a, **k: next(calls)(*a, **k))
    frame, metrics = evaluate_generations("tuned", _Tokenizer(), train, test, base=("base", _Tokenizer()))

    assert tuple(frame.columns) == FRAME_COLUMNS
    assert set(metrics) == METRIC_KEYS | {f"base_{k}" for k in BASE_METRIC_KEYS}
    assert list(frame["id"]) == ["row-100", "row-101", "row-102"]
    assert list(frame["prompt"]) == ["help with refund please", "help with password please",
                                     "help with shipping please"]
    rouge = rouge_l_scores(tuned, [ex.reference for ex in test])
    np.testing.assert_allclose(frame["rouge_l"], rouge)
    assert rouge[0] == 1.0
    assert metrics["rouge_l"] == pytest.approx(rouge.mean())
    assert metrics["rouge_l_ci_low"] <= metrics["rouge_l"] <= metrics["rouge_l_ci_high"]
    assert list(frame["intent_pred"][:2]) == ["refund", "password"]
    assert frame["intent_match"][0] and frame["intent_match"][1]
    assert metrics["intent_match"] == pytest.approx(frame["intent_match"].astype(float).mean())
    assert list(frame["placeholders"]) == [1, 0, 0]
    assert metrics["placeholder_rate"] == pytest.approx(1 / 3)
    assert metrics["mean_reply_tokens"] == pytest.approx(np.mean([len(r.split()) for r in tuned]))
    reference_words = [len(ex.reference.split()) for ex in test]
    assert metrics["mean_reference_tokens"] == pytest.approx(np.mean(reference_words))
    assert metrics["intent_judge_accuracy"] == 1.0  # the test references are training references
    assert (metrics["n_test_scored"], metrics["n_test_total"], metrics["task"]) == (3, 3, "generation")
    assert (metrics["decode_tokens_per_s"], metrics["prefill_tokens_per_s"]) == (20.0, 100.0)
    assert list(frame["base_reply"]) == base
    assert metrics["base_rouge_l"] == pytest.approx(frame["base_rouge_l"].mean())
    assert metrics["base_rouge_l"] < metrics["rouge_l"]


def test_without_intents_intent_columns_and_metrics_are_null(monkeypatch: pytest.MonkeyPatch) -> None:
    train, test = _splits(intents=False)
    monkeypatch.setattr(generation, "generate_replies", _fake_generate(["a", "b", "c"]))
    frame, metrics = evaluate_generations("tuned", _Tokenizer(), train, test)
    assert frame["intent_match"].isna().all() and frame["intent_pred"].isna().all()
    assert metrics["intent_match"] is None and metrics["intent_match_ci_low"] is None
    assert metrics["intent_judge_accuracy"] is None
    assert not any(key.startswith("base_") for key in metrics)
    assert frame["base_reply"].isna().all() and frame["base_rouge_l"].isna().all()


def test_evaluate_generations_with_the_tiny_model_round_trips_through_parquet(
        tiny_lm_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(tiny_lm_dir), dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_lm_dir))
    train, test = _splits()
    frame, metrics = evaluate_generations(model, tokenizer, train, test, base=(model, tokenizer),
                                          max_new_tokens=4, batch_size=2, limit=2)
    assert (metrics["n_test_scored"], metrics["n_test_total"]) == (2, 3)
    assert len(frame) == 2 and frame["reply_tokens"].le(4).all()
    assert list(frame["reply"]) == list(frame["base_reply"])  # the same model twice
    assert metrics["generation_device"] == "cpu" and metrics["decode_tokens_per_s"] > 0
    path = tmp_path / "generations.parquet"
    frame.to_parquet(path, index=False)
    back = pd.read_parquet(path)
    assert tuple(back.columns) == FRAME_COLUMNS
    assert back["intent_match"].dtype == "boolean" and back["base_reply_tokens"].dtype == "Int64"
