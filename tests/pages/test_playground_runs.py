"""Which runs the Playground offers: text classifiers and reply writers only, never an endpoint run (it
lives at its endpoint) or a churn run (it scores accounts), whose configs a predictor cannot load."""

from __future__ import annotations

import pandas as pd

from pages._shared.playground_calls import classifier_runs, generation_runs


def test_only_loadable_runs_are_offered() -> None:
    runs = pd.DataFrame({"run_id": ["a", "b", "c", "d", "e", "f"],
                         "method": ["classic", "lora", "sft_lora", "endpoint", "churn_mlp", "zero_shot"]})
    assert list(classifier_runs(runs)["run_id"]) == ["a", "b", "f"]
    assert list(generation_runs(runs)["run_id"]) == ["c"]
