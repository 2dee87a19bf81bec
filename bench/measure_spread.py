"""The same model measured three times by three measure jobs: do latency and throughput hold still?

    python bench/measure_spread.py                 # trains the run first (a queued job), then measures
    python bench/measure_spread.py --run DIR       # re-measures an existing succeeded run three times
    python bench/measure_spread.py --times 5

The run: a linear probe of all-MiniLM-L6-v2 on BANKING77 with 16 labelled texts per intent (the quick demo's
probe). Measurement 1 is the measure job its training job queues; the others are re-measures
(models.jobs.measure.submit_measure), each queued once the previous one has ended. Everything goes through
the queue with no server and no browser (one tick per submit; the job processes hand over). Goal: every p50
within ±15% and every throughput within ±10% of the median of the measurements.

Last line: `p50_ms=a,b,c p50_spread=x throughput=a,b,c throughput_spread=y load_average=l busy=n/3`, where
spread = max |value - median| / median over the measurements (0.08 = all within ±8%). The machine's load
average is printed too: a shared machine reads slower and noisier than an idle one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analytics.settings import settings  # noqa: E402
from models.core.config import TrainConfig  # noqa: E402
from models.jobs import queue as jobs  # noqa: E402
from models.jobs.measure import submit_measure  # noqa: E402

PROBE = dict(method="linear_probe", model="all-MiniLM-L6-v2", dataset="banking77",
             train_examples_per_class=16, seed=42)


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)  # noqa: T201


def wait_ended(job_id: str, timeout_s: float) -> jobs.JobInfo:
    """Wait (reading job folders, never ticking) until the job has ended; TimeoutError after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        info = jobs.get_job(job_id)
        if info.state not in jobs.ACTIVE_STATES:
            return info
        time.sleep(0.5)
    raise TimeoutError(f"job {job_id} did not end within {timeout_s:.0f} s; "
                       f"see {jobs.get_job(job_id).job_dir}")


def measure_jobs_of(run_dir: Path) -> list[jobs.JobInfo]:
    return [j for j in jobs.list_jobs() if j.kind == "measure" and j.run_dir == run_dir.resolve()]


def spread(values: list[float]) -> float:
    """max |value - median| / median: the ± band around the median that holds every value."""
    middle = statistics.median(values)
    return max(abs(v - middle) for v in values) / middle


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, help="an existing succeeded run folder (skips the training)")
    parser.add_argument("--times", type=int, default=3, help="measurements (default 3)")
    parser.add_argument("--out", type=Path, help="folder for runs and jobs (default: a fresh temporary one)")
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds to wait for each job at most")
    args = parser.parse_args()
    out = (args.out or Path(tempfile.mkdtemp(prefix="bench-measure-"))).resolve()
    mirror = settings().dataset_mirror or ROOT.parent / "shared" / "datasets"
    os.environ.update(STRATLAB_JOBS_DIR=str(out / "jobs"), STRATLAB_RUNS_DIR=str(out / "runs"),
                      HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
                      STRATLAB_DATASET_MIRROR=str(mirror))
    say(f"working in {out}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    records: list[dict] = []
    if args.run is None:
        train = jobs.submit(TrainConfig(runs_dir=str(out / "runs"), **PROBE))
        jobs.tick()
        say(f"training {train.run_id} (job {train.job_id})")
        trained = wait_ended(train.job_id, args.timeout)
        if trained.state != "succeeded":
            say(f"training {trained.state}: {trained.error}; log: {trained.job_dir / 'log.txt'}")
            return 1
        run_dir = trained.run_dir
        first = wait_until_queued_measure_ends(run_dir, args.timeout)
        records.append(read_record(first, run_dir))
    else:
        run_dir = args.run.resolve()
    while len(records) < args.times:
        info = submit_measure(run_dir, reason="re-measure")
        jobs.tick()
        records.append(read_record(wait_ended(info.job_id, args.timeout), run_dir))
    p50 = [r["p50_ms"] for r in records]
    rates = [r["throughput_per_s"] for r in records]
    loads = [r.get("load_average_1m") for r in records]
    busy = sum(bool(r.get("busy")) for r in records)
    result = {"run": run_dir.name, "p50_ms": p50, "throughput_per_s": rates,
              "p50_spread_within_each": [r.get("p50_spread") for r in records],
              "throughput_spread_within_each": [r.get("throughput_spread") for r in records],
              "others_cpu_share": [r.get("others_cpu_share") for r in records],
              "load_average_1m_start": [r.get("load_average_1m_start") for r in records],
              "load_average_1m_end": loads, "threads": [r.get("threads") for r in records], "busy": busy}
    print("RESULT measure_spread " + json.dumps(result), flush=True)  # noqa: T201
    print(f"p50_ms={','.join(f'{v:.2f}' for v in p50)} p50_spread={spread(p50):.3f} "  # noqa: T201
          f"throughput={','.join(f'{v:.1f}' for v in rates)} throughput_spread={spread(rates):.3f} "
          f"load_average={max(v for v in loads if v is not None):.2f} busy={busy}/{len(records)}", flush=True)
    return 0


def wait_until_queued_measure_ends(run_dir: Path, timeout_s: float) -> jobs.JobInfo:
    """The measure job the training job queued for its run, once it has ended."""
    found = measure_jobs_of(run_dir)
    if not found:
        raise RuntimeError(f"the training job queued no measure job for {run_dir}; is "
                           "STRATLAB_INFERENCE_BENCH_S 0?")
    return wait_ended(found[0].job_id, timeout_s)


def read_record(info: jobs.JobInfo, run_dir: Path) -> dict:
    if info.state != "succeeded":
        raise RuntimeError(f"measure job {info.job_id} {info.state}: {info.error}; "
                           f"log: {info.job_dir}/log.txt")
    record = json.loads((run_dir / "inference.json").read_text(encoding="utf-8"))
    say(f"{info.job_id}: p50 {record['p50_ms']:.2f} ms (repeats {record.get('p50_repeats_ms')}), "
        f"{record['throughput_per_s']:.1f}/s, busy={record.get('busy')}, "
        f"others {record.get('others_cpu_share')}, "
        f"load {record.get('load_average_1m_start')} -> {record.get('load_average_1m')}")
    return record


if __name__ == "__main__":
    sys.exit(main())
