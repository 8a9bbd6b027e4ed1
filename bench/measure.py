"""Measurement helpers: environments, timed commands, best-of-N, peak memory of a process tree.

Every measured process gets one of the environments below. All of them are built from
:func:`autograder.limits.grading_env` (the one place for thread caps and headless settings), so the
benchmark measures with the grader's own settings and has none of its own.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from autograder import limits
from autograder.procs import Poller, tree_rss

from autograder.tools import on_venv_path, with_local_data

SUBPROCESS_TIMEOUT = 3600  # no single measured command may hang the benchmark for longer
_CALLER_ENV = dict(os.environ)  # as the benchmark was started (bench/run.py adds the settings below to it)


def say(*args) -> None:
    """Progress on stderr (the table goes to stdout)."""
    print("[bench]", *args, file=sys.stderr, flush=True)


# ====================================================================== environments
def _common(base: dict | None = None) -> dict:
    """The caller's environment, the local MNIST copy when there is one, this environment's bin first on PATH."""
    return on_venv_path(with_local_data(dict(os.environ if base is None else base)))


def grading_env() -> dict:
    """What a grading process gets: exactly :func:`autograder.limits.grading_env`."""
    return limits.grading_env(_common())


def student_kernel_env() -> dict:
    """A student's kernel: the same thread caps, with the grader's headless settings undone (matplotlib's
    inline backend, as in Jupyter; the caller's warning filters)."""
    env = grading_env()
    env.pop("MPLBACKEND", None)
    env.pop("PYTHONWARNINGS", None)
    if "PYTHONWARNINGS" in _CALLER_ENV:
        env["PYTHONWARNINGS"] = _CALLER_ENV["PYTHONWARNINGS"]
    return env


def floor_env() -> dict:
    """The plain-script floor of a student's run: the student's environment, plots headless."""
    env = student_kernel_env()
    env["MPLBACKEND"] = "Agg"
    return env


# ====================================================================== timing
def children_cpu() -> float:
    """CPU seconds used so far by this process's finished (waited-for) children and their children."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], *, cwd=None, env=None, timeout: float = SUBPROCESS_TIMEOUT, ok=(0,),
          what: str | None = None) -> tuple[float, subprocess.CompletedProcess]:
    """Run a command: (wall seconds, completed process with ``cpu_s``).

    Raises with the command's output when its exit code is not in ``ok``."""
    cpu = children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env or grading_env(), capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - start
    proc.cpu_s = children_cpu() - cpu
    if ok is not None and proc.returncode not in ok:
        raise RuntimeError(f"{what or ' '.join(map(str, cmd))} exited with {proc.returncode}: "
                           f"{(proc.stdout[-1500:] + proc.stderr[-2500:]).strip()}")
    return seconds, proc


def best_of(n: int, measure: Callable[[], float]) -> dict:
    """Repeat a timing; min (the figure start-ups are judged by) and median."""
    values = [measure() for _ in range(max(1, n))]
    return {"min_s": min(values), "median_s": statistics.median(values), "runs": len(values)}


# ====================================================================== memory
def vm_hwm_mb(pid: int) -> float | None:
    """The peak resident memory of one process (Linux ``VmHWM``), MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def unique_mb(pid: int) -> tuple[float | None, float | None]:
    """(USS, PSS) of one process now, MB: its own memory, without the shared libraries RSS counts in full."""
    import psutil

    try:
        info = psutil.Process(pid).memory_full_info()
        return info.uss / 2**20, getattr(info, "pss", 0) / 2**20 or None
    except (psutil.Error, OSError):
        return None, None


class TreeMemory(Poller):
    """Polls the resident memory of a process and all its children; ``peak_mb`` is the largest sum seen."""

    def __init__(self, pid: int, every: float = 0.2):
        super().__init__(every)
        self.pid, self.peak_mb = pid, 0.0

    def __enter__(self):
        self.sample()
        return super().__enter__()

    def sample(self) -> None:
        rss = tree_rss(self.pid)
        if rss is not None:
            self.peak_mb = max(self.peak_mb, rss / 2**20)

    def poll(self) -> bool:
        self.sample()
        return False
