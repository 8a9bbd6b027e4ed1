"""Grading kernels forked from one preloaded zygote: the same grades, nothing shared, nothing reachable."""
import copy
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from autograder import zygote
from tests.kit import REPO, SOLUTION_NOTEBOOKS, code, notebook, read

INSPECT = textwrap.dedent("""
    import json, os, numpy
    links = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            links[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            pass
    mine = {t[len("socket:["):-1] for t in links.values() if t.startswith("socket:[")}
    zygote_sockets = set()
    for line in open("/proc/net/unix").read().splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 8 and "autograder-zygote" in parts[7]:
            zygote_sockets.add(parts[6])
    pidfds = []  # the processes this kernel holds a pidfd of
    for fd, target in links.items():
        if "pidfd" in target:
            info = open(f"/proc/self/fdinfo/{fd}").read()
            pidfds += [int(line.split()[1]) for line in info.splitlines() if line.startswith("Pid:")]
    print(json.dumps({"pid": os.getpid(), "ppid": os.getppid(), "sid": os.getsid(0), "pidfds": pidfds,
                      "zygote_sockets": sorted(mine & zygote_sockets), "rand": float(numpy.random.rand()),
                      "env_key": "AUTOGRADER_TEST_MARK" in os.environ}))
""")

ASK_THE_ZYGOTE = textwrap.dedent("""
    import glob, json, socket, tempfile
    answers = []
    listed = glob.glob("/tmp/autograder-zygote-*/socket")  # the kernel's walls hide /tmp
    for path in listed + [ZYGOTE_SOCKET]:  # and even told where the socket is, it gets no answer
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(5)
        try:
            s.connect(path)
            s.send(json.dumps({"op": "info"}).encode())
            answers.append(s.recv(65536).decode())
        except OSError as exc:
            answers.append(type(exc).__name__)
    print(json.dumps({"listed": len(listed), "answers": answers}))
""")

LEAVE_PROCESSES_BEHIND = textwrap.dedent("""
    import os, time

    def linger(role, spin=False):  # each process that should not outlive the grading writes its pid here
        open(f"left-behind-{role}-{os.getpid()}", "w").close()
        end = time.monotonic() + 600
        while time.monotonic() < end:
            if not spin:
                time.sleep(1)
        os._exit(0)

    if os.fork() == 0:  # in the kernel's own process group
        linger("child")
    if os.fork() == 0:  # a session of its own, spinning: the kernel's process group no longer holds it
        os.setsid()
        linger("session", spin=True)
    if os.fork() == 0:  # a daemon: its parent exits at once, so it is nobody's child
        os.setsid()
        if os.fork() == 0:
            linger("daemon")
        os._exit(0)
    while len([f for f in os.listdir() if f.startswith("left-behind-")]) < 3:
        time.sleep(0.05)
    print("left three behind")
""")


DAEMON_ENDED = textwrap.dedent("""
    import os, time
    (daemon,) = [int(f.rsplit("-", 1)[1]) for f in os.listdir() if f.startswith("left-behind-daemon-")]
    end = time.monotonic() + 10
    while time.monotonic() < end:
        try:
            os.kill(daemon, 0)
        except ProcessLookupError:
            print("the daemon was ended while its kernel runs")
            break
        time.sleep(0.1)
""")


def _left_behind(folder) -> list[int]:
    return [int(p.name.rsplit("-", 1)[1]) for p in folder.glob("left-behind-*")]


def _gone(pids: list[int], seconds: float = 10) -> list[int]:
    """The pids still alive after ``seconds`` (none, when all ended)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.1)
    return [pid for pid in pids if _alive(pid)]


def _end(pids: list[int]) -> None:
    """A failed test's leftovers: end them, so the next tests do not share the machine with them."""
    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _printed(cell) -> dict:
    text = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
    return json.loads(text.strip().splitlines()[-1])


def _grade(nb, workdir, **kwargs):
    from autograder.executor import GradingClient

    client = GradingClient(nb, workdir=workdir, **kwargs)
    client.grade()
    return client


