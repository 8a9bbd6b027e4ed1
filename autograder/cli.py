"""``autograder``: grade notebooks from the command line.

    autograder grade SUBMISSION.ipynb [--source PATH] [--json]
    autograder release                 regenerate assignments/ from solutions/ with nbgrader
    autograder course [--keep DIR]     the full nbgrader course cycle on sample students
    autograder class-grade COURSE ASSIGNMENT [-j N]   autograde a whole class through nbgrader
    autograder install-kernel          make this environment's python3 kernel the memory-capped one
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _grade(args) -> int:
    from autograder.report import notebook_table
    from autograder.runner import CannotGrade, grade_notebook

    try:
        result = grade_notebook(Path(args.submission), Path(args.source) if args.source else None,
                                cell_timeout=args.timeout)
    except CannotGrade as exc:
        print(f"autograder: cannot grade: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(notebook_table(result))
        for note in getattr(result, "notes", []):
            print(f"note: {note}")
    return 0


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


def _install_kernel(args) -> int:
    from autograder.kernel import install

    print(f"installed the grading kernel in {install(args.prefix)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="autograder", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("grade", help="grade one notebook without a course database")
    p.add_argument("submission", help="the student's notebook")
    p.add_argument("--source", help="the source notebook (default: the one in solutions/ with the same name)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--timeout", type=int, default=None, help="seconds per cell (default: autograder.limits)")
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
    p.add_argument("-j", "--jobs", type=int, default=1, help="students graded at once (default 1)")
    p.add_argument("--timeout", type=float, default=None, help="seconds per student (default: 2x the notebook limit)")
    p.add_argument("--student", action="append", help="grade only this student (repeatable)")
    p.add_argument("--json", action="store_true", help="print the outcomes as JSON")
    p.set_defaults(func=_class_grade)

    p = sub.add_parser("install-kernel", help="make this environment's python3 kernel the memory-capped one")
    p.add_argument("--prefix", help="environment prefix (default: this Python's)")
    p.set_defaults(func=_install_kernel)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
