"""Which queued jobs start now: the queue's one scheduling rule, a pure function (no files, no processes).

Measure jobs (models.jobs.measure) time inference, so they run alone: one starts only when no other job of
this queue is running, and while it runs nothing else starts. They come first in the queue, ahead of older
training jobs, so that a finished training run gets its latency and cost figures (and appears on the Compare
page) before the next training job takes the machine. A queued measure job at the head blocks new starts
until the running jobs have drained (on a GPU machine several run at once): it is never starved. Every other
job starts oldest first, up to the concurrency limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

MEASURE_KIND = "measure"


class _Job(Protocol):
    job_id: str
    kind: str
    created_at: str


def queue_order(queued: Sequence[_Job]) -> list[_Job]:
    """Queued jobs in start order: measure jobs first, then by submission time (then id)."""
    return sorted(queued, key=lambda j: (j.kind != MEASURE_KIND, j.created_at, j.job_id))


def pick_starts(running: Sequence[_Job], queued: Sequence[_Job], limit: int) -> list[_Job]:
    """The queued jobs to start now, in order, given the running ones and the concurrency limit."""
    if any(j.kind == MEASURE_KIND for j in running):
        return []  # a measurement runs alone
    starts: list[_Job] = []
    slots = limit - len(running)
    for job in queue_order(queued):
        if job.kind == MEASURE_KIND:
            return [] if running else [job]  # (first in order) wait for the others; start nothing new
        if slots <= 0:
            break
        starts.append(job)
        slots -= 1
    return starts
