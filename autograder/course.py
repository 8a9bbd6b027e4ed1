"""The whole course cycle through nbgrader, on an embedded default course.

``autograder course`` builds a temporary course (its own sqlite gradebook and a local exchange
folder), generates the student release from ``solutions/``, releases it, fetches and submits it
as three sample students (full marks, partly wrong, untouched), collects, autogrades, generates
feedback, exports the grades to CSV and prints a grade table.
"""
from __future__ import annotations

import csv
import os
import shutil
import tempfile
import time
from pathlib import Path

import nbformat

from autograder.cells import grade_id, is_manual_cell, is_written_answer, points
from autograder.checkout import ASSIGNMENT, REPO, SOLUTIONS
from autograder.coursedir import layout as course_layout
from autograder.tools import nbgrader, run_tool

COURSE_ID = "autoencoders-demo"

# The kit's own folders, when this repository is used as a course: source notebooks in solutions/, the
# release in assignments/. (nbgrader_config.py holds only settings that are safe in any course.)
def repo_course(release: Path | None = None) -> list[str]:
    return ["--CourseDirectory.source_directory=solutions",
            f"--CourseDirectory.release_directory={Path(release).resolve() if release else 'assignments'}"]


def generate_release(out: Path | None = None, root: Path = REPO) -> Path:
    """Sync the check cells with the checks, then regenerate the student release from ``solutions/``
    (into ``assignments/`` or ``out``)."""
    from autograder.sync import SyncError, sync

    try:
        for change in sync(sorted((root / "solutions").rglob("*.ipynb"))):
            print(f"sync: {change}")
    except SyncError as exc:
        raise RuntimeError(str(exc)) from None
    with tempfile.TemporaryDirectory(prefix="release-db-") as tmp:
        nbgrader("generate_assignment", ASSIGNMENT, "--force", f"--CourseDirectory.db_url=sqlite:///{tmp}/gb.db",
                 *repo_course(out), cwd=root)
    return (Path(out) if out else root / "assignments") / ASSIGNMENT


COURSE_CONFIG = '''c = get_config()
load_subconfig({repo_config!r})  # the kit's settings: safe in any course
c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = {course!r}
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.db_url = "sqlite:///" + {db!r}
c.Exchange.root = {exchange!r}
'''

STUDENT_CONFIG = '''c = get_config()
c.CourseDirectory.course_id = {course!r}
c.CourseDirectory.student_id = {student!r}
c.Exchange.root = {exchange!r}
'''


