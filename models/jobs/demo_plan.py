"""The quick demo: real candidates on a BANKING77 subset, small enough to finish in minutes on 2 CPU cores.

Three methods trained on the same stratified subset (DEMO_EXAMPLES_PER_CLASS labelled texts per intent) and
scored on the full 3,080-text test set, so the Compare page has a cost-accuracy frontier to draw:
    classic       TF-IDF + logistic regression (seconds)
    linear_probe  frozen all-MiniLM-L6-v2 embeddings + logistic regression
    full          LP-FT: all-MiniLM-L6-v2 with its head initialised from a linear probe on its own
                  features (C = FINETUNE_HEAD_C), then every layer fine-tuned for FINETUNE_EPOCHS epochs
                  (Kumar et al. 2022)
then, budget allowing, learning-curve points (LEARNING_CURVE): cheaper runs at fewer examples per class.
The order is the cheapest first, so the page fills early. Each training job is followed by its exclusive
measure job (models.jobs.measure). A GPU machine runs the same configs (same recipe), only faster.
No torch is imported here: the page submits these through models.jobs.queue, which runs each in its own
process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from analytics.settings import settings
from models.core.config import TrainConfig
from models.jobs.queue import JobInfo, cuda_device_count, list_jobs, submit
from models.planning.estimate import DemoEstimate, quick_demo_estimate

DEMO_DATASET = "banking77"
DEMO_MODEL = "all-MiniLM-L6-v2"
DEMO_EXAMPLES_PER_CLASS = 16
"""Labelled texts per intent for the three main candidates (77 intents: 1,232 of the 9,003 training texts)."""
LEARNING_CURVE: tuple[tuple[str, int], ...] = (("classic", 4), ("classic", 8), ("linear_probe", 8))
"""Extra (method, examples per class) runs for the learning curve, after the three main candidates (which
give the 16-per-class points). The probe at 4 per class is left out: each probe run embeds the 3,080 test
texts, and the whole demo must stay within 5 minutes on 2 CPU cores."""
FINETUNE_EPOCHS = 4
"""Passes of the LP-FT fine-tune over the subset (batch 32: 39 steps each, 156 in all)."""
FINETUNE_LEARNING_RATE = 2e-4
"""Peak learning rate of the LP-FT fine-tune (1e-4 gave the same accuracy with the stiffer C=10 head)."""
FINETUNE_HEAD_C = 1.0
"""Inverse L2 strength of the probe that initialises the fine-tune's head (TrainConfig.classic_c). A softer
head than the linear_probe method's C=10 leaves the body more to learn: 88.1% against 87.6% (C=10) and
the probe's 87.4% on the same 1,000 test texts."""
FINETUNE_BATCH_SIZE = 32
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
        finetune_config(**common),
    ]
    if learning_curve:
        for method, per_class in LEARNING_CURVE:
            model = {} if method == "classic" else {"model": DEMO_MODEL}
            configs.append(TrainConfig(method=method, train_examples_per_class=per_class, **model, **common))
    return configs


def finetune_config(**common: object) -> TrainConfig:
    """The demo's fine-tune: LP-FT (head_init='probe'), a few epochs at a small learning rate, validated once.

    Per-epoch validation is skipped (validate_every_epoch=False: 1,000 texts per epoch would cost more than
    an epoch of training on the subset); the last epoch's weights are the model, scored on the full test set.
    """
    return TrainConfig(method="full", model=DEMO_MODEL, train_examples_per_class=DEMO_EXAMPLES_PER_CLASS,
                       head_init="probe", classic_c=FINETUNE_HEAD_C, epochs=FINETUNE_EPOCHS,
                       learning_rate=FINETUNE_LEARNING_RATE, batch_size=FINETUNE_BATCH_SIZE,
                       validate_every_epoch=False, early_stopping_patience=0, **common)  # type: ignore[arg-type]


@dataclass(frozen=True)
class DemoOutlook:
    """What the page says before the click: how long the demo takes here and what it trains on."""

    estimate: DemoEstimate
    """Expected seconds from the click on 2 CPU cores (models.planning.estimate.quick_demo_estimate)."""
    runs: int
    """Training runs the demo queues (each followed by a measure job)."""
    examples_per_class: int
    n_train: int
    """Training texts of the main candidates (the subset)."""
    n_train_total: int
    """Training texts of the whole split (what a full run would use)."""
    n_test: int
    """Test texts every candidate is scored on (the whole test split)."""
    cpu_cores: int
    gpu: bool
    """A CUDA GPU is visible: the same runs take a fraction of the CPU figures."""


def demo_outlook(*, learning_curve: bool = True) -> DemoOutlook:
    """The demo's expected duration on this machine and its subset, without loading data or torch.

    Fewer than 2 cores scale the 2-core figures up (the demo asks for 2 threads); a GPU is only flagged.
    """
    from models.data.catalog import get_entry

    entry = get_entry(DEMO_DATASET)
    labels = int(entry.num_labels or 0)
    configs = quick_demo_configs("runs", learning_curve=learning_curve)
    estimate = quick_demo_estimate(configs, n_validation=entry.rows["validation"], n_test=entry.rows["test"],
                                   num_labels=labels)
    cores = os.cpu_count() or 1
    if cores < 2:
        scale = 2 / cores
        estimate = DemoEstimate(estimate.first_candidate_s * scale, estimate.three_candidates_s * scale,
                                estimate.all_s * scale, tuple(s * scale for s in estimate.job_s),
                                estimate.formula + f"; x{scale:g} for {cores} core")
    return DemoOutlook(estimate, len(configs), DEMO_EXAMPLES_PER_CLASS, DEMO_EXAMPLES_PER_CLASS * labels,
                       entry.rows["train"], entry.rows["test"], cores, cuda_device_count() > 0)


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
    """Queued or running jobs whose config is one of the demo's (same dataset, method, subset and recipe)."""
    wanted = {_signature(c.to_dict()) for c in quick_demo_configs()}
    return [j for j in list_jobs(jobs_dir) if j.is_active and _signature(j.config) in wanted]


def _signature(config: dict) -> tuple[object, ...]:
    return (config.get("dataset"), config.get("method"), config.get("train_examples_per_class"),
            config.get("max_steps"), config.get("head_init", "random"), config.get("epochs"))
