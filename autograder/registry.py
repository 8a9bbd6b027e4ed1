"""The hidden checks, found the way pytest finds them, without starting pytest.

A check is a pytest test function in ``autograder/checks/<part>.py`` with a ``points`` marker::

    @pytest.mark.points(2, cell="pca_fit")
    def test_orthonormal_rows(ns):
        "components have orthonormal rows"
        ...
        assert error < 1e-4, f"expected ..., found {error:.2g}. Hint: ..."

``ns`` is the student's namespace (the notebook's globals). A check passes when it returns; its
message on failure is the assertion's text; the first line of its docstring names it. It may be
``@pytest.mark.parametrize``-d (one check per parameter set, each worth the marker's points; the
marker's ``cell`` and the docstring may name parameters as ``{name}``) and may carry pytest-timeout's
``@pytest.mark.timeout(seconds)``.

pytest runs these functions through :mod:`autograder.pytest_plugin` (``autograder test-checks``);
the executor runs the very same functions on the trusted side through :mod:`autograder.checkrun`, which
reads the markers here. Names are pytest's: ``test_values[relu]``.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

from autograder import limits

CHECKS_PACKAGE = "autograder.checks"


@dataclass(frozen=True)
class Check:
    cell: str
    name: str  # pytest's name for it: test_fit_mean, test_values[relu]
    points: float
    func: Callable
    timeout: float
    description: str
    module: str
    params: dict = field(default_factory=dict)

    def run(self, ns: dict) -> None:
        self.func(ns, **self.params)


def _marks(func, name: str) -> list:
    return [m for m in getattr(func, "pytestmark", []) if m.name == name]


def _idval(value, argname: str, index: int) -> str:
    """pytest's id for one parameter value (strings, numbers, booleans and None as themselves)."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return str(value)
    return f"{argname}{index}"


def _parameter_sets(func) -> list[tuple[str, dict]]:
    """(id, {argname: value}) for each parameter set of a test function; [("", {})] when unparametrized."""
    marks = _marks(func, "parametrize")
    if not marks:
        return [("", {})]
    if len(marks) > 1:
        raise ValueError(f"{func.__name__}: use one @pytest.mark.parametrize with several argnames, not several marks")
    mark = marks[0]
    argnames, argvalues = mark.args[0], mark.args[1]
    names = [n.strip() for n in argnames.split(",")] if isinstance(argnames, str) else list(argnames)
    ids = mark.kwargs.get("ids")
    sets = []
    for index, value in enumerate(argvalues):
        explicit = None
        if hasattr(value, "values") and hasattr(value, "id") and hasattr(value, "marks"):  # pytest.param(...)
            explicit, value = value.id, value.values
            value = value if len(names) > 1 else value[0]
        values = tuple(value) if len(names) > 1 else (value,)
        if explicit is None and ids is not None:
            explicit = ids(value) if callable(ids) else ids[index]
        ident = explicit if explicit is not None else "-".join(
            _idval(v, n, index) for n, v in zip(names, values))
        sets.append((str(ident), dict(zip(names, values))))
    return sets


def fill(template: str, params: dict) -> str:
    """A marker's cell or a docstring with the check's parameters filled in (``{name}``)."""
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError):
        return template


def checks_of_function(func, module: str) -> list[Check]:
    """The checks one marked test function stands for (several when parametrized)."""
    marks = _marks(func, "points")
    if len(marks) != 1:
        raise ValueError(f"{module}.{func.__name__}: expected one @pytest.mark.points(n, cell=...) marker")
    mark = marks[0]
    value = float(mark.args[0] if mark.args else mark.kwargs["value"])
    if value <= 0:
        raise ValueError(f"{module}.{func.__name__}: a check must be worth a positive number of points")
    timeouts = _marks(func, "timeout")
    timeout = float(timeouts[0].args[0]) if timeouts else float(limits.CHECK_TIMEOUT)
    parameters = list(inspect.signature(func).parameters)
    if not parameters or parameters[0] != "ns":
        raise ValueError(f"{module}.{func.__name__}: a check's first argument is the student's namespace, `ns`")
    doc = (func.__doc__ or func.__name__).strip().splitlines()[0]
    checks = []
    for ident, params in _parameter_sets(func):
        if sorted(params) != sorted(parameters[1:]):
            raise ValueError(f"{module}.{func.__name__}: arguments {parameters[1:]} but parameters {sorted(params)}")
        checks.append(Check(cell=fill(mark.kwargs["cell"], params),
                            name=func.__name__ + (f"[{ident}]" if ident else ""), points=value, func=func,
                            timeout=timeout, description=fill(doc, params), module=module, params=params))
    return checks


def checks_of_module(module) -> list[Check]:
    found = []
    for name, obj in vars(module).items():
        if name.startswith("test") and inspect.isfunction(obj) and obj.__module__ == module.__name__:
            found.extend(checks_of_function(obj, module.__name__))
    return found


def check_modules() -> list[str]:
    package = importlib.import_module(CHECKS_PACKAGE)
    return [f"{CHECKS_PACKAGE}.{info.name}" for info in pkgutil.iter_modules(package.__path__)
            if not info.name.startswith("_")]


@lru_cache(maxsize=1)
def table() -> dict[str, tuple[Check, ...]]:
    """Every check, by cell: loaded once per process (the executor loads it before any student code runs)."""
    table: dict[str, list[Check]] = {}
    for name in check_modules():
        for check in checks_of_module(importlib.import_module(name)):
            same = table.setdefault(check.cell, [])
            if any(c.name == check.name and c.module == check.module for c in same):
                raise ValueError(f"check {check.name} registered twice for cell {check.cell}")
            same.append(check)
    return {cell: tuple(checks) for cell, checks in table.items()}


def checks_for(cell: str) -> list[Check]:
    return list(table().get(cell, ()))


def all_cells() -> dict[str, list[Check]]:
    return {cell: list(checks) for cell, checks in table().items()}


def cell_points(cell: str) -> float:
    """What a cell is worth: the sum of its checks' points (the one place points are declared)."""
    return round(sum(c.points for c in checks_for(cell)), 4)
