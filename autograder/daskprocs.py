"""A Dask cluster of real processes on this machine (`dask scheduler`, `dask worker`), stopped by pid.

For the kit's tests and benchmark, and for a course team trying ``--scheduler`` on one machine: each
process runs in its own process group, with its log in ``folder``; :meth:`LocalDask.stop` kills every
group it started (nanny, worker, grading kernels) and waits for them, whatever happened before.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from autograder.tools import venv_bin

DASK = venv_bin("dask")


class LocalDask:
    def __init__(self, folder: Path, env: dict | None = None):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.env = env
        self.procs: list[subprocess.Popen] = []
        self.address = ""

    def _start(self, name: str, cmd: list[str]) -> subprocess.Popen:
        with open(self.folder / f"{name}.log", "w") as log:
            proc = subprocess.Popen(cmd, cwd=self.folder, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs.append(proc)
        return proc

    def start_scheduler(self, timeout: float = 120) -> str:
        scheduler_file = self.folder / "scheduler.json"
        scheduler_file.unlink(missing_ok=True)
        proc = self._start("scheduler", [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                         "--scheduler-file", str(scheduler_file)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the Dask scheduler exited ({proc.returncode}): see {self.folder}/scheduler.log")
            if scheduler_file.exists():
                try:
                    self.address = json.loads(scheduler_file.read_text())["address"]
                    return self.address
                except (ValueError, KeyError):
                    pass
            time.sleep(0.2)
        raise RuntimeError(f"the Dask scheduler did not start within {timeout:g} s")

    def start_worker(self, name: str, nthreads: int = 1, timeout: float = 180) -> None:
        """One worker (with its nanny), one grading kernel per thread; returns once the scheduler sees it."""
        from distributed import Client

        before = self.workers()
        self._start(name, [DASK, "worker", self.address, "--nthreads", str(nthreads), "--nworkers", "1",
                           "--name", name, "--no-dashboard", "--memory-limit", "0", "--host", "127.0.0.1"])
        with Client(self.address, timeout="60s") as client:
            client.wait_for_workers(before + 1, timeout=timeout)

    def workers(self) -> int:
        if not self.address:
            return 0
        from distributed import Client

        with Client(self.address, timeout="60s") as client:
            return len(client.scheduler_info()["workers"])

    def stop(self) -> list[int]:
        """Kill every process group started here; returns the pids still alive afterwards (none, normally)."""
        for proc in self.procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        left = []
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                left.append(proc.pid)
        return left

    def __enter__(self) -> "LocalDask":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
