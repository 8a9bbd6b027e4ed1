#!/usr/bin/env python
"""How long ``autograder report`` takes on a large class: synthetic copies of graded notebooks.

    python bench/report_scale.py                 # 300 students x 5 notebooks (the target: within 60 s)
    python bench/report_scale.py --students 40   # a quick look

:func:`measure` builds a course the way class-grade leaves one, without running any notebook:

* the gradebook and ``release/`` from ``nbgrader generate_assignment`` of the kit's own solutions;
* per student and notebook an **autograded notebook**: the solution with some answers swapped for the
  sample mistakes and alternatives (``autograder.samples``), a personal line here and there, one or two
  cells of their own experiments, a written answer, and in every check cell the result the trusted
  executor writes (every hidden check of the registry, passed or failed with a message, by the
  student's ability and the check's difficulty); a plot image in each plot cell;
* the same scores in the gradebook, late submissions, ``class-grade.json`` with a few students not
  graded, a few flagged by the audit, cells not run, notebooks not handed in, feedback pages;
* five planted pairs of copies (one student's cells, renamed), which the report must rank on top.

Then it times ``autograder report COURSE autoencoders`` in a fresh process, as a TA runs it.
"""
from __future__ import annotations

import argparse
import base64
import json
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
import zlib
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

ASSIGNMENT = "autoencoders"
TARGET_S = 60.0
COPIES = 5
WORDS = ("the encoder bottleneck compresses digits into a few numbers so the decoder must keep what matters most "
         "linear layers compose into one map which is why depth alone adds nothing without a nonlinearity "
         "reconstruction error falls as the latent grows but the codes lose structure and noise creeps in "
         "training longer helps until the loss flattens and the validation curve turns up").split()


def _png(rng: random.Random, size: int = 12_000) -> str:
    """A stand-in for a plot's PNG output: base64 of that many bytes."""
    return base64.b64encode(rng.randbytes(size)).decode("ascii")


def _experiment(rng: random.Random, flagged: bool) -> str:
    n, a, b = rng.randint(0, 99), rng.randint(2, 64), rng.randint(2, 64)
    lines = [f"probe_{n} = torch.randn({a}, {b})",
             f"print(probe_{n}.shape, probe_{n}.mean().item() * {rng.random():.3f})"]
    if rng.random() < 0.5:
        lines.append(f"for step in range({rng.randint(2, 9)}):\n    print(step, probe_{n}[step % {a}].norm())")
    if flagged:
        lines.append("import subprocess\nprint(subprocess.run(['nvidia-smi'], capture_output=True).stdout)")
    return "\n".join(lines) + "\n"


def _personal(source: str, rng: random.Random) -> str:
    if rng.random() < 0.5:
        source = source.rstrip("\n") + f"\n# {' '.join(rng.sample(WORDS, 4))}\n"
    if rng.random() < 0.4:
        source = source.rstrip("\n") + f"\nprint('{rng.choice(WORDS)}', {rng.randint(0, 999)})\n"
    return source


def _answer_cells(module, rng: random.Random) -> dict[str, str]:
    """A student's answers: the solution's, some swapped for a sample mistake or a correct alternative."""
    swapped: dict[str, str] = {}
    if module.BUGGY and rng.random() < 0.35:
        swapped.update(rng.choice(list(module.BUGGY.values()))[0])
    if module.ALTERNATIVES and rng.random() < 0.35:
        swapped.update(rng.choice(list(module.ALTERNATIVES.values())))
    return swapped


def _message(rng: random.Random, check) -> str:
    value = rng.random() * 10
    return rng.choice([f"expected {check.description.lower()}, found a max difference of {value:.3g}. Hint: compare "
                       "with the formula in the text", f"{check.name} raised TypeError: unsupported operand (line "
                       f"{rng.randint(2, 30)})", f"shape ({rng.randint(1, 9)}, {rng.randint(1, 9)}) instead of the "
                       "expected one"])


def _cell_result(cell: str, checks, ability: float, rng: random.Random) -> dict:
    from autograder.results import CellResult, CheckResult

    results = []
    for check in checks:
        difficulty = (zlib.crc32(check.name.encode()) % 7) / 10  # the same check is as hard for everyone
        passed = rng.random() < min(0.98, ability - difficulty + 0.45)
        results.append(CheckResult(check.description, passed, check.points if passed else 0.0, check.points,
                                   "" if passed else _message(rng, check), check.name))
    status = "graded" if rng.random() > 0.01 else "not run"
    if status != "graded":
        return CellResult(cell, 0.0, sum(c.points for c in checks), [], "the kernel ran out of time", status).to_dict()
    return CellResult(cell, sum(r.points for r in results), sum(c.points for c in checks), results).to_dict()


