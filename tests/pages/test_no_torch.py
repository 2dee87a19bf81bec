"""Home, Data, Market and Metrics render without importing torch (checked in a fresh process).

Runs bench/pages.py in a subprocess on a copy of the session's sample workspace: it renders the four pages
through app.py in AppTest, then reports which watched modules are in sys.modules. A page (or anything it
imports, e.g. pages/_shared/ or analytics/) that imports torch makes this fail with the import chain.
The control modules (imported only by the Market and Metrics pages) show the pages really ran their imports.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_analytics_pages_do_not_import_torch(template_workspace: Path, tmp_path: Path) -> None:
    workspace = tmp_path / "workspace.duckdb"
    shutil.copy(template_workspace, workspace)
    env = dict(os.environ, STRATLAB_RUNS_DIR=str(tmp_path / "runs"), STRATLAB_JOBS_DIR=str(tmp_path / "jobs"))
    env.pop("STRATLAB_PASSWORD", None)
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "pages.py"), "--warm", "0", "--workspace", str(workspace)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    output = done.stdout + done.stderr
    imported = dict(re.findall(r"(\S+)=(True|False)", _line(output, "imported: ")))
    assert imported.get("torch") == "False", f"a page imported torch:\n{output}"
    assert imported.get("analytics.compute.market") == "True", (
        f"the Market page did not run its imports:\n{output}")
    assert imported.get("analytics.compute.metrics") == "True", (
        f"the Metrics page did not run its imports:\n{output}")
    assert done.returncode == 0, f"bench/pages.py failed (a page raised?):\n{output}"
    assert "torch_imported=False" in output.strip().splitlines()[-1], output


def _line(output: str, prefix: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith(prefix)]
    assert lines, f"no {prefix!r} line in bench/pages.py output:\n{output}"
    return lines[-1]
