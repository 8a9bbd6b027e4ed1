"""The zygote: one preloaded process per grading process, forking a ready grading kernel on request.

A kernel that starts from scratch pays ``import torch`` and the kernel's own start-up (about 3 s). The
zygote pays them once, before any student code exists anywhere, and then only forks: each kernel is a
fresh copy of that clean process (copy-on-write), ready in tens of milliseconds. It loads what notebooks
import anyway (:func:`autograder.inkernel.kernel.preload`) and nothing of the grader, so a kernel forked
from it holds nothing of the grader either. The trusted side's half (starting it, asking it for kernels,
replacing it when it fails) is :mod:`autograder.zygote`.

* Started by the trusted side as ``python -I -m autograder.inkernel.zygote SOCKET``; it listens on a unix
  socket in a private folder and serves only its parent process (``SO_PEERCRED``).
* For each kernel start and restart the parent sends the kernel's arguments, environment and working folder,
  and two file descriptors: the kernel's stdout and stderr. The zygote forks; the child closes everything of
  the zygote's, starts a session of its own and becomes the kernel (:func:`autograder.inkernel.kernel.serve`,
  which walls it in before the notebook runs).
* The parent gets the kernel's pid and a pidfd; the zygote reaps the kernel when it exits and sends its status.
* It exits when its parent does, and so do its kernels (each watches the parent's pidfd). A kernel that kills
  the zygote stops nothing else: the next kernel start gets a new zygote.
* It is its kernels' *subreaper*: a process a notebook starts and leaves behind (in a session of its own, or
  orphaned on purpose, where the kernel's process group no longer holds it) becomes the zygote's child when its
  parent ends, and the zygote ends it within a second (and whenever a kernel ends, and when the zygote exits).
  A notebook's processes do not outlive its kernel, so a class's later students do not share the machine with
  them, and none lives long outside the kernel's process tree (the memory watch's reach).
"""
from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import struct
import sys
import threading
import time

MESSAGE_BYTES = 1 << 20
SWEEP_SECONDS = 1.0  # how often, while kernels run, the zygote ends the processes they orphaned (0.4 ms a look)


def _peer_pid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[0]


def send(conn: socket.socket, data: dict, fds: list[int] = ()) -> None:
    socket.send_fds(conn, [json.dumps(data).encode()], list(fds))


