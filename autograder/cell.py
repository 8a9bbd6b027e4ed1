"""What a check cell runs inside the student's kernel: every check of one cell, points back.

Each check runs on its own: a failing, crashing or looping check never stops the others.
Warnings and anything the student's code writes to stderr are kept out of the cell's
output (nbgrader scores a cell with stderr output 0). The cell's value is the points.
"""
from __future__ import annotations

import contextlib
import io
import signal
import threading
import time
import warnings

from autograder import integrity, limits, registry
from autograder.report import MIME, CellResult, CheckResult, cell_lines


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


def _set_threads() -> None:
    import torch

    if torch.get_num_threads() != limits.TORCH_THREADS:
        torch.set_num_threads(limits.TORCH_THREADS)


def run_check(check: registry.Check, ns: dict) -> CheckResult:
    import torch

    from autograder.student import StudentError

    stderr = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(stderr), time_limit(check.timeout):
            warnings.simplefilter("ignore")
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                check.func(ns)
        return CheckResult(check.description, True, check.points, check.points, "")
    except CheckTimeout:
        message = (f"took longer than {check.timeout:g} s and was stopped. Hint: look for a loop that "
                   f"never ends, or work far larger than the exercise needs.")
    except StudentError as exc:
        message = str(exc)
    except AssertionError as exc:
        message = str(exc) or "the result is not what was expected"
    except BaseException as exc:  # a crash inside a check is reported, never raised
        message = f"could not be checked: {type(exc).__name__}: {str(exc)[:200]}"
    return CheckResult(check.description, False, 0.0, check.points, message)


def run_cell(cell_id: str, ns: dict) -> CellResult:
    """Run every check registered for ``cell_id`` against the namespace ``ns``."""
    checks = registry.checks_for(cell_id)
    if not checks:
        return CellResult(cell_id, 0.0, 0.0, [], note=f"no hidden checks are registered for {cell_id!r}")
    max_score = sum(c.points for c in checks)
    problems = integrity.tampering()
    if problems:
        note = "not graded: the grading environment was modified (" + "; ".join(problems[:4]) + ")"
        return CellResult(cell_id, 0.0, max_score,
                          [CheckResult(c.description, False, 0.0, c.points, "not run") for c in checks], note=note)
    _set_threads()
    results = [run_check(c, ns) for c in checks]
    score = round(sum(r.points for r in results), 4)
    return CellResult(cell_id, score, max_score, results)


def grade(cell_id: str, ns: dict) -> float:
    """Run the hidden checks of one cell, show one line per check, and return the points."""
    import sys

    start = time.perf_counter()
    result = run_cell(cell_id, ns)
    text = "\n".join(cell_lines(result)) + f"\n({time.perf_counter() - start:.1f} s)"
    try:
        from IPython.display import display

        display({MIME: result.to_dict(), "text/plain": text}, raw=True)
    except Exception:
        print(text)
    if result.note:
        # stderr scores the cell 0 in nbgrader as well: a modified environment earns nothing.
        print(result.note, file=sys.__stderr__ if sys.stderr is None else sys.stderr)
    return float(result.score)
