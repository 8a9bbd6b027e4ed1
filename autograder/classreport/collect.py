"""Everything the class report reads, gathered once: the gradebook, class-grade's outcomes, and the notebooks.

* the **gradebook** (nbgrader's sqlite database): who is enrolled, who handed in and when, the
  score of every graded cell (autograded checks and, once a person has graded them, the written
  answers) — read with a handful of bulk queries, never one query per student;
* **class-grade.json** (``COURSE/reports/ASSIGNMENT/``, written by ``autograder class-grade``): which
  students could not be graded and why, when it exists;
* each student's **autograded notebooks** (``COURSE/autograded/``): the result of every hidden check
  as the trusted executor wrote it, the audit's flags, and the cells the student could edit (the
  similarity report's input). A notebook that was never autograded is read from ``submitted/``
  for its editable cells only;
* the **release** (``COURSE/release/ASSIGNMENT/``): the template every student starts from.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import timezone
from pathlib import Path

import nbformat

from autograder import cells as kitcells
from autograder.coursedir import CourseLayout, outcomes_path
from autograder.coursedir import layout as course_layout
from autograder.results import SUSPECT, CellResult


@dataclass
class Submission:
    """One student's one notebook."""
    notebook: str
    submitted: bool = False
    score: float | None = None  # the gradebook's score: checks plus written answers graded so far
    auto_score: float | None = None  # the hidden checks' points only
    grades: dict[str, float] = field(default_factory=dict)  # check cell -> the gradebook's score
    manual_pending: bool = False  # written answers still to be graded by a person
    cells: list[CellResult] = field(default_factory=list)  # each check cell's result, from the notebook
    flags: list[dict] = field(default_factory=list)  # the grading-integrity audit's findings
    editable: list[tuple[str, str, str]] = field(default_factory=list)  # (cell name, cell type, source)
    feedback: Path | None = None
    unreadable: str = ""  # why the notebook could not be read, if it could not

    @property
    def not_graded(self) -> list[CellResult]:
        return [c for c in self.cells if not c.verified]

    @property
    def suspect(self) -> list[CellResult]:
        return [c for c in self.cells if c.needs_review]


@dataclass
class Student:
    id: str
    name: str = ""
    submitted: bool = False
    seconds_late: float = 0.0
    graded: bool | None = None  # class-grade's outcome; None when it left no record
    reason: str = ""  # why class-grade could not grade them
    review: list[str] = field(default_factory=list)  # class-grade's review lines
    audited: bool = True  # False: the notebooks are the ones class-grade audited; its review lines stand
    notebooks: dict[str, Submission] = field(default_factory=dict)

    @property
    def score(self) -> float:
        return round(sum(s.score or 0.0 for s in self.notebooks.values()), 4)

    @property
    def flags(self) -> list[tuple[str, dict]]:
        return [(nb, f) for nb, s in self.notebooks.items() for f in s.flags]

    @property
    def needs_review(self) -> bool:
        if not self.audited:
            return bool(self.review)
        return bool(self.flags or any(s.suspect for s in self.notebooks.values()))

    @property
    def status(self) -> str:
        if not self.submitted:
            return "not submitted"
        if self.graded is False or (self.graded is None and not any(s.cells for s in self.notebooks.values())):
            return "not graded"
        return "graded"


@dataclass
class NotebookInfo:
    name: str
    max_score: float = 0.0
    checks: dict[str, float] = field(default_factory=dict)  # check cell -> points (nbgrader's autograder tests)
    manual: dict[str, float] = field(default_factory=dict)  # written answers -> points

    @property
    def auto_max(self) -> float:
        return round(sum(self.checks.values()), 4)


@dataclass
class ClassData:
    course: Path
    assignment: str
    notebooks: list[NotebookInfo]
    students: list[Student]
    duedate: str | None = None
    release: dict[str, nbformat.NotebookNode] = field(default_factory=dict)
    outcomes_mtime: float | None = None  # when class-grade.json was written
    warnings: list[str] = field(default_factory=list)
    layout: CourseLayout | None = None  # the course's folders and gradebook, as its nbgrader config says

    def folders(self) -> CourseLayout:
        if self.layout is None:
            self.layout = course_layout(self.course)
        return self.layout

    @property
    def max_score(self) -> float:
        return round(sum(n.max_score for n in self.notebooks), 4)


def reason_of(s: Student) -> str:
    """Why a student could not be graded: class-grade's reason, and any notebook that cannot be read."""
    unreadable = [f"unreadable: {sub.unreadable}" for sub in s.notebooks.values() if sub.unreadable]
    reasons = ([s.reason] if s.reason else []) + unreadable
    return "; ".join(reasons) or "no graded notebook was found in autograded/"


