#!/usr/bin/env python
"""The kit's benchmark: where students, TAs and CI wait, measured on the machine it runs on.

    python bench/run.py                    # the full run (tens of minutes on 2 cores)
    python bench/run.py --quick            # one notebook, a class of 2 (CI proves it works)
    python bench/run.py --out bench.json   # also write every figure as JSON
    python bench/run.py --only notebooks,grading    # some sections only

Sections: ``--help`` lists them, each with the first line of its module's docstring (bench/sections/,
one module each, run in the order of ``bench.sections.MODULES``); docs/benchmarks.md explains each figure.

Model quality (the reference autoencoder against the grader's thresholds) is not a benchmark figure:
``make calibrate`` (``python -m autograder.calibrate``) prints it.

Benchmarks print figures; they never fail on a slow figure. The exit code is 1 only when a
section could not be measured at all (its error is in the table and the JSON).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if sys.path and Path(sys.path[0] or ".").resolve() == HERE:  # `python bench/run.py`: bench/ is not a top level
    sys.path[0] = str(REPO)
elif str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from autograder.checkout import SOLUTION_NOTEBOOKS, solution_notebooks  # noqa: E402
from bench import report  # noqa: E402 (after the path is set)
from bench.context import QUICK_NOTEBOOK, Bench  # noqa: E402
from bench.measure import grading_env, say  # noqa: E402
from bench.sections import MOVED, Section, sections  # noqa: E402


def parse_args(argv=None, names: list[str] = ()):
    listing = "\n".join(f"  {s.name:<11}{s.about}" for s in sections())
    p = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=f"sections, in the order they run:\n{listing}")
    p.add_argument("--quick", action="store_true", help="one notebook, a class of 2 (a few minutes)")
    p.add_argument("--out", help="write every figure to this JSON file")
    p.add_argument("--only", help=f"comma-separated sections to run (default all: {','.join(names)})")
    p.add_argument("--skip", help="comma-separated sections to leave out")
    p.add_argument("--notebook", action="append",
                   help=f"measure only this notebook (file name; repeatable). Default: all; --quick: {QUICK_NOTEBOOK}")
    p.add_argument("--students", type=int, help="class size (default 20; --quick 2)")
    p.add_argument("--jobs", default="1,2", help="class-grade -j values to compare (default 1,2)")
    p.add_argument("--repeats", type=int, help="repeats of each start-up timing (default 3; --quick 1)")
    p.add_argument("--keep", help="build the temporary courses here and keep them")
    return p.parse_args(argv)


def pick_notebooks(args) -> list[Path] | str:
    """The notebooks to measure, or why there are none."""
    notebooks = solution_notebooks()
    if not notebooks:
        return f"no notebooks in {SOLUTION_NOTEBOOKS}"
    if args.notebook:
        by_name = {p.name: p for p in notebooks}
        missing = [n for n in args.notebook if n not in by_name]
        if missing:
            return f"no such notebook(s): {', '.join(missing)}"
        return [by_name[n] for n in args.notebook]
    if args.quick:
        return [p for p in notebooks if p.name == QUICK_NOTEBOOK] or notebooks[:1]
    return notebooks


def pick_sections(args, known: list[Section]) -> list[Section] | str:
    """The sections to run, in their order, or what is wrong with --only/--skip."""
    by_name = {s.name: s for s in known}
    wanted = [s.strip() for s in (args.only or ",".join(by_name)).split(",") if s.strip()]
    wanted = [s for s in wanted if s not in (args.skip or "").split(",")]
    moved = [f"{s}: {MOVED[s]}" for s in wanted if s in MOVED]
    unknown = [s for s in wanted if s not in by_name and s not in MOVED]
    if moved or unknown:
        return "; ".join(moved + ([f"unknown section(s) {unknown}; choose from {', '.join(by_name)}"]
                                  if unknown else []))
    return [by_name[s] for s in wanted]


def run_sections(b: Bench, chosen: list[Section]) -> list[str]:
    """Run each section in turn; a section that fails is recorded and the others still run."""
    failed = []
    for section in chosen:
        say(f"== {section.name}")
        t0 = time.perf_counter()
        try:
            b.results[section.name] = section.run(b)
            b.results[section.name]["section_s"] = time.perf_counter() - t0
        except Exception as exc:
            failed.append(section.name)
            b.results[section.name] = {"error": f"{type(exc).__name__}: {exc}"[:3000]}
            b.row(section.name, "COULD NOT BE MEASURED", f"{type(exc).__name__}: {str(exc)[:70]}")
            traceback.print_exc()
    return failed


def make_bench(args, notebooks: list[Path]) -> Bench:
    if args.keep:
        tmp = Path(args.keep).resolve()
        tmp.mkdir(parents=True, exist_ok=True)
    else:
        tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    return Bench(quick=args.quick, notebooks=notebooks, students=args.students or (2 if args.quick else 20),
                 jobs=[int(j) for j in args.jobs.split(",") if j.strip()],
                 repeats=args.repeats or (1 if args.quick else 3), tmp=tmp)


def main(argv=None) -> int:
    known = sections()
    args = parse_args(argv, [s.name for s in known])
    notebooks, chosen = pick_notebooks(args), pick_sections(args, known)
    for problem in (notebooks, chosen):
        if isinstance(problem, str):
            print(f"bench: {problem}", file=sys.stderr)
            return 2
    os.environ.update({k: v for k, v in grading_env().items() if k not in os.environ})
    b = make_bench(args, notebooks)
    started = time.perf_counter()
    b.results["machine"] = report.machine()
    b.results["mode"] = "quick" if args.quick else "full"
    try:
        failed = run_sections(b, chosen)
    finally:
        if not args.keep:
            shutil.rmtree(b.tmp, ignore_errors=True)
    b.results["targets"] = b.targets
    b.results["total_s"] = time.perf_counter() - started
    b.results["machine"]["load_average_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    report.print_report(b, failed)
    if args.out:
        report.write_json(b, args.out)
        print(f"figures written to {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
