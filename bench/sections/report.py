"""`autograder report` on a synthetic class of 300 x 5 notebooks (--quick: 40), with and without class-grade's outcomes."""
from __future__ import annotations

from bench.context import Bench, fmt_s
from bench.measure import say

NAME = "report"
STUDENTS, QUICK_STUDENTS = 300, 40
TARGET_S = 60.0  # a class of 300 with 5 notebooks each, on 2 cores (issue 15)


def run(b: Bench) -> dict:
    from bench.report_scale import measure

    students = QUICK_STUDENTS if b.quick else STUDENTS
    say(f"the class report on {students} synthetic students x 5 notebooks")
    out = measure(b.tmp / "report-class", students)
    b.row(NAME, f"{students} students x {out['notebooks']} notebooks: building the synthetic class", fmt_s(out["build_s"]))
    b.target(NAME, "report_s", f"`autograder report`, {students} students (class-grade's outcomes beside it)",
             out["report_s"], TARGET_S, "s", cpu=out["report_cpu_s"])
    b.row(NAME, "without class-grade's outcomes (every notebook audited again)",
          f"{fmt_s(out['report_without_outcomes_s'])} (cpu {fmt_s(out['report_without_outcomes_cpu_s'])})")
    b.row(NAME, "similarity: pairs compared in full / possible; planted copies ranked on top",
          f"{out['pairs_compared']} / {out['pairs_possible']}; {str(out['planted_copies_on_top']).lower()}")
    return out
