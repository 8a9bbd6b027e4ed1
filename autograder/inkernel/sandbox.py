"""The grading kernel's walls: Linux Landlock, applied by the kernel to itself before any student code runs.

The kernel runs as the same user as the grader, so without walls its code could read the grader's files
(the hidden checks, the reference solutions, the source notebooks, other students' submissions), the TA's
home folder, or the grader's memory, and connect to the grader's own services. Landlock (Linux 5.13 and
later, no privileges needed) lets a process give up rights for good: once :func:`apply` has run, neither
the kernel nor anything it starts can take them back.

The trusted side decides the policy (:mod:`autograder.isolation`) and hands it over in the kernel's
environment (:data:`POLICY_ENV`); this module only applies it:

* ``read``: folders readable (and executable) below, except under a ``deny`` folder, unless that part is
  itself listed (the Python installation inside a denied home folder, say);
* ``write``: folders where the kernel may also create, change and delete files (its own working folder,
  its private temporary and IPython folders, ``/dev``);
* ``/proc`` shows the kernel its own process only: no other process's environment, command line or files;
* no TCP connection or listening socket (the kernel's own sockets are open already), no signal to a
  process outside the sandbox, no abstract unix socket outside it, no ptrace of a process outside it
  (so no reading the grader's memory).
"""
from __future__ import annotations

import ctypes
import json
import os
import struct

POLICY_ENV = "AUTOGRADER_SANDBOX"
SYS_CREATE, SYS_ADD_RULE, SYS_RESTRICT = 444, 445, 446  # the same numbers on x86-64 and arm64
PR_SET_NO_NEW_PRIVS = 38
RULE_PATH_BENEATH, RULE_NET_PORT = 1, 2

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR, MAKE_REG = 1 << 4, 1 << 5, 1 << 6, 1 << 7, 1 << 8
MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 1 << 9, 1 << 10, 1 << 11, 1 << 12
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1


def _fs_rights(abi: int) -> int:
    rights = (1 << 13) - 1
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    if abi >= 5:
        rights |= IOCTL_DEV
    return rights


def abi_version() -> int:
    """The kernel's Landlock ABI version; 0 when Landlock is not available."""
    libc = ctypes.CDLL(None, use_errno=True)
    version = libc.syscall(SYS_CREATE, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return max(int(version), 0)


def _covered(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def plan(read: list[str], write: list[str], deny: list[str]) -> list[tuple[str, str]]:
    """(path, "read" | "write") rules that give ``read`` minus ``deny`` (plus what is listed inside a denied
    folder) and ``write``."""
    deny = [os.path.realpath(d) for d in deny]
    rules: list[tuple[str, str]] = [(os.path.realpath(w), "write") for w in write]
    read = [os.path.realpath(r) for r in read]

    def visit(path: str, listed: bool = False) -> None:
        if not listed and _covered(path, deny):
            return
        if path == "/proc":  # every process's folder but this one's: other processes' are not ours to read
            own = str(os.getpid())
            for name in sorted(os.listdir(path)):
                if not name.isdigit() or name == own:
                    rules.append((os.path.join(path, name), "read"))
            return
        if not any(d != path and _covered(d, [path]) for d in deny):
            rules.append((path, "read"))
            return
        try:  # a denied folder lies below: allow its siblings, one by one
            entries = sorted(os.listdir(path))
        except OSError:
            return
        for name in entries:
            visit(os.path.join(path, name))

    for root in read:
        visit(root, listed=True)  # a folder listed in ``read`` is readable even inside a denied one
    return rules


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def apply(policy: dict) -> dict:
    """Restrict this process (and everything it starts) to ``policy``; what was done, as data for ``hello``."""
    abi = abi_version()
    if abi < 1:
        return {"isolated": False, "landlock": 0, "problem": "Linux Landlock is not available on this machine"}
    libc = ctypes.CDLL(None, use_errno=True)
    fs = _fs_rights(abi)
    attr = struct.pack("QQQ", fs, (NET_BIND_TCP | NET_CONNECT_TCP) if abi >= 4 else 0,
                       (SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL) if abi >= 6 else 0)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    buf = ctypes.create_string_buffer(attr[:size], size)
    ruleset = libc.syscall(SYS_CREATE, buf, ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        return {"isolated": False, "landlock": abi, "problem": f"landlock_create_ruleset: {os.strerror(ctypes.get_errno())}"}
    read_rights = EXECUTE | READ_FILE | READ_DIR
    skipped = 0
    try:
        for path, kind in plan(policy.get("read", []), policy.get("write", []), policy.get("deny", [])):
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                skipped += 1
                continue
            try:
                rights = fs if kind == "write" else read_rights
                if not os.path.isdir(path):
                    rights &= FILE_RIGHTS
                rule = _PathBeneath(rights & fs, fd)
                if libc.syscall(SYS_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(RULE_PATH_BENEATH),
                                ctypes.byref(rule), ctypes.c_uint32(0)) < 0:
                    skipped += 1
            finally:
                os.close(fd)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return {"isolated": False, "landlock": abi, "problem": "prctl(PR_SET_NO_NEW_PRIVS) failed"}
        if libc.syscall(SYS_RESTRICT, ctypes.c_int(ruleset), ctypes.c_uint32(0)) < 0:
            return {"isolated": False, "landlock": abi,
                    "problem": f"landlock_restrict_self: {os.strerror(ctypes.get_errno())}"}
    finally:
        os.close(ruleset)
    return {"isolated": True, "landlock": abi, "problem": "", "network": abi >= 4, "signals": abi >= 6,
            "skipped": skipped}


def apply_from_environment() -> dict:
    """Apply the policy the trusted side put in :data:`POLICY_ENV` (and take it out of the environment)."""
    text = os.environ.pop(POLICY_ENV, "")
    if not text:
        return {"isolated": False, "landlock": abi_version(), "problem": "no isolation policy was given"}
    try:
        policy = json.loads(text)
    except ValueError:
        return {"isolated": False, "landlock": abi_version(), "problem": "the isolation policy is not readable"}
    return apply(policy)
