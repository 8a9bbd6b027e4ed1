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


def partial_mistakes() -> dict[str, dict[str, str]]:
    """notebook file name -> {solution grade_id: mistaken source}, over every sample module."""
    return {module.NOTEBOOK: dict(module.PARTIAL_MISTAKES) for module in modules()}