def _grade_in_background(nb, workdir) -> threading.Thread:
    """Grade ``nb`` in a thread; return once its kernel, forked from the zygote, is running."""
    thread = threading.Thread(target=_grade, args=(nb, workdir), daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not _live_kernels():
        time.sleep(0.2)
    assert _live_kernels(), "the kernel never started from the zygote"
    return thread


def _live_kernels() -> list:
    return [k for z in list(zygote._ZYGOTES.values()) for k in z.kernels if k.poll() is None]


def _running_zygote() -> zygote.Zygote:
    (only,) = [z for z in zygote._ZYGOTES.values() if z.alive()]
    return only


@pytest.mark.slow
def test_kernels_are_forked_from_one_zygote_and_hold_nothing_of_it(tmp_path, mnist_available):
    """A kernel forked while another one runs: a child of the zygote, in a session of its own, without the
    zygote's socket or the other kernel's handles (its one pidfd is this process's: it exits with it), with
    a numpy generator of its own."""
    first = _grade_in_background(notebook([code("import time\ntime.sleep(20)")]), tmp_path)
    seen = []
    for _ in range(2):
        nb = notebook([code(INSPECT)])
        _grade(nb, tmp_path)
        seen.append(_printed(nb.cells[0]))
    first.join(timeout=60)
    zyg = _running_zygote()
    for kernel in seen:
        assert kernel["ppid"] == zyg.proc.pid, kernel
        assert kernel["sid"] == kernel["pid"], "the kernel is not in a session of its own"
        assert kernel["pidfds"] == [os.getpid()], "a kernel holds the zygote's handles on other processes"
        assert kernel["zygote_sockets"] == [], kernel
    assert seen[0]["pid"] != seen[1]["pid"] and seen[0]["rand"] != seen[1]["rand"]


@pytest.mark.slow
def test_a_kernel_cannot_ask_the_zygote_for_anything(tmp_path, mnist_available):
    _grade(notebook([code("pass")]), tmp_path)  # the zygote is running
    nb = notebook([code(f"ZYGOTE_SOCKET = {_running_zygote().path!r}"), code(ASK_THE_ZYGOTE)])
    _grade(nb, tmp_path)
    seen = _printed(nb.cells[1])
    assert seen["listed"] == 0, "the kernel could list the zygote's folder"
    refused = ("", "ConnectionResetError", "BrokenPipeError", "ConnectionRefusedError", "TimeoutError",
               "PermissionError")
    assert seen["answers"] and all(answer in refused for answer in seen["answers"]), seen
    assert _running_zygote().alive()


@pytest.mark.slow
def test_a_kernel_cannot_signal_the_zygote_and_a_dead_zygote_stops_no_kernel(tmp_path, mnist_available):
    """The kernel's walls forbid signals to processes outside them. When the zygote dies anyway (killed from
    outside), another student's kernel keeps running and keeps its results, and the next kernel gets a new one."""
    killer = notebook([code("import json, os, signal\ntry:\n    os.kill(os.getppid(), signal.SIGKILL)\n"
                            "    print(json.dumps({'signal': 'sent'}))\nexcept OSError as exc:\n"
                            "    print(json.dumps({'signal': type(exc).__name__}))")])
    _grade(killer, tmp_path)
    assert _printed(killer.cells[0]) == {"signal": "PermissionError"}
    patient = notebook([code("import time\ntime.sleep(10)\nprint('{\"still\": \"here\"}')")])
    waiting = _grade_in_background(patient, tmp_path)
    old = _running_zygote()
    os.kill(old.proc.pid, signal.SIGKILL)
    waiting.join(timeout=120)
    assert not old.alive()
    assert _printed(patient.cells[0]) == {"still": "here"}, patient.cells[0].outputs
    after = notebook([code(INSPECT)])
    _grade(after, tmp_path)
    assert _printed(after.cells[0])["ppid"] == _running_zygote().proc.pid != old.proc.pid


@pytest.mark.slow
def test_grades_are_the_same_forked_or_started_from_scratch(tmp_path, monkeypatch, mnist_available):
    """Part 2's solution with a hung cell and a cell that kills the kernel before its checks: each kernel
    restart comes from the zygote (or from scratch), and both ways give the same verified grades."""
    source = read(SOLUTION_NOTEBOOKS / "02_linear_layers.ipynb")
    first_check = next(i for i, c in enumerate(source.cells) if c.metadata.get("nbgrader", {}).get("grade"))
    source.cells[first_check:first_check] = [
        code("import os, signal"),
        code("signal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"),  # deaf to the interrupt
        code("os._exit(3)"),
    ]
    outcomes = {}
    for mode in ("1", "0"):
        monkeypatch.setenv("AUTOGRADER_ZYGOTE", mode)
        client = _grade(copy.deepcopy(source), tmp_path, cell_timeout=10)
        outcomes[mode] = {gid: (r.score, r.max_score, r.status, r.verified) for gid, r in client.results.items()}
    assert outcomes["1"] == outcomes["0"]
    assert all(verified and score == points for score, points, _, verified in outcomes["1"].values()), outcomes


@pytest.mark.slow
def test_grading_falls_back_to_a_kernel_started_from_scratch(tmp_path, monkeypatch, caplog, mnist_available):
    def unavailable(env):
        raise zygote.Unavailable("no zygote in this test")

    monkeypatch.setattr(zygote, "for_kernel", unavailable)
    nb = notebook([code(INSPECT)])
    with caplog.at_level("WARNING"):
        client = _grade(nb, tmp_path)
    assert _printed(nb.cells[0])["ppid"] == os.getpid(), "the kernel was not started from scratch by this process"
    assert not client.notes
    assert any("from scratch" in r.getMessage() and "no zygote" in r.getMessage() for r in caplog.records)


@pytest.mark.slow
def test_the_zygote_and_its_kernels_exit_with_their_parent(tmp_path, mnist_available):
    """A grading process killed outright (a Dask worker, a TA's Ctrl-\\) leaves no zygote, kernel or process a
    notebook started behind."""
    import psutil

    script = textwrap.dedent(f"""
        import json, sys, threading, time
        sys.path.insert(0, {str(REPO)!r})
        from autograder import zygote
        from autograder.executor import GradingClient
        from tests.kit import code, notebook
        from tests.test_zygote import LEAVE_PROCESSES_BEHIND
        nb = notebook([code(LEAVE_PROCESSES_BEHIND), code("import time\\ntime.sleep(600)")])
        threading.Thread(target=lambda: GradingClient(nb, workdir={str(tmp_path)!r}).grade(), daemon=True).start()
        while True:
            live = [(z.proc.pid, k.pid) for z in list(zygote._ZYGOTES.values()) for k in z.kernels if k.poll() is None]
            if live:
                print(json.dumps(live[0]), flush=True)
                break
            time.sleep(0.2)
        time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        zygote_pid, kernel_pid = json.loads(proc.stdout.readline())
        assert psutil.pid_exists(zygote_pid) and psutil.pid_exists(kernel_pid)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(_left_behind(tmp_path)) < 3:
            time.sleep(0.1)
        assert len(_left_behind(tmp_path)) == 3, "the notebook did not start its processes"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        alive = _gone([zygote_pid, kernel_pid], 20)
        assert zygote_pid not in alive, "the zygote outlived its parent"
        assert kernel_pid not in alive, "a kernel outlived its zygote"
        assert _gone(_left_behind(tmp_path)) == [], "a process a notebook started outlived the grading process"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        _end(_left_behind(tmp_path))


@pytest.mark.slow
def test_processes_a_notebook_starts_end_with_its_kernel(tmp_path, mnist_available):
    """A notebook's processes, even in sessions of their own or orphaned on purpose, do not outlive its grading:
    a class's later students would share the machine with them (the zygote adopts them and ends them). One
    orphaned on purpose (outside the kernel's process tree, so outside its memory watch) is ended at once."""
    nb = notebook([code(LEAVE_PROCESSES_BEHIND), code(DAEMON_ENDED)])
    client = _grade(nb, tmp_path)
    assert "left three behind" in nb.cells[0].outputs[0]["text"] and not client.notes, nb.cells[0].outputs
    assert [o.get("text") for o in nb.cells[1].outputs] == ["the daemon was ended while its kernel runs\n"], \
        nb.cells[1].outputs
    left = _left_behind(tmp_path)
    assert len(left) == 3
    try:
        assert _gone(left) == [], "a process the notebook started outlived its grading"
        assert _running_zygote().alive()
    finally:
        _end(left)


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_kernels_share_a_zygote_only_when_everything_but_their_own_folders_and_walls_is_the_same():
    base = {"PATH": "/usr/bin", "OMP_NUM_THREADS": "1", "IPYTHONDIR": "/tmp/a", "JPY_SESSION_NAME": "x",
            "TMPDIR": "/tmp/t1", "AUTOGRADER_SANDBOX": "{}"}
    same = dict(base, IPYTHONDIR="/tmp/b", JPY_SESSION_NAME="y", TMPDIR="/tmp/t2", AUTOGRADER_SANDBOX='{"a": 1}')
    assert zygote.identity(base) == zygote.identity(same)
    assert zygote.identity(base) != zygote.identity(dict(base, OMP_NUM_THREADS="2"))


def test_zygote_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("AUTOGRADER_ZYGOTE", "0")
    assert not zygote.enabled()
    monkeypatch.setenv("AUTOGRADER_ZYGOTE", "1")
    assert zygote.enabled()
