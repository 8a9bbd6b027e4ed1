"""The TA's rubric beside each written answer: in the autograded notebook (formgrader), never for the student.

In the instructor's source notebook, each written "Think!" answer cell (nbgrader's "Manually graded answer")
holds what a full-marks answer says. nbgrader's ``ClearSolutions`` puts ``YOUR ANSWER HERE`` there in the
release, and the gradebook keeps only that stub, so the rubric reaches no student. At autograde,
:class:`ShowRubric` (added last to ``Autograde.autograde_preprocessors``) puts the source's text in a cell of
its own right after the student's answer, marked ``{"autograder": {"rubric_for": GRADE_ID}}``: formgrader
shows it to the TA under the answer being graded. ``StripFeedback`` drops those cells from the feedback, and
the kit's report never counts them as the student's. A cell with that mark in a submission (a student's
forgery) is dropped first; a written answer whose source is still the stub gets no rubric cell.
"""
from __future__ import annotations

from nbformat.v4 import new_markdown_cell
from nbgrader.preprocessors import ClearSolutions

from autograder.cells import RUBRIC_KEY, grade_id, is_manual_cell, is_rubric_cell, is_written_answer, points
from autograder.nbgrader_ext.kit import KitPreprocessor

STUB = ClearSolutions.class_traits()["text_stub"].default_value  # nbgrader's "YOUR ANSWER HERE"
HEADING = ("**Rubric for `{grade_id}` ({points:g} point{s}), for the TA: not in the student's release or "
           "feedback**\n\n")


def rubrics(source) -> dict[str, str]:
    """grade id -> rubric text, for every written answer of the source notebook that has one."""
    return {grade_id(c): c.source.strip() for c in source.cells
            if is_written_answer(c) and c.source.strip() not in ("", STUB)}


def rubric_cell(cell, text: str):
    gid, worth = grade_id(cell), points(cell)
    return new_markdown_cell(HEADING.format(grade_id=gid, points=worth, s="" if worth == 1 else "s") + text,
                             metadata={"autograder": {RUBRIC_KEY: gid}})


class ShowRubric(KitPreprocessor):
    """Put the source notebook's rubric after each written answer of a kit notebook, for formgrader."""

    def preprocess_kit(self, nb, resources, source):
        found = rubrics(source)
        cells = []
        for cell in nb.cells:
            if is_rubric_cell(cell):
                continue
            cells.append(cell)
            if is_manual_cell(cell) and grade_id(cell) in found:
                cells.append(rubric_cell(cell, found[grade_id(cell)]))
        nb.cells = cells
        return nb, resources
