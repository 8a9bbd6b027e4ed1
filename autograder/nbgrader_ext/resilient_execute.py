"""A hung or kernel-killing cell costs its own points, not the whole notebook.

nbclient (and so nbgrader's ``Execute``) handles a cell that runs past its timeout by sending
SIGINT; a loop that ignores SIGINT (or catches ``KeyboardInterrupt``) keeps the kernel busy and
every later cell then waits out its own full timeout. A cell that kills the kernel
(``os._exit``, a segfault) aborts the whole notebook. Here, either way, the kernel is restarted,
the cells that ran before are run again silently to rebuild the student's namespace, the
offending cell gets one error output saying what happened, and execution goes on.
"""
from __future__ import annotations

import asyncio
import time

from jupyter_client.utils import ensure_async
from nbclient.exceptions import DeadKernelError
from nbclient.util import run_sync
from nbformat import NotebookNode

from autograder.nbgrader_ext.require_score import MARKER

TIMEOUT_MESSAGE = ("this cell ran past its {timeout} s limit and did not stop when interrupted; the kernel was "
                   "restarted and the cells before it were run again")
DEAD_MESSAGE = ("the kernel died while running this cell (it exited, crashed or ran out of memory); the kernel was "
                "restarted and the cells before it were run again")


class ResilientMixin:
    """Mix into a NotebookClient subclass (before it) to survive hangs and kernel deaths."""

    replay_timeout: float = 600.0

    def _resilient_state(self) -> dict:
        if not hasattr(self, "_resilient"):
            self._resilient = {"done": [], "hung": None, "recoveries": 0}
        return self._resilient

    async def _async_handle_timeout(self, timeout, cell=None):
        state = self._resilient_state()
        state["hung"] = timeout
        return {"content": {"status": "error", "ename": "CellTimeoutError",
                            "evalue": TIMEOUT_MESSAGE.format(timeout=timeout),
                            "traceback": ["CellTimeoutError: " + TIMEOUT_MESSAGE.format(timeout=timeout)]}}

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        state = self._resilient_state()
        if state.get("stop"):  # the whole notebook's time is up: later cells stay unexecuted
            return cell
        if cell.cell_type != "code" or not cell.source.strip():
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        state["hung"] = None
        try:
            result = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        except DeadKernelError:
            await self._recover(cell, "KernelDied", DEAD_MESSAGE)
            return cell
        if state["hung"] is not None:
            await self._recover(cell, "CellTimeoutError", TIMEOUT_MESSAGE.format(timeout=state["hung"]))
            return result
        if MARKER not in cell.source:  # check cells leave no state worth replaying
            state["done"].append(cell.source)
        return result

    async def async_start_new_kernel(self, **kwargs):
        """Grading kernels run with the grader's environment (one torch thread, headless plots)."""
        from autograder import limits

        kwargs.setdefault("env", limits.grading_env())
        return await super().async_start_new_kernel(**kwargs)

    # nbclient binds the sync wrapper to its own coroutine (``run_sync(async_execute_cell)`` in the class
    # body), and nbconvert's ExecutePreprocessor calls the sync one: bind it to ours.
    execute_cell = run_sync(async_execute_cell)

    async def _replay(self, source: str, deadline: float) -> str:
        """Run an earlier cell again, quietly: 'ok', 'died' (the kernel died) or 'timeout'."""
        msg_id = self.kc.execute(source, store_history=False, allow_stdin=False, stop_on_error=False)
        while time.monotonic() < deadline:
            try:
                reply = await ensure_async(self.kc.shell_channel.get_msg(timeout=1))
            except Exception:
                if not await ensure_async(self.km.is_alive()):
                    return "died"
                continue
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                return "ok"
        return "timeout"

    async def _recover(self, cell, ename: str, message: str) -> None:
        state = self._resilient_state()
        state["recoveries"] += 1
        if state.get("stop"):
            cell.outputs.append(NotebookNode(output_type="error", ename="NotebookTimeout", evalue=state["stop"],
                                             traceback=[f"NotebookTimeout: {state['stop']}"]))
            return
        self.log.warning("Restarting the kernel: %s", message)
        await ensure_async(self.km.restart_kernel(now=True))
        await ensure_async(self.kc.wait_for_ready(timeout=self.startup_timeout))
        deadline = time.monotonic() + self.replay_timeout
        replayed = []
        for source in state["done"]:
            outcome = await self._replay(source, deadline)
            if outcome == "ok":
                replayed.append(source)
            elif outcome == "died":  # this earlier cell kills the kernel when run again: leave it out
                await ensure_async(self.km.restart_kernel(now=True))
                await ensure_async(self.kc.wait_for_ready(timeout=self.startup_timeout))
                for again in replayed:
                    await self._replay(again, deadline)
            else:
                message += " (replaying them took too long: later cells run without them)"
                break
        state["done"] = replayed
        if not any(o.get("output_type") == "error" and o.get("ename") == ename for o in cell.outputs):
            cell.outputs.append(NotebookNode(output_type="error", ename=ename, evalue=message,
                                             traceback=[f"{ename}: {message}"]))
        else:
            for output in cell.outputs:
                if output.get("output_type") == "error" and output.get("ename") == ename:
                    output["evalue"], output["traceback"] = message, [f"{ename}: {message}"]
        await asyncio.sleep(0)


async def _noop():
    return None


def resilient_client_class():
    from nbclient import NotebookClient

    class ResilientClient(ResilientMixin, NotebookClient):
        pass

    return ResilientClient


try:
    from nbgrader.preprocessors import Execute as _NbgraderExecute

    class ResilientExecute(ResilientMixin, _NbgraderExecute):
        """nbgrader's Execute preprocessor that survives hung cells and kernel deaths."""

except ImportError:  # nbgrader is only on the grading side
    ResilientExecute = None
