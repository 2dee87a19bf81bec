"""The app ticks the job queue once per server process (pages._shared.page.queue_ticked_at_start), and a
failing tick never breaks a page."""

from __future__ import annotations

import pytest

from models.jobs import queue
from pages._shared import page


def test_the_queue_is_ticked_once_per_process_and_a_failure_is_swallowed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def broken_tick(*args: object, **kwargs: object) -> list:
        calls.append(1)
        raise OSError("jobs dir unreadable")

    monkeypatch.setattr(queue, "tick", broken_tick)
    page.queue_ticked_at_start.clear()
    try:
        assert page.queue_ticked_at_start() is False
        assert page.queue_ticked_at_start() is False
        assert calls == [1]
        monkeypatch.setattr(queue, "tick", lambda *a, **k: calls.append(2) or [])
        page.queue_ticked_at_start.clear()  # a new server process
        assert page.queue_ticked_at_start() is True and calls == [1, 2]
    finally:
        page.queue_ticked_at_start.clear()