def serve_forever(path: str) -> None:
    """Preload, then fork a kernel for each launch request from the parent until the parent is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the terminal is the parent's to handle
    parent, zygote_pid = os.getppid(), os.getpid()
    from autograder.inkernel import kernel

    kernel.preload()
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # debugpy's import-time notice about -I
    # what a kernel imports while it initialises: each forked kernel then only initialises (0.35 s -> 0.05 s)
    import IPython.core.completerlib  # noqa: F401
    import IPython.extensions.storemagic  # noqa: F401
    import ipykernel.debugger  # noqa: F401
    import ipykernel.kernelapp  # noqa: F401
    import tornado.platform.asyncio  # noqa: F401
    import tornado.queues  # noqa: F401

    _become_subreaper()
    executor = os.pidfd_open(parent)  # readable when the parent exits
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(path + ".tmp")
    os.rename(path + ".tmp", path)  # the parent waits for this name: it appears once everything is loaded
    listener.listen(16)
    children: dict[int, tuple[int, socket.socket]] = {}  # pidfd -> (pid, the launcher's connection)
    warm = False
    try:
        while True:
            # the first kernel is forked as soon as it is asked for; torch.fx's first trace (1.5 s, for models
            # exported as graphs) is paid afterwards, while idle, for the kernels forked later
            # while kernels run, a look each second for processes they orphaned (outside their process trees)
            wait = None if not children else SWEEP_SECONDS if warm else 0.2
            ready, _, _ = select.select([listener, executor, *children], [], [], wait)
            if not ready and not warm:
                from autograder.inkernel import recipes

                recipes.warm_up()
                warm = True
                continue
            if not ready:
                _end_strays(zygote_pid, children)
                continue
            if executor in ready:
                break
            for fd in ready:
                if fd is listener:
                    _accept(listener, parent, executor, children)
                else:
                    _reap(fd, children)
                    _end_strays(zygote_pid, children)
    finally:
        if os.getpid() == zygote_pid:  # not in a kernel leaving through these frames
            shutil.rmtree(os.path.dirname(path), ignore_errors=True)
            _end_strays(zygote_pid, {})  # every child, kernels too: they are leaving anyway (the executor is gone)


def _accept(listener, parent: int, executor: int, children: dict) -> None:
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
        send(conn, {"pid": os.getpid()})
        conn.close()
        return
    if request.get("op") != "launch" or len(fds) != 2:
        for fd in fds:
            os.close(fd)
        send(conn, {"error": "bad request"})
        conn.close()
        return
    pid = os.fork()
    if pid == 0:
        for sock in (listener, conn, *(c for _, c in children.values())):
            sock.close()
        for pidfd in children:
            os.close(pidfd)
        _become_kernel(request, fds, executor)  # never returns
    for fd in fds:
        os.close(fd)
    pidfd = os.pidfd_open(pid)
    children[pidfd] = (pid, conn)
    try:
        send(conn, {"pid": pid}, [pidfd])
    except OSError:  # the launcher went away: nobody will manage this kernel
        os.kill(pid, signal.SIGKILL)


def _reap(pidfd: int, children: dict) -> None:
    pid, conn = children.pop(pidfd)
    _, status = os.waitpid(pid, 0)
    try:
        send(conn, {"exit": os.waitstatus_to_exitcode(status)})
    except OSError:
        pass
    conn.close()
    os.close(pidfd)


def _become_subreaper() -> None:
    """Processes orphaned below the zygote become its children (PR_SET_CHILD_SUBREAPER), not init's."""
    import ctypes

    PR_SET_CHILD_SUBREAPER = 36
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _strays(zygote_pid: int, kernels: set[int]) -> list[int]:
    """The zygote's children that are not kernels: processes a notebook left behind, adopted by the zygote."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in kernels:
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()  # after "pid (name) ": state, ppid, ...
        if len(fields) > 1 and fields[1] == str(zygote_pid).encode():
            found.append(int(entry))
    return found


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _end_strays(zygote_pid: int, children: dict, seconds: float = 2.0) -> None:
    """End every process the kernels left behind, and reap it. Those that fork while they are ended leave
    children that the zygote adopts in turn: sweep until none is left, for at most ``seconds``."""
    kernels = {pid for pid, _ in children.values()}
    deadline = time.monotonic() + seconds
    while True:
        strays = _strays(zygote_pid, kernels)
        for pid in strays:
            _kill(pid)
        for pid in strays:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        if not strays or time.monotonic() > deadline:
            return
        time.sleep(0.01)


def _exit_with(executor: int) -> None:
    """The kernel exits when the executor does; not when the zygote does: a kernel that kills the zygote
    stops no other student's kernel (the next start just gets a new zygote)."""

    def watch():
        try:
            select.select([executor], [], [])
        finally:
            os._exit(1)

    threading.Thread(target=watch, name="autograder-executor-watch", daemon=True).start()


def _become_kernel(request: dict, fds: list[int], executor: int) -> None:
    """In the forked child (the zygote's sockets and other kernels' handles already closed): take the
    launcher's stdio, folder and environment, and serve. When the kernel is shut down, SystemExit leaves
    through the zygote's frames to the interpreter's own exit, as any kernel ends (threads joined, then
    atexit): ending with ``os._exit`` instead raced ipykernel's control thread at shutdown."""
    try:
        os.setsid()  # a process group of its own, as jupyter_client gives a kernel (interrupts, kills)
        out_fd, err_fd = fds
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
        from autograder.inkernel import kernel

        _exit_with(executor)
        # parent_handle=1: no ipykernel parent poller (the zygote is not the parent that matters), no banner
        argv = [*request["argv"], "--IPKernelApp.parent_handle=1"]
        sys.argv = [kernel.__file__, *argv]
        kernel.serve(argv)
    except SystemExit:
        raise
    except BaseException:
        import traceback

        traceback.print_exc()
        os._exit(1)
    raise SystemExit(0)


if __name__ == "__main__":
    serve_forever(sys.argv[1])
