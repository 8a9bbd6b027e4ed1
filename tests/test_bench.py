"""The benchmark runs end to end in --quick mode and writes every section with finite figures; the
calibration of part 4's quality thresholds (`python -m autograder.calibrate`) runs and covers both budgets.

Benchmarks are not timed tests: nothing here judges a figure, only that each one was measured.
"""
import json
import math
import subprocess
import sys

import pytest

from autograder.checkout import REPO

SECTIONS = ("startup", "mnist", "notebooks", "grading", "class", "cluster", "report")


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
@pytest.mark.timeout(1800)
def test_quick_benchmark_writes_every_section(tmp_path, mnist_available):
    out = tmp_path / "bench.json"
    # --jobs 2: one class-grade run, which the cluster section reuses as its local -j 2 (the -j 1 run is the same
    # code with another number, and CI time is short)
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "run.py"), "--quick", "--jobs", "2", "--out", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=1800)
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
                     "kernel_peak_mb", "mnist_load_s", "overhead_pct", "two_worker_speedup", "report_s",
                     "fixed_per_notebook_s"}, names
    assert all(isinstance(t["met"], bool) and math.isfinite(t["value"]) for t in figures["targets"])
    # what was measured is sane: the solution earns full marks, the class was graded
    runs = figures["startup"]["grade_empty_runs"]  # one run's start-up, then each further notebook
    assert {"zygote_1", "zygote_3", "cli_startup", "zygote_per_notebook_s", "grader_load_s"} <= set(runs), runs
    grading = figures["grading"]
    assert grading["autograder_grade"]["score"] == grading["autograder_grade"]["max_score"] > 0
    assert grading["nbgrader_autograde"]["score"] > 0
    assert set(figures["class"]["runs"]) == {"2"}
    for run in figures["class"]["runs"].values():
        assert run["graded"] == figures["class"]["submissions"] == 2 and run["failed"] == 0
    cluster = figures["cluster"]
    for key in ("one_worker", "two_workers", "local_j2"):
        assert cluster[key]["graded"] == cluster["submissions"] == 2, cluster[key]
    assert cluster["local_j2"] == figures["class"]["runs"]["2"]  # the same run, not graded twice
    assert cluster["two_workers"]["workers"] and len(cluster["overhead"]["samples"]) == 3
    assert figures["report"]["planted_copies_on_top"] and figures["report"]["students"] == 40
    for item in figures["notebooks"]["items"]:
        assert item["kernel"]["cell_errors"] == 0 and item["floor"]["cell_errors"] == 0, item
    # the grading floor ran the hidden checks themselves (in the script's own process, in place of each check cell)
    for floor in grading["floors"].values():
        assert floor["cell_errors"] == 0 and floor["check_cells"] > 0, floor
        assert floor["check_score"] == floor["check_max_score"] > 0, floor


def test_sections_are_the_modules_named_in_one_list():
    from bench.sections import MODULES, sections

    found = sections()
    assert [s.name for s in found] == list(SECTIONS) and len(MODULES) == len(found)
    assert all(callable(s.run) and s.about for s in found)


def test_views_of_a_kit_notebook():
    """A student runs a notebook without its check cells; the grading floor calls the in-kernel runner."""
    from autograder import cells
    from autograder.checkout import solution_notebooks
    from bench.nbrun import grading_view, read_nb, student_view

    nb = read_nb(solution_notebooks()[0])
    checks = cells.check_cells(nb)
    assert checks
    assert not cells.check_cells(student_view(nb))
    assert len(student_view(nb).cells) == len(nb.cells) - len(checks)
    graded = grading_view(nb)
    calls = [c.source for c in graded.cells if cells.is_check_cell(c)]
    assert calls == [f'__check__("{gid}")' for gid in checks]
    assert cells.check_cells(nb) == checks  # the views are copies


def test_the_empty_notebook_is_a_kit_notebook(tmp_path):
    import nbformat

    from autograder import cells
    from bench.shared import empty_kit_notebook

    nb = nbformat.read(str(empty_kit_notebook(tmp_path)), as_version=4)
    assert cells.is_kit_notebook(nb) and not nb.cells


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_calibrate_covers_both_budgets(tmp_path, mnist_available):
    out = tmp_path / "quality.json"
    proc = subprocess.run([sys.executable, "-m", "autograder.calibrate", "--seeds", "1", "--json", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert "smallest margin" in proc.stdout, proc.stdout[-3000:]
    quality = json.loads(out.read_text())["budgets"]
    assert set(quality) == {"notebook", "grader"}
    for budget in quality.values():
        assert set(budget["latent"]) == {"2", "32"}
        found = list(numbers(budget["latent"]))
        assert found and all(math.isfinite(x) for _, x in found), found
