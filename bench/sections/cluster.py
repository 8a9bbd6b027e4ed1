"""class-grade on real Dask processes: 1 and 2 workers, the cost of distribution, a local -j 2 beside them.

A `dask scheduler` and `dask worker` processes (one thread each) run on 127.0.0.1, started and stopped by
pid (autograder.daskprocs). The class section's class is graded with `--scheduler` on 1 worker, then on 2,
each run executing every notebook again (`--fresh`); beside them, the class section's run on the local cluster
of `-j 2` (made here when that section did not run). The distribution overhead
is measured on its own: a few notebooks sent one at a time, the round trip on this side minus the
execution time the worker reports (serialising the notebook and the student's files, scheduling, sending
the executed notebook back). Targets (2 cores): overhead at most 10 % of a notebook's grading time;
2 workers at least 1.7x the throughput of 1.
"""
from __future__ import annotations

import statistics
import time

from autograder.checkout import ASSIGNMENT
from bench import shared
from bench.context import Bench, fmt_s
from bench.measure import grading_env

NAME = "cluster"
OVERHEAD_SAMPLES = 3
CLASS_OF = 3000  # the projection: 3,000 students x every notebook
MAX_OVERHEAD_PCT = 10.0
MIN_SPEEDUP = 1.7


def _overhead(address: str, course_root, student: str) -> dict:
    """Send a student's notebooks one at a time: round trip here, execution there."""
    from distributed import Client

    from autograder.coursedir import layout
    from autograder.distributed import execute_job, prepare_jobs
    from autograder.fingerprint import Fingerprints

    code = Fingerprints().code
    jobs = prepare_jobs(layout(course_root), ASSIGNMENT, student, code)
    samples = []
    with Client(address, timeout="60s") as client:
        for job in (jobs * OVERHEAD_SAMPLES)[:OVERHEAD_SAMPLES]:
            start = time.perf_counter()
            result = client.submit(execute_job, job, code, pure=False).result()
            round_trip = time.perf_counter() - start
            samples.append({"round_trip_s": round_trip, "execution_s": result["seconds"],
                            "sent_kb": (len(job.nb) + sum(map(len, job.files.values()))) / 1024,
                            "returned_kb": len(result["nb"]) / 1024})
    overhead = statistics.mean(s["round_trip_s"] - s["execution_s"] for s in samples)
    execution = statistics.mean(s["execution_s"] for s in samples)
    return {"samples": samples, "overhead_s": overhead, "execution_s": execution,
            "overhead_pct": 100 * overhead / execution if execution else None}


def _projection(b: Bench, seconds_per_notebook: float, notebooks: int) -> dict:
    """On paper: the class of 3,000 on N worker threads, from the measured per-notebook cost."""
    total = CLASS_OF * notebooks * seconds_per_notebook
    hours = {n: total / n / 3600 for n in (16, 64, 160, 320)}
    b.row(NAME, f"projection: {CLASS_OF} students x {notebooks} notebook(s) = {total / 3600:.0f} CPU-hours",
          "; ".join(f"{n} threads {h:.1f} h" for n, h in hours.items()))
    return {"cpu_hours": total / 3600, "wall_hours_by_threads": hours}


def run(b: Bench) -> dict:
    from autograder.daskprocs import LocalDask

    names = [p.name for p in b.notebooks]
    course_root = shared.course(b)["root"]
    students = list(shared.class_students(b))
    out = {"submissions": len(students), "notebooks": names}
    dask = LocalDask(b.tmp / "dask", env=grading_env())
    try:
        address = dask.start_scheduler()
        dask.start_worker("w1")
        out["one_worker"] = shared.grade_class(b, NAME, "1 worker (--scheduler)", ["--scheduler", address])
        out["overhead"] = _overhead(address, course_root, students[0])
        dask.start_worker("w2")
        out["two_workers"] = shared.grade_class(b, NAME, "2 workers (--scheduler)", ["--scheduler", address])
    finally:
        left = dask.stop()
        if left:
            b.note(NAME, f"processes left running after the section: {left}")
    # the local cluster of -j 2 on the same class: the class section's run when it made one, else one here
    out["local_j2"] = b.results.get("class", {}).get("runs", {}).get("2") or \
        shared.grade_class(b, NAME, "local cluster -j 2", ["-j", "2"])
    overhead = out["overhead"]
    b.row(NAME, "one notebook: execution on a worker; overhead of sending it (sent / returned)",
          f"{fmt_s(overhead['execution_s'])}; {fmt_s(overhead['overhead_s'])} "
          f"({statistics.mean(s['sent_kb'] for s in overhead['samples']):.0f} kB / "
          f"{statistics.mean(s['returned_kb'] for s in overhead['samples']):.0f} kB)")
    b.target(NAME, "overhead_pct", "distribution overhead, % of a notebook's grading time", overhead["overhead_pct"],
             MAX_OVERHEAD_PCT, "%")
    out["speedup"] = out["two_workers"]["per_minute"] / out["one_worker"]["per_minute"]
    b.target(NAME, "two_worker_speedup", "throughput of 2 workers over 1 (at least)", out["speedup"], MIN_SPEEDUP,
             "x", higher_is_better=True)
    out["projection"] = _projection(b, overhead["execution_s"] + max(overhead["overhead_s"], 0), len(names))
    return out
