"""The classifier server's request reading and answer shaping, and load-test inputs (no server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from models.errors import ServingError


def test_last_user_message_is_the_text() -> None:
    from models.serving.server.classifier_server import ChatMessage, ChatRequest, last_user_text

    messages = [ChatMessage(role="system", content="labels..."), ChatMessage(role="user", content="example"),
                ChatMessage(role="assistant", content="card arrival"),
                ChatMessage(role="user", content=[{"type": "text", "text": "my card"},
                                                  {"type": "image_url", "image_url": {"url": "x"}},
                                                  {"type": "text", "text": "is late"}])]
    assert last_user_text(messages) == "my card\nis late"
    assert last_user_text(messages[:3]) == "example"
    with pytest.raises(ValueError, match="no user message"):
        ChatRequest(model="m", messages=[{"role": "system", "content": "x"}])
    with pytest.raises(ValueError, match="n=1"):
        ChatRequest(model="m", messages=[{"role": "user", "content": "x"}], n=2)


def test_structured_content_fills_the_schema_field() -> None:
    from models.serving.server.classifier_server import structured_content

    assert structured_content("card_arrival", None) == "card_arrival"
    enum = {"type": "json_schema", "json_schema": {"schema": {"type": "object", "properties": {
        "intent": {"type": "string", "enum": ["Card arrival", "Lost card"]}}}}}
    assert json.loads(structured_content("card_arrival", enum)) == {"intent": "Card arrival"}
    free = {"type": "json_schema", "json_schema": {"schema": {"type": "object", "required": ["answer"],
                                                              "properties": {"answer": {"type": "string"}}}}}
    assert json.loads(structured_content("pos", free)) == {"answer": "pos"}
    assert json.loads(structured_content("pos", {"type": "json_object"})) == {"label": "pos"}


def test_concurrency_and_prompt_files(tmp_path: Path) -> None:
    from models.serving.server.loadtest import parse_concurrency, read_prompts

    assert parse_concurrency("1, 4,16") == (1, 4, 16)
    for bad in ("", "0,4", "a", "1,1000"):
        with pytest.raises(ServingError, match="--concurrency"):
            parse_concurrency(bad)
    path = tmp_path / "prompts.jsonl"
    path.write_text('{"prompt": "first"}\n{"text": "second"}\n\nplain line\n"quoted"\n')
    assert read_prompts(path) == ("first", "second", "plain line", "quoted")
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(ServingError, match="no prompts"):
        read_prompts(tmp_path / "empty.txt")
    with pytest.raises(ServingError, match="cannot read"):
        read_prompts(tmp_path / "missing.txt")


def test_serving_file_that_is_not_a_record_is_refused(tmp_path: Path) -> None:
    from models.serving.server.loadtest import ServingRecord, write_serving_record

    (tmp_path / "serving.json").write_text("not json")
    record = ServingRecord("2026-01-01T00:00:00+00:00", "http://x/v1", "m", "external", None, None, None,
                           None, 1.0)
    with pytest.raises(ServingError, match="not a serving record"):
        write_serving_record(tmp_path, record)
