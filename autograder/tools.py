"""This environment's commands (nbgrader, jupyter, python), run the way every kit command runs them."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from autograder import limits
from autograder.checkout import SHARED_DATA


def venv_bin(name: str) -> str:
    """A command of this Python's environment (nbgrader, jupyter...)."""
    return str(Path(sys.executable).parent / name)


#: How to start each of the kit's commands where this environment has no console script for it.
MODULES = {"autograder": "autograder.cli", "nbgrader": "nbgrader"}


def command(name: str) -> list[str]:
    """One of this environment's commands: its console script, else ``python -m`` (a checkout not installed)."""
    path = Path(venv_bin(name))
    return [str(path)] if path.exists() else [sys.executable, "-m", MODULES[name]]


def on_venv_path(env: dict) -> dict:
    """``env`` with this environment's bin first on PATH (nbgrader's gradebook shells out to alembic)."""
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", os.defpath)
    return env


def tool_env() -> dict:
    """The environment for nbgrader subprocesses: the grading limits, this environment's bin first on PATH."""
    return on_venv_path(limits.grading_env())


def run_tool(command: str, *args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run one command of this environment (nbgrader, autograder...); on failure show its output and raise."""
    proc = subprocess.run([venv_bin(command), *args], cwd=cwd, env=tool_env(), capture_output=True, text=True)
    if check and proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-5000:])
        raise RuntimeError(f"{command} {' '.join(args)} failed with exit code {proc.returncode}")
    return proc


def nbgrader(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    """Run one nbgrader command; on failure show its output and raise."""
    return run_tool("nbgrader", *args, cwd=cwd, check=check)


def with_local_data(env: dict) -> dict:
    """``env`` with ``COURSE_DATA_DIR`` pointing at ``../shared/data`` when it holds MNIST and ``env`` names none."""
    if "COURSE_DATA_DIR" not in env and (SHARED_DATA / "MNIST" / "raw").is_dir():
        env["COURSE_DATA_DIR"] = str(SHARED_DATA)
    return env
