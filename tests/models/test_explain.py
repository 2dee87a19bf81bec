"""Occlusion attributions (models/explain.py): exact effects on a crafted model, one batched call, long-text
windows, a real TF-IDF classifier, and HTML that escapes the user's text."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import pytest

from models.errors import ConfigError
from models.serving.explain import (
    Attribution,
    attribution_html,
    attribution_summary,
    occluded_texts,
    occlusion,
    word_spans,
)


class KeywordModel:
    """P(positive) = sigmoid(good - bad) where good/bad count the words; records every call's batch size."""

    label_names = ("negative", "positive")

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        out = np.empty((len(texts), 2))
        for i, text in enumerate(texts):
            words = re.findall(r"\w+", text.lower())
            p = 1.0 / (1.0 + math.exp(-(words.count("good") - words.count("bad"))))
            out[i] = (1.0 - p, p)
        return out


def sigmoid(logit: float) -> float:
    return 1.0 / (1.0 + math.exp(-logit))


def test_word_spans_split_words_and_punctuation() -> None:
    text = "Don't   pay twice!"
    assert [text[a:b] for a, b in word_spans(text)] == ["Don't", "pay", "twice", "!"]


def test_occluded_texts_cut_exactly_one_window() -> None:
    text = "a bb ccc"
    spans = word_spans(text)
    assert occluded_texts(text, spans) == [" bb ccc", "a  ccc", "a bb "]
    assert occluded_texts(text, spans, window=2) == ["  ccc", "a bb "]
    with pytest.raises(ConfigError, match="window"):
        occluded_texts(text, spans, window=0)


def test_effects_have_the_crafted_sign_and_value_in_one_batched_call() -> None:
    model = KeywordModel()
    result = occlusion(model, "good film , bad plot , good cast")
    assert model.calls == [1 + 8]  # the text and its 8 occluded variants, one predict_proba call
    assert result.label == "positive"  # good - bad = 1
    assert result.probability == pytest.approx(sigmoid(1))
    assert len(result.effects) == len(result.spans) == 8
    effects = dict(zip(result.words, result.effects, strict=False))
    assert effects["good"] == pytest.approx(sigmoid(1) - sigmoid(0))  # removing 'good' lowers P(positive)
    # removing 'bad' raises it: a negative effect
    assert effects["bad"] == pytest.approx(sigmoid(1) - sigmoid(2))
    assert effects["film"] == 0.0 and effects[","] == 0.0
    strongest = sigmoid(1) - 0.5
    assert result.top(3) == [("good", pytest.approx(strongest)), ("good", pytest.approx(strongest)),
                             ("bad", pytest.approx(sigmoid(1) - sigmoid(2)))]


def test_explaining_another_label_flips_the_signs() -> None:
    result = occlusion(KeywordModel(), "good film bad plot good", label="negative")
    assert result.label == "negative" and result.probability == pytest.approx(1 - sigmoid(1))
    assert result.effects[0] == pytest.approx(-(sigmoid(1) - 0.5))  # 'good' argues against 'negative'
    with pytest.raises(ConfigError, match="not one of this model's labels"):
        occlusion(KeywordModel(), "good", label="neutral")


def test_long_texts_occlude_windows_within_the_budget() -> None:
    model = KeywordModel()
    text = " ".join(["good"] + ["plain"] * 9)  # 10 words, budget 4 variants -> windows of 3
    result = occlusion(model, text, max_variants=4)
    assert model.calls == [1 + 4]
    assert result.window == 3
    assert result.effects[:3] == (pytest.approx(sigmoid(1) - 0.5),) * 3  # the window holding 'good'
    assert result.effects[3:] == (0.0,) * 7
    assert "3 at a time" in attribution_summary(result)


def test_empty_text_is_refused() -> None:
    with pytest.raises(ConfigError, match="empty"):
        occlusion(KeywordModel(), "   ")


def test_real_tfidf_classifier_blames_the_sentiment_word() -> None:
    from models.modeling.tfidf import build_pipeline, predict_proba_aligned

    texts = ["great film", "great cast", "great fun", "awful film", "awful cast", "awful plot"]
    pipeline = build_pipeline(c=10.0, seed=0).fit(texts, [1, 1, 1, 0, 0, 0])

    class Tfidf:
        label_names = ("negative", "positive")

        def predict_proba(self, batch: Sequence[str]) -> np.ndarray:
            return predict_proba_aligned(pipeline, list(batch), 2)

    result = occlusion(Tfidf(), "an awful film")
    assert result.label == "negative"
    effects = dict(zip(result.words, result.effects, strict=True))
    assert effects["awful"] > 0.1  # without 'awful' the text is much less negative
    assert max(result.effects) == effects["awful"]


def test_html_escapes_user_text_and_colours_by_effect() -> None:
    text = "<script>alert('x')</script> good good & bad"
    result = occlusion(KeywordModel(), text)
    page = attribution_html(result)
    assert result.label == "positive"
    assert "<script" not in page and "</script" not in page and "&lt;" in page and "&gt;" in page
    assert "'" not in re.sub(r"<[^>]+>", "", page)  # quotes in the text are escaped (&#x27;)
    visible = re.sub(r"<[^>]+>", "", page)
    for entity, char in (("&lt;", "<"), ("&gt;", ">"), ("&#x27;", "'"), ("&amp;", "&")):
        visible = visible.replace(entity, char)
    assert visible == text  # the words and everything between them, in order, nothing added
    good = re.search(r'background:rgba\((\d+),(\d+),(\d+),([\d.]+)\);[^"]*">good<', page)
    bad = re.search(r'background:rgba\((\d+),(\d+),(\d+),([\d.]+)\);[^"]*">bad<', page)
    assert good and good.group(1, 2, 3) == ("46", "160", "67") and good.group(4) == "0.75"  # green, strongest
    assert bad and bad.group(1, 2, 3) == ("215", "58", "73")  # red: it argues against 'positive'


def test_html_scales_opacity_to_the_strongest_word() -> None:
    result = Attribution(text="x y z", spans=((0, 1), (2, 3), (4, 5)), effects=(0.2, -0.1, 0.0), label="a",
                         probability=0.9, window=1)
    alphas = [float(a) for a in re.findall(r"rgba\(\d+,\d+,\d+,([\d.]+)\)", attribution_html(result))]
    assert alphas == [0.75, 0.38, 0.0]
    assert 'title="+20.0 points of P(a)"' in attribution_html(result)
