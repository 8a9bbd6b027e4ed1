"""The instructor's loop, as the README writes it, on a copy of the kit: add a check, add an exercise,
sync, regenerate the release, run the checks with pytest against the solution and the release."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from tests.kit import REPO, check_line

pytestmark = pytest.mark.slow


def readme_block(heading: str) -> str:
    """The first ```python block after a bold heading of the README."""
    text = (REPO / "README.md").read_text()
    after = text.split(f"**{heading}**", 1)[1]
    return re.search(r"```python\n(.*?)```", after, re.S).group(1)


@pytest.fixture
def kit(tmp_path) -> Path:
    """A copy of the kit's code and notebooks; `autograder` there is the one the commands import."""
    copy = tmp_path / "kit"
    for name in ("autograder", "solutions", "assignments"):
        shutil.copytree(REPO / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO / "nbgrader_config.py", copy / "nbgrader_config.py")
    return copy


def run(kit: Path, *args, ok=(0,)) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(kit)}
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", *map(str, args)], cwd=kit, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode in ok, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def cell(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def test_add_a_check_to_an_existing_cell(kit, mnist_available):
    checks = kit / "autograder" / "checks" / "pca.py"
    checks.write_text(checks.read_text() + "\n\n" + readme_block("Add a check to an existing cell."))
    out = run(kit, "sync", "--check", ok=(1,)).stdout
    assert "01_pca_encoder.ipynb: pca_fit: check cell rewritten" in out and "7 -> 8 points" in out, out
    run(kit, "sync")
    source = nbformat.read(str(kit / "solutions" / "autoencoders" / "01_pca_encoder.ipynb"), as_version=4)
    assert cell(source, "pca_fit").source == check_line("pca_fit", 8)
    out = run(kit, "test-checks", kit / "solutions" / "autoencoders" / "01_pca_encoder.ipynb", "-k", "unit_rows",
              "--notebook-cells", "answers").stdout
    assert "PASS [1/1] test_fit_unit_rows" in out and "pca_fit: 1 / 1" in out, out


EXERCISE = '''def scale_layer(layer, factor):
    """A copy of `layer` whose outputs are `factor` times the original's."""
    ### BEGIN SOLUTION
    scaled = Linear(layer.in_features, layer.out_features)
    with torch.no_grad():
        scaled.weight.copy_(factor * layer.weight)
        scaled.bias.copy_(factor * layer.bias)
    return scaled
    ### END SOLUTION
'''

CHECK = '''

@pytest.mark.points(2, cell="scale_layer")
def test_scale_layer_scales_outputs(ns):
    """scales every output by the factor"""
    layer = call(ns, "Linear", 3, 2)
    x = torch.randn(5, 3)
    scaled = call(ns, "scale_layer", layer, 3.0)
    err = float((scaled(x) - 3.0 * layer(x)).abs().max())
    assert err < 1e-5, f"expected outputs 3 times the layer's, found a largest difference of {err:.3g}."
'''


def test_add_an_exercise_and_release_it(kit, mnist_available):
    path = kit / "solutions" / "autoencoders" / "02_linear_layers.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    at = nb.cells.index(cell(nb, "compose_linear")) + 1
    answer = new_code_cell(EXERCISE)  # what the Create Assignment toolbar writes for each kind of cell
    answer.metadata["nbgrader"] = {"grade": False, "grade_id": "scale_layer_sol", "locked": False,
                                   "schema_version": 3, "solution": True, "task": False}
    tests = new_code_cell("")
    tests.metadata["nbgrader"] = {"grade": True, "grade_id": "scale_layer", "locked": True, "points": 0,
                                  "schema_version": 3, "solution": False, "task": False}
    nb.cells[at:at] = [answer, tests]
    nbformat.write(nb, str(path))
    proc = run(kit, "sync", ok=(2,))
    assert "check cell 'scale_layer' has no hidden checks" in proc.stdout, proc.stdout
    checks = kit / "autograder" / "checks" / "linear.py"
    checks.write_text(checks.read_text() + CHECK)
    run(kit, "release")
    released = nbformat.read(str(kit / "assignments" / "autoencoders" / "02_linear_layers.ipynb"), as_version=4)
    assert 'raise NotImplementedError("Student exercise: scale_layer")' in cell(released, "scale_layer_sol").source
    assert cell(released, "scale_layer").source == check_line("scale_layer", 2)
    solution = run(kit, "test-checks", path, "--cell", "scale_layer", "--notebook-cells", "answers").stdout
    assert "scale_layer: 2 / 2" in solution, solution
    blank = run(kit, "test-checks", kit / "assignments" / "autoencoders" / "02_linear_layers.ipynb", "--cell",
                "scale_layer", "--notebook-cells", "answers", ok=(1,)).stdout
    assert "scale_layer: 0 / 2" in blank and "is still a blank" in blank, blank
