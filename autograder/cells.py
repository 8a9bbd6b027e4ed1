"""What the kit's cells are: one home for the predicates every part of the kit uses.

Built on nbgrader's own predicates (``nbgrader.utils.is_grade``/``is_solution``/``is_locked``):

* a **check cell** is an autograded code cell that is not a solution (nbgrader's "Autograder tests");
  in a kit notebook its whole source is one line, :func:`check_line`, and the hidden checks run
  in its place when the kit's executor grades the notebook;
* a **protected** cell is one the student may not change (locked, or a check cell): the grader
  restores it from the source notebook;
* an **editable** cell is any other cell: the student's answers and own experiments (what the
  static audit reads and the similarity report compares);
* a **kit notebook** is a source notebook whose metadata carries the ``autograder`` key; only kit
  notebooks get the kit's grading behaviour, every other notebook in a course is left to nbgrader.
"""
from __future__ import annotations

from nbgrader.utils import is_grade, is_locked, is_solution

KIT_KEY = "autograder"  # notebook metadata key that marks a kit notebook: {"unit": ...}
CHECK_LINE = "0  # Hidden checks for {grade_id} ({points:g} points) run here when graded."


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def grade_id(cell) -> str | None:
    return nbgrader_meta(cell).get("grade_id")


def cell_name(cell, index: int) -> str:
    """How the kit names a cell to a person: its grade id, else its place in the notebook ("#3", from 1)."""
    return grade_id(cell) or f"#{index + 1}"


def points(cell) -> float:
    return float(nbgrader_meta(cell).get("points", 0) or 0)


def is_check_cell(cell) -> bool:
    """An autograded test cell (nbgrader's "Autograder tests")."""
    return cell.get("cell_type") == "code" and is_grade(cell) and not is_solution(cell)


def is_answer_cell(cell) -> bool:
    """A code cell the student fills in (nbgrader's "Autograded answer")."""
    return cell.get("cell_type") == "code" and is_solution(cell)


def is_manual_cell(cell) -> bool:
    """A cell a person grades (a written "Think!" answer)."""
    return is_grade(cell) and (is_solution(cell) or cell.get("cell_type") != "code")


def is_written_answer(cell) -> bool:
    """A written "Think!" answer: a markdown cell a person grades (in the solutions it holds the TA's rubric)."""
    return cell.get("cell_type") == "markdown" and is_manual_cell(cell)


RUBRIC_KEY = "rubric_for"  # in a cell's "autograder" metadata: the TA's rubric under a written answer


def is_rubric_cell(cell) -> bool:
    """A rubric the kit put under a written answer for the TA (:mod:`autograder.nbgrader_ext.rubric`)."""
    return RUBRIC_KEY in (cell.get("metadata", {}).get("autograder") or {})


def is_protected(cell) -> bool:
    """Cells the student may not change: locked ones and check cells (nbgrader's ``is_locked``)."""
    return is_locked(cell)


def is_editable(cell) -> bool:
    """Cells the student may change: answers, written answers and cells they added (never a TA's rubric)."""
    return not is_protected(cell) and not is_rubric_cell(cell)


def check_line(grade_id: str, points: float) -> str:
    """The whole source of a kit check cell.

    Its value is 0: nbgrader records that when the notebook is executed without the kit's executor
    (nbgrader gives full marks to a test cell with no output at all).
    """
    return CHECK_LINE.format(grade_id=grade_id, points=points)


def is_kit_notebook(nb) -> bool:
    return isinstance(nb.get("metadata", {}).get(KIT_KEY), dict)


def check_cells(nb) -> dict[str, float]:
    """grade_id -> points of every check cell of a notebook, in order."""
    return {grade_id(c): points(c) for c in nb.cells if is_check_cell(c)}
