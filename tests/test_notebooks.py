"""Every notebook, graded headless: the solution earns full marks, the untouched release earns 0 cleanly."""
import json
import subprocess
import sys

import pytest

from tests.kit import RELEASE, check_cells, notebooks, read

AUTOGRADER = [sys.executable, "-m", "autograder.cli"]


def grade_json(path, *extra):
    proc = subprocess.run([*AUTOGRADER, "grade", str(path), "--json", *extra], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def _schema(result):
    assert set(result) >= {"notebook", "score", "max_score", "cells", "flags", "needs_review"}
    for cell in result["cells"]:
        assert set(cell) >= {"grade_id", "score", "max_score", "checks", "status", "verified"}
        for check in cell["checks"]:
            assert set(check) == {"name", "passed", "points", "max_points", "message", "check"}
            assert isinstance(check["passed"], bool) and isinstance(check["message"], str)


@pytest.mark.slow
@pytest.mark.parametrize("notebook", notebooks(), ids=lambda p: p.stem)
def test_solution_earns_full_marks(notebook, mnist_available):
    result = grade_json(notebook)
    _schema(result)
    expected = check_cells(read(notebook))
    assert {c["grade_id"]: c["max_score"] for c in result["cells"]} == expected
    failed = [(c["grade_id"], k["name"], k["message"]) for c in result["cells"] for k in c["checks"] if not k["passed"]]
    assert result["score"] == result["max_score"] == sum(expected.values()), failed
    assert all(c["verified"] for c in result["cells"]) and not result["needs_review"], result["flags"]


@pytest.mark.slow
@pytest.mark.parametrize("notebook", notebooks(), ids=lambda p: p.stem)
def test_untouched_release_earns_zero_cleanly(notebook, mnist_available):
    result = grade_json(RELEASE / notebook.name, "--source", str(notebook))
    _schema(result)
    assert result["score"] == 0 and result["max_score"] > 0
    messages = [k["message"] for c in result["cells"] for k in c["checks"]]
    assert messages and all(m for m in messages), "every failed check has a message"
    assert any("still a blank" in m for m in messages)
    assert not any("Traceback" in m or 'File "' in m for m in messages), "no raw tracebacks in messages"
    assert all(c["verified"] for c in result["cells"]) and not result["needs_review"], result["flags"]


def test_cli_cannot_grade_says_why(tmp_path):
    bad = tmp_path / "01_pca_encoder.ipynb"
    bad.write_text("{ not json")
    proc = subprocess.run([*AUTOGRADER, "grade", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2 and "not a readable notebook" in proc.stderr and len(proc.stderr.splitlines()) == 1
    other = tmp_path / "99_unknown.ipynb"
    other.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    proc = subprocess.run([*AUTOGRADER, "grade", str(other)], capture_output=True, text=True)
    assert proc.returncode == 2 and "no source notebook" in proc.stderr
    proc = subprocess.run([*AUTOGRADER, "grade", str(tmp_path / "missing.ipynb")], capture_output=True, text=True)
    assert proc.returncode == 2 and "no such file" in proc.stderr
