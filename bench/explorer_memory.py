"""Peak memory of the SQL explorer's worst queries, each in a fresh process, against the baseline of the
same process running `select 1`. Prints one line per query and the worst peak above the baseline.

    python bench/explorer_memory.py [--events 20000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

QUERIES = {
    "baseline": "select 1",
    "100M rows": "select * from range(100000000)",
    "1 MB cells x 2000 rows": "select repeat('x', 1000000) as c from range(2000)",
    "100 MB cells x 50 rows": "select repeat('x', 100000000) as c from range(50)",
    "one 400 MB string": "select string_agg('x', '') as c from range(400000000)",
    "one 50M-item list": "select list(range) as l from range(50000000)",
    "wide rows": (
        "select " + ", ".join(f"repeat('y', 20000) as c{i}" for i in range(400)) + " from range(2000)"
    ),
    "sorted cross join": (
        "select a.range as a, b.range as b from range(100000) a, range(100000) b "
        "order by random()"
    ),
    "endless recursion": (
        "with recursive r(n) as (select 1 union all select n + 1 from r) "
        "select count(*) from r"
    ),
    "all events, all types": "select *, e::varchar as whole from events e",
}

CHILD = r"""
import json, resource, sys, time
from analytics.db import Workspace
from analytics.compute import explorer
from analytics.errors import QueryError
ws = Workspace.open(sys.argv[1], seed_demo=True, demo_events=int(sys.argv[3]))
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
try:
    result = explorer.run_query(ws, sys.argv[2])
    outcome = f"{len(result.frame):,} rows; " + "; ".join(result.notes)
except QueryError as e:
    outcome = f"{type(e).__name__}: {str(e)[:90]}"
wall = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
ws.close()
print(json.dumps({"peak_mb": peak / 1024, "open_mb": base / 1024, "wall_s": wall, "outcome": outcome}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20000, help="sample events in the workspace")
    args = parser.parse_args()
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        ws = str(Path(tmp) / "ws.duckdb")
        subprocess.run([sys.executable, "-c", CHILD, ws, "select 1", str(args.events)], cwd=root, check=True,
                       capture_output=True)
        rows = {}
        for label, sql in QUERIES.items():
            out = subprocess.run([sys.executable, "-c", CHILD, ws, sql, str(args.events)], cwd=root,
                                 capture_output=True, text=True, timeout=120)
            if out.returncode:
                print(f"{label}: child failed rc={out.returncode}: {out.stderr[-300:]}")
                continue
            rows[label] = json.loads(out.stdout.strip().splitlines()[-1])
            r = rows[label]
            print(f"{label:24s} peak {r['peak_mb']:7.0f} MB  wall {r['wall_s']:5.1f} s  {r['outcome']}")
    base = rows["baseline"]["peak_mb"]
    worst = max((r["peak_mb"] - base, label) for label, r in rows.items())
    print(f"worst_over_baseline_mb={worst[0]:.0f} ({worst[1]}) baseline_peak_mb={base:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
