"""``autograder sync``: write each check cell of the source notebooks from the hidden checks.

Points are declared once, on the checks (``@pytest.mark.points``). This command writes what
follows from them into the source notebooks in ``solutions/``:

* every check cell's source becomes the one line of :func:`autograder.cells.check_line`;
* its nbgrader ``points`` become the sum of its checks' points;
* the notebook is marked as a kit notebook (``metadata.autograder``).

An instructor marks a new check cell in Jupyter (Create Assignment toolbar: "Autograder tests",
with its grade id), writes its checks, and runs ``autograder sync`` (``make release`` runs it
too). ``autograder sync --check`` changes nothing and exits 1 if a notebook is out of date.
"""
from __future__ import annotations

from pathlib import Path

import nbformat

from autograder import cells as kitcells
from autograder import registry

KIT_METADATA = {"unit": "autoencoders"}


class SyncError(Exception):
    """A notebook and the checks disagree in a way sync cannot settle (a check cell without checks)."""


def sync_notebook(nb: nbformat.NotebookNode, name: str = "") -> list[str]:
    """Bring one source notebook in line with the checks, in place; returns what changed."""
    changes = []
    if nb.metadata.get(kitcells.KIT_KEY) != KIT_METADATA:
        nb.metadata[kitcells.KIT_KEY] = dict(KIT_METADATA)
        changes.append(f"{name}: marked as a kit notebook")
    for cell in nb.cells:
        if not kitcells.is_check_cell(cell):
            continue
        gid = kitcells.grade_id(cell)
        total = registry.cell_points(gid)
        if total <= 0:
            raise SyncError(f"{name}: check cell {gid!r} has no hidden checks (add a test marked "
                            f"@pytest.mark.points(n, cell={gid!r}) under autograder/checks/)")
        line = kitcells.check_line(gid, total)
        if cell.source != line:
            cell.source = line
            changes.append(f"{name}: {gid}: check cell rewritten")
        if kitcells.points(cell) != total or not isinstance(cell.metadata["nbgrader"].get("points"), (int, float)):
            changes.append(f"{name}: {gid}: {kitcells.points(cell):g} -> {total:g} points")
            cell.metadata["nbgrader"]["points"] = int(total) if float(total).is_integer() else total
        cell.outputs, cell.execution_count = [], None
    return changes


def sync(paths: list[Path], check: bool = False, whole_course: bool = True) -> list[str]:
    """Sync every notebook; with ``check``, report what would change without writing. With ``whole_course``,
    checks whose cell no notebook has are reported too."""
    changes, in_notebooks = [], set()
    for path in paths:
        nb = nbformat.read(str(path), as_version=4)
        in_notebooks.update(kitcells.check_cells(nb))
        found = sync_notebook(nb, path.name)
        if found and not check:
            nbformat.write(nb, str(path))
        changes.extend(found)
    orphans = sorted(set(registry.all_cells()) - in_notebooks) if whole_course else []
    if orphans:
        changes.append(f"checks for cells that no notebook has: {', '.join(orphans)}")
    return changes


def main(args) -> int:
    from autograder.checkout import SOLUTIONS

    paths = [Path(p) for p in args.notebooks] or sorted(SOLUTIONS.rglob("*.ipynb"))
    paths = [p for p in paths if ".ipynb_checkpoints" not in p.parts]
    try:
        changes = sync(paths, check=args.check, whole_course=not args.notebooks)
    except SyncError as exc:
        print(f"autograder sync: {exc}")
        return 2
    for change in changes:
        print(("out of date: " if args.check else "") + change)
    if not changes:
        print(f"{len(paths)} notebook(s) in step with their checks")
    return 1 if (args.check and changes) else 0
