"""Figures and fixtures more than one section uses, each measured or built once per run (``Bench.once``).

* the start of a ``python3`` kernel and ``autograder grade`` of an empty kit notebook (start-up, grading);
* one temporary nbgrader course with the assignment generated, and students' submissions in it
  (grading, class).
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.context import ASSIGNMENT, Bench
from bench.measure import base_env, best_of, grading_env, say, student_kernel_env, timed, tool
from bench.nbrun import read_nb


# ====================================================================== fixed costs
def kernel_start(b: Bench) -> dict:
    """Start a "python3" kernel, wait until it answers, shut it down: the start part, best of N."""

    def measure() -> dict:
        from jupyter_client.manager import start_new_kernel

        def once() -> float:
            start = time.perf_counter()
            km, kc = start_new_kernel(kernel_name="python3", startup_timeout=300, env=student_kernel_env())
            seconds = time.perf_counter() - start
            kc.stop_channels()
            km.shutdown_kernel(now=True)
            return seconds

        return best_of(b.repeats, once)

    return b.once("kernel_start", measure)


def empty_kit_notebook(folder: Path) -> Path:
    """A kit notebook with no cells (the kit's metadata, nothing to run): what ``autograder grade`` accepts
    as its own source."""
    import nbformat

    from autograder.cells import KIT_KEY
    from autograder.sync import KIT_METADATA

    nb = nbformat.v4.new_notebook()
    nb.metadata[KIT_KEY] = dict(KIT_METADATA)
    path = folder / "empty.ipynb"
    nbformat.write(nb, str(path))
    return path


def grade_empty(b: Bench) -> dict:
    """`autograder grade` of an empty kit notebook, graded against itself: the CLI's fixed cost per notebook,
    best of N."""

    def measure() -> dict:
        empty = empty_kit_notebook(Path(tempfile.mkdtemp(prefix="empty-", dir=b.tmp)))
        cmd = [*tool("autograder"), "grade", str(empty), "--source", str(empty), "--json"]
        return best_of(b.repeats, lambda: timed(cmd, env=base_env())[0])

    return b.once("grade_empty", measure)


# ====================================================================== the course
def course(b: Bench) -> dict:
    """One temporary nbgrader course (make_course + generate_assignment) for every grading figure."""

    def build() -> dict:
        from autograder.course import make_course

        root = b.tmp / "course"
        say(f"building a temporary course in {root}")
        made = make_course(root, only=[p.name for p in b.notebooks])
        seconds, _ = timed([*tool("nbgrader"), "generate_assignment", ASSIGNMENT, "--force"], cwd=made,
                           env=grading_env())
        return {"root": made, "generate_assignment_s": seconds}

    return b.once("course", build)


def release_folder(course_root: Path) -> Path:
    """Where `nbgrader generate_assignment` put the student version: the course sets no folders, so nbgrader's
    default release directory."""
    from nbgrader.coursedir import CourseDirectory

    return course_root / CourseDirectory().release_directory / ASSIGNMENT


def add_submission(course_root: Path, student: str, kind: str, names: list[str]) -> None:
    """Put a student's notebooks straight into submitted/ (what `nbgrader collect` leaves there)."""
    import nbformat

    from autograder.course import full_marks_notebook, partly_wrong_notebook

    folder = course_root / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        if kind == "full marks":
            nb = full_marks_notebook(name)
        elif kind == "partly wrong":
            nb = partly_wrong_notebook(name)
        elif kind == "untouched release":
            nb = read_nb(release_folder(course_root) / name)
        else:
            raise ValueError(kind)
        nbformat.write(nb, str(folder / name))


def gradebook_score(course_root: Path, student: str) -> tuple[float, float]:
    """(score, max score) of a student's submission, from the course's gradebook."""
    from autograder.classgrade import gradebook_score as score

    return score(course_root, ASSIGNMENT, student)


def review_lines(course_root: Path, student: str) -> list[str]:
    """What a TA would be told to look at in a student's autograded notebooks (cells not graded, audit flags)."""
    from autograder.review import review_folder

    folder = course_root / "autograded" / student / ASSIGNMENT
    return [line for review in review_folder(folder) for line in review.lines()]
