"""The trusted side: runs a kit notebook in a grading kernel and writes every check cell's score itself.

Both ``autograder grade`` (:mod:`autograder.runner`) and ``nbgrader autograde``
(:class:`autograder.nbgrader_ext.KitExecute`) grade kit notebooks with :class:`GradingClient`:

* each kernel is started by :class:`GradingKernelManager` with a fresh key handed over through a pipe
  (see :mod:`autograder.protocol`), in the grading environment (one torch thread, headless plots, a
  private IPython folder): forked from a process that loaded the grader once (:mod:`autograder.zygote`),
  or started from scratch as ``python -I -m autograder.kernel``;
* ordinary cells run as nbclient runs them; a cell that hangs past its limit (even ignoring
  Ctrl-C) or kills the kernel gets an error, the kernel is restarted, the cells before it are run
  again quietly, and grading goes on;
* a check cell is never executed as code: the client asks the grader in the kernel for the cell's
  result, verifies its signature, nonce and sums, and writes the cell's outputs: the check lines,
  the machine-readable result and the score nbgrader reads. A result it cannot verify scores 0 and
  is marked "not verified";
* a watchdog stops a kernel that uses too much memory or a notebook that runs too long in total;
* the grader's files and the MNIST folders are fingerprinted before and after: a notebook that
  changed them is not graded.
"""
from __future__ import annotations

import asyncio
import atexit
import importlib
import os
import secrets
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner
from jupyter_client.utils import ensure_async, run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode

from autograder import cells as kitcells
from autograder import checkrun, limits, protocol, registry, zygote
from autograder.procs import Poller, tree_rss
from autograder.remote import Channel, Remote
from autograder.report import MIME, NOT_RUN, TAMPERED, UNVERIFIED, CellResult, cell_lines

TIMEOUT_MESSAGE = ("this cell ran past its {timeout} s limit and did not stop when interrupted; the kernel was "
                   "restarted and the cells before it were run again")
DEAD_MESSAGE = ("the kernel died while running this cell (it exited, crashed or ran out of memory); the kernel was "
                "restarted and the cells before it were run again")
NOT_VERIFIED = "not graded: the result could not be verified (tampering suspected): {reason}"
KERNEL_NAME = "autograder-grading"


# ---------------------------------------------------------------------------------------- the kernel
class ZygoteProvisioner(LocalProvisioner):
    """Launches the grading kernel by forking it from the zygote (:mod:`autograder.zygote`); from scratch,
    with the same command, when the zygote cannot be used."""

    async def launch_kernel(self, cmd: list[str], **kwargs):
        if not zygote.enabled():
            return await super().launch_kernel(cmd, **kwargs)
        argv = cmd[cmd.index("autograder.kernel") + 1:]
        flag = argv.index(protocol.KEY_FD_FLAG)
        key_fd = int(argv[flag + 1])
        del argv[flag:flag + 2]
        # as a child started by Popen: this process's own stdout and stderr unless others are given
        std = [kwargs[name] if isinstance(kwargs.get(name), int) else fd for name, fd in (("stdout", 1), ("stderr", 2))]
        try:
            self.process = zygote.launch(kwargs["env"], self.parent.expected_code, argv, kwargs.get("cwd"), key_fd,
                                         *std)
        except zygote.Unavailable as exc:
            self.log.warning("Starting the grading kernel from scratch: %s", exc)
            return await super().launch_kernel(cmd, **kwargs)
        self.pid = self.pgid = self.process.pid  # the kernel starts its own session
        self.cwd = kwargs.get("cwd")
        return self.connection_info


