"""The hardened runner: a cell's hidden checks, run inside the grading kernel against the student's namespace.

The very functions pytest runs (:mod:`autograder.registry` finds them), each on its own: a failing,
crashing or looping check never stops the others. Warnings and whatever the student's code
prints are kept out; torch's random state and grad mode are the same for every check. Before the
cell's checks and after each of them the kernel is compared with the snapshot taken before any
student code ran (:class:`autograder.integrity.Baseline`): a rigged kernel grades nothing.

pytest itself is never started here: a student's code could steer it (``PYTEST_ADDOPTS``,
``conftest.py`` files, plugin autoloading), and pytest-timeout's thread method exits the process.
"""
from __future__ import annotations

import contextlib
import io
import signal
import threading
import time
import warnings

from autograder import limits, registry
from autograder.report import TAMPERED, UNVERIFIED, CellResult, CheckResult


class CheckTimeout(KeyboardInterrupt):
    """Raised inside a check that ran past its time limit."""

    autograder_timeout = True


@contextlib.contextmanager
def time_limit(seconds: float):
    """Interrupt the block after ``seconds`` (main thread only; elsewhere no limit)."""
    if threading.current_thread() is not threading.main_thread() or seconds <= 0:
        yield
        return

    def on_alarm(signum, frame):
        raise CheckTimeout(f"ran past its {seconds:g} s limit")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _Sink(io.TextIOBase):
    """Swallows what student code prints during a check (bounded, never stored)."""

    def writable(self) -> bool:
        return True

    def write(self, text) -> int:
        return len(text)


def run_check(check: registry.Check, ns: dict) -> CheckResult:
    import torch

    from autograder.student import StudentError

    sink = _Sink()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), \
                time_limit(check.timeout), torch.random.fork_rng(devices=[]), torch.enable_grad():
            warnings.simplefilter("ignore")
            torch.manual_seed(0)
            check.run(ns)
        return CheckResult(check.description, True, check.points, check.points, "", check.name)
    except CheckTimeout:
        message = (f"took longer than {check.timeout:g} s and was stopped. Hint: look for a loop that "
                   f"never ends, or work far larger than the exercise needs.")
    except StudentError as exc:
        message = str(exc)
    except AssertionError as exc:
        message = str(exc) or "the result is not what was expected"
    except BaseException as exc:  # a crash inside a check is reported, never raised
        message = f"could not be checked: {type(exc).__name__}: {str(exc)[:200]}"
    return CheckResult(check.description, False, 0.0, check.points, message, check.name)


def _set_threads() -> None:
    import torch

    if torch.get_num_threads() != limits.TORCH_THREADS:
        torch.set_num_threads(limits.TORCH_THREADS)


def run_cell(cell_id: str, ns: dict, baseline=None, checks: list | None = None) -> CellResult:
    """Run every check of ``cell_id`` against the namespace ``ns``; with a baseline, only in an intact kernel.

    The grading kernel passes the cell's ``checks`` as it loaded them at start-up, so nothing here looks
    them up while the student's code may have changed what a lookup finds.
    """
    if baseline is not None and (problems := baseline.changes()):
        return _refused(cell_id, problems, list(checks or ()), [])
    checks = registry.checks_for(cell_id) if checks is None else list(checks)
    if not checks:
        return CellResult(cell_id, 0.0, 0.0, [], note=f"no hidden checks are registered for {cell_id!r}",
                          status=UNVERIFIED)
    _set_threads()
    results = []
    for check in checks:
        results.append(run_check(check, ns))
        if baseline is not None and (problems := baseline.changes()):
            return _refused(cell_id, problems, checks, results)
    return CellResult(cell_id, round(sum(r.points for r in results), 4), sum(c.points for c in checks), results)


def _refused(cell_id: str, problems: list[str], checks: list, done: list[CheckResult]) -> CellResult:
    note = "not graded: the grading environment was modified (" + "; ".join(problems[:4]) + ")"
    zeroed = [CheckResult(r.name, False, 0.0, r.max_points, "not counted", r.check) for r in done]
    rest = [CheckResult(c.description, False, 0.0, c.points, "not run", c.name) for c in checks[len(done):]]
    return CellResult(cell_id, 0.0, sum(c.points for c in checks), zeroed + rest, note=note, status=TAMPERED)


def timed_run_cell(cell_id: str, ns: dict, baseline=None) -> tuple[CellResult, float]:
    start = time.perf_counter()
    result = run_cell(cell_id, ns, baseline)
    return result, time.perf_counter() - start
