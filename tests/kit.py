"""Helpers the kit's tests share: the notebooks, and small notebooks built cell by cell."""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.cells import KIT_KEY, check_cells, check_line, nbgrader_meta  # noqa: F401 (re-exported)
from autograder.checkout import REPO, RELEASE_NOTEBOOKS, SOLUTION_NOTEBOOKS, solution_notebooks  # noqa: F401 (re-exported)


def notebooks() -> list[Path]:
    return solution_notebooks()


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def run_notebook(path: Path, outputs: dict | None = None) -> tuple[dict, list[str]]:
    """Execute a notebook's code cells, check cells left out, in this process (headless: conftest configures
    it as the grader's): (namespace, one line per cell that raised). ``outputs``, when given, receives what
    each cell printed (cell name -> text)."""
    import contextlib
    import io
    import tempfile

    import matplotlib.pyplot as plt

    from autograder.cells import cell_name, is_check_cell
    from autograder.source import python_source

    nb = read(path)
    ns: dict = {"__name__": "__main__"}
    errors = []
    with tempfile.TemporaryDirectory(prefix="kit-run-") as tmp, contextlib.chdir(tmp), \
            contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or is_check_cell(cell):
                continue
            name = cell_name(cell, index)
            printed = io.StringIO()
            try:
                with contextlib.redirect_stdout(printed):
                    exec(compile(python_source(cell.source), f"<{path.name}:{name}>", "exec"), ns)
            except Exception as exc:  # noqa: BLE001 (a broken cell is reported, the next one still runs)
                errors.append(f"cell {name} raised {type(exc).__name__}: {str(exc)[:200]}")
            finally:
                plt.close("all")
                if outputs is not None:
                    outputs[name] = printed.getvalue()
    return ns, errors


def sample_notebook(module, answers: dict[str, str], folder: Path) -> Path:
    """The solution notebook of a sample module with ``answers`` swapped in, written to ``folder``."""
    from autograder.samples import solution_with

    path = folder / module.NOTEBOOK
    nbformat.write(solution_with(module.NOTEBOOK, answers), str(path))
    return path


def rubrics(path: Path) -> dict[str, str]:
    """grade id -> the TA's rubric, the text of each written answer cell in a solution notebook."""
    from autograder.cells import grade_id, is_written_answer

    return {grade_id(c): c.source for c in read(path).cells if is_written_answer(c)}


def plain_lines(text: str) -> list[str]:
    """A markdown text's long lines that hold no markup: they read the same in the source, the JSON of a
    notebook and a rendered page (what a leak test looks for)."""
    lines = [line.strip().removeprefix("- ") for line in text.splitlines()]
    return [line for line in lines if len(line) > 30 and not any(ch in line for ch in "*`_[]\"'\\")]


# ---------------------------------------------------------------- small nbgrader notebooks for unit tests
def _meta(grade_id: str, *, grade: bool, solution: bool, locked: bool, points: float | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution,
            "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def md(text: str, grade_id: str | None = None):
    cell = new_markdown_cell(text)
    if grade_id:
        cell.metadata.update(_meta(grade_id, grade=False, solution=False, locked=True))
    return cell


def code(source: str, grade_id: str | None = None):
    cell = new_code_cell(source)
    if grade_id:
        cell.metadata.update(_meta(grade_id, grade=False, solution=False, locked=True))
    return cell


def solution(source: str, grade_id: str):
    cell = new_code_cell(source)
    cell.metadata.update(_meta(grade_id, grade=False, solution=True, locked=False))
    return cell


def check(grade_id: str, points: float, source: str | None = None):
    cell = new_code_cell(check_line(grade_id, points) if source is None else source)
    cell.metadata.update(_meta(grade_id, grade=True, solution=False, locked=True, points=points))
    return cell


def think(grade_id: str, points: float, answer: str = "YOUR ANSWER HERE"):
    cell = new_markdown_cell(answer)
    cell.metadata.update(_meta(grade_id, grade=True, solution=True, locked=False, points=points))
    return cell


def notebook(cells: list, kit: bool = True) -> nbformat.NotebookNode:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    if kit:
        nb.metadata[KIT_KEY] = {"unit": "autoencoders"}
    return nb
