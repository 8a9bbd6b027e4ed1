"""autograder.cell: each check isolated, limited in time, quiet on stderr; a rigged kernel earns nothing."""
import builtins
import contextlib
import io
import sys
import time

import pytest
import torch

from autograder import cell as cellmod
from autograder import registry
from autograder.student import call

CELL = "kit_selftest"


@pytest.fixture
def checks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    made = []

    def add(points, func, timeout=None):
        made.append(registry.points(points, cell=CELL, timeout=timeout)(func))

    yield add
    registry._REGISTRY.pop(CELL, None)


def test_one_crashing_or_looping_check_does_not_stop_the_others(checks):
    def test_ok(ns):
        "passes"

    def test_crash(ns):
        "crashes"
        raise ZeroDivisionError("inside the grader")

    def test_loop(ns):
        "loops"
        while True:
            pass

    def test_student_exit(ns):
        "student code exits"
        call(ns, "f")

    checks(1, test_ok)
    checks(1, test_crash)
    checks(1, test_loop, timeout=0.5)
    checks(2, test_student_exit)
    start = time.perf_counter()
    result = cellmod.run_cell(CELL, {"f": lambda: sys.exit(3)})
    assert time.perf_counter() - start < 5
    assert result.score == 1 and result.max_score == 5
    messages = {c.name: c.message for c in result.checks}
    assert "could not be checked" in messages["crashes"]
    assert "longer than 0.5 s" in messages["loops"]
    assert "`f` raised SystemExit" in messages["student code exits"]


def test_grade_returns_points_and_keeps_stderr_and_warnings_out(checks, capsys):
    def test_noisy(ns):
        "noisy student code"
        call(ns, "noisy")

    checks(2, test_noisy)

    def noisy():
        import warnings

        print("to stderr", file=sys.stderr)
        warnings.warn("a warning")

    value = cellmod.grade(CELL, {"noisy": noisy})
    out = capsys.readouterr()
    assert value == 2.0 and type(value) is float
    assert out.err == "" and "PASS [2/2] noisy student code" in out.out


def test_replaced_library_functions_are_detected(checks, monkeypatch):
    def test_always(ns):
        "would pass"

    checks(3, test_always)
    monkeypatch.setattr(torch, "allclose", lambda *a, **k: True)
    result = cellmod.run_cell(CELL, {})
    assert result.score == 0 and "torch.allclose was replaced" in result.note


def _rigged(target, name, value):
    """integrity.tampering() with one attribute replaced, restored at once (pytest needs the real ones)."""
    from autograder import integrity

    old = getattr(target, name)
    setattr(target, name, value)
    try:
        return integrity.tampering()
    finally:
        setattr(target, name, old)


def test_replaced_builtins_are_detected(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    class FakeAssertionError(Exception):
        pass

    assert "builtins.isinstance was replaced" in _rigged(builtins, "isinstance", lambda *a: True)
    assert "builtins.AssertionError was replaced" in _rigged(builtins, "AssertionError", FakeAssertionError)
    assert "builtins.float was replaced" in _rigged(builtins, "float", lambda x=0: 1.0)
    assert "torch.Tensor.__eq__ was replaced" in _rigged(torch.Tensor, "__eq__", lambda a, b: True)
    from autograder import integrity

    assert integrity.tampering() == []


def test_a_shadowing_module_in_the_notebook_folder_is_detected(checks, tmp_path):
    checks(1, lambda ns: None)
    (tmp_path / "autograder.py").write_text("def grade(*a): return 99.0\n")
    result = cellmod.run_cell(CELL, {})
    assert result.score == 0 and "shadows the real package" in result.note


def test_grade_on_a_rigged_kernel_writes_to_stderr_so_nbgrader_gives_zero(checks, monkeypatch, capsys):
    checks(1, lambda ns: None)
    monkeypatch.setattr(torch, "equal", lambda *a: True)
    assert cellmod.grade(CELL, {}) == 0.0
    assert "grading environment was modified" in capsys.readouterr().err
