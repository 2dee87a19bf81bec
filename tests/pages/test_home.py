"""Home in AppTest: it opens with what to do (the quick demo, every next step linked), then formatted
headline counts, the user's tables, and the app's own tables and the dataset catalog folded away."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pages.apptest import new_app

DATAFRAME = "dataframe"
PAGES = ("data", "market", "metrics", "finetune", "playground", "compare")


def _ok(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _links(at) -> list[str]:
    return [link.proto.page for link in at.get("page_link")]


def test_home_starts_with_the_demo_and_links_every_next_step(app_env: Path) -> None:
    at = new_app()
    _ok(at)
    demo = at.button(key="home_demo")
    assert demo.label == "Run the quick demo" and demo.proto.type == "primary"
    links = _links(at)
    for target in PAGES:
        assert any(target in link for link in links), f"no link to {target}: {links}"
    # The action comes first: the demo button and the next steps are rendered before any table.
    kinds = [e.type for e in _walk(at.main)]
    assert kinds.index("button") < kinds.index(DATAFRAME), kinds
    assert kinds.index("page_link") < kinds.index(DATAFRAME), kinds


def _walk(node):
    for child in getattr(node, "children", {}).values():
        yield child
        yield from _walk(child)


def test_counts_are_formatted_and_app_tables_are_folded_away(app_env: Path) -> None:
    at = new_app()
    _ok(at)
    metrics = {m.label: m.value for m in at.metric}
    events = metrics["Product events"]
    assert events.endswith("k") or events.endswith("M"), metrics  # about 30,000 sample events read '29.4k'
    assert metrics["Accounts"].replace(",", "").rstrip("k").replace(".", "").isdigit(), metrics
    assert int(metrics["Your tables"]) >= 6  # the six sample tables
    yours, internal, catalog = (d.value for d in at.dataframe)
    assert {"events", "accounts", "market_segments"} <= set(yours["table"])
    assert not {"runs", "schema_migrations", "prices"} & set(yours["table"]), "app tables in the main list"
    assert {"runs", "schema_migrations"} <= set(internal["table"])
    events_rows = yours.loc[yours["table"] == "events", "rows"].iloc[0]
    assert "," in events_rows, f"row counts are written with separators, got {events_rows!r}"
    assert "banking77" in set(catalog["dataset"]) and catalog.loc[
        catalog["dataset"] == "banking77", "rows"].iloc[0] == "13,083"
    labels = [e.label for e in at.expander]
    assert any(label.startswith("App-internal tables") for label in labels), labels
    assert any(label.startswith("Datasets for models") for label in labels), labels


def test_the_demo_button_queues_the_demo_and_opens_compare(app_env: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from pages._shared import compare as compare_view

    submitted = []
    monkeypatch.setattr(compare_view, "submit_quick_demo", lambda: submitted.append(1) or ["job"])
    at = new_app()
    at.button(key="home_demo").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert submitted == [1], "the button did not queue the demo"
    assert at.title[0].value == "Compare", [t.value for t in at.title]


def test_a_running_demo_links_to_compare_instead_of_queueing_again(app_env: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from pages._shared import compare as compare_view

    monkeypatch.setattr(compare_view, "demo_jobs", lambda: ["a", "b"])
    at = new_app()
    _ok(at)
    assert not [b for b in at.button if b.key == "home_demo"], "a second demo must not be queued"
    assert "Quick demo running: 2 candidate(s) to finish" in " ".join(c.value for c in at.caption)
    assert any("compare" in link for link in _links(at))
