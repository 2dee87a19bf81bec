"""Reading a run folder's JSON files (status.json, config.json, eval.json, inference.json, serving.json, ...):
one reader, so that every file the ingest reads is refused with the same message when it is missing, broken or
not a JSON object."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from analytics.errors import RunIngestError


def read_json_object(path: Path, *, required: bool) -> dict[str, Any] | None:
    """The JSON object in `path`; None when the file is absent and not `required`. Raises RunIngestError
    when a required file is missing, the file cannot be read or parsed, or it holds no JSON object."""
    if not path.is_file():
        if required:
            raise RunIngestError(f"{path} is missing; the run folder is incomplete")
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise RunIngestError(f"cannot read {path}: {e}") from e
    if not isinstance(value, dict):
        raise RunIngestError(f"{path} must hold a JSON object")
    return value