class GradingKernelManager(AsyncKernelManager):
    """Starts the grading kernel with a fresh key on a pipe, at every start and restart: forked from the
    zygote, or as ``python -I -m autograder.kernel``."""

    grading_key: bytes = b""
    expected_code: str = ""  # the grader's code fingerprint the executor started with
    _key_fd: int | None = None

    @property
    def kernel_spec(self) -> KernelSpec:
        return KernelSpec(argv=[sys.executable, "-I", "-m", "autograder.kernel", "-f", "{connection_file}"],
                          display_name="autograder grading kernel", language="python", resource_dir="")

    async def _async_pre_start_kernel(self, **kw):
        if self.provisioner is None:
            self.kernel_id = self.kernel_id or kw.pop("kernel_id", None) or str(uuid.uuid4())
            self.provisioner = ZygoteProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)
        kernel_cmd, kw = await super()._async_pre_start_kernel(**kw)
        key = protocol.new_key()
        read_end, write_end = os.pipe()
        try:
            os.write(write_end, key)
        finally:
            os.close(write_end)
        self._close_key_fd()
        self._key_fd, self.grading_key = read_end, key
        kw["pass_fds"] = tuple(kw.get("pass_fds", ())) + (read_end,)
        return [*kernel_cmd, protocol.KEY_FD_FLAG, str(read_end)], kw

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        try:
            return await super()._async_launch_kernel(kernel_cmd, **kw)
        finally:
            self._close_key_fd()  # the kernel holds its own copy of the read end now

    def _close_key_fd(self) -> None:
        if self._key_fd is not None:
            try:
                os.close(self._key_fd)
            except OSError:
                pass
            self._key_fd = None


def kernel_env(ipython_dir: str) -> dict:
    """The grading kernel's environment: the grading limits, and an IPython folder of its own (no profile,
    startup file or config a notebook could have written for the next kernel)."""
    env = limits.grading_env()
    env["IPYTHONDIR"] = ipython_dir
    for name in ("PYTEST_ADDOPTS", "PYTHONSTARTUP", "PYTHONPATH"):
        env.pop(name, None)
    return env


# ---------------------------------------------------------------------------------------- fingerprints
class Fingerprints:
    """The grader's code and the MNIST folders as the trusted side first saw them."""

    def __init__(self, code: str | None = None, data: str | None = None):
        ensure_data_cache()
        self.code = code or protocol.code_fingerprint()
        self.data = data or protocol.data_fingerprint()

    def problems(self) -> list[str]:
        found = []
        if protocol.code_fingerprint() != self.code:
            found.append("the grader's files are not the ones grading started with")
        if protocol.data_fingerprint() != self.data:
            found.append("the MNIST data folders changed")
        return found


def ensure_data_cache() -> None:
    """Bring the MNIST cache up to date before the first fingerprint (the grading kernel reads it at start-up),
    so that nothing the kernel loads rewrites it while a notebook runs."""
    from course_utils.paths import mnist_cache_current

    if mnist_cache_current():
        return
    import subprocess

    subprocess.run([sys.executable, "-I", "-c", "from autograder import heldout; heldout.preload()"],
                   env=limits.grading_env(), check=False, capture_output=True, timeout=600)


# ---------------------------------------------------------------------------------------- the trusted side
def prepare_trusted_side() -> None:
    """Load every hidden check and the grader-held data in this process, before any student code runs (once)."""
    from autograder import heldout

    registry.table()
    heldout.preload()


def trusted_side(grade_id: str) -> bool:
    """(Transition) whether a cell's checks run on the trusted side: every one of its check modules is moved."""
    checks = registry.checks_for(grade_id)
    return bool(checks) and all(getattr(importlib.import_module(c.module), "TRUSTED_SIDE", False) for c in checks)


def _pid_alive(pid: int | None) -> bool:
    import psutil

    if pid is None:
        return False
    try:
        return psutil.Process(pid).status() not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
    except psutil.Error:
        return False