def _graded_notebook(solution, module, checks, rng, ability, flagged):
    import copy

    from nbformat.v4 import new_code_cell, new_output

    from autograder import cells as kitcells
    from autograder.results import MIME

    nb = copy.deepcopy(solution)
    swapped = _answer_cells(module, rng) if module else {}
    scores = {}
    for cell in nb.cells:
        gid = kitcells.grade_id(cell)
        if kitcells.is_answer_cell(cell):
            cell.source = _personal(re.sub(r" *### (BEGIN|END) SOLUTION\n", "", swapped.get(gid, cell.source)), rng)
        elif kitcells.is_manual_cell(cell):
            cell.source = " ".join(rng.choice(WORDS) for _ in range(rng.randint(25, 60))).capitalize() + "."
        elif kitcells.is_check_cell(cell):
            result = _cell_result(gid, checks.get(gid, ()), ability, rng)
            scores[gid] = result["score"]
            cell.outputs = [new_output("display_data", data={MIME: result, "text/plain": f"{gid}: {result['score']}"})]
        elif cell.cell_type == "code":
            cell.outputs = [new_output("stream", name="stdout", text="ok\n" * rng.randint(1, 8))]
            if gid and gid.endswith("_plot"):
                cell.outputs.append(new_output("display_data", data={"image/png": _png(rng), "text/plain": "<Figure>"}))
    for _ in range(rng.randint(0, 2)):
        nb.cells.insert(len(nb.cells) - 1, new_code_cell(_experiment(rng, flagged)))
    return nb, scores


def _copy_of(nb, rng: random.Random):
    """Another student's notebook, every variable renamed and the comments rewritten: a near-copy."""
    import copy

    from autograder import cells as kitcells

    twin = copy.deepcopy(nb)
    for cell in twin.cells:
        if cell.cell_type == "code" and kitcells.is_editable(cell):
            src = re.sub(r"#[^\n]*", f"# {' '.join(rng.sample(WORDS, 3))}", cell.source)
            cell.source = re.sub(r"\b(combined|bound|flat|probe_\d+|step|W|b|h|z|out|loss)\b",
                                 lambda m: m.group(1) + "_v2", src)
    return twin


def _gradebook(course: Path, rows: list[tuple[str, datetime | None, dict]]) -> None:
    """One submission per student who handed in: the check cells' scores as the executor wrote them."""
    from nbgrader.api import Gradebook

    from autograder.course import COURSE_ID

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id=COURSE_ID) as gb:
        gb.update_or_create_assignment(ASSIGNMENT, duedate=datetime(2031, 1, 1))
        for student, timestamp, scores in rows:
            gb.update_or_create_student(student, first_name=student.title(), last_name="Synthetic")
            if timestamp is None:
                continue
            gb.add_submission(ASSIGNMENT, student, timestamp=timestamp)
        gb.db.commit()
        from nbgrader.api import BaseCell, Grade, Notebook, SubmittedAssignment, SubmittedNotebook

        grades = (gb.db.query(Grade, SubmittedAssignment.student_id, Notebook.name, BaseCell.name)
                  .join(SubmittedNotebook, Grade.notebook_id == SubmittedNotebook.id)
                  .join(SubmittedAssignment, SubmittedNotebook.assignment_id == SubmittedAssignment.id)
                  .join(Notebook, SubmittedNotebook.notebook_id == Notebook.id)
                  .join(BaseCell, Grade.cell_id == BaseCell.id))
        by_student = {student: scores for student, _, scores in rows}
        for grade, student, notebook, cell in grades:
            score = by_student[student].get(notebook, {}).get(cell)
            if score is not None:
                grade.auto_score, grade.needs_manual_grade = score, False
            elif cell in by_student[student].get("_checks", {}).get(notebook, ()):
                grade.auto_score, grade.needs_manual_grade = 0.0, False
        gb.db.commit()


def _write(path: Path, nb) -> None:
    import nbformat

    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


