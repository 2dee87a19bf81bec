"""`python -m models.jobs.watchdog <job_dir> <pid> <start_time>`: keeps the queue going when a job process
dies without handing over (SIGKILL, the kernel's out-of-memory killer).

A job process (models.jobs.runner) starts one for itself, detached in its own session so that a kill of the
job's process group leaves it alive. It sleeps, looking at /proc/<pid>/stat every POLL_S seconds; once the
process is gone (or a zombie, or the pid was reused: another start time) it exits at once if the job wrote
exit.json (the runner handed its slot on itself), and otherwise ticks the queue like a finishing job does:
the job becomes 'interrupted' (resumable) and the next queued job starts. Linux only (elsewhere the runner
does not start it). Costs one sleeping interpreter per running job; imports the queue only at the end.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

POLL_S = 2.0
"""Seconds between two looks at the job process."""


def alive(pid: int, start_time: int | None) -> bool:
    """Is `pid` the process that started at `start_time` (clock ticks since boot), and not a zombie?"""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0] not in ("Z", "X", "x") and (start_time is None or int(fields[19]) == start_time)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        sys.stderr.write("usage: python -m models.jobs.watchdog <job_dir> <pid> <start_time> "
                         "(started by models.jobs.runner)\n")
        return 2
    job_dir, pid = Path(args[0]), int(args[1])
    start_time = int(args[2]) if args[2].isdigit() else None
    while alive(pid, start_time):
        time.sleep(POLL_S)
    if (job_dir / "exit.json").is_file():
        return 0  # the job ended normally and handed its slot on
    import logging

    from models.jobs.runner import hand_over

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger(__name__).warning("job %s: process %d ended without exit.json; ticking the queue",
                                        job_dir.name, pid)
    try:
        job = json.loads((job_dir / "job.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        job = {}
    hand_over(job_dir, job)
    return 0


if __name__ == "__main__":
    sys.exit(main())
