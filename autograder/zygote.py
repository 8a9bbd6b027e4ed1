"""Grading kernels forked from one preloaded process: the grader's start-up is paid once per grading process.

A grading kernel must load torch, the grader, every check and the grader-held MNIST before any student
code runs (:mod:`autograder.kernel`): about 4-5 s. Started from scratch for every notebook, that is the
largest fixed cost of grading. The zygote loads all of it once, before any student code exists anywhere,
and then only forks: each kernel is a fresh copy of that clean process (copy-on-write), started in tens
of milliseconds.

* The zygote is started by the trusted side (the executor's process: ``autograder grade``, an nbgrader
  command, a Dask worker) as ``python -I -m autograder.zygote SOCKET``, in the grading environment. It
  runs no student code, ever; it never holds a key.
* It listens on a unix socket in a private folder and serves only its parent process (``SO_PEERCRED``):
  a kernel cannot ask it for anything.
* For each kernel start and restart, the executor sends the kernel's arguments, environment and working
  folder, and three file descriptors: the pipe holding the kernel's fresh key, and its stdout and stderr.
  The zygote forks; the child closes everything of the zygote's (its socket, the other kernels' handles),
  starts a session of its own, reads its key and becomes the kernel (:func:`autograder.kernel.serve`).
* The executor gets the kernel's pid and a pidfd (to signal it and see it exit without a pid race); the
  zygote reaps the kernel when it exits and sends its exit status.
* It exits when its parent does, and so do its kernels (each watches the parent's pidfd). A kernel that
  kills the zygote stops nothing else: the next kernel start gets a new zygote.

When the zygote cannot be used (``AUTOGRADER_ZYGOTE=0``, or it fails to start), kernels are started from
scratch as before: the same kernel code, only slower.
"""
from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

MESSAGE_BYTES = 1 << 20
START_TIMEOUT = 600.0
PER_NOTEBOOK_ENV = ("IPYTHONDIR",)  # may differ between kernels of one zygote; everything else may not


class Unavailable(RuntimeError):
    """The zygote cannot start kernels: start them from scratch instead."""


def enabled() -> bool:
    return os.environ.get("AUTOGRADER_ZYGOTE", "1").strip().lower() not in ("0", "no", "false", "off")


# ---------------------------------------------------------------------------------------- the zygote itself
def _peer_pid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[0]


def _send(conn: socket.socket, data: dict, fds: list[int] = ()) -> None:
    socket.send_fds(conn, [json.dumps(data).encode()], list(fds))


def serve_forever(path: str) -> None:
    """Preload, then fork a kernel for each launch request from the parent until the parent is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the terminal is the parent's to handle
    parent, zygote_pid = os.getppid(), os.getpid()
    from autograder import kernel

    loaded = kernel.Loaded()
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # debugpy's import-time notice about -I
    # what a kernel imports while it initialises: each forked kernel then only initialises (0.35 s -> 0.05 s)
    import IPython.core.completerlib  # noqa: F401
    import IPython.extensions.storemagic  # noqa: F401
    import ipykernel.debugger  # noqa: F401
    import ipykernel.kernelapp  # noqa: F401
    import tornado.platform.asyncio  # noqa: F401
    import tornado.queues  # noqa: F401

    executor = os.pidfd_open(parent)  # readable when the parent exits
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(path + ".tmp")
    os.rename(path + ".tmp", path)  # the parent waits for this name: it appears once everything is loaded
    listener.listen(16)
    children: dict[int, tuple[int, socket.socket]] = {}  # pidfd -> (pid, the launcher's connection)
    try:
        while True:
            ready, _, _ = select.select([listener, executor, *children], [], [])
            if executor in ready:
                break
            for fd in ready:
                if fd is listener:
                    _accept(listener, parent, executor, loaded, children)
                else:
                    _reap(fd, children)
    finally:
        if os.getpid() == zygote_pid:  # not in a kernel leaving through these frames
            shutil.rmtree(os.path.dirname(path), ignore_errors=True)


def _accept(listener, parent: int, executor: int, loaded, children: dict) -> None:
    conn, _ = listener.accept()
    try:
        if _peer_pid(conn) != parent:
            conn.close()
            return
        conn.settimeout(30)
        message, fds, _, _ = socket.recv_fds(conn, MESSAGE_BYTES, 4)
        request = json.loads(message or b"{}")
    except (OSError, ValueError):
        conn.close()
        return
    if request.get("op") == "info":
        _send(conn, {"code": loaded.code, "problem": loaded.problem, "pid": os.getpid()})
        conn.close()
        return
    if request.get("op") != "launch" or len(fds) != 3:
        for fd in fds:
            os.close(fd)
        _send(conn, {"error": "bad request"})
        conn.close()
        return
    pid = os.fork()
    if pid == 0:
        for sock in (listener, conn, *(c for _, c in children.values())):
            sock.close()
        for pidfd in children:
            os.close(pidfd)
        _become_kernel(request, fds, executor, loaded)  # never returns
    for fd in fds:
        os.close(fd)
    pidfd = os.pidfd_open(pid)
    children[pidfd] = (pid, conn)
    try:
        _send(conn, {"pid": pid}, [pidfd])
    except OSError:  # the launcher went away: nobody will manage this kernel
        os.kill(pid, signal.SIGKILL)


def _reap(pidfd: int, children: dict) -> None:
    pid, conn = children.pop(pidfd)
    _, status = os.waitpid(pid, 0)
    try:
        _send(conn, {"exit": os.waitstatus_to_exitcode(status)})
    except OSError:
        pass
    conn.close()
    os.close(pidfd)


def _exit_with(executor: int) -> None:
    """The kernel exits when the executor does; not when the zygote does: a kernel that kills the zygote
    stops no other student's kernel (the next start just gets a new zygote)."""

    def watch():
        try:
            select.select([executor], [], [])
        finally:
            os._exit(1)

    threading.Thread(target=watch, name="autograder-executor-watch", daemon=True).start()


