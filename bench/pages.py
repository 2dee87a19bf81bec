"""Render time of the analytics pages in AppTest, and proof that they do not import torch.

Renders Home, Data, Market and Metrics through app.py's navigation: the first run of each page is cold (the
workspace connection and cached queries start empty for Home; later pages share what Home warmed), then
`--warm` reruns of the same page are timed and their median is the page's warm render time (goal <= 1.5 s).
Run it as its own process: the torch check looks at this process's sys.modules after the four pages ran, and
names the import chain of the first module that imported torch.

    .venv/bin/python bench/pages.py    # 1M-event workspace in bench/out (built once, reused)
    .venv/bin/python bench/pages.py --events 30000 --warm 3 --workspace /tmp/ws.duckdb

Last line: home_s=<s> data_s=<s> market_s=<s> metrics_s=<s> torch_imported=<bool>
Exit status: 0, or 1 when a page raised an exception or a forbidden module (torch) was imported.
"""

from __future__ import annotations

import argparse
import importlib.abc
import logging
import os
import statistics
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = {
    "home": "pages/home.py",
    "data": "pages/data.py",
    "market": "pages/market.py",
    "metrics": "pages/metrics.py",
}
GOAL_S = 1.5
FORBIDDEN = ("torch",)
"""Modules the analytics pages must never import (torch costs seconds and memory at import)."""
CONTROL = {"market": "analytics.compute.market", "metrics": "analytics.compute.metrics"}
"""Page -> a module only that page imports: seeing it imported proves the page really ran its imports."""


class ImportWatch(importlib.abc.MetaPathFinder):
    """Records who first imports each watched top-level module; never changes what gets imported."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.first_import: dict[str, str] = {}

    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001 - importlib's signature
        top = fullname.partition(".")[0]
        if top in self.names and top not in self.first_import:
            frames = [f for f in traceback.extract_stack()[:-1] if "importlib._bootstrap" not in f.filename]
            chain = [f"{_short(f.filename)}:{f.lineno} {f.line or ''}".strip() for f in frames[-12:]]
            self.first_import[top] = "\n    ".join(chain)
        return None  # let the normal finders import it


def _short(filename: str) -> str:
    try:
        return str(Path(filename).resolve().relative_to(ROOT))
    except ValueError:
        return filename.split("site-packages/")[-1]


@dataclass
class PageTiming:
    """One page's render times in seconds."""

    name: str
    cold_s: float = float("nan")
    warm_s: list[float] = field(default_factory=list)
    error: str | None = None

    @property
    def median_warm_s(self) -> float:
        return statistics.median(self.warm_s) if self.warm_s else self.cold_s


def prepare_workspace(path: Path, events: int) -> float:
    """Create the sample workspace at `path` unless it exists; returns the seconds creating it took (0 if
    reused)."""
    if path.exists():
        return 0.0
    from analytics.db import Workspace

    start = time.perf_counter()
    Workspace.open(path, demo_events=events).close()
    return time.perf_counter() - start


def time_page(name: str, warm: int) -> PageTiming:
    """Render one page through app.py (cold), then `warm` reruns; stops at the first exception."""
    from streamlit.testing.v1 import AppTest

    timing = PageTiming(name)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    start = time.perf_counter()
    at.run()  # Home is the default page
    if PAGES[name] != "pages/home.py":
        at.switch_page(PAGES[name])
        start = time.perf_counter()
        at.run()
    timing.cold_s = time.perf_counter() - start
    for _ in range(warm):
        if at.exception:
            break
        start = time.perf_counter()
        at.run()
        timing.warm_s.append(time.perf_counter() - start)
    if at.exception:
        timing.error = "; ".join(str(e.message) for e in at.exception)[:500]
    return timing


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warm", type=int, default=5, help="timed reruns per page after the cold one")
    parser.add_argument("--events", type=int, default=1_000_000,
                        help="sample events when building the workspace")
    parser.add_argument("--workspace", type=Path, default=None,
                        help="workspace file (default bench/out/pages_<events>.duckdb, "
                        "built once and reused)")
    parser.add_argument("--pages", default=",".join(PAGES),
                        help="comma-separated subset of: " + ", ".join(PAGES))
    return parser.parse_args(argv)


def _report(timings: list[PageTiming], watch: ImportWatch, build_s: float, workspace: Path) -> bool:
    """Print the table and the summary line; True when every check passed."""
    print(f"workspace: {workspace} (built in {build_s:.1f} s)" if build_s
          else f"workspace: {workspace} (reused)")
    print(f"{'page':<8} {'cold_s':>7} {'warm_median_s':>14} {'warm_min_s':>10} {'runs':>5}  "
          f"goal<= {GOAL_S} s")
    for t in timings:
        low = min(t.warm_s) if t.warm_s else float("nan")
        verdict = ("ERROR: " + t.error if t.error else "cold only" if not t.warm_s
                   else "ok" if t.median_warm_s <= GOAL_S else "SLOW")
        print(f"{t.name:<8} {t.cold_s:7.3f} {t.median_warm_s:14.3f} {low:10.3f} {len(t.warm_s):5d}  "
              f"{verdict}")
    print("imported: " + " ".join(f"{m}={m in sys.modules}" for m in (*FORBIDDEN, *CONTROL.values())))
    for name in FORBIDDEN:
        if name in sys.modules:
            print(f"FORBIDDEN: {name} was imported; first import chain:\n"
                  f"    {watch.first_import.get(name, '?')}")
    torch_imported = "torch" in sys.modules
    print(" ".join(f"{t.name}_s={t.median_warm_s:.3f}" for t in timings)
          + f" torch_imported={torch_imported}")
    return not any(t.error for t in timings) and not any(n in sys.modules for n in FORBIDDEN)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    names = [n.strip() for n in args.pages.split(",") if n.strip()]
    unknown = set(names) - set(PAGES)
    if unknown:
        raise SystemExit(f"unknown page(s) {sorted(unknown)}; choose from {', '.join(PAGES)}")
    already = [n for n in FORBIDDEN if n in sys.modules]
    if already:
        raise SystemExit(f"{already} imported before any page ran; run this file as its own process")
    watch = ImportWatch(FORBIDDEN)
    sys.meta_path.insert(0, watch)
    workspace = args.workspace or ROOT / "bench" / "out" / f"pages_{args.events}.duckdb"
    workspace.parent.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    os.environ["STRATLAB_WORKSPACE"] = str(workspace)
    os.environ.setdefault("STRATLAB_RUNS_DIR", tempfile.mkdtemp(prefix="stratlab-bench-runs-"))
    os.environ.pop("STRATLAB_PASSWORD", None)
    # AppTest's bare-mode "missing ScriptRunContext" warnings are noise here.
    # (a filter, because Streamlit resets its loggers' levels when AppTest loads its config).
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(
        lambda record: "missing ScriptRunContext" not in record.getMessage())
    build_s = prepare_workspace(workspace, args.events)
    timings = [time_page(name, args.warm) for name in names]
    return 0 if _report(timings, watch, build_s, workspace) else 1


if __name__ == "__main__":
    sys.exit(main())
