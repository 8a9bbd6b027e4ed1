"""The benchmark runs end to end in --quick mode and writes every section with finite figures.

Benchmarks are not timed tests: nothing here judges a figure, only that each one was measured.
"""
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

SECTIONS = ("startup", "mnist", "notebooks", "grading", "class", "quality")


def numbers(value, path="$"):
    """Every number in a JSON value, with where it is."""
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from numbers(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from numbers(item, f"{path}[{i}]")


def test_numbers_walks_nested_json():
    assert dict(numbers({"a": [1, {"b": 2.5}], "c": True, "d": None})) == {"$.a[0]": 1, "$.a[1].b": 2.5}


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_quick_benchmark_writes_every_section(tmp_path, mnist_available):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "run.py"), "--quick", "--out", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert "targets met:" in proc.stdout and "status" in proc.stdout, proc.stdout[-3000:]
    figures = json.loads(out.read_text())
    assert figures["mode"] == "quick"
    for section in SECTIONS:
        assert section in figures, f"section {section} is missing"
        assert "error" not in figures[section], figures[section]["error"]
        found = list(numbers(figures[section]))
        assert found, f"section {section} has no figures"
        bad = [(where, x) for where, x in found if not math.isfinite(x)]
        assert not bad, bad
    # the figures the targets are judged on are there, and say met or not met
    names = {t["target"] for t in figures["targets"]}
    assert names >= {"notebook_run_all_s", "assignment_run_all_s", "autograde_one_student_s", "nbgrader_startup_s",
                     "kernel_peak_mb", "mnist_load_s"}, names
    assert all(isinstance(t["met"], bool) and math.isfinite(t["value"]) for t in figures["targets"])
    # what was measured is sane: the solution earns full marks, the class was graded, both -j ran
    grading = figures["grading"]
    assert grading["autograder_grade"]["score"] == grading["autograder_grade"]["max_score"] > 0
    assert grading["nbgrader_autograde"]["score"] > 0
    assert set(figures["class"]["runs"]) == {"1", "2"}
    for run in figures["class"]["runs"].values():
        assert run["graded"] == figures["class"]["submissions"] == 4 and run["failed"] == 0
    for item in figures["notebooks"]["items"]:
        assert item["kernel"]["cell_errors"] == 0 and item["floor"]["cell_errors"] == 0, item
    quality = figures["quality"]["budgets"]
    assert set(quality) == {"notebook", "grader"}
    for budget in quality.values():
        assert set(budget["latent"]) == {"2", "32"}
