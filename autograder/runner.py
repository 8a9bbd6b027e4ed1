"""Grade one notebook without a course database: restore, execute headless, read the scores.

The score of a check cell is read the way nbgrader reads it (the cell's value; an error or
stderr output means 0), with this kit's rule that a cell without a valid score scores 0.
"""
from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path

import nbformat

from autograder import limits
from autograder.nbgrader_ext.require_score import read_score
from autograder.report import MIME, CellResult, CheckResult, NotebookResult
from autograder.restore import restore

REPO_ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO_ROOT / "solutions"


class CannotGrade(Exception):
    """The notebook cannot be graded at all (unreadable, or no source notebook found)."""


def find_source(submission: Path, solutions: Path = SOLUTIONS) -> Path:
    """The source notebook in ``solutions/`` with the same file name as the submission."""
    matches = sorted(solutions.glob(f"*/{submission.name}")) + sorted(solutions.glob(submission.name))
    if not matches:
        raise CannotGrade(f"no source notebook named {submission.name} in {solutions} (use --source PATH)")
    return matches[0]


def read_notebook(path: Path) -> nbformat.NotebookNode:
    try:
        nb = nbformat.read(str(path), as_version=4)
    except FileNotFoundError:
        raise CannotGrade(f"{path}: no such file") from None
    except Exception as exc:
        raise CannotGrade(f"{path}: not a readable notebook ({type(exc).__name__}: {str(exc)[:120]})") from None
    return nb


def _cell_result(cell) -> CellResult:
    meta = cell.metadata["nbgrader"]
    gid, max_points = meta["grade_id"], float(meta["points"])
    score, reason = read_score(cell)
    details = None
    for output in cell.get("outputs", []):
        if output.get("output_type") == "display_data" and MIME in output.get("data", {}):
            data = output["data"][MIME]
            if isinstance(data, dict) and data.get("grade_id") == gid:
                details = data
    checks = [CheckResult(**c) for c in details.get("checks", [])] if details else []
    note = details.get("note", "") if details else ""
    if score is None:
        return CellResult(gid, 0.0, max_points, checks, note=note or reason)
    return CellResult(gid, score, max_points, checks, note=note)


def score(nb: nbformat.NotebookNode, name: str) -> NotebookResult:
    cells, manual = [], []
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("grade"):
            continue
        if meta.get("solution") or cell.cell_type != "code":
            manual.append({"grade_id": meta["grade_id"], "max_score": float(meta.get("points", 0))})
            continue
        cells.append(_cell_result(cell))
    return NotebookResult(name, cells, manual)


def tree_rss(pid: int) -> int | None:
    """Resident bytes of a process and all its children; None when it is gone."""
    import psutil

    try:
        proc = psutil.Process(pid)
        rss = proc.memory_info().rss
        for child in proc.children(recursive=True):
            try:
                rss += child.memory_info().rss
            except psutil.Error:
                pass
        return rss
    except psutil.Error:
        return None


class Poller:
    """Calls ``poll()`` every ``every`` seconds in a background thread while the ``with`` block runs;
    polling stops early when ``poll()`` returns True."""

    def __init__(self, every: float = 0.5):
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=2)

    def poll(self) -> bool:
        raise NotImplementedError

    def _run(self):
        while not self._stop.wait(self.every):
            if self.poll():
                return


class _Watchdog(Poller):
    """Kill the kernel when it uses too much memory or the whole notebook runs too long."""

    def __init__(self, client, memory_mb: int, total_seconds: float):
        super().__init__(every=0.5)
        self.client, self.memory_mb, self.total = client, memory_mb, total_seconds
        self.reason = ""
        self.start = time.monotonic()

    def _pid(self):
        km = getattr(self.client, "km", None)
        provisioner = getattr(km, "provisioner", None)
        process = getattr(provisioner, "process", None)
        return getattr(process, "pid", None)

    def poll(self) -> bool:
        import psutil

        pid = self._pid()
        rss = tree_rss(pid) if pid is not None else None
        if rss is None:
            return False
        if rss > self.memory_mb * 2**20:
            self.reason = f"the kernel used more than {self.memory_mb} MB of memory and was stopped"
        elif time.monotonic() - self.start > self.total:
            self.reason = f"the notebook ran longer than {self.total:g} s in total and was stopped"
            self.client._resilient_state()["stop"] = self.reason
        if not self.reason:
            return False
        try:
            psutil.Process(pid).kill()
        except psutil.Error:
            pass
        return True


def execute(nb: nbformat.NotebookNode, workdir: Path, cell_timeout: int | None = None,
            total_timeout: int | None = None, memory_mb: int | None = None) -> tuple[nbformat.NotebookNode, str]:
    """Run every cell (errors allowed) in a fresh kernel in ``workdir``; returns (nb, problem note)."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    from autograder.nbgrader_ext.resilient_execute import resilient_client_class

    # The kernel gets the grading environment (threads, headless plots) from ResilientMixin.
    client = resilient_client_class()(
        nb, timeout=cell_timeout or limits.CELL_TIMEOUT, kernel_name="python3", allow_errors=True,
        interrupt_on_timeout=True, raise_on_iopub_timeout=False, iopub_timeout=10, record_timing=False,
        extra_arguments=["--IPKernelApp.log_level=ERROR"], resources={"metadata": {"path": str(workdir)}})
    note = ""
    with _Watchdog(client, memory_mb or limits.MEMORY_MB, total_timeout or limits.NOTEBOOK_TIMEOUT) as dog:
        try:
            client.execute()
        except DeadKernelError:
            note = dog.reason or "the kernel died (a cell crashed it or exited the process)"
        except CellTimeoutError:
            note = "a cell ran past its time limit and could not be interrupted"
        except Exception as exc:  # nbclient's own failures must not stop a class's grading
            note = dog.reason or f"execution stopped: {type(exc).__name__}: {str(exc)[:200]}"
    return nb, note


def grade_notebook(submission: Path, source: Path | None = None, cell_timeout: int | None = None) -> NotebookResult:
    """Restore, execute and score one submitted notebook."""
    submission = Path(submission)
    student_nb = read_notebook(submission)
    source = Path(source) if source else find_source(submission)
    source_nb = read_notebook(source)
    nb, notes = restore(student_nb, source_nb)
    with tempfile.TemporaryDirectory(prefix="autograder-") as tmp:
        workdir = Path(tmp)
        for item in submission.parent.iterdir():  # the student's other files, as nbgrader copies them
            if item.is_file() and item.suffix != ".ipynb" and item.stat().st_size < 50 * 2**20:
                shutil.copy2(item, workdir / item.name)
        nb, problem = execute(nb, workdir, cell_timeout=cell_timeout)
    result = score(nb, submission.name)
    if problem:
        for cell in result.cells:
            if cell.score == 0 and not cell.checks:
                cell.note = f"not graded: {problem}"
    result.notes.extend(notes + ([problem] if problem else []))
    return result
