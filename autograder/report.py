"""Results of hidden checks as data, as a text table, and as JSON."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

MIME = "application/vnd.autograder.cell+json"


@dataclass
class CheckResult:
    name: str
    passed: bool
    points: float
    max_points: float
    message: str = ""


@dataclass
class CellResult:
    grade_id: str
    score: float
    max_score: float
    checks: list[CheckResult] = field(default_factory=list)
    note: str = ""

    def to_dict(self) -> dict:
        data = asdict(self)
        if not data["note"]:
            data.pop("note")
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "CellResult":
        return cls(grade_id=str(data["grade_id"]), score=float(data["score"]), max_score=float(data["max_score"]),
                   checks=[CheckResult(**c) for c in data.get("checks", [])], note=str(data.get("note", "")))


@dataclass
class NotebookResult:
    notebook: str
    cells: list[CellResult]
    manual: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

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
        return data


def fmt(x: float) -> str:
    return f"{x:g}"


def cell_lines(cell: CellResult) -> list[str]:
    lines = [f"{cell.grade_id}: {fmt(cell.score)} / {fmt(cell.max_score)} points"]
    if cell.note:
        lines.append(f"  ! {cell.note}")
    for check in cell.checks:
        mark = "PASS" if check.passed else "FAIL"
        lines.append(f"  {mark} [{fmt(check.points)}/{fmt(check.max_points)}] {check.name}")
        if not check.passed and check.message:
            lines.extend("       " + part for part in check.message.splitlines())
    return lines


def notebook_table(result: NotebookResult) -> str:
    lines = [f"{result.notebook}: {fmt(result.score)} / {fmt(result.max_score)}", ""]
    for cell in result.cells:
        lines.extend(cell_lines(cell))
    for item in result.manual:
        lines.append(f"{item['grade_id']}: manual grading ({fmt(item['max_score'])} points, not counted above)")
    return "\n".join(lines)
