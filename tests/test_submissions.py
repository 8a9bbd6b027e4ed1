"""Every sample mistake loses points on its own cell and nowhere else; every correct variant keeps them all."""
import importlib
import pkgutil

import pytest

import tests.submissions as package
from tests.kit import SOLUTIONS, build_namespace, grade_cells

MODULES = [importlib.import_module(f"{package.__name__}.{m.name}") for m in pkgutil.iter_modules(package.__path__)]


def _cases(kind):
    for module in MODULES:
        for name, case in getattr(module, kind).items():
            yield pytest.param(module, case, id=f"{module.__name__.rsplit('.', 1)[-1]}-{name}")


def _scores(module, replace):
    ns = build_namespace(SOLUTIONS / module.NOTEBOOK, replace)
    return grade_cells(ns, module.FUNCTION_CELLS)


@pytest.mark.parametrize("module", [pytest.param(m, id=m.__name__.rsplit(".", 1)[-1]) for m in MODULES])
def test_solution_keeps_full_marks(module, mnist_available):
    for cell, result in _scores(module, {}).items():
        failed = [(c.name, c.message) for c in result.checks if not c.passed]
        assert result.score == result.max_score > 0, f"{cell}: {failed or result.note}"


@pytest.mark.parametrize("module,case", list(_cases("BUGGY")))
def test_mistake_loses_points_on_its_cell_only(module, case, mnist_available):
    replace, losing = case
    results = _scores(module, replace)
    for cell, result in results.items():
        if cell in losing:
            assert result.score < result.max_score, f"{cell} kept full marks"
            failed = [c for c in result.checks if not c.passed]
            assert all(c.message for c in failed), "every failed check says why"
        else:
            failed = [(c.name, c.message) for c in result.checks if not c.passed]
            assert result.score == result.max_score, f"{cell} lost points it should keep: {failed}"


@pytest.mark.parametrize("module,replace", list(_cases("ALTERNATIVES")))
def test_correct_alternative_keeps_full_marks(module, replace, mnist_available):
    for cell, result in _scores(module, replace).items():
        failed = [(c.name, c.message) for c in result.checks if not c.passed]
        assert result.score == result.max_score, f"{cell}: {failed}"
