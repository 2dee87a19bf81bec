"""Zero-/few-shot classification with a small causal LM: the zero_shot method (nothing is trained).

The model, a LabelScorer that scores every label's tokens as the answer to one prompt, is
models.modeling.label_scorer; this module picks the few-shot examples, scores the test split (or
eval_limit of it, models.data.loading.scored_subset) with progress events and writes the run folder.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import torch

from models.core.config import TrainConfig
from models.core.outputs import finish_classifier_run, write_label_names
from models.core.runs import RunResult, RunWriter, write_json_atomic
from models.data.loading import scored_subset
from models.data.types import DataSplits, LabelledTexts
from models.modeling.label_scorer import LabelScorer
from models.modeling.prompts import few_shot_examples

log = logging.getLogger(__name__)



def train_zero_shot(config: TrainConfig, data: DataSplits, writer: RunWriter) -> RunResult:
    """Score the test split (or `eval_limit` of it) by label log-likelihood with `config.model`.

    Nothing is trained; `train_seconds` is the model load + prompt-prefix time. Writes model/
    (base.json with the model and prompt settings, labels.json), eval.json, predictions.parquet, status.json.
    """
    from models.core.device import resolve_device
    from models.modeling.causal_lm import load_causal_lm
    from models.modeling.registry import resolve_model

    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    start = time.monotonic()
    model, tokenizer = load_causal_lm(resolve_model(config.model), resolve_device(config.device))
    examples = few_shot_examples(data.train, data.label_names, config.few_shot_k, config.seed)
    scorer = LabelScorer(model, tokenizer, data.label_names, examples, max_length=config.max_length)
    setup_seconds = time.monotonic() - start
    test = scored_subset(data.test, config.eval_limit, config.seed)
    writer.event(stage="prompt_ready", prefix_tokens=len(scorer.prefix_ids),
                 trie_nodes=len(scorer.trie.node_tokens), n_examples_in_prompt=len(examples),
                 n_to_score=len(test), setup_s=round(setup_seconds, 3))
    model_dir = writer.run_dir / "model"
    write_json_atomic(model_dir / "base.json", {"model": config.model, "few_shot_k": config.few_shot_k,
                                                "seed": config.seed, "max_length": config.max_length,
                                                "length_normalise": True, "calibrate": True,
                                                "examples": [list(e) for e in examples]})
    write_label_names(model_dir, data.label_names)
    probs, score_seconds = _score_with_events(scorer, test, writer)
    extra = {"seconds_per_example": round(score_seconds / max(len(test), 1), 4),
             "prefix_tokens": len(scorer.prefix_ids), "n_test_scored": len(test)}
    return finish_classifier_run(writer, config, data, test, probs, model_name=config.model,
                                 train_seconds=setup_seconds, extra=extra)


def _score_with_events(scorer: LabelScorer, test: LabelledTexts,
                       writer: RunWriter) -> tuple[np.ndarray, float]:
    """Score `test` with a tqdm bar (stderr, tty only) and an event every 5% of the texts."""
    from tqdm.auto import tqdm

    start = time.monotonic()
    every = max(1, len(test) // 20)
    rows: list[np.ndarray] = []
    with tqdm(total=len(test), desc="zero-shot scoring", unit="text", disable=None) as bar:
        for i, text in enumerate(test.texts, start=1):
            rows.append(scorer.predict_proba([text])[0])
            bar.update(1)
            if i % every == 0 or i == len(test):
                elapsed = time.monotonic() - start
                writer.event(stage="scoring", done=i, total=len(test), examples_per_s=round(i / elapsed, 3),
                             eta_s=round(elapsed / i * (len(test) - i), 1))
    probs = np.stack(rows) if rows else np.zeros((0, len(scorer.trie.label_lengths)))
    return probs, time.monotonic() - start
