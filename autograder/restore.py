"""Put the instructor's locked and check cells back into a submission, as nbgrader does.

nbgrader's ``OverwriteCells`` (with ``add_missing_cells``) reads the source cells from its
database; this does the same from the source notebook, so one notebook can be graded without
a course database. Whatever the student did to a locked or check cell (edited, deleted,
duplicated, stripped its metadata), the instructor's version is what runs.
"""
from __future__ import annotations

import copy
import uuid

import nbformat

from autograder.cells import grade_id as _grade_id
from autograder.cells import is_protected


def restore(submission: nbformat.NotebookNode, source: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, list[str]]:
    """A copy of ``submission`` with the source's protected cells restored; and notes on what changed."""
    notes: list[str] = []
    nb = copy.deepcopy(submission)
    source_ids = {_grade_id(cell): cell for cell in source.cells if _grade_id(cell)}
    _drop_duplicate_and_unknown_ids(nb, source_ids, notes)
    _replace_protected_cells(nb, source_ids, notes)
    _reinsert_missing_cells(nb, source, notes)
    ids = set()
    for cell in nb.cells:  # cell ids must stay unique once cells were copied in
        if "id" in cell and cell["id"] in ids:
            cell["id"] = uuid.uuid4().hex[:8]
        ids.add(cell.get("id"))
    kernelspec = source.metadata.get("kernelspec") or nb.metadata.get("kernelspec")
    if kernelspec:  # an empty one makes the notebook invalid: nbconvert then refuses to run it at all
        nb.metadata["kernelspec"] = copy.deepcopy(kernelspec)
    else:
        nb.metadata.pop("kernelspec", None)
    return nb, notes


def _fresh(cell):
    """A copy of a source cell, without outputs."""
    fresh = copy.deepcopy(cell)
    if fresh.cell_type == "code":
        fresh.outputs, fresh.execution_count = [], None
    return fresh


def _drop_duplicate_and_unknown_ids(nb, source_ids: dict, notes: list[str]) -> None:
    """Only the first cell of each grade id keeps its nbgrader identity; unknown ids lose it."""
    seen = set()
    for cell in nb.cells:
        gid = _grade_id(cell)
        if gid is None:
            continue
        if gid in seen or gid not in source_ids:
            notes.append(f"cell {gid!r} is a duplicate or unknown: treated as an ordinary cell")
            cell.metadata.pop("nbgrader", None)
            if gid in source_ids and is_protected(source_ids[gid]):
                cell.source = "# (a duplicate of a protected cell, removed before grading)"
                if cell.cell_type == "code":
                    cell.outputs = []
            continue
        seen.add(gid)


def _replace_protected_cells(nb, source_ids: dict, notes: list[str]) -> None:
    """Protected cells become the source's; students' answers keep their text under the source's metadata."""
    by_id = {_grade_id(c): c for c in nb.cells if _grade_id(c)}
    for gid, src in source_ids.items():
        cell = by_id.get(gid)
        if cell is None:
            continue
        if is_protected(src):
            if cell.source != src.source or cell.cell_type != src.cell_type:
                notes.append(f"protected cell {gid!r} was modified: restored")
            nb.cells[nb.cells.index(cell)] = _fresh(src)
            continue
        cell.metadata["nbgrader"] = copy.deepcopy(src.metadata["nbgrader"])
        if cell.cell_type != src.cell_type:
            notes.append(f"cell {gid!r} changed type: restored to {src.cell_type}")
            new = _fresh(src)
            new.source = cell.source
            nb.cells[nb.cells.index(cell)] = new


def _reinsert_missing_cells(nb, source, notes: list[str]) -> None:
    """Protected cells the student deleted go back after the cell that precedes them in the source."""
    present = {_grade_id(c) for c in nb.cells if _grade_id(c)}
    previous_id = None
    for src in source.cells:
        gid = _grade_id(src)
        if gid is None:
            continue
        if gid not in present and is_protected(src):
            position = next((i + 1 for i, cell in enumerate(nb.cells) if previous_id is not None
                             and _grade_id(cell) == previous_id), 0)
            nb.cells.insert(position, _fresh(src))
            present.add(gid)
            notes.append(f"protected cell {gid!r} was missing: re-inserted")
        if gid in present:
            previous_id = gid