def make_course(root: Path, course: str = COURSE_ID, only: list[str] | None = None,
                settings: dict[str, str] | None = None) -> Path:
    """A course directory: a copy of solutions/ (or of the notebooks named in ``only``), its own
    gradebook and a local exchange. ``settings``: further ``CourseDirectory`` settings of the course's own
    (``submitted_directory``, ``db_url``...), written into its ``nbgrader_config.py``."""
    root.mkdir(parents=True, exist_ok=True)
    exchange = root / "exchange"
    exchange.mkdir(exist_ok=True)
    os.chmod(exchange, 0o777)
    shutil.copytree(SOLUTIONS, root / "solutions", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    if only is not None:
        for path in (root / "solutions").rglob("*.ipynb"):
            if path.name not in only:
                path.unlink()
    (root / "nbgrader_config.py").write_text(COURSE_CONFIG.format(
        repo_config=str(REPO / "nbgrader_config.py"), root=str(root), course=course,
        db=str(root / "gradebook.db"), exchange=str(exchange))
        + "".join(f"c.CourseDirectory.{key} = {value!r}\n" for key, value in (settings or {}).items()))
    return root


def make_student(home: Path, student: str, exchange: Path, course: str = COURSE_ID) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    (home / "nbgrader_config.py").write_text(STUDENT_CONFIG.format(course=course, student=student,
                                                                   exchange=str(exchange)))
    return home


OWN_WORDS = "My own answer: {}."  # a sample student's written answer (the solutions hold the TA's rubric there)


def full_marks_notebook(name: str) -> nbformat.NotebookNode:
    """The solution, with the written answers in the student's own words instead of the TA's rubric."""
    nb = nbformat.read(str(next(SOLUTIONS.glob(f"*/{name}"))), as_version=4)
    for cell in nb.cells:
        if is_written_answer(cell):
            cell.source = OWN_WORDS.format(grade_id(cell).replace("_", " "))
    return nb


def partly_wrong_notebook(name: str) -> nbformat.NotebookNode:
    """The full-marks notebook with the samples' PARTIAL_MISTAKES in it."""
    from autograder.samples import partial_mistakes, with_answers

    return with_answers(full_marks_notebook(name), partial_mistakes().get(name, {}))


SAMPLE_STUDENTS = {
    "ada": ("full marks", full_marks_notebook),
    "ben": ("partly wrong", partly_wrong_notebook),
    "cy": ("untouched release", None),
}


def _gradebook_rows(course_root: Path, course: str = COURSE_ID) -> list[tuple[str, str, float, float]]:
    rows = []
    with course_layout(course_root).gradebook(course) as gb:
        assignment = gb.find_assignment(ASSIGNMENT)
        for student in sorted(s.id for s in gb.students):
            for notebook in assignment.notebooks:
                try:
                    sub = gb.find_submission_notebook(notebook.name, ASSIGNMENT, student)
                except Exception:
                    continue
                rows.append((student, notebook.name, float(sub.score), float(sub.max_score)))
    return rows


def grade_table(course: Path, students: list[str]) -> list[str]:
    """The course cycle's grade table: each student's score per notebook and in total."""
    rows = _gradebook_rows(course)
    notebooks = sorted({r[1] for r in rows})
    header = f"{'student':<10}" + "".join(f"{n:>26}" for n in notebooks) + f"{'total':>16}"
    lines = ["", header, "-" * len(header)]
    for student in students:
        mine = {r[1]: r for r in rows if r[0] == student}
        total = sum(r[2] for r in mine.values()), sum(r[3] for r in mine.values())
        cells = "".join(f"{(f'{mine[n][2]:g} / {mine[n][3]:g}' if n in mine else '-'):>26}" for n in notebooks)
        lines.append(f"{student:<10}{cells}{f'{total[0]:g} / {total[1]:g}':>16}")
    manual = sum(points(c) for path in sorted(course_layout(course).source(ASSIGNMENT).glob("*.ipynb"))
                 for c in nbformat.read(str(path), as_version=4).cells if is_manual_cell(c))
    lines.append(f"(each maximum includes {manual:g} points of written \"Think!\" answers, graded by hand in formgrader)")
    return lines


def run_course_cycle(keep: Path | None = None, students: dict | None = None, quiet: bool = False,
                     only: list[str] | None = None, settings: dict[str, str] | None = None,
                     class_grade: bool = False) -> int:
    """Run the whole cycle; print the grade table and where the feedback and CSV are. Returns 0.

    ``settings``: the course's own ``CourseDirectory`` settings (see :func:`make_course`); ``class_grade``:
    grade with ``autograder class-grade`` (which ends with the class report) instead of ``nbgrader autograde``.
    """
    students = students or SAMPLE_STUDENTS
    started = time.perf_counter()
    root = Path(keep).resolve() if keep else Path(tempfile.mkdtemp(prefix="autoencoders-course-"))
    if keep and root.exists():
        shutil.rmtree(root)
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    say(f"course directory: {root}")
    course = make_course(root / "course", only=only, settings=settings)
    exchange = root / "course" / "exchange"

    say("1. generate the student release from solutions/")
    nbgrader("generate_assignment", ASSIGNMENT, "--force", cwd=course)
    for student in students:
        nbgrader("db", "student", "add", student, cwd=course)
    say("2. release it to the exchange")
    nbgrader("release_assignment", ASSIGNMENT, "--force", cwd=course)

    say("3. students fetch, work and submit")
    for student, (label, make) in students.items():
        home = make_student(root / "students" / student, student, exchange)
        nbgrader("fetch_assignment", ASSIGNMENT, cwd=home)
        for path in sorted((home / ASSIGNMENT).glob("*.ipynb")):
            if make is not None:
                nbformat.write(make(path.name), str(path))
        nbgrader("submit", ASSIGNMENT, cwd=home)
        say(f"   {student}: {label}")

    say("4. collect and autograde")
    nbgrader("collect", ASSIGNMENT, "--update", cwd=course)
    t0 = time.perf_counter()
    if class_grade:
        run_tool("autograder", "class-grade", str(course), ASSIGNMENT, "-j", "1")
    else:
        nbgrader("autograde", ASSIGNMENT, "--force", cwd=course)
    say(f"   autograded {len(students)} students in {time.perf_counter() - t0:.0f} s")

    say("5. feedback and grades")
    nbgrader("generate_feedback", ASSIGNMENT, "--force", cwd=course)
    csv_path = root / "grades.csv"
    nbgrader("export", f"--to={csv_path}", cwd=course)

    for line in grade_table(course, list(students)):
        say(line)
    say("")
    say(f"grades CSV:   {csv_path}")
    for student in students:
        for html in sorted(course_layout(course).feedback(student, ASSIGNMENT).glob("*.html")):
            say(f"feedback:     {html}")
    say(f"done in {time.perf_counter() - started:.0f} s")
    with open(csv_path) as f:
        assert list(csv.DictReader(f)), "the exported grades CSV is empty"
    return 0
