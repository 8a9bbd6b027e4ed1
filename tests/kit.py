"""Helpers the kit's tests share: build a student's namespace from a notebook, run checks."""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions" / "autoencoders"
RELEASE = REPO / "assignments" / "autoencoders"


def notebooks() -> list[Path]:
    return sorted(SOLUTIONS.glob("*.ipynb"))


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def check_cells(nb) -> dict[str, float]:
    """grade_id -> points of every autograded check cell."""
    return {nbgrader_meta(c)["grade_id"]: float(nbgrader_meta(c)["points"]) for c in nb.cells
            if c.cell_type == "code" and nbgrader_meta(c).get("grade") and not nbgrader_meta(c).get("solution")}


def build_namespace(notebook: Path, replace: dict[str, str] | None = None, setup_id: str = "setup") -> dict:
    """Run a notebook's setup cell and its answer cells (with ``replace`` swapped in) in-process.

    This is the student's namespace as the check cells would see it, without the notebook's
    longer experiments: fast enough to grade many buggy variants of each function.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    replace = dict(replace or {})
    nb = read(notebook)
    ns: dict = {"__name__": "__main__"}
    with contextlib.redirect_stdout(io.StringIO()):
        for cell in nb.cells:
            meta = nbgrader_meta(cell)
            gid = meta.get("grade_id")
            if cell.cell_type != "code" or not (gid == setup_id or meta.get("solution")):
                continue
            source = replace.pop(gid, cell.source)
            exec(compile(source, f"<{notebook.name}:{gid}>", "exec"), ns)
    plt.close("all")
    assert not replace, f"unknown answer cells {sorted(replace)} in {notebook.name}"
    return ns


def grade_cells(ns: dict, cell_ids) -> dict[str, "object"]:
    """Run the hidden checks of each cell against ``ns``: grade_id -> CellResult."""
    import tempfile

    from autograder.cell import run_cell

    # Checks refuse to run where an autograder/ folder sits in the working directory (a shadow).
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp), contextlib.redirect_stdout(io.StringIO()):
        return {cid: run_cell(cid, ns) for cid in cell_ids}
