"""Every grading limit in one place. Environment variables override the defaults.

| setting | default | environment variable |
| --- | --- | --- |
| one hidden check's wall time | 60 s | AUTOGRADER_CHECK_TIMEOUT |
| one notebook cell's wall time | 300 s | AUTOGRADER_CELL_TIMEOUT |
| one notebook's total wall time | 900 s | AUTOGRADER_NOTEBOOK_TIMEOUT |
| memory of the grading kernel (address space is not capped: torch maps a lot) | 3 GiB resident | AUTOGRADER_MEMORY_MB |
| CPU threads torch may use while grading | 1 | COURSE_TORCH_THREADS |

One thread is deliberate: with two, torch slowed 5-40x whenever another process competed for a
2-core machine; with one it stays steady, and class grading runs students side by side instead.
"""
from __future__ import annotations

import os

from course_utils.threads import cap_torch_threads, threads_from_env


def _number(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value > 0 else default


CHECK_TIMEOUT = _number("AUTOGRADER_CHECK_TIMEOUT", 60)
CELL_TIMEOUT = int(_number("AUTOGRADER_CELL_TIMEOUT", 300))
NOTEBOOK_TIMEOUT = int(_number("AUTOGRADER_NOTEBOOK_TIMEOUT", 900))
MEMORY_MB = int(_number("AUTOGRADER_MEMORY_MB", 3072))
TORCH_THREADS = threads_from_env(1)  # COURSE_TORCH_THREADS, read where the notebooks read it


def _settings() -> dict:
    """The thread caps and headless plotting of everything the kit runs: the one place they are set."""
    threads = str(TORCH_THREADS)
    return {"COURSE_TORCH_THREADS": threads, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
            "OPENBLAS_NUM_THREADS": threads, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore"}


def grading_env(base: dict | None = None) -> dict:
    """The environment grading processes run in (kernels, nbgrader, benchmarks): thread caps and headless
    plotting, unless ``base`` (default: this process's environment) already sets them."""
    env = dict(os.environ if base is None else base)
    for name, value in _settings().items():
        env.setdefault(name, value)
    return env


def configure_process() -> None:
    """Apply the same settings to this process (the test suite, the command line tools): the one place the
    trusted side makes its plots headless (a student's kernel does its own, in :mod:`autograder.inkernel`)."""
    for name, value in _settings().items():
        os.environ.setdefault(name, value)
    import sys

    if "torch" in sys.modules:
        cap_torch_threads(TORCH_THREADS)
    if "matplotlib" in sys.modules:  # imported before the environment said so: switch it now
        sys.modules["matplotlib"].use(os.environ["MPLBACKEND"])
