"""Run folders' event schema: events.jsonl written and read through models.core.runs.Event."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest

from models.core.config import TrainConfig
from models.core.runs import EVENT_KINDS, EVENT_STAGES, Event, RunWriter, read_events
from models.errors import RunFolderError
from tests.support import ROOT


@pytest.fixture
def writer(tmp_path: Path) -> RunWriter:
    return RunWriter.create(TrainConfig(method="classic", runs_dir=str(tmp_path), run_name="events"))


def test_written_events_read_back_typed_with_their_extra_figures(writer: RunWriter) -> None:
    writer.event(kind="start", total_steps=10, device="cpu", resumed_from_step=None, lean_forward=True)
    writer.event(kind="step", step=2, epoch=0.2, loss=np.float32(0.5), samples_per_s=12.5, memory_bytes=123)
    writer.event(stage="evaluated", split="test", n=20, accuracy=0.75)
    start, step, evaluated = read_events(writer.run_dir)
    assert (start.kind, start.total_steps, start.device) == ("start", 10, "cpu")
    assert start.extra == {"lean_forward": True}  # resumed_from_step=None is left out
    assert (step.name, step.step, step.epoch, step.loss, step.memory_bytes) == ("step", 2, 0.2, 0.5, 123)
    assert (evaluated.kind, evaluated.name, evaluated.extra) == (None, "evaluated",
                                                                 {"split": "test", "n": 20, "accuracy": 0.75})
    assert all(e.time and e.elapsed_s is not None for e in (start, step, evaluated))


def test_json_lines_keep_the_keys_readers_know(writer: RunWriter) -> None:
    writer.event(kind="epoch", epoch=1, step=6, val_accuracy=0.6, improved=True, stopped_early=False)
    line = (writer.run_dir / "events.jsonl").read_text().splitlines()[0]
    value = json.loads(line)
    assert {k: value[k] for k in ("kind", "epoch", "step", "val_accuracy", "improved", "stopped_early")} == {
        "kind": "epoch", "epoch": 1, "step": 6, "val_accuracy": 0.6, "improved": True, "stopped_early": False}
    assert isinstance(value["epoch"], int)  # analytics tells epoch events by a whole epoch number
    assert Event.from_json(line).to_dict() == value


def test_hand_written_and_torn_lines(tmp_path: Path) -> None:
    lines = [json.dumps({"kind": "start", "total_steps": 10}), json.dumps([1, 2]), '{"kind": "st']
    (tmp_path / "events.jsonl").write_text("\n".join(lines))
    assert read_events(tmp_path) == [Event(kind="start", total_steps=10)]
    assert read_events(tmp_path / "missing") == []


@pytest.mark.parametrize("figures, message", [
    ({"kind": "stpe"}, "unknown event kind 'stpe'"),
    ({"stage": "warming"}, "unknown event stage 'warming'"),
    ({"kind": "step", "stage": "trained"}, "a kind or a stage, not both"),
    ({"step": 3}, "a kind or a stage, not both or neither"),
])
def test_writer_refuses_events_outside_the_schema(writer: RunWriter, figures: dict, message: str) -> None:
    with pytest.raises(RunFolderError, match=message):
        writer.event(**figures)
    assert not (writer.run_dir / "events.jsonl").exists()


def test_every_event_name_the_engine_writes_is_in_the_schema() -> None:
    written = set()
    for path in (ROOT / "models").rglob("*.py"):
        # writer.event(kind="step", ...) or an event dict {"kind": "step", ...}
        text = path.read_text(encoding="utf-8")
        written |= set(re.findall(r'(?:event\(|\{)\s*"?(kind|stage)"?\s*[=:]\s*"(\w+)"', text))
    assert ("kind", "step") in written and ("stage", "evaluated") in written
    assert {name for what, name in written if what == "kind"} <= set(EVENT_KINDS)
    assert {name for what, name in written if what == "stage"} <= set(EVENT_STAGES)


def test_analytics_reads_only_keys_the_schema_names() -> None:
    """analytics/ingest/runs.py reads events.jsonl itself (analytics does not import models): the keys it
    reads must be Event's field names, so that a renamed field fails here."""
    source = (ROOT / "analytics" / "ingest" / "runs.py").read_text(encoding="utf-8")
    event_part = source[source.index("def _started_at"):source.index("def _prediction_rows")]
    keys = set(re.findall(r'\b(?:e|start)(?:\.get\(|\[)"(\w+)"', event_part))
    assert {"kind", "time", "device", "samples_per_s", "loss", "epoch", "val_accuracy"} <= keys
    assert keys <= {f.name for f in dataclasses.fields(Event)}