def _become_kernel(request: dict, fds: list[int], executor: int, loaded) -> None:
    """In the forked child (the zygote's sockets and other kernels' handles already closed): take the
    launcher's stdio, folder and environment, and serve. When the kernel is shut down, SystemExit leaves
    through the zygote's frames to the interpreter's own exit, as any kernel ends (threads joined, then
    atexit): ending with ``os._exit`` instead raced ipykernel's control thread at shutdown."""
    try:
        os.setsid()  # a process group of its own, as jupyter_client gives a kernel (interrupts, kills)
        key_fd, out_fd, err_fd = fds
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        for fd in (devnull, out_fd, err_fd):
            os.close(fd)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.chdir(request.get("cwd") or os.getcwd())
        os.environ.clear()
        os.environ.update(request["env"])
        if "numpy" in sys.modules:  # its global generator would otherwise be the same in every kernel
            sys.modules["numpy"].random.seed()
        from autograder import kernel

        _exit_with(executor)
        # parent_handle=1: no ipykernel parent poller (the zygote is not the parent that matters), no banner
        argv = [*request["argv"], "--IPKernelApp.parent_handle=1"]
        sys.argv = [kernel.__file__, *argv]
        kernel.serve(argv, key_fd, loaded)
    except SystemExit:
        raise
    except BaseException:
        import traceback

        traceback.print_exc()
        os._exit(1)
    raise SystemExit(0)


# ---------------------------------------------------------------------------------------- the executor's side
class ForkedKernel:
    """A kernel forked by the zygote, with the parts of ``subprocess.Popen`` jupyter_client's provisioner uses."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int, pidfd: int, conn: socket.socket):
        self.pid, self.pidfd, self.conn = pid, pidfd, conn
        self.returncode: int | None = None

    def poll(self) -> int | None:
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
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


class Zygote:
    """The executor's handle on one zygote process (started here, stopped by pid)."""

    def __init__(self, env: dict):
        self.env = dict(env)
        self.folder = tempfile.mkdtemp(prefix="autograder-zygote-")
        os.chmod(self.folder, 0o700)
        self.path = os.path.join(self.folder, "socket")
        self.kernels: list[ForkedKernel] = []
        # same process group as this process: whoever kills this one's group kills the zygote too
        self.proc = subprocess.Popen([sys.executable, "-I", "-m", "autograder.zygote", self.path], env=self.env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
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
                raise Unavailable(f"the zygote exited while loading the grader (status {self.proc.returncode})")
            if time.monotonic() > deadline:
                raise Unavailable(f"the zygote did not load the grader within {START_TIMEOUT:g} s")
            time.sleep(0.05)

    def _ask(self, request: dict, fds: list[int] = ()) -> tuple[dict, list[int], socket.socket]:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        conn.settimeout(60)  # a zygote that was stopped (SIGSTOP) must not hang grading
        try:
            conn.connect(self.path)
            _send(conn, request, fds)
            message, got, _, _ = socket.recv_fds(conn, MESSAGE_BYTES, 1)
            if not message:
                raise Unavailable("the zygote closed the connection")
            return json.loads(message), got, conn
        except OSError as exc:
            conn.close()
            raise Unavailable(f"the zygote did not answer ({exc})") from None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def launch(self, argv: list[str], env: dict, cwd: str | None, key_fd: int, stdout: int = 1,
               stderr: int = 2) -> ForkedKernel:
        request = {"op": "launch", "argv": list(argv), "env": dict(env), "cwd": str(cwd) if cwd else None}
        reply, fds, conn = self._ask(request, [key_fd, stdout, stderr])
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
    """The part of a kernel's environment its zygote was started with (not the notebook's IPython folder or
    jupyter_client's JPY_* session variables)."""
    return {k: v for k, v in env.items() if k not in PER_NOTEBOOK_ENV and not k.startswith("JPY_")}


def identity(env: dict, code: str) -> tuple:
    """Kernels may share a zygote when the grader's code and every import-time setting are the same."""
    return code, tuple(sorted(shared_env(env).items()))


def for_kernel(env: dict, code: str) -> Zygote:
    """The running zygote for kernels with this environment and grader code, started on first use; a zygote
    for other settings is stopped (its kernels do not depend on it)."""
    key = identity(env, code)
    with _LOCK:
        zygote = _ZYGOTES.get(key)
        if zygote is not None and zygote.alive():
            return zygote
        for other in _ZYGOTES.values():
            other.stop()
        _ZYGOTES.clear()
        zygote = Zygote(shared_env(env))
        if zygote.info.get("code") != code:
            zygote.stop()
            raise Unavailable("the zygote loaded another version of the grader than the one grading started with")
        _ZYGOTES[key] = zygote
        return zygote


def discard(zygote: Zygote) -> None:
    with _LOCK:
        for key, known in list(_ZYGOTES.items()):
            if known is zygote:
                del _ZYGOTES[key]
    zygote.stop()


def launch(env: dict, code: str, argv: list[str], cwd: str | None, key_fd: int, stdout: int,
           stderr: int) -> ForkedKernel:
    """Fork a grading kernel; a zygote that fails (killed, stopped, broken) is replaced once, then
    :class:`Unavailable` is raised and the kernel is started from scratch."""
    for attempt in (1, 2):
        zygote = for_kernel(env, code)
        try:
            return zygote.launch(argv, env, cwd, key_fd, stdout, stderr)
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


if __name__ == "__main__":
    serve_forever(sys.argv[1])
