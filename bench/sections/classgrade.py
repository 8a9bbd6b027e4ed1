"""A class (solutions, partly wrong, untouched) through `autograder class-grade` with each -j."""
from __future__ import annotations

from bench import shared
from bench.context import Bench

NAME = "class"  # the module can't be called that: `class` is a Python keyword


def run(b: Bench) -> dict:
    names = [p.name for p in b.notebooks]
    students = shared.class_students(b)
    mix = {k: sum(v == k for v in students.values()) for k in dict.fromkeys(shared.CLASS_KINDS)}
    out = {"submissions": len(students), "notebooks": names, "mix": mix, "runs": {}}
    b.row(NAME, "submissions (" + ", ".join(f"{v} {k}" for k, v in mix.items()) + ")",
          f"{len(students)} x {len(names)} notebook(s)")
    for jobs in b.jobs:
        out["runs"][str(jobs)] = {"jobs": jobs, **shared.grade_class(b, NAME, f"-j {jobs}", ["-j", str(jobs)])}
    if len(b.jobs) > 1:
        one, most = out["runs"][str(b.jobs[0])], out["runs"][str(b.jobs[-1])]
        out["speedup"] = one["wall_s"] / most["wall_s"]
        b.row(NAME, f"speed-up of -j {b.jobs[-1]} over -j {b.jobs[0]}", f"{out['speedup']:.2f}x")
    return out
