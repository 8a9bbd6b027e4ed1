"""Helpers the kit's tests share: the notebooks, and small notebooks built cell by cell."""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.cells import KIT_KEY, check_cells, check_line, nbgrader_meta  # noqa: F401 (re-exported)
from autograder.checkout import REPO, RELEASE_NOTEBOOKS, SOLUTION_NOTEBOOKS, solution_notebooks  # noqa: F401 (re-exported)


def notebooks() -> list[Path]:
    return solution_notebooks()


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def rubrics(path: Path) -> dict[str, str]:
    """grade id -> the TA's rubric, the text of each written answer cell in a solution notebook."""
    from autograder.cells import grade_id, is_manual_cell

    return {grade_id(c): c.source for c in read(path).cells if is_manual_cell(c) and c.cell_type == "markdown"}


def plain_lines(text: str) -> list[str]:
    """A markdown text's long lines that hold no markup: they read the same in the source, the JSON of a
    notebook and a rendered page (what a leak test looks for)."""
    lines = [line.strip().removeprefix("- ") for line in text.splitlines()]
    return [line for line in lines if len(line) > 30 and not any(ch in line for ch in "*`_[]\"'\\")]


# ---------------------------------------------------------------- small nbgrader notebooks for unit tests
def _meta(grade_id: str, *, grade: bool, solution: bool, locked: bool, points: float | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution,
            "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def md(text: str, grade_id: str | None = None):
    cell = new_markdown_cell(text)
    if grade_id:
        cell.metadata.update(_meta(grade_id, grade=False, solution=False, locked=True))
    return cell


def code(source: str, grade_id: str | None = None):
    cell = new_code_cell(source)
    if grade_id:
        cell.metadata.update(_meta(grade_id, grade=False, solution=False, locked=True))
    return cell


def solution(source: str, grade_id: str):
    cell = new_code_cell(source)
    cell.metadata.update(_meta(grade_id, grade=False, solution=True, locked=False))
    return cell


def check(grade_id: str, points: float, source: str | None = None):
    cell = new_code_cell(check_line(grade_id, points) if source is None else source)
    cell.metadata.update(_meta(grade_id, grade=True, solution=False, locked=True, points=points))
    return cell


def think(grade_id: str, points: float, answer: str = "YOUR ANSWER HERE"):
    cell = new_markdown_cell(answer)
    cell.metadata.update(_meta(grade_id, grade=True, solution=True, locked=False, points=points))
    return cell


def notebook(cells: list, kit: bool = True) -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    if kit:
        nb.metadata[KIT_KEY] = {"unit": "autoencoders"}
    return nb
