"""The instructor's loop: the hidden checks are pytest tests, run with pytest's own options against a notebook."""
import subprocess
import sys

from tests.kit import RELEASE_NOTEBOOKS, REPO, SOLUTION_NOTEBOOKS

TEST_CHECKS = [sys.executable, "-m", "autograder.cli", "test-checks"]


def run(*args, timeout=600):
    return subprocess.run([*TEST_CHECKS, *map(str, args)], cwd=REPO, capture_output=True, text=True, timeout=timeout)


def test_one_cells_checks_on_the_solution_with_pytest_selection(mnist_available):
    proc = run(SOLUTION_NOTEBOOKS / "02_linear_layers.ipynb", "-k", "test_forward", "-v")
    assert proc.returncode == 0, proc.stdout[-3000:]
    out = proc.stdout
    assert "autograder/checks/linear.py::test_forward_values PASSED" in out
    assert "points: 02_linear_layers.ipynb" in out and "linear_forward: 4 / 4" in out and "total: 4 / 4" in out
    assert "linear_layer:" not in out.split("points: ")[1], "-k left only linear_forward's checks"


def test_failures_show_the_students_message_and_stop_with_x(mnist_available):
    proc = run(RELEASE_NOTEBOOKS / "02_linear_layers.ipynb", "--cell", "linear_layer", "-x")
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "1 failed" in proc.stdout and "stopping after 1 failures" in proc.stdout
    assert "FAIL [0/1] test_layer_parameters: `Linear` is still a blank" in proc.stdout


def test_parametrized_family_and_an_unknown_cell(mnist_available):
    proc = run(SOLUTION_NOTEBOOKS / "03_activations.ipynb", "--cell", "sigmoid", "--notebook-cells", "answers", "-q")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "sigmoid: 6 / 6" in proc.stdout and "PASS [1/1] test_values[sigmoid]" in proc.stdout
    proc = run(SOLUTION_NOTEBOOKS / "03_activations.ipynb", "--cell", "no_such_cell")
    assert proc.returncode == 4 and "has no check cell no_such_cell" in proc.stderr