def review_lines(s: Student) -> list[str]:
    """What to review, one line per finding: cells not graded (grouped by reason), then the audit's flags."""
    lines = []
    for nb, sub in s.notebooks.items():
        groups: dict[tuple[str, str], list[str]] = {}
        for c in sub.suspect:
            groups.setdefault((c.status, c.review_note), []).append(c.grade_id)
        lines += [f"{nb}: {', '.join(cells)} " + (f"not graded ({status})" if status in SUSPECT else "flagged by a check")
                  + f": {note}" for (status, note), cells in groups.items()]
    lines += [f"{nb}: cell {f['cell']}, line {f['line']}: {f['reason']}: {f['code']}" for nb, f in s.flags]
    return lines if s.audited else list(s.review)


# ---------------------------------------------------------------- the gradebook
def _open_gradebook(layout: CourseLayout):
    from nbgrader.api import Gradebook

    url = layout.db_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        raise FileNotFoundError(f"no gradebook at {url.removeprefix('sqlite:///')}")
    return Gradebook(url, course_id="")  # "": reads only, adds no course row


def _notebook_infos(gb, assignment) -> list[NotebookInfo]:
    from nbgrader.api import GradeCell, Notebook, SolutionCell

    infos = {nb.name: NotebookInfo(nb.name) for nb in sorted(assignment.notebooks, key=lambda n: n.name)}
    solutions = {(nb, cell) for cell, nb in gb.db.query(SolutionCell.name, Notebook.name).join(Notebook)
                 .filter(Notebook.assignment_id == assignment.id)}
    for cell, points, nb in (gb.db.query(GradeCell.name, GradeCell.max_score, Notebook.name).join(Notebook)
                             .filter(Notebook.assignment_id == assignment.id).order_by(GradeCell.id)):
        info = infos[nb]
        (info.manual if (nb, cell) in solutions else info.checks)[cell] = float(points)
        info.max_score = round(info.max_score + float(points), 4)
    return list(infos.values())


def _grades(gb, assignment) -> list[tuple]:
    """(student, notebook, cell, score, needs manual grade) of every grade of the assignment."""
    from nbgrader.api import BaseCell, Grade, Notebook, SubmittedAssignment, SubmittedNotebook

    return (gb.db.query(SubmittedAssignment.student_id, Notebook.name, BaseCell.name, Grade.score,
                        Grade.needs_manual_grade)
            .select_from(Grade).join(SubmittedNotebook, Grade.notebook_id == SubmittedNotebook.id)
            .join(SubmittedAssignment, SubmittedNotebook.assignment_id == SubmittedAssignment.id)
            .join(Notebook, SubmittedNotebook.notebook_id == Notebook.id)
            .join(BaseCell, Grade.cell_id == BaseCell.id)
            .filter(SubmittedAssignment.assignment_id == assignment.id).all())


def read_gradebook(course: Path, assignment_id: str, db_url: str | None = None) -> ClassData:
    from nbgrader.api import SubmittedAssignment

    layout = course_layout(course, db_url)
    with _open_gradebook(layout) as gb:
        assignment = gb.find_assignment(assignment_id)
        infos = _notebook_infos(gb, assignment)
        students = {s.id: Student(s.id, " ".join(x for x in (s.first_name, s.last_name) if x))
                    for s in gb.students}
        for sub in gb.db.query(SubmittedAssignment).filter(SubmittedAssignment.assignment_id == assignment.id):
            student = students.setdefault(sub.student_id, Student(sub.student_id))
            student.seconds_late = float(sub.total_seconds_late or 0)
            student.notebooks = {info.name: Submission(info.name) for info in infos}
        checks = {(i.name, c) for i in infos for c in i.checks}
        for sid, nb, cell, score, manual in _grades(gb, assignment):
            sub = students[sid].notebooks[nb]
            sub.score = round((sub.score or 0.0) + float(score or 0), 4)
            if (nb, cell) in checks:
                sub.auto_score = round((sub.auto_score or 0.0) + float(score or 0), 4)
                sub.grades[cell] = float(score or 0)
            elif manual:
                sub.manual_pending = True
        due = assignment.duedate.replace(tzinfo=timezone.utc).isoformat() if assignment.duedate else None
    return ClassData(Path(course), assignment_id, infos, sorted(students.values(), key=lambda s: s.id), due,
                     layout=layout)


# ---------------------------------------------------------------- class-grade's outcomes
def read_outcomes(data: ClassData) -> None:
    path = outcomes_path(data.course, data.assignment)
    if not path.exists():
        data.warnings.append(f"no {path.name}: who could not be graded is inferred from the notebooks")
        return
    try:
        data.outcomes_mtime = path.stat().st_mtime
        outcomes = {o["student"]: o for o in json.loads(path.read_text())}
    except (ValueError, KeyError, TypeError) as exc:
        data.warnings.append(f"{path} could not be read ({exc}); ignored")
        return
    known = {s.id: s for s in data.students}
    for sid, outcome in outcomes.items():
        student = known.get(sid)
        if student is None:  # graded, but not in the gradebook: show them anyway
            student = Student(sid)
            data.students.append(student)
        student.graded = bool(outcome.get("ok"))
        student.reason = str(outcome.get("reason") or "")
        student.review = [str(line) for line in outcome.get("review") or []]
    data.students.sort(key=lambda s: s.id)


