"""One hostile or broken submission: a source notebook, the edits a student made, what each cell must score."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell

from tests.kit import RELEASE_NOTEBOOKS, SOLUTION_NOTEBOOKS


@dataclass
class Case:
    name: str
    notebook: str
    description: str
    edits: list = field(default_factory=list)  # functions nb -> None
    expect: dict = field(default_factory=dict)  # cell -> (points | "full", words or None)
    base: str = "solution"  # or "release": the untouched student copy
    flags: tuple = ()  # words the review flags (audit findings, or a cell's "not graded" note) must contain
    honest: bool = False  # an honest notebook: nothing may be flagged for review

    def build(self) -> nbformat.NotebookNode:
        folder = SOLUTION_NOTEBOOKS if self.base == "solution" else RELEASE_NOTEBOOKS
        nb = nbformat.read(str(folder / self.notebook), as_version=4)
        for edit in self.edits:
            edit(nb)
        return nb

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / self.notebook
        nbformat.write(self.build(), str(path))
        return path


def _index(nb, grade_id):
    for i, cell in enumerate(nb.cells):
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return i
    raise KeyError(grade_id)


def replace(grade_id, source):
    def edit(nb):
        nb.cells[_index(nb, grade_id)].source = source
    return edit


def blank(grade_id, notebook="01_pca_encoder.ipynb"):
    """The answer cell as the release has it (a NotImplementedError blank)."""
    def edit(nb):
        released = nbformat.read(str(RELEASE_NOTEBOOKS / notebook), as_version=4)
        nb.cells[_index(nb, grade_id)].source = released.cells[_index(released, grade_id)].source
    return edit


def add_after(grade_id, source):
    def edit(nb):
        nb.cells.insert(_index(nb, grade_id) + 1, new_code_cell(source))
    return edit


def delete(grade_id):
    def edit(nb):
        del nb.cells[_index(nb, grade_id)]
    return edit


def strip_metadata(grade_id, new_source=None):
    def edit(nb):
        cell = nb.cells[_index(nb, grade_id)]
        cell.metadata = {}
        if new_source is not None:
            cell.source = new_source
    return edit


def duplicate_edited(grade_id, new_source):
    def edit(nb):
        i = _index(nb, grade_id)
        dup = copy.deepcopy(nb.cells[i])
        dup.source = new_source
        dup["id"] = "dup" + dup.get("id", "x")[:5]
        nb.cells.insert(i, dup)
    return edit
