"""What a person should look at in a graded notebook: the static audit's flags and the cells not graded.

Read from an autograded notebook (nbgrader's ``autograded/`` folder): its check cells' results,
which the trusted executor wrote (:data:`autograder.results.MIME`, read only from check cells), and
the audit of the cells the student could edit. Used by ``class-grade``'s table and by the report.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder import cells as kitcells
from autograder.results import MIME, CellResult, flag_text


@dataclass
class Review:
    notebook: str
    results: list[CellResult] = field(default_factory=list)
    flags: list[dict] = field(default_factory=list)

    @property
    def suspect(self) -> list[CellResult]:
        """Cells a person should look at: not graded because tampering was suspected, or flagged by a check."""
        return [r for r in self.results if r.needs_review]

    @property
    def needs_review(self) -> bool:
        return bool(self.flags or self.suspect)

    def lines(self) -> list[str]:
        out = [f"{self.notebook} cell {r.grade_id}: {r.review_note}" for r in self.suspect]
        return out + [flag_text(f, self.notebook) for f in self.flags]


def check_results(nb) -> list[CellResult]:
    """The executor's result of every check cell (cells it never reached are left out)."""
    results = []
    for cell in nb.cells:
        if not kitcells.is_check_cell(cell):
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {}) if output.get("output_type") == "display_data" else {}
            payload = data.get(MIME)
            if isinstance(payload, dict) and payload.get("grade_id") == kitcells.grade_id(cell):
                try:
                    results.append(CellResult.from_dict(payload))
                except (KeyError, TypeError, ValueError):
                    pass
    return results


def review_notebook(path: Path) -> Review:
    from autograder.audit import audit_notebook

    nb = nbformat.read(str(path), as_version=4)
    return Review(path.stem, check_results(nb), [f.to_dict() for f in audit_notebook(nb)])


def review_folder(folder: Path) -> list[Review]:
    """Every notebook of one student's autograded assignment folder."""
    return [review_notebook(path) for path in sorted(Path(folder).glob("*.ipynb"))]
