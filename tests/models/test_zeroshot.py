"""Zero-shot label scoring: trie layout, packed scoring equals naive scoring, runs, GGUF cache behaviour."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from models.core.config import TrainConfig
from models.core.runs import RunWriter, read_json, run_status
from models.data.types import DataSplits


@pytest.fixture(scope="module")
def tiny_lm(tiny_lm_dir: Path) -> tuple[object, object]:
    from models.modeling.causal_lm import load_causal_lm
    from models.modeling.registry import resolve_model

    return load_causal_lm(resolve_model(str(tiny_lm_dir)))


def test_readable_label() -> None:
    from models.modeling.prompts import readable_label

    assert readable_label("card_arrival") == "card arrival"
    assert readable_label("apple_pay_or_google_pay") == "apple pay or google pay"
    assert readable_label("DESC") == "DESC"


def test_label_trie_shares_prefixes() -> None:
    from models.modeling.label_scorer import build_label_trie

    trie = build_label_trie([[1, 2, 3], [1, 2, 4], [5]])
    assert trie.node_tokens.tolist() == [1, 2]  # prefixes (1,) and (1, 2), computed once for both labels
    assert trie.node_pos.tolist() == [0, 1]
    assert trie.tree_mask.tolist() == [[True, False], [True, True]]
    assert trie.step_labels.tolist() == [0, 0, 0, 1, 1, 1, 2]
    assert trie.step_rows.tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert trie.step_tokens.tolist() == [1, 2, 3, 1, 2, 4, 5]
    assert trie.label_lengths.tolist() == [3.0, 3.0, 1.0]


def test_packed_trie_scores_equal_naive_full_sequence_scores(tiny_lm: tuple[object, object]) -> None:
    from models.modeling.label_scorer import LabelScorer
    from models.modeling.prompts import readable_label

    model, tokenizer = tiny_lm
    labels = ("card_arrival", "card_delivery_estimate", "card_linking", "top_up_failed", "refund")
    scorer = LabelScorer(model, tokenizer, labels, calibrate=False)
    text = "Where is my new card? It has been two weeks."
    packed = scorer.raw_log_scores(text)
    text_ids = scorer._ids(" " + text) + scorer.suffix_ids
    with torch.inference_mode():
        for j, name in enumerate(labels):
            answer = scorer._ids(scorer.parts.answer_prefix + readable_label(name) + scorer.parts.answer_end)
            ids = torch.tensor([scorer.prefix_ids + text_ids + answer])
            logprobs = torch.log_softmax(model(input_ids=ids).logits[0].float(), dim=-1)
            start = len(scorer.prefix_ids) + len(text_ids)
            naive = sum(logprobs[start - 1 + k, tok].item() for k, tok in enumerate(answer))
            assert packed[j].item() == pytest.approx(naive, abs=1e-3)
    # the cache is back to the shared prefix: scoring again gives the same numbers
    assert torch.allclose(scorer.raw_log_scores(text), packed, atol=1e-5)


def test_few_shot_examples_are_seeded_and_per_class() -> None:
    from models.data.types import LabelledTexts
    from models.training.zeroshot import few_shot_examples

    train = LabelledTexts(tuple(map(str, range(6))), ("a", "b", "c", "d", "e", "f"), (0, 0, 0, 1, 1, 1))
    first = few_shot_examples(train, ("neg_x", "pos_y"), k=2, seed=3)
    assert first == few_shot_examples(train, ("neg_x", "pos_y"), k=2, seed=3)
    assert sorted(label for _, label in first) == ["neg x", "neg x", "pos y", "pos y"]
    assert few_shot_examples(train, ("n", "p"), k=0, seed=3) == []


def test_zero_shot_run_on_tiny_lm(tiny_lm_dir: Path, tmp_path: Path,
                                  small_sentiment: Callable[..., DataSplits]) -> None:
    from models.training.zeroshot import train_zero_shot

    data = small_sentiment(n_train=40, n_test=30)
    config = TrainConfig(method="zero_shot", model=str(tiny_lm_dir), runs_dir=str(tmp_path), run_name="zs",
                         eval_limit=12, few_shot_k=1)
    result = train_zero_shot(config, data, RunWriter.create(config))
    run = result.run_dir
    assert run_status(run)["state"] == "succeeded"
    metrics = read_json(run / "eval.json")
    assert metrics["n"] == 12 and metrics["n_test_scored"] == 12 and metrics["n_test_total"] == 30
    probs = np.stack(pd.read_parquet(run / "predictions.parquet")["probs"].to_list())
    assert probs.shape == (12, 2)
    assert np.all(probs >= 0) and np.allclose(probs.sum(axis=1), 1.0)
    base = read_json(run / "model/base.json")
    assert len(base["examples"]) == 2 and base["model"] == str(tiny_lm_dir)


# ---------------------------------------------------------------- GGUF conversion cache


class _FakeSaver:
    def __init__(self, name: str, fail: bool = False) -> None:
        self.name, self.fail = name, fail

    def save_pretrained(self, folder: Path, **_: object) -> None:
        (Path(folder) / f"{self.name}.json").write_text("{}")
        if self.fail:
            raise OSError("disk full")


def _fake_gguf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    monkeypatch.setenv("STRATLAB_MODEL_CACHE", str(tmp_path / "cache"))
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.gguf").write_bytes(b"GGUF" + b"\0" * 60)
    return SimpleNamespace(name="Fake-LM", family="causal_lm", source="package",
                           location=str(tmp_path / "pkg"), gguf_file="m.gguf")


def test_gguf_conversion_runs_once_under_concurrency(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from models.modeling import causal_lm as llm
    spec = _fake_gguf(tmp_path, monkeypatch)
    calls: list[int] = []

    def slow_dequantise(location: Path, gguf_file: str) -> tuple[_FakeSaver, _FakeSaver]:
        calls.append(1)
        time.sleep(0.3)
        return _FakeSaver("model"), _FakeSaver("tokenizer")

    monkeypatch.setattr(llm, "_dequantise", slow_dequantise)
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(llm.ensure_converted(spec))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len(set(results)) == 1
    target = results[0]
    assert sorted(p.name for p in target.iterdir()) == [
        "model.json", "stratlab_source.json", "tokenizer.json"
    ]
    assert llm.ensure_converted(spec) == target and len(calls) == 1  # reused
    leftovers = [
        p.name for p in target.parent.iterdir() if p.name.startswith(".") and not p.name.endswith(".lock")
    ]
    assert leftovers == []


def test_failed_gguf_conversion_leaves_nothing_that_looks_complete(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from models.modeling import causal_lm as llm
    spec = _fake_gguf(tmp_path, monkeypatch)
    monkeypatch.setattr(
        llm, "_dequantise", lambda *_: (_FakeSaver("model"), _FakeSaver("tokenizer", fail=True))
    )
    with pytest.raises(OSError):
        llm.ensure_converted(spec)
    target = llm.converted_dir_for(spec)
    assert not target.exists()
    assert [p.name for p in target.parent.iterdir() if not p.name.endswith(".lock")] == []


@pytest.mark.slow
def test_smollm2_zero_shot_on_sentiment_examples() -> None:
    """The real packaged SmolLM2 (converted once into the model cache, then reused) classifies sentiment."""
    from models.modeling.causal_lm import converted_dir_for, load_causal_lm
    from models.modeling.label_scorer import LabelScorer
    from models.modeling.registry import resolve_model

    spec = resolve_model("SmolLM2-135M-Instruct")
    model, tokenizer = load_causal_lm(spec)
    assert (converted_dir_for(spec) / "model.safetensors").is_file()
    start = time.monotonic()
    load_causal_lm(spec)
    assert time.monotonic() - start < 20  # cached safetensors, not a second de-quantisation
    texts = ["I love this phone, the battery lasts forever.", "Terrible service, I want my money back.",
             "The food was delicious and the staff were lovely.", "Worst movie I have seen in years.",
             "Great value, works perfectly.", "It broke after two days. Very disappointed."]
    truth = [1, 0, 1, 0, 1, 0]
    probs = LabelScorer(model, tokenizer, ("negative", "positive")).predict_proba(texts)
    assert probs.shape == (6, 2) and np.allclose(probs.sum(axis=1), 1.0)
    assert int((probs.argmax(axis=1) == np.array(truth)).sum()) >= 5
