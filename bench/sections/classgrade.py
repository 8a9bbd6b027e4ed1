"""A class (solutions, partly wrong, untouched) through `autograder class-grade` with each -j."""
from __future__ import annotations

import json
import statistics

from bench import shared
from bench.context import ASSIGNMENT, Bench, fmt_s, fmt_wall_cpu
from bench.measure import base_env, say, timed, tool

NAME = "class"  # the module can't be called that: `class` is a Python keyword
KINDS = ("full marks", "partly wrong", "full marks", "untouched release")


def grade_class(b: Bench, course_root, students: dict[str, str], jobs: int) -> dict:
    say(f"autograder class-grade -j {jobs} ({len(students)} students)")
    cmd = [*tool("autograder"), "class-grade", str(course_root), ASSIGNMENT, "-j", str(jobs), "--json", "--fresh"]
    for student in students:
        cmd += ["--student", student]
    wall, proc = timed(cmd, env=base_env(), ok=(0, 1))
    outcomes = json.loads(proc.stdout.strip().splitlines()[-1])
    graded = [o for o in outcomes if o["ok"]]
    per = [o["seconds"] for o in outcomes]
    run = {"jobs": jobs, "wall_s": wall, "cpu_s": proc.cpu_s, "per_minute": 60 * len(students) / wall,
           "graded": len(graded), "failed": len(outcomes) - len(graded),
           "student_median_s": statistics.median(per) if per else None,
           "student_max_s": max(per) if per else None,
           "scores": {o["student"]: o["score"] for o in outcomes}}
    b.row(NAME, f"-j {jobs}: total wall time", fmt_wall_cpu(wall, proc.cpu_s))
    b.row(NAME, f"-j {jobs}: submissions per minute", f"{run['per_minute']:.2f}")
    b.row(NAME, f"-j {jobs}: graded / failed; one student's median (max)",
          f"{run['graded']} / {run['failed']}; {fmt_s(run['student_median_s'])} ({fmt_s(run['student_max_s'])})")
    return run


def run(b: Bench) -> dict:
    names = [p.name for p in b.notebooks]
    course_root = shared.course(b)["root"]
    students = {f"class{i + 1:02d}": KINDS[i % len(KINDS)] for i in range(b.students)}
    for student, kind in students.items():
        shared.add_submission(course_root, student, kind, names)
    mix = {k: sum(v == k for v in students.values()) for k in dict.fromkeys(KINDS)}
    out = {"submissions": len(students), "notebooks": names, "mix": mix, "runs": {}}
    b.row(NAME, "submissions (" + ", ".join(f"{v} {k}" for k, v in mix.items()) + ")",
          f"{len(students)} x {len(names)} notebook(s)")
    for jobs in b.jobs:
        out["runs"][str(jobs)] = grade_class(b, course_root, students, jobs)
    if len(b.jobs) > 1:
        one, most = out["runs"][str(b.jobs[0])], out["runs"][str(b.jobs[-1])]
        out["speedup"] = one["wall_s"] / most["wall_s"]
        b.row(NAME, f"speed-up of -j {b.jobs[-1]} over -j {b.jobs[0]}", f"{out['speedup']:.2f}x")
    return out
