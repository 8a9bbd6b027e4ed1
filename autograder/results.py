"""Results of hidden checks as data, as a text table, and as JSON."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

MIME = "application/vnd.autograder.cell+json"


class CannotGrade(Exception):
    """Nothing can be graded: an unreadable notebook, no source notebook, an unreachable Dask scheduler, workers
    that cannot load the grader. The message is one line for the TA."""


@dataclass
class CheckResult:
    name: str  # what the check checks (its docstring's first line)
    passed: bool
    points: float
    max_points: float
    message: str = ""
    check: str = ""  # pytest's name for it: test_fit_mean, test_values[relu]
    review: str = ""  # what a person should look at, whatever the check's outcome (the check found it suspicious)


# A cell's status: only "graded" cells count. "tampered": the grader found the kernel rigged and ran
# nothing; "unverified": the executor got no result it could verify (tampering suspected); "not run":
# the kernel died or ran out of time before the checks could run.
GRADED, TAMPERED, UNVERIFIED, NOT_RUN = "graded", "tampered", "unverified", "not run"
SUSPECT = (TAMPERED, UNVERIFIED)


@dataclass
class CellResult:
    grade_id: str
    score: float
    max_score: float
    checks: list[CheckResult] = field(default_factory=list)
    note: str = ""
    status: str = GRADED

    @property
    def verified(self) -> bool:
        return self.status == GRADED

    @property
    def reviews(self) -> list[str]:
        """What the cell's checks asked a person to look at."""
        return [f"{c.name}: {c.review}" for c in self.checks if c.review]

    @property
    def needs_review(self) -> bool:
        return self.status in SUSPECT or bool(self.reviews)

    @property
    def review_note(self) -> str:
        """Why a person should look at this cell."""
        return self.note if self.status in SUSPECT else "; ".join(self.reviews)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["verified"] = self.verified
        if not data["note"]:
            data.pop("note")
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "CellResult":
        known = CheckResult.__dataclass_fields__
        return cls(grade_id=str(data["grade_id"]), score=float(data["score"]), max_score=float(data["max_score"]),
                   checks=[CheckResult(**{k: v for k, v in c.items() if k in known}) for c in data.get("checks", [])],
                   note=str(data.get("note", "")), status=str(data.get("status", GRADED)))


@dataclass
class NotebookResult:
    notebook: str
    cells: list[CellResult]
    manual: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    flags: list[dict] = field(default_factory=list)  # the static audit's findings (autograder.audit.Flag)

    @property
    def needs_review(self) -> bool:
        return bool(self.flags) or any(c.needs_review for c in self.cells)

    @property
    def score(self) -> float:
        return round(sum(c.score for c in self.cells), 4)

    @property
    def max_score(self) -> float:
        return round(sum(c.max_score for c in self.cells), 4)

    def to_dict(self) -> dict:
        data = {"notebook": self.notebook, "score": self.score, "max_score": self.max_score,
                "cells": [c.to_dict() for c in self.cells]}
        if self.manual:
            data["manual"] = self.manual
        if self.notes:
            data["notes"] = self.notes
        data["flags"] = self.flags
        data["needs_review"] = self.needs_review
        return data


def fmt(x: float) -> str:
    return f"{x:g}"


def flag_text(flag: dict, notebook: str = "") -> str:
    """One static-audit finding, as TAs read it."""
    where = f"{notebook} " if notebook else ""
    return f"needs review: {where}cell {flag['cell']}, line {flag['line']}: {flag['reason']}: {flag['code']}"


def cell_lines(cell: CellResult) -> list[str]:
    state = "" if cell.verified else f" (NOT GRADED: {cell.status})"
    lines = [f"{cell.grade_id}: {fmt(cell.score)} / {fmt(cell.max_score)} points{state}"]
    if cell.note:
        lines.append(f"  ! {cell.note}")
    for check in cell.checks:
        mark = "PASS" if check.passed else "FAIL"
        lines.append(f"  {mark} [{fmt(check.points)}/{fmt(check.max_points)}] {check.name}")
        if not check.passed and check.message:
            lines.extend("       " + part for part in check.message.splitlines())
        if check.review:
            lines.append(f"       ? for review: {check.review}")
    return lines


def notebook_table(result: NotebookResult) -> str:
    lines = [f"{result.notebook}: {fmt(result.score)} / {fmt(result.max_score)}", ""]
    for cell in result.cells:
        lines.extend(cell_lines(cell))
    for item in result.manual:
        lines.append(f"{item['grade_id']}: manual grading ({fmt(item['max_score'])} points, not counted above)")
    lines.extend(flag_text(flag) for flag in result.flags)
    return "\n".join(lines)
