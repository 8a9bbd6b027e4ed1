"""How the trusted executor and the grader inside the kernel talk: signed results on the shell channel.

* The executor starts each grading kernel with a fresh random key, handed over through a pipe
  that the kernel reads and closes before any student code runs (no environment variable, no file).
* A check cell is never executed as code. The executor sends a ``check_request`` message naming
  the cell and a fresh nonce; the grader, loaded when the kernel started, runs the cell's hidden
  checks and answers with a ``check_reply`` whose result is signed with HMAC-SHA256 under the key.
* The executor verifies the signature, the nonce and the cell, and only then writes the cell's
  outputs and the score nbgrader reads. Anything else (no reply, a bad signature, a score that does
  not add up) makes the cell score 0, marked as not verified.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path

REQUEST = "autograder_check_request"
REPLY = "autograder_check_reply"
KEY_BYTES = 32
KEY_FD_FLAG = "--autograder-key-fd"
PROTOCOL_VERSION = 1


def canonical(data: dict) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


def sign(signer, data: dict) -> str:
    """``signer`` is an ``hmac`` object keyed once; a copy signs each message."""
    mac = signer.copy()
    mac.update(canonical(data))
    return mac.hexdigest()


def verify(key: bytes, data: dict, signature: str) -> bool:
    try:
        expected = hmac.new(key, canonical(data), hashlib.sha256).hexdigest()
    except (TypeError, ValueError):
        return False
    return isinstance(signature, str) and hmac.compare_digest(expected, signature)


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def read_key(fd: int) -> bytearray:
    """Read the key from the pipe the executor opened, and close it."""
    key = bytearray()
    try:
        while len(key) < KEY_BYTES:
            chunk = os.read(fd, KEY_BYTES - len(key))
            if not chunk:
                break
            key.extend(chunk)
    finally:
        os.close(fd)
    if len(key) != KEY_BYTES:
        raise RuntimeError("the grading kernel did not receive its key")
    return key


# ---------------------------------------------------------------------------------------- fingerprint
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
    from course_utils.data import DATA_ENV, cache_dir

    digest = hashlib.sha256()
    roots = [cache_dir() / "MNIST"]
    if os.environ.get(DATA_ENV):
        roots.append(Path(os.environ[DATA_ENV]).expanduser() / "MNIST")
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
