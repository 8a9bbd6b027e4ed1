"""``autograder``: grade notebooks from the command line.

    autograder grade SUBMISSION.ipynb [MORE.ipynb ...] [--source PATH] [--json]
    autograder release                 regenerate assignments/ from solutions/ with nbgrader
    autograder course [--keep DIR]     the full nbgrader course cycle on sample students
    autograder class-grade COURSE ASSIGNMENT [-j N] [--scheduler tcp://HOST:8786]
                                       autograde a whole class: notebooks executed on Dask, grades by nbgrader
    autograder report COURSE ASSIGNMENT [--out DIR]   the class report: scores, item analysis, similarity
    autograder sync [--check]          write the check cells and their points from the hidden checks
    autograder test-checks NOTEBOOK [PYTEST ARGS]     run the hidden checks with pytest against a notebook
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _grade(args) -> int:
    from autograder import isolation, zygote

    zygote.start(isolation.shared_kernel_env())  # it loads while this process loads the checks
    from autograder.results import CannotGrade, notebook_table
    from autograder.runner import grade_notebook

    status = 0
    for submission in args.submission:  # one run: the grading kernels of every notebook share one start-up
        try:
            result = grade_notebook(Path(submission), Path(args.source) if args.source else None,
                                    cell_timeout=args.cell_timeout)
        except CannotGrade as exc:
            print(f"autograder: cannot grade: {exc}", file=sys.stderr)
            status = 2
            continue
        if args.json:
            print(json.dumps(result.to_dict()), flush=True)
        else:
            print(notebook_table(result))
            for note in result.notes:
                print(f"note: {note}")
            if len(args.submission) > 1:
                print()
        sys.stdout.flush()
    _leave(status)
    return status


def _leave(status: int) -> None:
    """Exit now, without the interpreter's teardown of torch and the kernel machinery (0.5 s): the grading kernels
    and the zygote exit with this process (they watch it), and each grading's folders are already removed."""
    import os

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def _release(args) -> int:
    from autograder.course import generate_release

    generate_release(Path(args.out) if args.out else None)
    return 0


def _course(args) -> int:
    from autograder.course import run_course_cycle

    return run_course_cycle(keep=Path(args.keep) if args.keep else None)


def _class_grade(args) -> int:
    from autograder.classgrade import main as class_grade_main

    return class_grade_main(args)


def _report(args) -> int:
    from autograder.classreport import main as report_main

    return report_main(args)


def _sync(args) -> int:
    from autograder.sync import main as sync_main

    return sync_main(args)


def _test_checks(args) -> int:
    from autograder.pytest_plugin import run_pytest

    return run_pytest(args.notebook, args.pytest_args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="autograder", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("grade", help="grade notebooks without a course database")
    p.add_argument("submission", nargs="+", help="the student's notebook(s); with --json, one JSON object per line")
    p.add_argument("--source", help="the source notebook of every submission given (default: the one in solutions/ "
                                    "with the same name)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--cell-timeout", type=int, default=None, metavar="SECONDS",
                   help="wall time of one notebook cell (default: AUTOGRADER_CELL_TIMEOUT, autograder.limits)")
    p.add_argument("--timeout", type=int, dest="cell_timeout", help=argparse.SUPPRESS)  # its name before 2026-12
    p.set_defaults(func=_grade)

    p = sub.add_parser("release", help="generate the student release (assignments/) from solutions/")
    p.add_argument("--out", help="write the release here instead of assignments/")
    p.set_defaults(func=_release)

    p = sub.add_parser("course", help="run the whole nbgrader course cycle with sample students")
    p.add_argument("--keep", help="build the course in this folder (default: a temporary one)")
    p.set_defaults(func=_course)

    p = sub.add_parser("class-grade", help="autograde every submitted student through nbgrader")
    p.add_argument("course", help="the course directory (holding nbgrader_config.py and submitted/)")
    p.add_argument("assignment", help="the assignment id, e.g. autoencoders")
    p.add_argument("-j", "--jobs", type=int, default=1,
                   help="without --scheduler: the local Dask cluster's workers (notebooks executed at once); "
                        "with it: nbgrader processes recording grades at once on this machine (default 1)")
    p.add_argument("--fresh", action="store_true",
                   help="execute every notebook again, even those an earlier run already executed unchanged")
    p.add_argument("--scheduler", metavar="tcp://HOST:8786",
                   help="execute the notebooks on the workers of this running Dask cluster (docs/cluster.md)")
    p.add_argument("--student-timeout", type=float, default=None, metavar="SECONDS",
                   help="wall time of one student's whole assignment (default: 2x AUTOGRADER_NOTEBOOK_TIMEOUT)")
    p.add_argument("--timeout", type=float, dest="student_timeout", help=argparse.SUPPRESS)  # name before 2026-12
    p.add_argument("--student", action="append", help="grade only this student (repeatable)")
    p.add_argument("--json", action="store_true", help="print the outcomes as JSON")
    p.set_defaults(func=_class_grade)

    p = sub.add_parser("report", help="write the class report of an autograded assignment (HTML, CSV, JSON)")
    p.add_argument("course", help="the course directory (holding gradebook.db and autograded/)")
    p.add_argument("assignment", help="the assignment id, e.g. autoencoders")
    p.add_argument("--out", help="write the report here (default: COURSE/reports/ASSIGNMENT/)")
    p.set_defaults(func=_report)

    p = sub.add_parser("sync", help="write the check cells and their points from the hidden checks")
    p.add_argument("notebooks", nargs="*", help="source notebooks (default: every notebook in solutions/)")
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook is out of date")
    p.set_defaults(func=_sync)

    p = sub.add_parser("test-checks", help="run the hidden checks with pytest against a notebook",
                       description="Runs `pytest autograder/checks --notebook NOTEBOOK [PYTEST ARGS]`: the hidden "
                                   "checks of that notebook's cells, with pytest's options (-k, -x, --pdb, -v).")
    p.add_argument("notebook", help="a source notebook or a student's copy")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed on to pytest")
    p.set_defaults(func=_test_checks)

    return parser


def main(argv: list[str] | None = None) -> int:
    from autograder.limits import configure_process

    configure_process()
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
