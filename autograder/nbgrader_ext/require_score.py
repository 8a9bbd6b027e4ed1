"""A kit check cell must end in a score, or it scores nothing.

nbgrader gives FULL marks to a test cell whose output has no number (or a negative one, or
text), and raises for a number above the cell's points. In a kit notebook the executor writes
every check cell's score itself; a check cell left without a valid score means the notebook was
executed some other way, or execution broke. This preprocessor, run right after execution, turns
such outputs into an error output, which nbgrader scores 0, with a one-line reason a TA can read.
Other notebooks pass through untouched.
"""
from __future__ import annotations

import math

from nbformat.v4 import new_output

from autograder.cells import is_check_cell, points
from autograder.nbgrader_ext.kit import KitPreprocessor


def read_score(cell) -> tuple[float | None, str]:
    """(score, reason): the score a check cell's outputs show, or None and why it is not valid."""
    max_points = points(cell)
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            evalue = str(output.get("evalue", "")).strip()
            return None, f"the cell raised {output.get('ename', 'an error')}" + (f": {evalue[:300]}" if evalue else "")
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            return None, "the cell wrote to stderr: " + "".join(output.get("text", "")).strip()[:200]
        if output.get("output_type") == "execute_result":
            text = output.get("data", {}).get("text/plain", "")
            text = "".join(text) if isinstance(text, list) else text
            try:
                value = float(text)
            except (TypeError, ValueError):
                return None, f"the cell ended in {text[:60]!r}, not a score"
            if not math.isfinite(value) or value < 0 or value > max_points:
                return None, f"the cell ended in {value!r}, outside 0..{max_points:g}"
            return value, ""
    return None, "the cell produced no score (the hidden checks did not run)"


class RequireScore(KitPreprocessor):
    """After execution: a kit check cell without a valid score gets an error output (0 points)."""

    def preprocess_cell(self, cell, resources, index):
        if is_check_cell(cell):
            score, reason = read_score(cell)
            if score is None and not any(o.get("output_type") == "error" for o in cell.outputs):
                cell.outputs.append(new_output(
                    "error", ename="NoScore", evalue=f"0 points: {reason}", traceback=[f"NoScore: {reason}"]))
        return cell, resources
