"""The quick demo: real candidates on a BANKING77 subset, small enough to finish in minutes on 2 CPU cores.

Three methods trained on the same stratified subset (DEMO_EXAMPLES_PER_CLASS labelled texts per intent) and
scored on the full 3,080-text test set, so the Compare page has a cost-accuracy frontier to draw:
    classic       TF-IDF + logistic regression (seconds)
    linear_probe  frozen all-MiniLM-L6-v2 embeddings + logistic regression
    full          a short fine-tune of all-MiniLM-L6-v2 (max_steps capped)
then, budget allowing, learning-curve points: classic and linear probe at fewer examples per class.
No torch is imported here: the page submits these through models.jobs.queue, which runs each in its own
process.
"""

from __future__ import annotations

from pathlib import Path

from analytics.settings import settings
from models.core.config import TrainConfig
from models.jobs.queue import JobInfo, list_jobs, submit

DEMO_DATASET = "banking77"
DEMO_MODEL = "all-MiniLM-L6-v2"
DEMO_EXAMPLES_PER_CLASS = 16
"""Labelled texts per intent for the three main candidates (77 intents: 1,232 texts)."""
LEARNING_CURVE_EXAMPLES = (4, 8)
"""Extra, smaller subsets for the learning curve (the main runs give the last point)."""
FINETUNE_MAX_STEPS = 80
"""Optimizer steps of the demo fine-tune (batch 32: about two passes over the subset)."""
DEMO_TAG = "quickdemo"


def quick_demo_configs(runs_dir: str | Path | None = None, *, learning_curve: bool = True,
                       num_threads: int | None = 2) -> list[TrainConfig]:
    """The demo's TrainConfigs in submission order (the cheapest first, so the page fills early).

    runs_dir: where the runs are written; None for `settings().runs_dir` ($STRATLAB_RUNS_DIR, data/runs).
    """
    folder = settings().runs_dir if runs_dir is None else runs_dir
    common = {"dataset": DEMO_DATASET, "runs_dir": str(folder), "num_threads": num_threads, "seed": 42}
    configs = [
        TrainConfig(method="classic", train_examples_per_class=DEMO_EXAMPLES_PER_CLASS, **common),
        TrainConfig(method="linear_probe", model=DEMO_MODEL, train_examples_per_class=DEMO_EXAMPLES_PER_CLASS,
                    **common),
        TrainConfig(method="full", model=DEMO_MODEL, train_examples_per_class=DEMO_EXAMPLES_PER_CLASS,
                    max_steps=FINETUNE_MAX_STEPS, epochs=2, learning_rate=3e-4, batch_size=32,
                    early_stopping_patience=0, **common),
    ]
    if learning_curve:
        for k in LEARNING_CURVE_EXAMPLES:
            configs.append(TrainConfig(method="classic", train_examples_per_class=k, **common))
            configs.append(TrainConfig(method="linear_probe", model=DEMO_MODEL, train_examples_per_class=k,
                                       **common))
    return configs


def submit_quick_demo(runs_dir: str | Path | None = None, jobs_dir: str | Path | None = None, *,
                      learning_curve: bool = True) -> list[JobInfo]:
    """Queue every demo config as a job (they run one after another on a CPU); returns the jobs.

    Raises JobError when a demo is already queued or running (one click, one demo).
    """
    from models.errors import JobError

    if active_demo_jobs(jobs_dir):
        raise JobError("the quick demo is already running; its candidates appear here as they finish")
    return [submit(config, jobs_dir=jobs_dir)
            for config in quick_demo_configs(runs_dir, learning_curve=learning_curve)]


def active_demo_jobs(jobs_dir: str | Path | None = None) -> list[JobInfo]:
    """Queued or running jobs whose config is one of the demo's (same dataset, method and subset size)."""
    wanted = {_signature(c.to_dict()) for c in quick_demo_configs()}
    return [j for j in list_jobs(jobs_dir) if j.is_active and _signature(j.config) in wanted]


def _signature(config: dict) -> tuple[object, ...]:
    return (config.get("dataset"), config.get("method"), config.get("train_examples_per_class"),
            config.get("max_steps"))
