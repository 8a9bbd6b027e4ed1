"""Every sample mistake loses points on its own cell and nowhere else; every correct variant keeps them all.

The hidden checks run through the kit's pytest plugin (autograder/pytest_plugin.py), against the
solution notebook with the sample's answer cells swapped in.
"""
import pytest

from autograder import samples
from autograder.pytest_plugin import check_notebook
from tests.kit import SOLUTION_NOTEBOOKS, check_cells, read, sample_notebook

MODULES = samples.modules()


def _cases(kind):
    for module in MODULES:
        for name, case in getattr(module, kind).items():
            yield pytest.param(module, case, id=f"{module.__name__.rsplit('.', 1)[-1]}-{name}")


def _grade(module, replace, tmp_path, cells="answers", only=None):
    return check_notebook(sample_notebook(module, replace, tmp_path), cells=cells, only=only)


def _failed(tally):
    return [(name, message) for name, _, _, passed, message in tally.checks if not passed]


@pytest.mark.slow
@pytest.mark.parametrize("module", [pytest.param(m, id=m.__name__.rsplit(".", 1)[-1]) for m in MODULES])
def test_solution_keeps_full_marks_on_every_cell(module, tmp_path, mnist_available):
    tallies = _grade(module, {}, tmp_path, cells="all")
    assert set(tallies) == set(check_cells(read(SOLUTION_NOTEBOOKS / module.NOTEBOOK)))
    for cell, tally in tallies.items():
        assert tally.points == tally.max_points > 0 and len(tally.checks) > 0, f"{cell}: {_failed(tally)}"


@pytest.mark.parametrize("module,case", list(_cases("BUGGY")))
def test_mistake_loses_points_on_its_cell_only(module, case, tmp_path, mnist_available):
    replace, losing = case
    tallies = _grade(module, replace, tmp_path, only=module.FUNCTION_CELLS)
    assert set(tallies) == set(module.FUNCTION_CELLS)
    for cell, tally in tallies.items():
        if cell in losing:
            assert tally.points < tally.max_points, f"{cell} kept full marks"
            assert all(message for _, message in _failed(tally)), "every failed check says why"
        else:
            assert tally.points == tally.max_points, f"{cell} lost points it should keep: {_failed(tally)}"


@pytest.mark.parametrize("module,replace", list(_cases("ALTERNATIVES")))
def test_correct_alternative_keeps_full_marks(module, replace, tmp_path, mnist_available):
    for cell, tally in _grade(module, replace, tmp_path, only=module.FUNCTION_CELLS).items():
        assert tally.points == tally.max_points, f"{cell}: {_failed(tally)}"
