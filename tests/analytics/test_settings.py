"""analytics.settings: every STRATLAB_* variable parsed once, validated, and documented in README."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest

from analytics.errors import AnalyticsError, SettingsError
from analytics.settings import PROJECT_ROOT, Settings, env_name, settings, settings_table_markdown
from tests.support import ROOT

TABLE_START = "<!-- settings-table:start -->"
TABLE_END = "<!-- settings-table:end -->"


def readme_table() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert TABLE_START in text and TABLE_END in text, f"README.md lost its {TABLE_START} / {TABLE_END} lines"
    return text.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0].strip("\n") + "\n"


def test_readme_configuration_table_is_generated_from_settings() -> None:
    expected = settings_table_markdown()
    assert readme_table() == expected, (
        "README's Configuration table differs from analytics.settings; replace the lines between "
        f"{TABLE_START} and {TABLE_END} with the output of\n  .venv/bin/python -c 'from analytics.settings "
        f"import settings_table_markdown as t; print(t(), end=\"\")'\n\n{expected}")


def test_every_field_has_a_docstring_and_a_readme_row() -> None:
    table = settings_table_markdown()
    for f in dataclasses.fields(Settings):
        assert re.search(rf"^\| `{env_name(f.name)}` \| [^|]+ \| \S[^|]+ \|$", table, re.MULTILINE), f.name


def test_defaults_without_variables() -> None:
    s = Settings.from_env({})
    assert s == Settings()
    assert s.workspace == PROJECT_ROOT / "data" / "workspace.duckdb"
    assert s.runs_dir == PROJECT_ROOT / "data" / "runs" and s.jobs_dir == PROJECT_ROOT / "data" / "jobs"
    assert s.duckdb_memory == "2GB" and s.demo_events == 1_000_000 and s.inference_bench_s == 2.0
    assert s.max_jobs is None and s.gpus_per_job == 1 and s.model_dirs == () and s.password is None


def test_values_are_parsed_by_type(tmp_path: Path) -> None:
    s = Settings.from_env({
        "STRATLAB_RUNS_DIR": str(tmp_path / "runs"), "STRATLAB_MAX_JOBS": " 3 ",
        "STRATLAB_DEMO_EVENTS": "20000",
        "STRATLAB_INFERENCE_BENCH_S": "0", "STRATLAB_DATASET_MIRROR": f"  {tmp_path}  ",
        "STRATLAB_MODEL_DIRS": os.pathsep.join(["/a", " ", "~/b"]), "STRATLAB_PASSWORD": " s3cret ",
        "STRATLAB_DUCKDB_MEMORY": "700MB", "STRATLAB_GPUS_PER_JOB": "", "OTHER_RUNS_DIR": "/ignored"})
    assert s.runs_dir == tmp_path / "runs" and s.max_jobs == 3 and s.demo_events == 20_000
    assert s.inference_bench_s == 0.0 and s.dataset_mirror == tmp_path and s.duckdb_memory == "700MB"
    assert s.model_dirs == (Path("/a"), Path("~/b").expanduser())
    assert s.password == " s3cret " and "s3cret" not in repr(s)
    assert s.gpus_per_job == 1  # blank keeps the default


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("STRATLAB_MAX_JOBS", "zero", "STRATLAB_MAX_JOBS='zero' must be a whole number >= 1"),
    ("STRATLAB_MAX_JOBS", "0", "STRATLAB_MAX_JOBS=0 must be a whole number >= 1"),
    ("STRATLAB_GPUS_PER_JOB", "-2", "STRATLAB_GPUS_PER_JOB=-2 must be a whole number >= 1"),
    ("STRATLAB_DEMO_EVENTS", "1e6", "STRATLAB_DEMO_EVENTS='1e6' must be a whole number"),
    ("STRATLAB_INFERENCE_BENCH_S", "fast", "STRATLAB_INFERENCE_BENCH_S='fast' must be a number of seconds"),
    ("STRATLAB_INFERENCE_BENCH_S", "-1", "0 skips the benchmark"),
    ("STRATLAB_INFERENCE_BENCH_S", "nan", "STRATLAB_INFERENCE_BENCH_S=nan must be a number of seconds >= 0"),
    ("STRATLAB_DUCKDB_MEMORY", "lots", "STRATLAB_DUCKDB_MEMORY='lots' is not a DuckDB memory limit; use"),
    ("STRATLAB_DUCKDB_MEMORY", "4000000000", "e.g. 700MB or 4GB"),
    ("STRATLAB_TRAIN_FUNCTION", "tests.models.fake_train", "as 'package.module:function'"),
])
def test_bad_values_are_refused_with_the_fix(variable: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)) as info:
        Settings.from_env({variable: value})
    assert isinstance(info.value, AnalyticsError) and isinstance(info.value, ValueError)


def test_constructor_checks_too() -> None:
    with pytest.raises(SettingsError, match="STRATLAB_MAX_JOBS=0"):
        Settings(max_jobs=0)
    for memory in ("4GB", "4 GiB", "80%", "-1", "none", "1.5gb"):
        assert Settings(duckdb_memory=memory).duckdb_memory == memory


def test_settings_is_cached_and_follows_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    monkeypatch.setenv("STRATLAB_RUNS_DIR", str(tmp_path / "a"))
    first = settings()
    assert settings() is first and first.runs_dir == tmp_path / "a"
    monkeypatch.setenv("STRATLAB_RUNS_DIR", str(tmp_path / "b"))
    assert settings().runs_dir == tmp_path / "b"
    settings.cache_clear()
    monkeypatch.setenv("STRATLAB_MAX_JOBS", "many")
    with pytest.raises(SettingsError, match="STRATLAB_MAX_JOBS='many'"):
        settings()


def test_only_settings_reads_stratlab_variables() -> None:
    """Library and page code asks analytics.settings; only the settings module reads os.environ for them."""
    pattern = re.compile(r"(environ\.get|getenv|environ\[)\(?\s*[\"']STRATLAB_")
    offenders = [str(path.relative_to(ROOT)) for folder in ("models", "analytics", "pages")
                 for path in sorted((ROOT / folder).rglob("*.py")) if pattern.search(path.read_text("utf-8"))]
    offenders += ["app.py"] if pattern.search((ROOT / "app.py").read_text("utf-8")) else []
    assert offenders == []
