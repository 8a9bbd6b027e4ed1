"""The trusted side's half of the zygote (:mod:`autograder.inkernel.zygote`): start it, ask it for kernels.

Grading kernels are forked from one preloaded process per grading process (``autograder grade``, an nbgrader
command, a Dask worker), so ``import torch`` and the kernel's start-up are paid once, not per notebook. The
zygote holds nothing of the grader (it loads what notebooks import anyway) and runs no student code; each
kernel walls itself in before the notebook runs. When the zygote cannot be used (``AUTOGRADER_ZYGOTE=0``,
or it fails to start), kernels are started from scratch: the same kernel code, only slower.
"""
from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from autograder.inkernel.sandbox import POLICY_ENV
from autograder.inkernel.zygote import MESSAGE_BYTES, send

START_TIMEOUT = 600.0
PER_NOTEBOOK_ENV = ("IPYTHONDIR", "TMPDIR", POLICY_ENV)  # may differ between kernels of one zygote


class Unavailable(RuntimeError):
    """The zygote cannot start kernels: start them from scratch instead."""


def enabled() -> bool:
    return os.environ.get("AUTOGRADER_ZYGOTE", "1").strip().lower() not in ("0", "no", "false", "off")


class ForkedKernel:
    """A kernel forked by the zygote, with the parts of ``subprocess.Popen`` jupyter_client's provisioner uses."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int, pidfd: int, conn: socket.socket):
        self.pid, self.pidfd, self.conn = pid, pidfd, conn
        self.returncode: int | None = None
        self._lock = threading.Lock()

    def poll(self) -> int | None:
        with self._lock:
            if self.returncode is None and self.pidfd >= 0:
                ready, _, _ = select.select([self.pidfd], [], [], 0)
                if ready:
                    self._finish()
            return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            ready, _, _ = select.select([self.pidfd], [], [], timeout)
            if not ready:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
            with self._lock:
                if self.returncode is None:
                    self._finish()
        return self.returncode

    def _finish(self) -> None:
        """The kernel has exited: its status as the zygote reaped it (1 if the zygote does not say)."""
        code = 1
        try:
            ready, _, _ = select.select([self.conn], [], [], 2.0)
            if ready:
                code = int(json.loads(self.conn.recv(MESSAGE_BYTES) or b"{}").get("exit", 1))
        except (OSError, ValueError):
            pass
        self.returncode = code
        self.close()

    def close(self) -> None:
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1
        self.conn.close()

    def send_signal(self, signum: int) -> None:
        """As ``Popen.send_signal``: nothing happens once the kernel has exited."""
        if self.poll() is not None:
            return
        try:
            signal.pidfd_send_signal(self.pidfd, signum)
        except (ProcessLookupError, OSError):
            pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


class Zygote:
    """The trusted side's handle on one zygote process (started here, stopped by pid)."""

    def __init__(self, env: dict):
        self.env = dict(env)
        self.folder = tempfile.mkdtemp(prefix="autograder-zygote-")
        os.chmod(self.folder, 0o700)
        self.path = os.path.join(self.folder, "socket")
        self.kernels: list[ForkedKernel] = []
        # same process group as this process: whoever kills this one's group kills the zygote too
        self.proc = subprocess.Popen([sys.executable, "-I", "-m", "autograder.inkernel.zygote", self.path],
                                     env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        try:
            self._wait_ready()
            self.info, _, conn = self._ask({"op": "info"})
            conn.close()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not os.path.exists(self.path):
            if self.proc.poll() is not None:
                raise Unavailable(f"the zygote exited while loading (status {self.proc.returncode})")
            if time.monotonic() > deadline:
                raise Unavailable(f"the zygote did not load within {START_TIMEOUT:g} s")
            time.sleep(0.05)

    def _ask(self, request: dict, fds: list[int] = ()) -> tuple[dict, list[int], socket.socket]:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        conn.settimeout(60)  # a zygote that was stopped (SIGSTOP) must not hang grading
        try:
            conn.connect(self.path)
            send(conn, request, fds)
            message, got, _, _ = socket.recv_fds(conn, MESSAGE_BYTES, 1)
            if not message:
                raise Unavailable("the zygote closed the connection")
            return json.loads(message), got, conn
        except OSError as exc:
            conn.close()
            raise Unavailable(f"the zygote did not answer ({exc})") from None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def launch(self, argv: list[str], env: dict, cwd: str | None, stdout: int = 1, stderr: int = 2) -> ForkedKernel:
        request = {"op": "launch", "argv": list(argv), "env": dict(env), "cwd": str(cwd) if cwd else None}
        reply, fds, conn = self._ask(request, [stdout, stderr])
        if "pid" not in reply or len(fds) != 1:
            conn.close()
            raise Unavailable(f"the zygote could not fork a kernel ({reply.get('error', 'no pid')})")
        kernel = ForkedKernel(int(reply["pid"]), fds[0], conn)
        self.kernels = [k for k in self.kernels if k.poll() is None] + [kernel]
        return kernel

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        shutil.rmtree(self.folder, ignore_errors=True)


_LOCK = threading.Lock()
_ZYGOTES: dict[tuple, Zygote] = {}


def shared_env(env: dict) -> dict:
    """The part of a kernel's environment its zygote was started with (not the notebook's own folders and walls,
    or jupyter_client's JPY_* session variables)."""
    return {k: v for k, v in env.items() if k not in PER_NOTEBOOK_ENV and not k.startswith("JPY_")}


def identity(env: dict) -> tuple:
    """Kernels may share a zygote when every import-time setting is the same."""
    return tuple(sorted(shared_env(env).items()))


def for_kernel(env: dict) -> Zygote:
    """The running zygote for kernels with this environment, started on first use; a zygote for other settings
    is stopped (its kernels do not depend on it)."""
    key = identity(env)
    with _LOCK:
        zygote = _ZYGOTES.get(key)
        if zygote is not None and zygote.alive():
            return zygote
        for other in _ZYGOTES.values():
            other.stop()
        _ZYGOTES.clear()
        zygote = Zygote(shared_env(env))
        _ZYGOTES[key] = zygote
        return zygote


def start(env: dict) -> None:
    """Start the zygote for kernels with this environment now (it loads while the caller does other work)."""
    if enabled():
        threading.Thread(target=lambda: _quietly(for_kernel, env), name="autograder-zygote-start", daemon=True).start()


def _quietly(fn, *args) -> None:
    try:
        fn(*args)
    except Exception:
        pass


def discard(zygote: Zygote) -> None:
    with _LOCK:
        for key, known in list(_ZYGOTES.items()):
            if known is zygote:
                del _ZYGOTES[key]
    zygote.stop()


def launch(env: dict, argv: list[str], cwd: str | None, stdout: int, stderr: int) -> ForkedKernel:
    """Fork a grading kernel; a zygote that fails (killed, stopped, broken) is replaced once, then
    :class:`Unavailable` is raised and the kernel is started from scratch."""
    for attempt in (1, 2):
        zygote = for_kernel(env)
        try:
            return zygote.launch(argv, env, cwd, stdout, stderr)
        except Unavailable:
            discard(zygote)
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@atexit.register
def stop_all() -> None:
    with _LOCK:
        for zygote in _ZYGOTES.values():
            zygote.stop()
        _ZYGOTES.clear()
