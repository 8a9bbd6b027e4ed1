"""Executing a class's notebooks on Dask: what goes to a worker, what comes back, where it is kept.

``class-grade`` (:mod:`autograder.classgrade`) grades in two steps. The expensive one, executing each
submitted kit notebook and running its hidden checks, is a Dask task (:func:`execute_job`): the head
restores the notebook from the course's source (:func:`prepare_jobs`) and sends it with the student's
other files; a worker runs it on the kit's trusted executor and sends the executed notebook back; the
head keeps it in the course's ``.autograder/executions/`` folder (:class:`ResultStore`). Then, on the
head, one ``nbgrader autograde --student S`` per student writes the gradebook, ``autograded/`` and
later the feedback exactly as a local autograde does: its executor (:class:`KitExecute
<autograder.nbgrader_ext.KitExecute>`) takes each notebook's outputs from the store instead of running
it again, when the notebook it is given is the one that was executed (:func:`execution_key`).

A worker needs only the kit's grading environment and the MNIST folder; it never sees the course
directory or the gradebook. Student code runs only on workers, never in the process that writes grades.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from autograder import cells as kitcells

MAX_FILE_BYTES = 100_000 * 1024  # the student's other files travel with the notebook (nbgrader's max_file_size)


@dataclass
class Job:
    student: str
    notebook: str  # the notebook's name without .ipynb, as nbgrader names it
    nb: str  # the restored notebook, as JSON
    files: dict[str, bytes] = field(default_factory=dict)
    key: str = ""

    @property
    def name(self) -> str:
        return f"{self.student}/{self.notebook}"


def execution_key(nb, files: dict[str, bytes], code: str) -> str:
    """What decides an execution: the grader's code, every cell's type and source, which cells are check cells
    (with their ids and points), and the files beside the notebook. Two notebooks with the same key run the same."""
    digest = hashlib.sha256(code.encode())
    for cell in nb.cells:
        check = kitcells.is_check_cell(cell)
        digest.update(json.dumps([cell.cell_type, cell.source, check, kitcells.grade_id(cell) if check else None,
                                  kitcells.points(cell) if check else None]).encode())
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


def student_files(folder: Path, source_folder: Path | None = None) -> dict[str, bytes]:
    """The files a notebook runs beside, as nbgrader lays them out: the student's, then the source's on top."""
    files = {}
    for base in (folder, source_folder):
        if base is None or not base.is_dir():
            continue
        for path in sorted(base.iterdir()):
            if path.is_file() and path.suffix not in (".ipynb", ".pyc") and path.stat().st_size <= MAX_FILE_BYTES:
                files[path.name] = path.read_bytes()
    return files


def prepare_jobs(layout, assignment: str, student: str, code: str) -> list[Job]:
    """One job per kit notebook the student submitted, restored from the course's source notebook
    (``layout``: :class:`autograder.coursedir.CourseLayout`, the course's folders as nbgrader reads them)."""
    from autograder.restore import restore

    submitted = layout.submitted(student, assignment)
    source = layout.source(assignment)
    files = student_files(submitted, source)
    jobs = []
    for path in sorted(submitted.glob("*.ipynb")):
        source_path = source / path.name
        if not source_path.is_file():
            continue  # nbgrader skips notebooks the assignment does not have
        source_nb = nbformat.read(str(source_path), as_version=4)
        if not kitcells.is_kit_notebook(source_nb):
            continue
        nb, _ = restore(nbformat.read(str(path), as_version=4), source_nb)
        jobs.append(Job(student, path.stem, nbformat.writes(nb), files, execution_key(nb, files, code)))
    return jobs


# ---------------------------------------------------------------------------------------- on a worker
_WORKER_FINGERPRINTS: dict[str, object] = {}


def execute_job(job: Job, code: str) -> dict:
    """Run one restored notebook on the trusted executor, here on a worker; the executed notebook comes back."""
    from autograder.executor import GradingClient
    from autograder.fingerprint import Fingerprints

    start = time.perf_counter()
    if code not in _WORKER_FINGERPRINTS:  # the data as this worker process first saw it
        _WORKER_FINGERPRINTS[code] = Fingerprints(code=code)
    nb = nbformat.reads(job.nb, as_version=4)
    workdir = Path(tempfile.mkdtemp(prefix="autograder-job-"))
    try:
        for name, content in job.files.items():
            (workdir / Path(name).name).write_bytes(content)
        os.environ["NBGRADER_EXECUTION"] = "autograde"  # as nbgrader's autograde sets it
        client = GradingClient(nb, workdir=workdir, fingerprints=_WORKER_FINGERPRINTS[code])
        client.grade()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {"student": job.student, "notebook": job.notebook, "key": job.key, "nb": nbformat.writes(nb),
            "notes": client.notes, "worker": _worker_address(), "host": socket.gethostname(), "pid": os.getpid(),
            "seconds": round(time.perf_counter() - start, 3)}


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"local:{os.getpid()}"


def worker_check() -> str:
    """Run on every worker before grading: '' when it can load the grader and its data, else what is wrong."""
    import subprocess
    import sys

    from autograder.limits import grading_env

    probe = "from autograder import executor; executor.prepare_trusted_side()"
    try:
        proc = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True, timeout=600,
                              env=grading_env(), cwd=tempfile.gettempdir())
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"its Python ({sys.executable}) could not be started: {exc}"
    if proc.returncode != 0:
        return (proc.stderr.strip().splitlines() or ["?"])[-1][:300]
    return ""


# ---------------------------------------------------------------------------------------- on the head
@dataclass
class StoredResult:
    key: str
    nb: str = ""
    notes: list[str] = field(default_factory=list)
    worker: str = ""
    seconds: float = 0.0
    error: str = ""


class ResultStore:
    """Executed notebooks on the head: ``<course>/.autograder/executions/<assignment>/<student>/<notebook>.json``."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    @classmethod
    def for_course(cls, course: Path, assignment: str) -> "ResultStore":
        from autograder.coursedir import executions_folder

        return cls(executions_folder(course, assignment))

    def path(self, student: str, notebook: str) -> Path:
        return self.folder / student / f"{notebook}.json"

    def load(self, student: str, notebook: str) -> StoredResult | None:
        try:
            data = json.loads(self.path(student, notebook).read_text())
            return StoredResult(**{k: data[k] for k in StoredResult.__dataclass_fields__ if k in data})
        except (OSError, ValueError, TypeError):
            return None

    def save(self, student: str, notebook: str, result: StoredResult) -> None:
        path = self.path(student, notebook)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(asdict(result)))
        os.replace(tmp, path)

    def outputs_for(self, nb, student: str, notebook: str, code: str, files: dict[str, bytes]
                    ) -> tuple[object | None, str]:
        """``nb`` with the stored outputs, if the stored execution is of this very notebook; else (None, why)."""
        stored = self.load(student, notebook)
        if stored is None or not stored.nb:
            return None, stored.error if stored and stored.error else "no execution of it was stored"
        if stored.key != execution_key(nb, files, code):
            return None, "the stored execution was of a different notebook or grader"
        executed = nbformat.reads(stored.nb, as_version=4)
        for mine, theirs in zip(nb.cells, executed.cells):
            if mine.cell_type == "code":
                mine.outputs, mine.execution_count = theirs.get("outputs", []), theirs.get("execution_count")
        if "language_info" in executed.metadata:
            nb.metadata["language_info"] = executed.metadata["language_info"]
        return nb, ""
