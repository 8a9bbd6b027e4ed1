"""Every notebook, graded headless: the solution earns full marks, the untouched release earns 0 cleanly."""
import json
import subprocess
import sys

import pytest

from tests.kit import RELEASE_NOTEBOOKS, check_cells, notebooks, read

AUTOGRADER = [sys.executable, "-m", "autograder.cli"]


def grade_all(paths) -> dict:
    """One `autograder grade` run over several notebooks (one grader start-up): each notebook's result."""
    proc = subprocess.run([*AUTOGRADER, "grade", *map(str, paths), "--json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert [r["notebook"] for r in results] == [p.name for p in paths]
    return {r["notebook"]: r for r in results}


@pytest.fixture(scope="session")  # session: other modules' tests may run between this group's
def solutions_graded(mnist_available):
    return grade_all(notebooks())


@pytest.fixture(scope="session")
def release_graded(mnist_available):
    return grade_all([RELEASE_NOTEBOOKS / p.name for p in notebooks()])  # their sources: solutions/, found by name


def _schema(result):
    assert set(result) >= {"notebook", "score", "max_score", "cells", "flags", "needs_review"}
    for cell in result["cells"]:
        assert set(cell) >= {"grade_id", "score", "max_score", "checks", "status", "verified"}
        for check in cell["checks"]:
            assert set(check) == {"name", "passed", "points", "max_points", "message", "check", "review"}
            assert isinstance(check["passed"], bool) and isinstance(check["message"], str)
            assert isinstance(check["review"], str)


@pytest.mark.slow
@pytest.mark.xdist_group("notebooks_cli")
@pytest.mark.parametrize("notebook", notebooks(), ids=lambda p: p.stem)
def test_solution_earns_full_marks(notebook, solutions_graded):
    result = solutions_graded[notebook.name]
    _schema(result)
    expected = check_cells(read(notebook))
    assert {c["grade_id"]: c["max_score"] for c in result["cells"]} == expected
    failed = [(c["grade_id"], k["name"], k["message"]) for c in result["cells"] for k in c["checks"] if not k["passed"]]
    assert result["score"] == result["max_score"] == sum(expected.values()), failed
    assert all(c["verified"] for c in result["cells"]) and not result["needs_review"], result["flags"]
    assert not result.get("notes"), result["notes"]  # (no note: the kernel walled itself in, nothing went wrong)


@pytest.mark.slow
@pytest.mark.xdist_group("notebooks_cli")
@pytest.mark.parametrize("notebook", notebooks(), ids=lambda p: p.stem)
def test_untouched_release_earns_zero_cleanly(notebook, release_graded):
    result = release_graded[notebook.name]
    _schema(result)
    assert result["score"] == 0 and result["max_score"] > 0
    messages = [k["message"] for c in result["cells"] for k in c["checks"]]
    assert messages and all(m for m in messages), "every failed check has a message"
    assert any("still a blank" in m for m in messages)
    assert not any("Traceback" in m or 'File "' in m for m in messages), "no raw tracebacks in messages"
    assert all(c["verified"] for c in result["cells"]) and not result["needs_review"], result["flags"]


def test_one_run_grades_the_notebooks_it_can_and_says_which_it_cannot(tmp_path):
    import nbformat

    from tests.kit import notebook

    good = tmp_path / "a" / "empty.ipynb"
    bad = tmp_path / "b" / "empty.ipynb"
    for path in (good, bad):
        path.parent.mkdir()
    nbformat.write(notebook([]), str(good))
    bad.write_text("{ not json")
    proc = subprocess.run([*AUTOGRADER, "grade", str(bad), str(good), "--source", str(good), "--json"],
                          capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert "not a readable notebook" in proc.stderr and str(bad) in proc.stderr
    (line,) = proc.stdout.splitlines()
    assert json.loads(line)["notebook"] == "empty.ipynb"


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
