"""The quick demo's plan: real candidates on one BANKING77 subset, queued once, nothing started by submit."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.errors import JobError
from models.jobs.demo_plan import (
    DEMO_EXAMPLES_PER_CLASS,
    LEARNING_CURVE,
    active_demo_jobs,
    quick_demo_configs,
    submit_quick_demo,
)
from models.jobs.queue import list_jobs


def test_demo_configs_are_three_methods_on_one_subset_then_learning_curve_points(tmp_path: Path) -> None:
    configs = quick_demo_configs(tmp_path)
    assert [c.method for c in configs[:3]] == ["classic", "linear_probe", "full"]
    assert {c.dataset for c in configs} == {"banking77"}
    assert all(c.train_examples_per_class == DEMO_EXAMPLES_PER_CLASS for c in configs[:3])
    finetune = configs[2]
    assert finetune.model == "all-MiniLM-L6-v2" and finetune.head_init == "probe"  # LP-FT
    assert not finetune.validate_every_epoch and finetune.early_stopping_patience == 0
    assert [(c.method, c.train_examples_per_class) for c in configs[3:]] == list(LEARNING_CURVE)
    assert all(per_class < DEMO_EXAMPLES_PER_CLASS for _, per_class in LEARNING_CURVE)
    assert {c.seed for c in configs} == {42}  # one seed: one split, one test set for every candidate
    assert len(quick_demo_configs(tmp_path, learning_curve=False)) == 3


def test_submit_queues_once(tmp_path: Path) -> None:
    jobs_dir = tmp_path / "jobs"
    jobs = submit_quick_demo(tmp_path / "runs", jobs_dir)
    assert len(jobs) == len(quick_demo_configs()) and {j.state for j in jobs} == {"queued"}
    assert len(active_demo_jobs(jobs_dir)) == len(jobs)
    with pytest.raises(JobError, match="already running"):
        submit_quick_demo(tmp_path / "runs", jobs_dir)
    assert len(list_jobs(jobs_dir)) == len(jobs)


def test_an_old_demo_fine_tune_is_not_taken_for_the_current_one(tmp_path: Path) -> None:
    from models.jobs.queue import submit

    old = quick_demo_configs(tmp_path / "runs")[2].replace(head_init="random", max_steps=80, epochs=2)
    submit(old, jobs_dir=tmp_path / "jobs")
    assert active_demo_jobs(tmp_path / "jobs") == []


def test_the_outlook_says_the_subset_and_scales_for_a_single_core(monkeypatch: pytest.MonkeyPatch) -> None:
    from models.jobs import demo_plan

    two = demo_plan.demo_outlook()
    assert (two.runs, two.n_train, two.n_train_total, two.n_test) == (len(quick_demo_configs()), 16 * 77,
                                                                      9003, 3080)
    assert two.estimate.first_candidate_s < two.estimate.three_candidates_s < two.estimate.all_s
    monkeypatch.setattr(demo_plan.os, "cpu_count", lambda: 1)
    one = demo_plan.demo_outlook()
    assert one.cpu_cores == 1 and one.estimate.all_s == pytest.approx(2 * two.estimate.all_s)
