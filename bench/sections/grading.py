"""One student's whole assignment through `autograder grade` and `nbgrader autograde`, against the grading floor."""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from autograder.checkout import ASSIGNMENT
from autograder.tools import command
from bench import shared
from bench.context import TARGETS, Bench, fmt_s, fmt_wall_cpu
from bench.measure import best_of, grading_env, say, timed
from bench.nbrun import grading_view, read_nb, run_floor, workdir_for

NBGRADER_NOOPS = [
    # (label, arguments, expected exit codes, run in --quick)
    ("--version (imports only)", ["--version"], (0,), True),
    ("db student list", ["db", "student", "list"], (0,), False),
    ("autograde, nobody submitted", ["autograde", ASSIGNMENT, "--student", "nobody"], (0, 1), True),
    ("generate_feedback, nothing graded", ["generate_feedback", ASSIGNMENT, "--student", "nobody"], (0, 1), False),
    ("collect, nothing released", ["collect", ASSIGNMENT, "--student", "nobody"], (0, 1), False),
    ("list (the exchange)", ["list"], (0, 1), False),
    ("export to CSV", ["export", "--to=__EXPORT__"], (0,), False),
]
GRADE_NOTE = "(1.3 x floor + 10)"


def floors(b: Bench) -> dict[str, dict]:
    """Each notebook's grading floor: its code cells, each check cell its checks in the same process, as a plain
    script in the grading environment."""
    found = {}
    for path in b.notebooks:
        say(f"grading floor of {path.name} (code cells + hidden checks as a plain script)")
        found[path.name] = run_floor(grading_view(read_nb(path)), workdir_for(path, b.tmp), grading_env())
    return found


def record_floor(b: Bench, found: dict[str, dict]) -> dict:
    wall = sum(f["seconds"] for f in found.values())
    cpu = sum(f["cpu_s"] for f in found.values())
    score = sum(f["check_score"] for f in found.values())
    max_score = sum(f["check_max_score"] for f in found.values())
    for name, floor in found.items():
        if floor["first_error"]:
            b.row("grading", f"{Path(name).stem}: grading floor had failing cells or checks",
                  floor["first_error"][:60])
    b.row("grading", "grading floor (code + hidden checks as plain scripts), summed", fmt_wall_cpu(wall, cpu))
    b.row("grading", "  hidden checks' score in the floor", f"{score:g}/{max_score:g}")
    return {"floor_s": wall, "floor_cpu_s": cpu, "floor_score": score, "floor_max_score": max_score}


def shortfall(result: dict) -> str:
    """Why a solution graded by `autograder grade --json` lost points ('' when it did not): the first cell note
    or failed check."""
    for cell in result["cells"]:
        if cell["score"] < cell["max_score"]:
            failed = [c for c in cell["checks"] if not c["passed"]]
            why = cell.get("note") or (f"{failed[0]['check']}: {failed[0]['message']}" if failed else "")
            return f"{cell['grade_id']}: {why}"[:300]
    return ""


def autograder_grade(b: Bench, floor_s: float, limit: float) -> dict:
    """`autograder grade` of a copy of the solutions, every notebook in one run (as a TA grades a student)."""
    sub = Path(tempfile.mkdtemp(prefix="student-", dir=b.tmp))
    for path in b.notebooks:
        shutil.copy2(path, sub / path.name)
    say(f"autograder grade {' '.join(p.name for p in b.notebooks)} (one run)")
    wall, proc = timed([*command("autograder"), "grade", *(str(sub / p.name) for p in b.notebooks), "--json"],
                       env=grading_env())
    per = {}
    for line in proc.stdout.splitlines():
        if line.strip():
            result = json.loads(line)
            per[result["notebook"]] = {"score": result["score"], "max_score": result["max_score"],
                                       "shortfall": shortfall(result)}
            if per[result["notebook"]]["shortfall"]:
                b.row("grading", f"{Path(result['notebook']).stem}: autograder grade gave less than full marks",
                      per[result["notebook"]]["shortfall"][:60])
    score, max_score = sum(p["score"] for p in per.values()), sum(p["max_score"] for p in per.values())
    runs = shared.grade_empty_runs(b)
    fixed = runs["zygote_1"]["min_s"] + (len(b.notebooks) - 1) * runs["zygote_per_notebook_s"]
    b.target("grading", "autograde_one_student_s", f"autograder grade, one student {b.partial}".strip(), wall,
             limit, "s", note=GRADE_NOTE, cpu=proc.cpu_s)
    b.row("grading", "  ratio to floor; score", f"{wall / floor_s:.2f}x; {score:g}/{max_score:g}")
    b.row("grading", f"  fixed start-up: the run's, then {len(b.notebooks) - 1} further notebook(s)",
          f"{fmt_s(fixed)} ({100 * fixed / wall:.0f}%)")
    return {"wall_s": wall, "cpu_s": proc.cpu_s, "per_notebook": per, "score": score, "max_score": max_score,
            "ratio": wall / floor_s, "fixed_startup_s": fixed, "fixed_share": fixed / wall}


