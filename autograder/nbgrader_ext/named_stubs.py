"""Blanks that name their function: ``raise NotImplementedError("Student exercise: pca_fit")``.

nbgrader's ``ClearSolutions`` puts the same code stub in every solution region. This subclass
fills the stub's ``{blank}`` placeholder with the function (or ``Class.method``) the region
sits in, or with the cell's grade id for a region outside any function.
"""
from __future__ import annotations

import re

from nbgrader.preprocessors import ClearSolutions

PLACEHOLDER = "{blank}"
CODE_STUB = '# YOUR CODE HERE\nraise NotImplementedError("Student exercise: {blank}")'
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
    """``ClearSolutions`` whose stub names the blank it replaces."""

    def _replace_solution_region(self, cell, language):
        replaced = super()._replace_solution_region(cell, language)
        if replaced and cell.cell_type == "code":
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "this cell")
            cell.source = fill_placeholders(cell.source, grade_id)
        return replaced