# ---------------------------------------------------------------- the notebooks
def load_notebook(path: Path) -> nbformat.NotebookNode:
    """A notebook without nbformat's schema validation (which costs more than the parsing)."""
    from nbformat.v4.rwbase import rejoin_lines

    with open(path, encoding="utf-8") as f:
        nb = nbformat.from_dict(json.load(f))
    if not isinstance(nb.get("cells"), list):
        raise ValueError("not a notebook (no list of cells)")
    return rejoin_lines(nb)  # sources stored as lists of lines become strings, as nbformat.read gives them


def source_text(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def editable_cells(nb) -> list[tuple[str, str, str]]:
    """(name, "code"|"markdown", source) of every cell the student could edit."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") in ("code", "markdown") and kitcells.is_editable(cell):
            found.append((kitcells.cell_name(cell, index), cell["cell_type"], source_text(cell)))
    return found


def read_submission(layout: CourseLayout, assignment: str, student: str, sub: Submission,
                    audit: bool = True) -> None:
    """Fill one submission from its autograded notebook (else its submitted one); audit it unless told not to."""
    from autograder.audit import audit_notebook
    from autograder.review import check_results

    graded = layout.autograded(student, assignment) / f"{sub.notebook}.ipynb"
    handed = layout.submitted(student, assignment) / f"{sub.notebook}.ipynb"
    sub.submitted = sub.submitted or handed.exists() or graded.exists()
    feedback = layout.feedback(student, assignment) / f"{sub.notebook}.html"
    sub.feedback = feedback if feedback.exists() else None
    path = graded if graded.exists() else handed
    if not path.exists():
        return
    try:
        nb = load_notebook(path)
        sub.editable = editable_cells(nb)
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        sub.unreadable = f"{_relative(path, layout.root)}: {str(exc)[:200]}"
        return
    if path == graded:
        sub.cells = check_results(nb)
        if audit:
            sub.flags = [f.to_dict() for f in audit_notebook(nb)]


def read_release(data: ClassData, release: Path | None = None) -> None:
    folder = release or data.folders().release(data.assignment)
    for info in data.notebooks:
        path = folder / f"{info.name}.ipynb"
        if path.exists():
            data.release[info.name] = load_notebook(path)
        else:
            data.warnings.append(f"no release of {info.name} in {folder}: its template is not excluded "
                                 "from the similarity")


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _read_one(args):
    layout, assignment, student, sub, audit = args
    read_submission(layout, assignment, student, sub, audit)
    return sub


def audited_by_class_grade(data: ClassData, student: Student) -> bool:
    """class-grade graded and audited this student, and no notebook of theirs changed since."""
    if data.outcomes_mtime is None or student.graded is not True:
        return False
    folder = data.folders().autograded(student.id, data.assignment)
    try:
        return all(p.stat().st_mtime <= data.outcomes_mtime for p in folder.glob("*.ipynb"))
    except OSError:
        return False


def read_notebooks(data: ClassData, jobs: int = 1) -> None:
    for student in data.students:  # the audit is the costly part of reading: class-grade's own is reused
        student.audited = not audited_by_class_grade(data, student)
    tasks = [(data.folders(), data.assignment, s.id, sub, s.audited)
             for s in data.students for sub in s.notebooks.values()]
    if jobs > 1 and sum(t[-1] for t in tasks) > 50:  # worth a pool when there is much to audit
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            results = pool.map(_read_one, tasks, chunksize=max(1, len(tasks) // (jobs * 8)))
    else:
        results = [_read_one(t) for t in tasks]
    for (_, _, _, sub, _), result in zip(tasks, results):
        if result is not sub:
            sub.__dict__.update(result.__dict__)
    for student in data.students:
        student.submitted = any(s.submitted for s in student.notebooks.values())


def collect(course: Path, assignment: str, jobs: int | None = None, db_url: str | None = None,
            release: Path | None = None) -> ClassData:
    course = Path(course).resolve()
    data = read_gradebook(course, assignment, db_url)
    read_outcomes(data)
    for student in data.students:  # students graded by class-grade but absent from the gradebook
        if not student.notebooks:
            student.notebooks = {info.name: Submission(info.name) for info in data.notebooks}
    read_release(data, release)
    read_notebooks(data, jobs if jobs is not None else min(2, os.cpu_count() or 1))
    return data