def nbgrader_commands(b: Bench, course_root: Path) -> dict:
    """Each nbgrader command's own start-up: commands that find nothing to do, best of N."""
    commands = {}
    for label, args, codes, in_quick in NBGRADER_NOOPS:
        if b.quick and not in_quick:
            continue
        args = [a.replace("__EXPORT__", str(b.tmp / "export.csv")) for a in args]
        cwd = b.tmp if args == ["--version"] else course_root
        commands[label] = best_of(b.repeats, lambda args=args, cwd=cwd, codes=codes: timed(
            [*command("nbgrader"), *args], cwd=cwd, env=grading_env(), ok=codes)[0])
    return commands


def nbgrader_autograde(b: Bench, floor_s: float, limit: float) -> tuple[dict, dict]:
    """`nbgrader autograde` of one student through the course, and each nbgrader command's start-up."""
    info = shared.course(b)
    course_root = info["root"]
    shared.add_submission(course_root, "bench_one", "full marks", [p.name for p in b.notebooks])
    say("nbgrader autograde, one student")
    wall, proc = timed([*command("nbgrader"), "autograde", ASSIGNMENT, "--student", "bench_one", "--force"],
                       cwd=course_root, env=grading_env())
    score, max_score = shared.gradebook_score(course_root, "bench_one")
    review = shared.review_lines(course_root, "bench_one")
    if review:
        b.row("grading", "nbgrader autograde: needs review", review[0][:60])
    commands = nbgrader_commands(b, course_root)
    commands["generate_assignment (real work)"] = {"min_s": info["generate_assignment_s"],
                                                   "median_s": info["generate_assignment_s"], "runs": 1}
    n, runs = len(b.notebooks), shared.grade_empty_runs(b)
    noop = commands["autograde, nobody submitted"]["min_s"]
    starts = runs["grader_load_s"] + n * runs["zygote_per_notebook_s"]
    fixed = noop + starts
    b.target("grading", "autograde_one_student_s", f"nbgrader autograde, one student {b.partial}".strip(), wall,
             limit, "s", note=GRADE_NOTE, cpu=proc.cpu_s)
    b.row("grading", "  ratio to floor; score (gradebook)", f"{wall / floor_s:.2f}x; {score:g}/{max_score:g}")
    b.row("grading", f"  fixed start-up: command start-up + the grader's load + {n} forked kernel(s)",
          f"{fmt_s(fixed)} ({100 * fixed / wall:.0f}%)")
    return ({"wall_s": wall, "cpu_s": proc.cpu_s, "score": score, "max_score": max_score, "ratio": wall / floor_s,
             "fixed_startup_s": fixed, "fixed_share": fixed / wall, "command_startup_s": noop,
             "kernel_starts_s": starts, "review": review}, commands)


def record_commands(b: Bench, commands: dict) -> None:
    for label, figures in commands.items():
        if label.startswith("generate_assignment"):
            b.row("grading", f"nbgrader {label}", fmt_s(figures["min_s"]))
        else:
            b.target("grading", "nbgrader_startup_s", f"nbgrader {label}: start-up", figures["min_s"],
                     TARGETS["nbgrader_startup_s"], "s")


def run(b: Bench) -> dict:
    found = floors(b)
    out = {**record_floor(b, found), "floors": found, "notebooks": [p.name for p in b.notebooks]}
    limit = TARGETS["grade_factor"] * out["floor_s"] + TARGETS["grade_fixed_s"]
    out["limit_s"] = limit
    out["autograder_grade"] = autograder_grade(b, out["floor_s"], limit)
    out["nbgrader_autograde"], out["nbgrader_commands"] = nbgrader_autograde(b, out["floor_s"], limit)
    record_commands(b, out["nbgrader_commands"])
    return out
