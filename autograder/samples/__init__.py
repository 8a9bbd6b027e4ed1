"""Sample student code per notebook: common mistakes and correct alternatives, one module per notebook.

Each module names its NOTEBOOK, the check cells that grade functions (FUNCTION_CELLS), and
tables of answer cells to swap into the solution notebook ({solution grade_id: source}):

* BUGGY: case -> (answer cells, check cells that must lose points); every other function cell
  keeps full marks;
* ALTERNATIVES: case -> answer cells written differently but correctly: every cell keeps full marks;
* PARTIAL_MISTAKES: the answer cells of the course cycle's "partly wrong" student (``autograder course``).

The kit's tests grade every case with the hidden checks (tests/test_submissions.py).
"""
from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def modules() -> list[ModuleType]:
    return [importlib.import_module(f"{__name__}.{info.name}") for info in pkgutil.iter_modules(__path__)]


def with_answers(nb, answers: dict[str, str]):
    """``nb`` with the cells named in ``answers`` (grade id -> source) holding those sources instead: how a
    sample (a mistake, an alternative) becomes a student's notebook. A grade id the notebook lacks is an error
    in the sample, named."""
    from autograder.cells import grade_id

    left = dict(answers)
    for cell in nb.cells:
        if grade_id(cell) in left:
            cell.source = left.pop(grade_id(cell))
    if left:
        raise KeyError(f"no cells {sorted(left)} in the notebook the sample was written for")
    return nb


def solution_with(notebook: str, answers: dict[str, str]):
    """The solution notebook named ``notebook`` with a sample's answer cells in it."""
    import nbformat

    from autograder.checkout import SOLUTION_NOTEBOOKS

    return with_answers(nbformat.read(str(SOLUTION_NOTEBOOKS / notebook), as_version=4), answers)


def partial_mistakes() -> dict[str, dict[str, str]]:
    """notebook file name -> {solution grade_id: mistaken source}, over every sample module."""
    return {module.NOTEBOOK: dict(module.PARTIAL_MISTAKES) for module in modules()}