# ---------------------------------------------------------------------------------------- the client
class _Watchdog(Poller):
    """Kill the kernel when it uses too much memory or the whole notebook runs too long."""

    def __init__(self, client: "GradingClient", memory_mb: int, total_seconds: float):
        super().__init__(every=0.5)
        self.client, self.memory_mb, self.total = client, memory_mb, total_seconds
        self.reason = ""
        self.start = time.monotonic()

    def poll(self) -> bool:
        import psutil

        process = getattr(getattr(self.client.km, "provisioner", None), "process", None)
        pid = getattr(process, "pid", None)
        rss = tree_rss(pid) if pid is not None else None
        if rss is None:
            return False
        if rss > self.memory_mb * 2**20:
            self.reason = f"the kernel used more than {self.memory_mb} MB of memory and was stopped"
        elif time.monotonic() - self.start > self.total:
            self.reason = f"the notebook ran longer than {self.total:g} s in total and was stopped"
            self.client.stop_reason = self.reason
        if not self.reason:
            return False
        try:
            psutil.Process(pid).kill()
        except psutil.Error:
            pass
        return True


class GradingClient(NotebookClient):
    """nbclient's NotebookClient for kit notebooks: resilient cells, verified check cells."""

    replay_timeout = 600.0

    def __init__(self, nb, *, workdir: Path, fingerprints: Fingerprints | None = None, cell_timeout: int | None = None,
                 **kwargs):
        kwargs.setdefault("timeout", cell_timeout or limits.CELL_TIMEOUT)
        kwargs.setdefault("kernel_name", KERNEL_NAME)
        kwargs.setdefault("allow_errors", True)
        kwargs.setdefault("interrupt_on_timeout", True)
        kwargs.setdefault("raise_on_iopub_timeout", False)
        kwargs.setdefault("iopub_timeout", 10)
        kwargs.setdefault("record_timing", False)
        # the results are in by then: a graceful shutdown only waited 1-3 s for ipykernel to wind down
        kwargs.setdefault("shutdown_kernel", "immediate")
        kwargs.setdefault("extra_arguments", ["--IPKernelApp.log_level=ERROR", "--HistoryManager.enabled=False"])
        super().__init__(nb, kernel_manager_class=GradingKernelManager,
                         resources={"metadata": {"path": str(workdir)}}, **kwargs)
        self.fingerprints = fingerprints or Fingerprints()
        prepare_trusted_side()
        self.results: dict[str, CellResult] = {}
        self.notes: list[str] = []
        self.stop_reason = ""
        self._done: list[tuple[str | None, str]] = []  # (grade id, source) of ordinary cells run, replayed after a restart
        self._checks_thread = None  # the one thread the trusted side's checks run in (its socket lives there)
        self._remote: Remote | None = None
        self._hung: float | None = None
        self._grader_problem = ""
        self._files_problem = ""  # the grader's files or data changed before this notebook ran
        self._ipython_dir = tempfile.mkdtemp(prefix="autograder-ipython-")

    # ------------------------------------------------------------------ the whole notebook
    def grade(self) -> NotebookNode:
        """Run the notebook; afterwards ``results`` holds every check cell's verified result."""
        problems = self.fingerprints.problems()
        if problems:
            self._grader_problem = self._files_problem = "; ".join(problems)
        try:
            with _Watchdog(self, limits.MEMORY_MB, limits.NOTEBOOK_TIMEOUT) as dog:
                try:
                    self.execute()
                except DeadKernelError:
                    self.notes.append(dog.reason or "the kernel died (a cell crashed it or exited the process)")
                except CellTimeoutError:
                    self.notes.append("a cell ran past its time limit and could not be interrupted")
                except Exception as exc:  # nbclient's own failures must not stop a class's grading
                    self.notes.append(dog.reason or f"execution stopped: {type(exc).__name__}: {str(exc)[:200]}")
        finally:
            self._close_remote()
            shutil.rmtree(self._ipython_dir, ignore_errors=True)
            atexit.unregister(self._cleanup_kernel)  # nbclient's exit hook fails on a kernel that never started
        after = self.fingerprints.problems()
        if after and not problems:
            reason = "; ".join(after) + " while this notebook ran"
            self.notes.append(reason)
            for gid, result in self.results.items():
                self.results[gid] = _not_verified(result.grade_id, result.max_score, reason)
                self._write_outputs(self._check_cell(gid), self.results[gid])
        for cell in self.nb.cells:  # check cells the run never reached score 0, and say why
            if kitcells.is_check_cell(cell) and kitcells.grade_id(cell) not in self.results:
                reason = self.stop_reason or (self.notes[-1] if self.notes else "the notebook stopped before it")
                result = CellResult(kitcells.grade_id(cell), 0.0, kitcells.points(cell),
                                    note=f"not graded: {reason}", status=NOT_RUN)
                self.results[result.grade_id] = result
                self._write_outputs(cell, result)
        return self.nb

    def _check_cell(self, gid: str):
        return next(c for c in self.nb.cells if kitcells.is_check_cell(c) and kitcells.grade_id(c) == gid)

    # ------------------------------------------------------------------ kernel start and the grader's hello
    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        km.expected_code = self.fingerprints.code
        return km

    async def async_start_new_kernel(self, **kwargs):
        kwargs.setdefault("env", kernel_env(self._ipython_dir))
        return await super().async_start_new_kernel(**kwargs)

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        await self._hello()
        return kc

    async def _hello(self) -> None:
        """Before any cell runs: the grader must answer, with the key and the code this side expects."""
        nonce = secrets.token_hex(16)
        reply = await self._request({"kind": "hello", "nonce": nonce}, timeout=120)
        problem = self._unverifiable(reply, nonce, "hello")
        if not problem and reply["content"]["result"].get("code") != self.fingerprints.code:
            problem = "the grading kernel loaded a different version of the grader"
        if not problem and reply["content"]["result"].get("problem"):
            problem = reply["content"]["result"]["problem"]
        if problem:
            self._grader_problem = self._grader_problem or f"the grading kernel did not start as expected ({problem})"

    async def _request(self, content: dict, timeout: float):
        """Send a check request; the reply, "dead" when the kernel died, or None on timeout."""
        msg = self.kc.session.msg(protocol.REQUEST, content)
        self.kc.shell_channel.send(msg)
        return await self._shell_reply(msg["header"]["msg_id"], time.monotonic() + timeout)

    async def _shell_reply(self, msg_id: str, deadline: float):
        """The shell reply to ``msg_id``; "dead" when the kernel died; None at the deadline or the notebook's."""
        while time.monotonic() < deadline and not self.stop_reason:
            try:
                reply = await ensure_async(self.kc.shell_channel.get_msg(timeout=1))
            except Exception:
                if not await ensure_async(self.km.is_alive()):
                    return "dead"
                continue
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                return reply
        return None

    def _unverifiable(self, reply, nonce: str, kind: str) -> str:
        """Why a reply cannot be trusted ('' when it can)."""
        if not isinstance(reply, dict):
            return "the grader did not answer"
        if reply.get("msg_type") != protocol.REPLY and reply.get("header", {}).get("msg_type") != protocol.REPLY:
            return "the answer came from something other than the grader"
        content = reply.get("content") or {}
        result = content.get("result")
        if not isinstance(result, dict) or not protocol.verify(self.km.grading_key, result, content.get("signature")):
            return "its signature is not the grader's"
        if result.get("nonce") != nonce or result.get("kind") != kind:
            return "it answers another request"
        return ""

    # ------------------------------------------------------------------ cells
    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if self.stop_reason:  # the whole notebook's time is up: later cells stay unexecuted
            return cell
        if kitcells.is_check_cell(cell):
            return await self._grade_check_cell(cell, execution_count)
        if cell.cell_type != "code" or not cell.source.strip():
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        self._hung = None
        try:
            result = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        except DeadKernelError:
            await self._recover(cell, "KernelDied", DEAD_MESSAGE)
            return cell
        if self._hung is not None:
            await self._recover(cell, "CellTimeoutError", TIMEOUT_MESSAGE.format(timeout=self._hung))
            return result
        self._done.append((kitcells.grade_id(cell), cell.source))
        return result

    # nbclient binds its synchronous execute_cell to its own async_execute_cell: this class's must be the one run
    execute_cell = run_sync(async_execute_cell)

    async def _async_handle_timeout(self, timeout, cell=None):
        self._hung = timeout
        return {"content": {"status": "error", "ename": "CellTimeoutError",
                            "evalue": TIMEOUT_MESSAGE.format(timeout=timeout),
                            "traceback": ["CellTimeoutError: " + TIMEOUT_MESSAGE.format(timeout=timeout)]}}

    async def _grade_check_cell(self, cell, execution_count):
        gid, max_points = kitcells.grade_id(cell), kitcells.points(cell)
        cell.outputs, cell.execution_count = [], execution_count
        self.code_cells_executed += 1
        if trusted_side(gid):
            result = await self._grade_on_trusted_side(cell, gid, max_points)
        elif self._grader_problem:
            result = _not_verified(gid, max_points, self._grader_problem)
        else:
            nonce = secrets.token_hex(16)
            reply = await self._request({"kind": "check", "grade_id": gid, "nonce": nonce}, timeout=self.timeout)
            if reply == "dead":
                await self._recover(cell, "KernelDied", DEAD_MESSAGE)
                result = CellResult(gid, 0.0, max_points, note=f"not graded: {DEAD_MESSAGE}", status=NOT_RUN)
            elif reply is None:
                message = self.stop_reason or TIMEOUT_MESSAGE.format(timeout=self.timeout)
                if not self.stop_reason:
                    await self._recover(cell, "CellTimeoutError", message)
                result = CellResult(gid, 0.0, max_points, note=f"not graded: {message}", status=NOT_RUN)
            else:
                result = self._verified(reply, nonce, gid, max_points)
        self.results[gid] = result
        self._write_outputs(cell, result)
        return cell

    # ------------------------------------------------------------------ checks on the trusted side
    async def _grade_on_trusted_side(self, cell, gid: str, max_points: float) -> CellResult:
        """Run the cell's checks here, in their own thread, against the kernel; restart it if they had to stop."""
        if self._files_problem:
            return _not_verified(gid, max_points, self._files_problem)
        from concurrent.futures import ThreadPoolExecutor

        if self._checks_thread is None:
            self._checks_thread = ThreadPoolExecutor(1, thread_name_prefix="autograder-checks")
        loop = asyncio.get_running_loop()
        result, problem = await loop.run_in_executor(self._checks_thread, self._run_checks, gid)
        if problem is not None:
            await self._recover(cell, "KernelDied", DEAD_MESSAGE)
        if abs(result.max_score - max_points) > 1e-6 and result.verified:
            result.note = (f"the notebook says this cell is worth {max_points:g} points but its checks add up to "
                           f"{result.max_score:g}: run `autograder sync` (scored out of {max_points:g})")
            result.score = round(min(result.score, max_points), 4)
            result.max_score = max_points
        return result

    def remote(self) -> Remote:
        """The kernel's namespace for the checks (made in the thread that uses it: its socket stays there)."""
        if self._remote is None:
            channel = Channel(self.km.get_connection_info(session=False), alive=self._kernel_alive,
                              interrupt=self._interrupt_kernel)
            self._remote = Remote(channel)
        self._remote.cells = list(self._done)
        return self._remote

    def _run_checks(self, gid: str):
        return checkrun.run_cell(gid, self.remote(), registry.checks_for(gid))

    def _kernel_pid(self) -> int | None:
        return getattr(getattr(getattr(self.km, "provisioner", None), "process", None), "pid", None)

    def _kernel_alive(self) -> bool:
        return _pid_alive(self._kernel_pid())

    def _interrupt_kernel(self) -> None:
        import signal

        pid = self._kernel_pid()
        if pid is not None and _pid_alive(pid):
            try:
                os.kill(pid, signal.SIGINT)
            except OSError:
                pass

    def _close_remote(self) -> None:
        """Close the checks' socket in the thread that made it (the caller's, when no checks thread was needed)."""
        if self._remote is not None:
            if self._checks_thread is not None:
                self._checks_thread.submit(self._remote.channel.close).result()
            else:
                self._remote.channel.close()
            self._remote = None
        if self._checks_thread is not None:
            self._checks_thread.shutdown(wait=True)
            self._checks_thread = None

    def _verified(self, reply, nonce: str, gid: str, max_points: float) -> CellResult:
        problem = self._unverifiable(reply, nonce, "check")
        if problem:
            return _not_verified(gid, max_points, problem)
        try:
            result = CellResult.from_dict(reply["content"]["result"]["cell"])
        except Exception:
            return _not_verified(gid, max_points, "the grader's result is malformed")
        if result.grade_id != gid:
            return _not_verified(gid, max_points, "the result is for another cell")
        passed = round(sum(c.points for c in result.checks if c.passed), 4)
        if abs(passed - result.score) > 1e-6 or not 0 <= result.score <= result.max_score + 1e-9:
            return _not_verified(gid, max_points, "the points do not add up")
        if result.status == TAMPERED:
            return result
        if abs(result.max_score - max_points) > 1e-6:
            result.note = (f"the notebook says this cell is worth {max_points:g} points but its checks add up to "
                           f"{result.max_score:g}: run `autograder sync` (scored out of {max_points:g})")
            result.score = round(min(result.score, max_points), 4)
            result.max_score = max_points
        return result

    def _write_outputs(self, cell, result: CellResult) -> None:
        """The check cell's outputs, written by this side only: the check lines, the result, the score."""
        text = "\n".join(cell_lines(result))
        cell.outputs = [NotebookNode(output_type="display_data", metadata={},
                                     data={"text/plain": text, MIME: result.to_dict()})]
        if result.verified:
            cell.outputs.append(NotebookNode(output_type="execute_result", metadata={},
                                             execution_count=cell.get("execution_count"),
                                             data={"text/plain": repr(float(result.score))}))
        else:
            cell.outputs.append(NotebookNode(output_type="error", ename="NotGraded", evalue=result.note,
                                             traceback=[f"NotGraded: {result.note}"]))

    # ------------------------------------------------------------------ restart and replay
    async def _replay(self, source: str, deadline: float) -> str:
        """Run an earlier cell again, quietly: 'ok', 'died' (the kernel died) or 'timeout'."""
        msg_id = self.kc.execute(source, store_history=False, allow_stdin=False, stop_on_error=False)
        reply = await self._shell_reply(msg_id, deadline)
        return "died" if reply == "dead" else "timeout" if reply is None else "ok"

    async def _restart(self) -> None:
        await ensure_async(self.km.restart_kernel(now=True))
        await ensure_async(self.kc.wait_for_ready(timeout=self.startup_timeout))
        await self._hello()

    async def _recover(self, cell, ename: str, message: str) -> None:
        if self.stop_reason:
            cell.outputs.append(NotebookNode(output_type="error", ename="NotebookTimeout", evalue=self.stop_reason,
                                             traceback=[f"NotebookTimeout: {self.stop_reason}"]))
            return
        self.log.warning("Restarting the kernel: %s", message)
        await self._restart()
        deadline = time.monotonic() + self.replay_timeout
        replayed = []
        for done in self._done:
            outcome = await self._replay(done[1], deadline)
            if outcome == "ok":
                replayed.append(done)
            elif outcome == "died":  # this earlier cell kills the kernel when run again: leave it out
                await self._restart()
                for again in replayed:
                    await self._replay(again[1], deadline)
            else:
                message += " (replaying them took too long: later cells run without them)"
                break
        self._done = replayed
        if kitcells.is_check_cell(cell):
            return
        errors = [o for o in cell.outputs if o.get("output_type") == "error" and o.get("ename") == ename]
        if errors:
            for output in errors:
                output["evalue"], output["traceback"] = message, [f"{ename}: {message}"]
        else:
            cell.outputs.append(NotebookNode(output_type="error", ename=ename, evalue=message,
                                             traceback=[f"{ename}: {message}"]))
        await asyncio.sleep(0)


def _not_verified(gid: str, max_points: float, reason: str) -> CellResult:
    return CellResult(gid, 0.0, max_points, note=NOT_VERIFIED.format(reason=reason), status=UNVERIFIED)