def build_class(tmp: Path, n_students: int = 300, seed: int = 0) -> Path:
    """A course as class-grade leaves it, for n_students x the kit's notebooks (nothing executed)."""
    import nbformat

    from autograder import cells as kitcells
    from autograder import registry, samples
    from autograder.course import make_course, nbgrader

    rng = random.Random(seed)
    course = make_course(Path(tmp) / "course")
    nbgrader("generate_assignment", ASSIGNMENT, "--force", cwd=course)
    solutions = {p.stem: nbformat.read(str(p), as_version=4) for p in sorted((course / "solutions" / ASSIGNMENT)
                                                                              .glob("*.ipynb"))}
    modules = {m.NOTEBOOK.removesuffix(".ipynb"): m for m in samples.modules()}
    table = registry.table()
    students = [f"s{i:03d}" for i in range(n_students)]
    twins = {students[-1 - k]: students[3 * k + 1] for k in range(min(COPIES, n_students // 4))}
    outcomes, rows, due = [], [], datetime(2031, 1, 1)
    for student in students:
        if rng.random() < 0.03:  # never handed in
            rows.append((student, None, {}))
            continue
        ability, flagged, failed = rng.random(), rng.random() < 0.02, rng.random() < 0.01
        scores: dict = {"_checks": {}}
        for name, solution in solutions.items():
            checks = {cell: table.get(cell, ()) for cell in kitcells.check_cells(solution)}
            scores["_checks"][name] = set(checks)
            if rng.random() < 0.03 and student not in twins and student not in twins.values():
                continue  # this notebook not handed in
            nb, scores[name] = _graded_notebook(solution, modules.get(name), checks, rng, ability, flagged)
            if student in twins:
                nb = _copy_of(nbformat.read(str(course / "autograded" / twins[student] / ASSIGNMENT / f"{name}.ipynb"),
                                            as_version=4), rng)
            folder = "submitted" if failed else "autograded"
            _write(course / folder / student / ASSIGNMENT / f"{name}.ipynb", nb)
            if not failed:
                feedback = course / "feedback" / student / ASSIGNMENT / f"{name}.html"
                feedback.parent.mkdir(parents=True, exist_ok=True)
                feedback.write_text(f"<html><body>feedback for {student}, {name}</body></html>")
        late = due + timedelta(hours=rng.randint(1, 40)) if rng.random() < 0.05 else due - timedelta(hours=3)
        rows.append((student, late, {} if failed else scores))
        review = ["needs review: 01_pca_encoder cell #40, line 4: runs other programs: import subprocess"] \
            if flagged and not failed else []
        outcomes.append({"student": student, "ok": not failed, "seconds": 30.0, "score": None, "max_score": None,
                         "reason": "executing it failed: the kernel died" if failed else "",
                         "review": review, "worker": "synthetic"})
    _gradebook(course, rows)
    report_dir = course / "reports" / ASSIGNMENT
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "class-grade.json").write_text(json.dumps(outcomes, indent=1))
    (course / "twins.json").write_text(json.dumps(twins))
    return course


def _time_report(course: Path, out: Path) -> tuple[float, float, dict]:
    """Wall and CPU seconds of ``autograder report`` in a fresh process (its workers included), and its JSON."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "report", str(course), ASSIGNMENT,
                           "--out", str(out)], capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"autograder report failed: {proc.stderr[-2000:]}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, json.loads((out / "report.json").read_text())


def measure(tmp: Path, n_students: int = 300) -> dict:
    """Build the synthetic class in ``tmp`` and time ``autograder report`` on it, as class-grade leaves the
    course (its outcomes beside the notebooks: their audit is reused) and without class-grade.json (every
    notebook audited again)."""
    started = time.perf_counter()
    course = build_class(Path(tmp), n_students)
    build_s = time.perf_counter() - started
    out = course / "reports" / ASSIGNMENT
    wall, cpu, data = _time_report(course, out)
    outcomes = out / "class-grade.json"
    outcomes.rename(out.parent / "class-grade.json.away")
    try:
        wall_audit, cpu_audit, _ = _time_report(course, course / "reports" / "without-outcomes")
    finally:
        (out.parent / "class-grade.json.away").rename(outcomes)
    twins = {tuple(sorted(p)) for p in json.loads((course / "twins.json").read_text()).items()}
    listed = [tuple(sorted((p["a"], p["b"]))) for p in data["similarity"]["listed"]]
    return {
        "students": n_students, "notebooks": len(data["notebooks"]),
        "notebook_files": sum(1 for _ in (course / "autograded").glob(f"*/{ASSIGNMENT}/*.ipynb")),
        "report_s": round(wall, 2), "report_cpu_s": round(cpu, 2), "target_s": TARGET_S, "met": wall <= TARGET_S,
        "phases_s": {k: round(v, 2) for k, v in data["seconds"].items()},
        "report_without_outcomes_s": round(wall_audit, 2), "report_without_outcomes_cpu_s": round(cpu_audit, 2),
        "pairs_possible": data["similarity"]["possible"], "pairs_compared": data["similarity"]["compared"],
        "planted_copies_on_top": set(listed[:len(twins)]) == twins, "pairs_listed": len(listed),
        "html_mb": round((out / "report.html").stat().st_size / 1e6, 2), "build_s": round(build_s, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--keep", help="build the class in this folder (default: a temporary one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="report-scale-") as tmp:
        figures = measure(Path(args.keep) if args.keep else Path(tmp), args.students)
    for key, value in figures.items():
        print(f"{key:<24} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
