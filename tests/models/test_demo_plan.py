"""The quick demo's plan: real candidates on one BANKING77 subset, queued once, nothing started by submit."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.errors import JobError
from models.jobs.demo_plan import (
    DEMO_EXAMPLES_PER_CLASS,
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
    assert configs[2].max_steps is not None and configs[2].model == "all-MiniLM-L6-v2"
    assert sorted({c.train_examples_per_class for c in configs[3:]}) == [4, 8]
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
