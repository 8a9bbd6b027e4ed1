"""Grade one notebook without a course database: restore, audit, execute on the trusted executor, score.

The points of each check cell are the verified results :class:`autograder.executor.GradingClient`
collected from the grader in the kernel; nothing is read back from the notebook's outputs.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import nbformat

from autograder import cells as kitcells
from autograder.checkout import SOLUTIONS
from autograder.results import CannotGrade, NotebookResult
from autograder.restore import restore


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


def manual_cells(nb) -> list[dict]:
    return [{"grade_id": kitcells.grade_id(c), "max_score": kitcells.points(c)}
            for c in nb.cells if kitcells.is_manual_cell(c)]


def grade_notebook(submission: Path, source: Path | None = None, cell_timeout: int | None = None,
                   fingerprints=None) -> NotebookResult:
    """Restore, audit, execute and score one submitted notebook."""
    from autograder.audit import audit_notebook
    from autograder.executor import GradingClient

    submission = Path(submission)
    student_nb = read_notebook(submission)
    source = Path(source) if source else find_source(submission)
    source_nb = read_notebook(source)
    if not kitcells.is_kit_notebook(source_nb):
        raise CannotGrade(f"{source} is not a kit notebook (its metadata has no {kitcells.KIT_KEY!r} entry)")
    nb, notes = restore(student_nb, source_nb)
    flags = audit_notebook(nb)
    with tempfile.TemporaryDirectory(prefix="autograder-") as tmp:
        workdir = Path(tmp)
        for item in submission.parent.iterdir():  # the student's other files, as nbgrader copies them
            if item.is_file() and item.suffix != ".ipynb" and item.stat().st_size < 50 * 2**20:
                shutil.copy2(item, workdir / item.name)
        client = GradingClient(nb, workdir=workdir, cell_timeout=cell_timeout, fingerprints=fingerprints)
        client.grade()
    cells = [client.results[kitcells.grade_id(c)] for c in nb.cells if kitcells.is_check_cell(c)]
    return NotebookResult(submission.name, cells, manual_cells(nb), notes + client.notes,
                          [f.to_dict() for f in flags])
