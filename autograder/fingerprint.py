"""The grader's files and the MNIST folders as grading first saw them: a notebook that changes them is not graded.

The grading kernel cannot read or write these folders (:mod:`autograder.isolation`), but where its walls are
not available (no Landlock) a kernel runs as the grader's own user. So the trusted side fingerprints the
grader's source files and the MNIST folders before and after each notebook: a change while a notebook ran
voids that notebook's results, and later notebooks are not graded until the files are restored.
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

PACKAGE_ROOTS = ("autograder", "course_utils")


def package_dirs() -> list[Path]:
    import importlib.util

    dirs = []
    for name in PACKAGE_ROOTS:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError(f"the {name} package cannot be found")
        dirs.append(Path(list(spec.submodule_search_locations)[0]).resolve())
    return dirs


def code_fingerprint(dirs: list[Path] | None = None) -> str:
    """A hash of the grader's and course_utils' source files, as they are on disk now."""
    digest = hashlib.sha256()
    for folder in dirs or package_dirs():
        for path in sorted(folder.rglob("*.py")):
            digest.update(str(path.relative_to(folder.parent)).encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def data_fingerprint() -> str:
    """Size, inode and change time of every file of the MNIST folders (changes whenever a file is written)."""
    from course_utils.paths import cache_dir, data_dir

    digest = hashlib.sha256()
    roots = [cache_dir() / "MNIST"] + ([data_dir() / "MNIST"] if data_dir() else [])
    for root in roots:
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            try:
                st = path.lstat()
            except OSError:
                continue
            if path.suffix == ".tmp":
                continue
            digest.update(f"{path}:{st.st_size}:{st.st_ino}:{st.st_ctime_ns}:{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


class Fingerprints:
    """The grader's code and the MNIST folders as the trusted side first saw them."""

    def __init__(self, code: str | None = None, data: str | None = None):
        ensure_data_cache()
        self.code = code or code_fingerprint()
        self.data = data or data_fingerprint()

    def problems(self) -> list[str]:
        found = []
        if code_fingerprint() != self.code:
            found.append("the grader's files are not the ones grading started with")
        if data_fingerprint() != self.data:
            found.append("the MNIST data folders changed")
        return found


def ensure_data_cache() -> None:
    """Bring the MNIST cache up to date before the first fingerprint: a kernel can only read it, and the
    trusted side reads its held-out digits from it."""
    from course_utils.paths import mnist_cache_current

    if mnist_cache_current():
        return
    import subprocess

    from autograder import limits

    subprocess.run([sys.executable, "-I", "-c", "from autograder import heldout; heldout.preload()"],
                   env=limits.grading_env(), check=False, capture_output=True, timeout=600)
