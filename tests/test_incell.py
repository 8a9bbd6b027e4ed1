"""autograder.incell and autograder.integrity: each check isolated, limited in time and quiet; a rigged
kernel (compared with the snapshot taken before any student code) grades nothing."""
import builtins
import sys
import threading
import time

import pytest
import torch

from autograder import integrity
from autograder.incell import run_cell
from autograder.registry import checks_of_function
from autograder.student import call

CELL = "kit_selftest"


def make(points, func, timeout=None):
    func = pytest.mark.points(points, cell=CELL)(func)
    if timeout:
        func = pytest.mark.timeout(timeout)(func)
    return checks_of_function(func, __name__)[0]


def test_one_crashing_or_looping_check_does_not_stop_the_others():
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

    checks = [make(1, test_ok), make(1, test_crash), make(1, test_loop, timeout=0.5), make(2, test_student_exit)]
    start = time.perf_counter()
    result = run_cell(CELL, {"f": lambda: sys.exit(3)}, checks=checks)
    assert time.perf_counter() - start < 5
    assert result.score == 1 and result.max_score == 5 and result.verified
    messages = {c.name: c.message for c in result.checks}
    assert "could not be checked" in messages["crashes"]
    assert "longer than 0.5 s" in messages["loops"]
    assert "`f` raised SystemExit" in messages["student code exits"]
    assert [c.check for c in result.checks] == ["test_ok", "test_crash", "test_loop", "test_student_exit"]


def test_student_output_and_warnings_stay_out(capsys):
    def test_noisy(ns):
        "noisy student code"
        call(ns, "noisy")

    def noisy():
        import warnings

        print("to stdout")
        print("to stderr", file=sys.stderr)
        warnings.warn("a warning")

    result = run_cell(CELL, {"noisy": noisy}, checks=[make(2, test_noisy)])
    out = capsys.readouterr()
    assert result.score == 2.0 and out.out == "" and out.err == ""


@pytest.fixture
def baseline():
    """A snapshot of this test process, taken the way the grading kernel takes it at start-up."""
    import autograder.checks.pca  # noqa: F401 (the grader's modules, loaded as the kernel loads them)

    snapshot = integrity.Baseline()
    snapshot.record_threads()
    assert snapshot.changes() == [], "a fresh snapshot sees no change"
    return snapshot


def _rigged(baseline, target, name, value):
    own = name in vars(target)
    old = vars(target).get(name)
    setattr(target, name, value)
    try:
        return baseline.changes()
    finally:
        if own:
            setattr(target, name, old)
        else:
            delattr(target, name)


def test_replaced_library_functions_and_builtins_are_found(baseline):
    class FakeAssertionError(Exception):
        pass

    assert "torch.allclose was replaced" in _rigged(baseline, torch, "allclose", lambda *a, **k: True)
    assert "builtins.isinstance was replaced" in _rigged(baseline, builtins, "isinstance", lambda *a: True)
    assert "builtins.AssertionError was replaced" in _rigged(baseline, builtins, "AssertionError", FakeAssertionError)
    assert "builtins.__import__ was replaced" in _rigged(baseline, builtins, "__import__", lambda *a, **k: None)
    found = _rigged(baseline, torch.Tensor, "__eq__", lambda a, b: True)
    assert "torch.Tensor was changed (__eq__ added)" in found, found
    assert baseline.changes() == []


def test_replaced_code_and_modules_are_found(baseline):
    import autograder.checks.pca as pca

    fn = pca.test_fit_mean
    code = fn.__code__
    fn.__code__ = (lambda ns: None).__code__
    try:
        assert any("the code of autograder.checks.pca.test_fit_mean was replaced" in f for f in baseline.changes())
    finally:
        fn.__code__ = code
    real = sys.modules["torch.nn.functional"]
    sys.modules["torch.nn.functional"] = type(sys)("fake")
    try:
        assert "sys.modules['torch.nn.functional'] was replaced" in baseline.changes()
    finally:
        sys.modules["torch.nn.functional"] = real
    assert baseline.changes() == []


def test_hooks_modes_and_threads_are_found(baseline):
    from torch.overrides import TorchFunctionMode

    with TorchFunctionMode():
        assert "a torch function or dispatch mode is active" in baseline.changes()
    sys.setprofile(lambda *a: None)
    try:
        assert any("profile hook" in f for f in baseline.changes())
    finally:
        sys.setprofile(None)
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait, name="student-thread")
    worker.start()
    try:
        assert any("student-thread" in f for f in baseline.changes())
    finally:
        stop.set()
        worker.join()
    assert baseline.changes() == []


def test_torchs_own_lazy_wrappers_are_not_changes(baseline):
    """torch wraps torch.manual_seed when dynamo loads, and an optimizer class's step on first use."""
    import torch._dynamo  # noqa: F401

    torch.optim.RMSprop([torch.nn.Parameter(torch.zeros(1))])
    assert baseline.changes() == []


def test_a_rigged_kernel_grades_nothing(baseline, monkeypatch):
    def test_always(ns):
        "would pass"

    checks = [make(3, test_always)]
    monkeypatch.setattr(torch, "allclose", lambda *a, **k: True)
    result = run_cell(CELL, {}, baseline, checks=checks)
    assert result.score == 0 and result.status == "tampered" and "torch.allclose was replaced" in result.note


def test_a_check_that_rigs_the_kernel_voids_the_cell(baseline):
    def test_first(ns):
        "student code runs here"
        call(ns, "sneaky")

    def test_second(ns):
        "would pass because of it"

    def sneaky():
        torch.equal = lambda *a: True

    real = torch.equal
    try:
        result = run_cell(CELL, {"sneaky": sneaky}, baseline, checks=[make(1, test_first), make(1, test_second)])
    finally:
        torch.equal = real
    assert result.score == 0 and result.status == "tampered"
    assert [c.message for c in result.checks] == ["not counted", "not run"]
