"""Feedback on kit notebooks shows each check's one-line message, never the grader's code.

nbgrader's ``generate_feedback`` renders every cell's source and outputs, tracebacks included,
and a traceback raised inside the ``autograder`` package shows its file path and source lines.
This preprocessor, run before the HTML export:

* drops the TA's rubric cells (:mod:`autograder.nbgrader_ext.rubric`);
* cuts ``### BEGIN HIDDEN TESTS`` regions out of every cell's source;
* reduces the traceback of a check cell to its last line, and drops traceback frames that point
  into the grader's packages from any other cell;
* drops the machine-readable result of the checks (the text table stays);
* replaces any output that quotes the hidden checks' or references' source by a note (a student
  who printed the grader's code at grading time gets nothing out of it).
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path


from autograder.cells import is_check_cell, is_rubric_cell
from autograder.nbgrader_ext.kit import KitPreprocessor
from autograder.results import MIME

PACKAGE = Path(__file__).resolve().parent.parent
HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*\n?", re.S | re.M)
ANSI = re.compile(r"\x1b\[[0-9;]*m")
REDACTED = "[grader code removed from feedback]"


@lru_cache(maxsize=1)
def secret_lines() -> frozenset[str]:
    """Distinctive lines of the hidden checks and reference solutions."""
    lines = set()
    for folder in ("checks", "reference"):
        for path in (PACKAGE / folder).glob("*.py"):
            for line in path.read_text().splitlines():
                line = line.strip()
                if len(line) >= 24 and not line.startswith(("#", "import ", "from ", '"""')):
                    lines.add(line)
    return frozenset(lines)


def _mentions_grader(text: str) -> bool:
    return str(PACKAGE) in text or "autograder/checks" in text or "autograder/reference" in text


def redact_text(text: str) -> str:
    """The text, or only a note when any line of it quotes the grader (then all of it may be grader code)."""
    secrets = secret_lines()
    for line in text.split("\n"):
        plain = ANSI.sub("", line).strip()
        if plain and (plain in secrets or _mentions_grader(plain)):
            return REDACTED + ("\n" if text.endswith("\n") else "")
    return text


class StripFeedback(KitPreprocessor):
    """Remove hidden tests, grader tracebacks and grader source from a kit notebook's feedback."""

    def preprocess_kit(self, nb, resources, source):
        nb.cells = [cell for cell in nb.cells if not is_rubric_cell(cell)]  # the TA's, never the student's
        return super().preprocess_kit(nb, resources, source)

    def preprocess_cell(self, cell, resources, index):
        cell.source = HIDDEN.sub("", cell.source)
        if cell.cell_type != "code":
            return cell, resources
        check = is_check_cell(cell)
        for output in cell.get("outputs", []):
            kind = output.get("output_type")
            if kind == "error":
                frames = [ANSI.sub("", f) for f in output.get("traceback", [])]
                if check:
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
                else:
                    output["traceback"] = [redact_text(f) for f in frames if not _mentions_grader(f)]
            elif kind == "stream":
                output["text"] = redact_text("".join(output.get("text", "")))
            elif kind in ("display_data", "execute_result"):
                data = output.get("data", {})
                data.pop(MIME, None)
                for key in ("text/plain", "text/html", "text/markdown"):
                    if key in data:
                        value = data[key]
                        data[key] = redact_text("".join(value) if isinstance(value, list) else value)
        return cell, resources
