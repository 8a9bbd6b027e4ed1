"""The trusted side: runs a kit notebook in a grading kernel, runs the hidden checks here, writes every score itself.

Both ``autograder grade`` (:mod:`autograder.runner`) and ``nbgrader autograde``
(:class:`autograder.nbgrader_ext.KitExecute`) grade kit notebooks with :class:`GradingClient`:

* each kernel holds nothing of the grader: it is forked from a process that loaded only what notebooks
  import (:mod:`autograder.zygote`), or started from scratch as ``python -I -m autograder.inkernel.kernel``,
  in the grading environment (one torch thread, headless plots, private IPython and temporary folders), and
  walls itself in before the notebook runs (:mod:`autograder.isolation`); its one addition is a protocol
  server that answers with data (:mod:`autograder.inkernel.server`);
* ordinary cells run as nbclient runs them; a cell that hangs past its limit (even ignoring Ctrl-C) or kills
  the kernel gets an error, the kernel is restarted, the cells before it are run again quietly, and grading
  goes on;
* a check cell is never executed as code: its hidden checks run in this process, in a thread of their own,
  and ask the kernel for data (:mod:`autograder.checkrun`, :mod:`autograder.remote`); this side writes the
  cell's outputs: the check lines, the machine-readable result and the score nbgrader reads;
* a watchdog stops a kernel that uses too much memory or a notebook that runs too long in total;
* the grader's files and the MNIST folders are fingerprinted before and after (:mod:`autograder.fingerprint`):
  a notebook that changed them is not graded.
"""
from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner
from jupyter_client.utils import ensure_async, run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode

from autograder import cells as kitcells
from autograder import checkrun, isolation, limits, registry, zygote
from autograder.fingerprint import Fingerprints
from autograder.inkernel.kernel import MEMORY_FLAG
from autograder.procs import Poller, tree_rss
from autograder.remote import Channel, ProtocolProblem, Remote
from autograder.results import MIME, NOT_RUN, UNVERIFIED, CellResult, cell_lines

TIMEOUT_MESSAGE = ("this cell ran past its {timeout} s limit and did not stop when interrupted; the kernel was "
                   "restarted and the cells before it were run again")
DEAD_MESSAGE = ("the kernel died while running this cell (it exited, crashed or ran out of memory); the kernel was "
                "restarted and the cells before it were run again")
NOT_VERIFIED = "not graded: {reason}"
KERNEL_NAME = "autograder-grading"
KERNEL_MODULE = "autograder.inkernel.kernel"


# ---------------------------------------------------------------------------------------- the kernel
class ZygoteProvisioner(LocalProvisioner):
    """Launches the grading kernel by forking it from the zygote (:mod:`autograder.zygote`); from scratch,
    with the same command, when the zygote cannot be used."""

    async def launch_kernel(self, cmd: list[str], **kwargs):
        if not zygote.enabled():
            return await super().launch_kernel(cmd, **kwargs)
        argv = cmd[cmd.index(KERNEL_MODULE) + 1:]
        # as a child started by Popen: this process's own stdout and stderr unless others are given
        std = [kwargs[name] if isinstance(kwargs.get(name), int) else fd for name, fd in (("stdout", 1), ("stderr", 2))]
        try:
            self.process = zygote.launch(kwargs["env"], argv, kwargs.get("cwd"), *std)
        except zygote.Unavailable as exc:
            self.log.warning("Starting the grading kernel from scratch: %s", exc)
            return await super().launch_kernel(cmd, **kwargs)
        self.pid = self.pgid = self.process.pid  # the kernel starts its own session
        self.cwd = kwargs.get("cwd")
        return self.connection_info


class GradingKernelManager(AsyncKernelManager):
    """Starts the grading kernel, at every start and restart: forked from the zygote, or from scratch."""

    @property
    def kernel_spec(self) -> KernelSpec:
        return KernelSpec(argv=[sys.executable, "-I", "-m", KERNEL_MODULE, "-f", "{connection_file}",
                                MEMORY_FLAG, str(limits.MEMORY_MB)],
                          display_name="autograder grading kernel", language="python", resource_dir="")

    async def _async_pre_start_kernel(self, **kw):
        if self.provisioner is None:
            self.kernel_id = self.kernel_id or kw.pop("kernel_id", None) or str(uuid.uuid4())
            self.provisioner = ZygoteProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)
        return await super()._async_pre_start_kernel(**kw)


