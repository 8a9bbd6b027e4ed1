"""Running a cell's hidden checks on the trusted side, each on its own, against the student's kernel.

The very functions pytest runs (:mod:`autograder.registry` finds them). Each check gets a fresh start in
the kernel (``begin``: torch seeded, gradients on, the notebook's random states put back afterwards) and
in this process (torch seeded), a time limit that every request it makes shares, and its own result: a
failing, crashing or looping check never stops the others. A check whose kernel died, or ran past the
limit and could not be interrupted, stops the cell: the caller restarts the kernel and reports the cell
as not run.
"""
from __future__ import annotations

import time

from autograder import registry
from autograder.remote import KernelDied, KernelStuck, ProtocolProblem, Remote, RemoteError
from autograder.results import NOT_RUN, UNVERIFIED, CellResult, CheckResult
from autograder.studentcode import CheckTimeout, StudentError, remote_failure

TIMEOUT_MESSAGE = ("took longer than {seconds:g} s and was stopped. Hint: look for a loop that never ends, or work "
                   "far larger than the exercise needs.")


def run_check(check: registry.Check, ns: Remote) -> CheckResult:
    """One check: passed with its points, or failed with a message for the student."""
    import torch

    ns.deadline = time.monotonic() + check.timeout
    ns.reviews = []
    try:
        ns.begin()
        with torch.random.fork_rng(devices=[]), torch.enable_grad():
            torch.manual_seed(0)
            check.run(ns)
        return CheckResult(check.description, True, check.points, check.points, "", check.name, _reviews(ns))
    except (KernelDied, KernelStuck):
        raise
    except CheckTimeout:
        message = TIMEOUT_MESSAGE.format(seconds=check.timeout)
    except RemoteError as exc:
        message = TIMEOUT_MESSAGE.format(seconds=check.timeout) if exc.kind == "timeout" else remote_failure(exc)
        if exc.kind == "bad_request":
            ns.review(f"the kernel did not understand the grader's request ({exc.message[:100]}): its protocol "
                      f"server may have been replaced by the notebook")
    except ProtocolProblem as exc:  # the kernel's protocol server was replaced or broken: a person should know
        message = f"could not be checked: {exc.reason}" + (f" ({exc})" if str(exc) else "")
        ns.review(f"the kernel's answer to the grader could not be used ({exc.reason}): its protocol server may "
                  f"have been replaced or broken by the notebook")
    except StudentError as exc:
        message = str(exc)
    except AssertionError as exc:
        message = str(exc) or "the result is not what was expected"
    except Exception as exc:  # a crash inside a check is reported, never raised
        message = f"could not be checked: {type(exc).__name__}: {str(exc)[:200]}"
    finally:
        ns.deadline = None
        try:
            ns.end()
        except (RemoteError, ProtocolProblem):
            pass
    return CheckResult(check.description, False, 0.0, check.points, message, check.name, _reviews(ns))


def _reviews(ns: Remote) -> str:
    return "; ".join(ns.reviews)[:1000]


def run_cell(cell_id: str, ns: Remote, checks: list | None = None) -> tuple[CellResult, ProtocolProblem | None]:
    """Every check of ``cell_id``: (the cell's result, the problem that stopped it, if the kernel has to be
    restarted: it died, or a check ran past its limit and the kernel did not stop when interrupted)."""
    checks = registry.checks_for(cell_id) if checks is None else list(checks)
    if not checks:
        return CellResult(cell_id, 0.0, 0.0, [], note=f"no hidden checks are registered for {cell_id!r}",
                          status=UNVERIFIED), None
    results = []
    for check in checks:
        try:
            results.append(run_check(check, ns))
        except (KernelDied, KernelStuck) as problem:
            why = (f"the kernel died while the check '{check.description}' ran" if isinstance(problem, KernelDied)
                   else f"the check '{check.description}' ran past its {check.timeout:g} s limit and the kernel did "
                        f"not stop when interrupted")
            note = f"not graded: {why}; the kernel was restarted and the cells before this one were run again"
            return CellResult(cell_id, 0.0, sum(c.points for c in checks), [], note=note, status=NOT_RUN), problem
    return CellResult(cell_id, round(sum(r.points for r in results), 4), sum(c.points for c in checks), results), None
