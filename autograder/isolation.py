"""What the grading kernel may read and write: the walls it puts up around itself before the notebook runs.

The kernel runs as the grader's own user (the TA's account, a Dask worker's), so file permissions do not
keep it out of the grader's files. The trusted side therefore hands each kernel a policy, which the kernel
applies to itself with Linux Landlock before any student code runs (:mod:`autograder.inkernel.sandbox`).
(The students' own servers on the hub are walled differently, by account and file permissions:
``deploy/isolation.py``.)

* Readable: the whole file system except the denied folders below, plus, inside them, what a notebook
  needs: the Python installation and its packages, the student package (``course_utils``), the MNIST data
  and its cache (read only: a kernel cannot poison the digits the grader reads later).
* Denied: the grader's package, the kit's checkout (``solutions/``, the checks, the samples) but its
  virtual environment and ``student/``, the nbgrader course (``source/``, other students' submissions, the
  gradebook) but the notebook's own folder, the home folder (ssh keys, other courses), ``/tmp`` and
  ``/var/tmp`` (other kernels' folders).
* Writable: the notebook's own folder, a private temporary folder (``TMPDIR``) and IPython folder, ``/dev``.
* No TCP connections (the grader's Dask scheduler and workers listen on ports), no signals or ptrace to
  processes outside the walls (so no reading the grader's memory), no abstract unix sockets outside, and in
  ``/proc`` the kernel's own process only.
* An environment with only what a notebook needs (:data:`KEPT_ENV`): a TA's tokens and keys stay outside.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

from autograder.inkernel.sandbox import POLICY_ENV

PACKAGE = Path(__file__).resolve().parent


def kit_checkout() -> Path | None:
    """The kit's checkout holding the grader (solutions, tests, samples), when the grader runs from one."""
    root = PACKAGE.parent
    return root if (root / "pyproject.toml").is_file() and (root / "solutions").is_dir() else None


def _student_package() -> list[str]:
    spec = importlib.util.find_spec("course_utils")
    return [str(Path(p).resolve()) for p in (spec.submodule_search_locations or [])] if spec else []


def kernel_policy(workdir: Path, private: list[Path], course: Path | None = None) -> dict:
    """The walls of a kernel that runs a notebook in ``workdir``, with ``private`` folders of its own (its
    temporary and IPython folders) and, when grading an nbgrader course, the course's root folder."""
    from course_utils.paths import cache_dir, data_dir

    home = Path(os.path.expanduser("~")).resolve()
    deny = [PACKAGE, Path("/tmp"), Path("/var/tmp")]
    deny += [home] if home != Path("/") else []
    deny += [checkout] if (checkout := kit_checkout()) else []
    deny += [Path(course).resolve()] if course else []
    read = ["/", sys.prefix, sys.base_prefix, *_student_package(), str(cache_dir())]
    read += [str(data_dir())] if data_dir() else []
    write = [str(Path(workdir).resolve()), *(str(Path(p).resolve()) for p in private), "/dev"]
    return {"read": read + write[:-1], "write": write, "deny": [str(d) for d in deny]}


# What a kernel's environment keeps of the grading process's: what programs and the course need, nothing else
# (a TA's shell may hold tokens and keys; the kernel's environment is the student's to read).
KEPT_ENV = {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TERM", "VIRTUAL_ENV", "LD_LIBRARY_PATH",
            "CUDA_VISIBLE_DEVICES", "MPLBACKEND", "MPLCONFIGDIR", "PYTHONWARNINGS", "PYTHONHASHSEED",
            "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NBGRADER_EXECUTION", "IPYTHONDIR",
            "PYDEVD_DISABLE_FILE_VALIDATION"}
KEPT_PREFIXES = ("LC_", "COURSE_", "XDG_", "JPY_")


def shared_kernel_env(env: dict | None = None) -> dict:
    """The part of the grading environment (``env``, default: :func:`autograder.limits.grading_env`) that every
    kernel gets: what a notebook needs, and what its zygote is started with."""
    from autograder import limits

    env = limits.grading_env() if env is None else env
    return {k: v for k, v in env.items() if k in KEPT_ENV or k.startswith(KEPT_PREFIXES)}


def kernel_env(env: dict, policy: dict, tmpdir: Path) -> dict:
    """The kernel's environment: the part of ``env`` a notebook needs, its walls, its private temporary folder."""
    out = shared_kernel_env(env)
    out[POLICY_ENV] = json.dumps(policy)
    out["TMPDIR"] = str(tmpdir)
    return out