def kernel_env(workdir: Path, ipython_dir: str, tmpdir: str, course: Path | None = None) -> dict:
    """The grading kernel's environment: the grading limits, folders of its own (no profile, startup file or
    config a notebook could have written for the next kernel) and its walls."""
    env = isolation.kernel_env(limits.grading_env(), isolation.kernel_policy(workdir, [Path(ipython_dir),
                                                                                       Path(tmpdir)], course),
                               Path(tmpdir))
    env["IPYTHONDIR"] = ipython_dir
    return env


def prepare_trusted_side() -> None:
    """Load every hidden check and the grader-held data in this process, before any student code runs (once)."""
    from autograder import heldout

    registry.table()
    heldout.preload()


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

        pid = self.client.kernel_pid()
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
    """nbclient's NotebookClient for kit notebooks: resilient cells, check cells graded on this side."""

    replay_timeout = 600.0

    def __init__(self, nb, *, workdir: Path, fingerprints: Fingerprints | None = None, cell_timeout: int | None = None,
                 course: Path | None = None, **kwargs):
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
        self.workdir, self.course = Path(workdir), course
        self.fingerprints = fingerprints or Fingerprints()
        prepare_trusted_side()
        self.results: dict[str, CellResult] = {}
        self.notes: list[str] = []
        self.stop_reason = ""
        self.isolation: dict = {}  # what the kernel's walls are, as it reported before any cell ran
        self._done: list[tuple[str | None, str]] = []  # (grade id, source) of ordinary cells run, replayed after a restart
        self._checks_thread: ThreadPoolExecutor | None = None  # the checks' thread: their socket lives there
        self._remote: Remote | None = None
        self._hung: float | None = None
        self._files_problem = ""  # the grader's files or data changed before this notebook ran
        self._ipython_dir = tempfile.mkdtemp(prefix="autograder-ipython-")
        self._tmpdir = tempfile.mkdtemp(prefix="autograder-tmp-")

    # ------------------------------------------------------------------ the whole notebook
    def grade(self) -> NotebookNode:
        """Run the notebook; afterwards ``results`` holds every check cell's result."""
        problems = self.fingerprints.problems()
        if problems:
            self._files_problem = "; ".join(problems)
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
            self.close()
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

    def close(self) -> None:
        """Close the checks' socket (in the thread that made it) and remove the kernel's private folders."""
        if self._remote is not None:
            self._in_socket_thread(self._remote.channel.close)
            self._remote = None
        if self._checks_thread is not None:
            self._checks_thread.shutdown(wait=True)
            self._checks_thread = None
        for folder in (self._ipython_dir, self._tmpdir):
            shutil.rmtree(folder, ignore_errors=True)

    def _in_socket_thread(self, fn, *args) -> None:
        """Run ``fn`` where the checks' socket lives: the checks thread when there is one, else here."""
        if self._checks_thread is not None:
            self._checks_thread.submit(fn, *args).result()
        else:
            fn(*args)

    def _check_cell(self, gid: str):
        return next(c for c in self.nb.cells if kitcells.is_check_cell(c) and kitcells.grade_id(c) == gid)

    # ------------------------------------------------------------------ the kernel and its checks thread
    async def async_start_new_kernel(self, **kwargs):
        kwargs.setdefault("env", kernel_env(self.workdir, self._ipython_dir, self._tmpdir, self.course))
        return await super().async_start_new_kernel(**kwargs)

    async def async_start_new_kernel_client(self):
        for attempt in (1, 2, 3):
            try:
                kc = await super().async_start_new_kernel_client()
                break
            except RuntimeError:  # died before answering: a port it was given was taken by another process first
                if attempt == 3:
                    raise
                self.log.warning("The grading kernel died while starting; starting another on other ports")
                await self._new_kernel()
        await self._hello()
        return kc

    async def _start_afresh(self) -> None:
        """A new kernel on new ports, in place of one that died before answering (its old ports may be taken).
        The checks' namespace stays the same object (a pytest session holds it): its socket moves to the new one."""
        self.log.warning("The grading kernel died while restarting; starting another on other ports")
        await self._async_cleanup_kernel()  # nbclient's: stops the client's channels, forgets client and manager
        await self._new_kernel()
        await self.async_start_new_kernel_client()

    async def _new_kernel(self) -> None:
        """A new kernel manager and its kernel, on new ports; the checks' socket, if made, is moved to it."""
        self.km = self.create_kernel_manager()
        await self.async_start_new_kernel()
        if self._remote is not None:
            self._in_socket_thread(self._remote.channel.retarget, self.km.get_connection_info(session=False))

    # nbclient binds its synchronous names to its own coroutines: the checks' in-process run (``setup_kernel``)
    # would start the kernel without the retry above and without greeting it
    start_new_kernel = run_sync(async_start_new_kernel)
    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    async def _in_checks_thread(self, fn, *args):
        if self._checks_thread is None:
            self._checks_thread = ThreadPoolExecutor(1, thread_name_prefix="autograder-checks")
        return await asyncio.get_running_loop().run_in_executor(self._checks_thread, fn, *args)

    async def _hello(self) -> None:
        """Before any cell runs: the kernel's report of its walls, from code no student has touched yet."""
        try:
            hello = await self._in_checks_thread(lambda: self.remote().hello())
        except Exception as exc:  # the kernel does not answer: every check will say so
            self.notes.append(f"the grading kernel did not answer the grader at start-up ({type(exc).__name__})")
            return
        report = hello.get("isolation") if isinstance(hello, dict) else None
        self.isolation = report if isinstance(report, dict) else {}
        if not self.isolation.get("isolated"):
            note = (f"the grading kernel could not wall itself in ({self.isolation.get('problem') or 'no report'}): "
                    f"it could read the grader's files (docs/ta-guide.md, threat model)")
            if note not in self.notes:
                self.notes.append(note)

    def remote(self) -> Remote:
        """The kernel's namespace for the checks (made in the thread that uses it: its socket stays there)."""
        if self._remote is None:
            channel = Channel(self.km.get_connection_info(session=False), alive=self._kernel_alive,
                              interrupt=self._interrupt_kernel)
            self._remote = Remote(channel)
        self._remote.cells = list(self._done)
        self._remote.earlier = {gid: (r.score, r.max_score) for gid, r in self.results.items()}
        return self._remote

    def kernel_pid(self) -> int | None:
        return getattr(getattr(getattr(self.km, "provisioner", None), "process", None), "pid", None)

    def _kernel_alive(self) -> bool:
        return _pid_alive(self.kernel_pid())

    def _interrupt_kernel(self) -> None:
        pid = self.kernel_pid()
        if pid is not None and _pid_alive(pid):
            try:
                os.kill(pid, signal.SIGINT)
            except OSError:
                pass

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
        """Run the cell's checks here, in their own thread, against the kernel; restart it if they had to stop."""
        gid, max_points = kitcells.grade_id(cell), kitcells.points(cell)
        cell.outputs, cell.execution_count = [], execution_count
        self.code_cells_executed += 1
        if self._files_problem:
            result = _not_verified(gid, max_points, self._files_problem)
        else:
            result, problem = await self._in_checks_thread(self._run_checks, gid)
            if problem is not None:
                await self._recover(cell, "KernelDied", DEAD_MESSAGE)
            if abs(result.max_score - max_points) > 1e-6 and result.verified:
                result.note = (f"the notebook says this cell is worth {max_points:g} points but its checks add up "
                               f"to {result.max_score:g}: run `autograder sync` (scored out of {max_points:g})")
                result.score = round(min(result.score, max_points), 4)
                result.max_score = max_points
        self.results[gid] = result
        self._write_outputs(cell, result)
        return cell

    def _run_checks(self, gid: str) -> tuple[CellResult, ProtocolProblem | None]:
        return checkrun.run_cell(gid, self.remote(), registry.checks_for(gid))

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

    async def _replay(self, source: str, deadline: float) -> str:
        """Run an earlier cell again, quietly: 'ok', 'died' (the kernel died) or 'timeout'."""
        msg_id = self.kc.execute(source, store_history=False, allow_stdin=False, stop_on_error=False)
        reply = await self._shell_reply(msg_id, deadline)
        return "died" if reply == "dead" else "timeout" if reply is None else "ok"

    async def _restart(self) -> None:
        await ensure_async(self.km.restart_kernel(now=True))
        try:
            await ensure_async(self.kc.wait_for_ready(timeout=self.startup_timeout))
        except RuntimeError:  # it restarts on its old ports: one was taken between the two kernels
            await self._start_afresh()
            return
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
