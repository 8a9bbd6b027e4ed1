"""Hidden checks as pytest-style test functions, each worth points on one graded cell.

A check module in ``autograder/checks/`` declares its tests like this::

    @points(2, cell="pca_fit")
    def test_orthonormal_rows(ns):
        "components have orthonormal rows"
        ...
        assert error < 1e-4, f"expected ..., found {error:.2g}. Hint: ..."

``ns`` is the student's namespace (the notebook's globals). A test passes when it returns;
its message on failure is the assertion's text. The first line of the docstring names it.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Callable

from autograder import limits


@dataclass(frozen=True)
class Check:
    cell: str
    name: str
    points: float
    func: Callable
    timeout: float
    description: str
    module: str


_REGISTRY: dict[str, list[Check]] = {}


def points(value: float, cell: str, timeout: float | None = None):
    """Register a test function as a hidden check worth ``value`` points on ``cell``."""
    if value <= 0:
        raise ValueError("a check must be worth a positive number of points")

    def decorate(func: Callable) -> Callable:
        doc = (func.__doc__ or func.__name__).strip().splitlines()[0]
        check = Check(cell=cell, name=func.__name__, points=float(value), func=func,
                      timeout=float(timeout or limits.CHECK_TIMEOUT), description=doc, module=func.__module__)
        checks = _REGISTRY.setdefault(cell, [])
        if any(c.name == check.name and c.module == check.module for c in checks):
            raise ValueError(f"check {check.name} registered twice for cell {cell}")
        checks.append(check)
        func.autograder_check = check
        return func

    return decorate


def load_all() -> None:
    """Import every module of ``autograder.checks`` so their checks register."""
    import autograder.checks as package

    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{package.__name__}.{info.name}")


def checks_for(cell: str) -> list[Check]:
    load_all()
    return list(_REGISTRY.get(cell, []))


def all_cells() -> dict[str, list[Check]]:
    load_all()
    return {cell: list(checks) for cell, checks in _REGISTRY.items()}
