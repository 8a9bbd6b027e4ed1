"""Sample submissions for the course cycle's "partly wrong" student, one module per notebook.

Each module defines ``NOTEBOOK`` (the file name) and ``PARTIAL_MISTAKES``: answer cells of the
solution notebook (solution grade_id -> source) replaced by common mistakes.
"""
from __future__ import annotations

import importlib
import pkgutil


def partial_mistakes() -> dict[str, dict[str, str]]:
    """notebook file name -> {solution grade_id: mistaken source}, over every sample module."""
    table = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        table[module.NOTEBOOK] = dict(module.PARTIAL_MISTAKES)
    return table
