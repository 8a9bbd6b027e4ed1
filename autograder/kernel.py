"""The grading kernel: an ipykernel whose data memory is capped before any student code runs.

Installed as the environment's ``python3`` kernel (``autograder install-kernel``), so both
``autograder grade`` and ``nbgrader autograde`` use it. A runaway allocation then fails inside
the student's cell (``MemoryError`` / torch "can't allocate memory") instead of taking the
grading machine down; the cap is ``AUTOGRADER_MEMORY_MB`` (see :mod:`autograder.limits`).
"""
from __future__ import annotations

import json
import resource
import sys
from pathlib import Path


def cap_memory(megabytes: int) -> None:
    limit = megabytes * 2**20
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))


def main() -> None:
    from autograder import limits

    cap_memory(limits.MEMORY_MB)
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


def install(prefix: str | None = None) -> Path:
    """Write the ``python3`` kernelspec of this environment to launch this module."""
    folder = Path(prefix or sys.prefix) / "share" / "jupyter" / "kernels" / "python3"
    folder.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "autograder.kernel", "-f", "{connection_file}"],
        "display_name": "Python 3",
        "language": "python",
        "metadata": {"debugger": True, "autograder": "memory-capped grading kernel"},
    }
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n")
    return folder


if __name__ == "__main__":
    main()
