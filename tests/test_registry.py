"""autograder.registry finds the hidden checks exactly as pytest collects them, without starting pytest."""
import subprocess
import sys

import pytest

from autograder import registry
from autograder.registry import checks_of_function
from tests.kit import REPO, check_cells, notebooks, read


def test_the_grader_and_pytest_see_the_same_checks():
    proc = subprocess.run([sys.executable, "-m", "pytest", "autograder/checks", "--collect-only", "-q",
                           "-p", "no:cacheprovider"], cwd=REPO, capture_output=True, text=True, timeout=300)
    collected = {line.split("::", 1)[1] for line in proc.stdout.splitlines() if "::" in line}
    ours = {c.name for checks in registry.all_cells().values() for c in checks}
    assert collected == ours and len(ours) > 100, (sorted(collected ^ ours)[:10], proc.stderr[-500:])


def test_every_check_cell_is_worth_its_checks():
    for notebook in notebooks():
        for gid, points in check_cells(read(notebook)).items():
            assert registry.cell_points(gid) == points > 0, f"{notebook.name}: {gid} (run `autograder sync`)"


def test_parametrize_gives_one_check_per_value_with_cell_and_docstring_filled_in():
    @pytest.mark.points(2, cell="cell_{name}")
    @pytest.mark.parametrize("name,scale", [("a", 1), pytest.param("b", 2.5, id="bee")])
    def test_family(ns, name, scale):
        """{name} scales by {scale}"""

    checks = checks_of_function(test_family, __name__)
    assert [(c.cell, c.name, c.description, c.points) for c in checks] == [
        ("cell_a", "test_family[a-1]", "a scales by 1", 2.0), ("cell_b", "test_family[bee]", "b scales by 2.5", 2.0)]
    assert checks[1].params == {"name": "b", "scale": 2.5}


def test_a_badly_declared_check_is_refused():
    def test_no_marker(ns):
        pass

    def test_wrong_argument(x):
        pass

    with pytest.raises(ValueError, match="one @pytest.mark.points"):
        checks_of_function(test_no_marker, __name__)
    with pytest.raises(ValueError, match="namespace, `ns`"):
        checks_of_function(pytest.mark.points(1, cell="c")(test_wrong_argument), __name__)
    with pytest.raises(ValueError, match="positive"):
        checks_of_function(pytest.mark.points(0, cell="c")(test_no_marker), __name__)
