"""Reading a run folder's files: its JSON files (status.json, config.json, eval.json, inference.json,
serving.json, ...) and its parquet tables (predictions, generations, churn scores), one reader of each, so
that every file the ingest reads is refused with the same message when it is broken or of another shape."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

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


def read_parquet_columns(path: Path, columns: Sequence[str]) -> pd.DataFrame:
    """The table in the parquet file `path` (which must exist: each caller says why a missing one matters).
    Raises RunIngestError when it cannot be read or lacks one of `columns`, naming the ones it has."""
    try:
        frame = pd.read_parquet(path)
    except Exception as e:  # noqa: BLE001 - pyarrow raises several types for a torn or foreign file
        raise RunIngestError(f"cannot read {path}: {e}") from e
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise RunIngestError(f"{path} lacks columns {missing}; it has: {', '.join(map(str, frame.columns))}")
    return frame
