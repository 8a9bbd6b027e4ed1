"""Building blocks for writing the course's nbgrader source notebooks in ``solutions/``.

The source notebooks are the master copy; these helpers only keep their cells uniform: every
check cell has the same loader, the right nbgrader metadata and the marker that
:mod:`autograder.nbgrader_ext.require_score` looks for.
"""
from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.nbgrader_ext.require_score import MARKER

CHECK_TEMPLATE = '''# {marker}: hidden checks for `{grade_id}` ({points:g} points) run here when your notebook is graded.
# Graders restore this cell before grading, so editing it changes nothing.
import importlib.util as _iu, os as _os, sys as _sys
[_sys.modules.pop(_m) for _m in list(_sys.modules) if _m.partition(".")[0] == "autograder"]
_path, _sys.path[:] = _sys.path[:], [_p for _p in _sys.path if _p not in ("", ".", _os.getcwd())]
_ag = _iu.find_spec("autograder") and __import__("autograder"); _sys.path[:] = _path
_ag.grade("{grade_id}", globals()) if _ag else print("Hidden checks for `{grade_id}` run when you submit.")'''


def check_source(grade_id: str, points: float) -> str:
    return CHECK_TEMPLATE.format(marker=MARKER, grade_id=grade_id, points=points)


def _meta(grade_id: str, *, grade: bool, solution: bool, locked: bool, points: float | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution,
            "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def md(text: str, grade_id: str | None = None):
    """A markdown cell; with a grade_id it is locked (students can't edit the instructions)."""
    cell = new_markdown_cell(text.strip("\n"))
    if grade_id:
        cell.metadata.update(_meta(grade_id, grade=False, solution=False, locked=True))
    return cell


def code(source: str, grade_id: str | None = None):
    """A plain code cell (setup, plots, visible checks); locked when given a grade_id."""
    cell = new_code_cell(source.strip("\n"))
    if grade_id:
        cell.metadata.update(_meta(grade_id, grade=False, solution=False, locked=True))
    return cell


def solution(source: str, grade_id: str):
    """An autograded answer cell: ``### BEGIN SOLUTION`` regions become named blanks."""
    cell = new_code_cell(source.strip("\n"))
    cell.metadata.update(_meta(grade_id, grade=False, solution=True, locked=False))
    return cell


def check(grade_id: str, points: float):
    """The locked check cell of ``grade_id``: its value is the points the hidden checks give."""
    cell = new_code_cell(check_source(grade_id, points))
    cell.metadata.update(_meta(grade_id, grade=True, solution=False, locked=True, points=points))
    return cell


def think(grade_id: str, points: float, answer: str = "YOUR ANSWER HERE"):
    """A manually graded written answer (a "Think!" question)."""
    cell = new_markdown_cell(answer)
    cell.metadata.update(_meta(grade_id, grade=True, solution=True, locked=False, points=points))
    return cell


def notebook(cells: list) -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def write(nb: nbformat.NotebookNode, path) -> None:
    nbformat.validate(nb)
    nbformat.write(nb, str(path))
