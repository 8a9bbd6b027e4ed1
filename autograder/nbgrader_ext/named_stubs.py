"""Blanks that name their function: ``raise NotImplementedError("Student exercise: pca_fit")``.

In a kit notebook, nbgrader's ``ClearSolutions`` puts :attr:`NamedClearSolutions.kit_code_stub` in
every solution region (or in place of a whole solution cell), with ``{blank}`` filled by the
function (or ``Class.method``) the region sits in, or by the cell's grade id for a region outside
any function. Every other notebook gets nbgrader's own stubs, in its own language.
"""
from __future__ import annotations

import re

from nbgrader.preprocessors import ClearSolutions
from traitlets import Unicode

from autograder.cells import is_kit_notebook

PLACEHOLDER = "{blank}"
_DEF = re.compile(r"^(\s*)(?:async\s+)?(def|class)\s+([A-Za-z_][A-Za-z0-9_]*)")


def enclosing_name(lines: list[str], index: int) -> str | None:
    """The dotted name of the def/class that encloses ``lines[index]``, innermost last."""
    indent = len(lines[index]) - len(lines[index].lstrip())
    names = []
    for line in reversed(lines[:index]):
        match = _DEF.match(line)
        if match and len(match.group(1)) < indent:
            names.append(match.group(3))
            indent = len(match.group(1))
            if indent == 0:
                break
    return ".".join(reversed(names)) or None


def fill_placeholders(source: str, fallback: str) -> str:
    lines = source.split("\n")
    for i, line in enumerate(lines):
        if PLACEHOLDER in line:
            lines[i] = line.replace(PLACEHOLDER, enclosing_name(lines, i) or fallback)
    return "\n".join(lines)


class NamedClearSolutions(ClearSolutions):
    """``ClearSolutions`` whose stub, in kit notebooks, names the blank it replaces."""

    kit_code_stub = Unicode('# YOUR CODE HERE\nraise NotImplementedError("Student exercise: {blank}")',
                            help="the Python stub of kit notebooks; {blank} names the function").tag(config=True)

    def preprocess(self, nb, resources):
        if not is_kit_notebook(nb):
            return super().preprocess(nb, resources)
        default = self.code_stub
        self.code_stub = {**default, "python": self.kit_code_stub}
        try:
            return super().preprocess(nb, {**resources, "autograder_kit": True})
        finally:
            self.code_stub = default

    def preprocess_cell(self, cell, resources, index):
        cell, resources = super().preprocess_cell(cell, resources, index)
        if resources.get("autograder_kit") and cell.cell_type == "code" and PLACEHOLDER in cell.source:
            cell.source = fill_placeholders(cell.source, cell.metadata.get("nbgrader", {}).get("grade_id", "this cell"))
        return cell, resources
