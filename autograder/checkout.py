"""The kit's checkout: the master copy, the generated release, and the data folder a development machine keeps.

One meaning per name, everywhere (the grader, its tests, the benchmark):

- ``SOLUTIONS`` is ``solutions/``, the master copy (nbgrader's source folder: one folder per assignment);
- ``SOLUTION_NOTEBOOKS`` is the kit's assignment inside it (``solutions/autoencoders``);
- ``RELEASE_NOTEBOOKS`` is that assignment's generated student version (``assignments/autoencoders``).

A course's own folders are nbgrader's business and are read through :mod:`autograder.coursedir`.
"""
from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ASSIGNMENT = "autoencoders"
SOLUTIONS = REPO / "solutions"
SOLUTION_NOTEBOOKS = SOLUTIONS / ASSIGNMENT
RELEASE_NOTEBOOKS = REPO / "assignments" / ASSIGNMENT

#: The MNIST copy a development machine keeps beside the kit's checkout (the Makefile exports the same).
SHARED_DATA = REPO.parent / "shared" / "data"


def solution_notebooks() -> list[Path]:
    """Every notebook of the assignment's master copy (globbed: a new notebook counts as soon as it exists)."""
    return sorted(SOLUTION_NOTEBOOKS.glob("*.ipynb"))
