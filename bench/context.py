"""What every section shares: issue 8's targets, and the :class:`Bench` a run records into."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from autograder.checkout import solution_notebooks

#: --quick measures one notebook: this one when it exists (the cheapest to run and grade), else the first.
QUICK_NOTEBOOK = "02_linear_layers.ipynb"

#: Issue 8's targets (2 CPU cores). Seconds unless said otherwise.
TARGETS = {
    "notebook_run_all_s": 60.0,
    "assignment_run_all_s": 240.0,
    "grade_factor": 1.3,         # autograding one student <= 1.3 x floor + 10 s
    "grade_fixed_s": 10.0,
    "nbgrader_startup_s": 2.0,
    "kernel_peak_mb": 1536.0,
    "mnist_load_s": 1.0,
    "fixed_per_notebook_s": 2.85,  # issue 12: 2026-11-27's 1.85 s per notebook + 1 s
}


def fmt_s(x: float | None) -> str:
    return "-" if x is None else (f"{x:.2f} s" if x < 10 else f"{x:.1f} s")


def fmt_wall_cpu(wall: float, cpu: float | None) -> str:
    """Wall time, and the CPU time it used: on a busy machine the CPU time is the steadier figure."""
    return fmt_s(wall) if cpu is None else f"{fmt_s(wall)} (cpu {fmt_s(cpu)})"


@dataclass
class Row:
    section: str
    label: str
    value: str | None  # None: a note printed on a line of its own
    target: str = ""
    status: str = ""


@dataclass
class Bench:
    """One run: its settings, and the rows, targets and figures the sections record."""

    quick: bool
    notebooks: list[Path]
    students: int
    jobs: list[int]
    repeats: int
    tmp: Path
    results: dict = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    targets: list[dict] = field(default_factory=list)
    _cache: dict = field(default_factory=dict)

    @property
    def partial(self) -> str:
        """'(n of N notebooks)' when only some notebooks are measured, else ''."""
        total = len(solution_notebooks())
        return f"({len(self.notebooks)} of {total} notebooks)" if len(self.notebooks) < total else ""

    def once(self, key: str, measure: Callable[[], object]):
        """A figure several sections use, measured the first time it is asked for."""
        if key not in self._cache:
            self._cache[key] = measure()
        return self._cache[key]

    # -- recording
    def row(self, section: str, label: str, value: str) -> None:
        self.rows.append(Row(section, label, value))

    def note(self, section: str, text: str) -> None:
        """A line of its own in the table (what the rows below it measure)."""
        self.rows.append(Row(section, text, None))

    def target(self, section: str, name: str, label: str, value: float | None, limit: float, unit: str,
               note: str = "", cpu: float | None = None, higher_is_better: bool = False) -> None:
        met = None if value is None else bool(value >= limit if higher_is_better else value <= limit)
        status = "-" if met is None else ("met" if met else "NOT MET")
        shown = "-" if value is None else (f"{value:.2f} {unit}" if value < 10 else f"{value:.1f} {unit}")
        if cpu is not None:
            shown += f" (cpu {fmt_s(cpu)})"
        bound = f"{limit:.2f}" if limit < 10 else f"{limit:.1f}".removesuffix(".0")
        self.rows.append(Row(section, label, shown, f"{'>=' if higher_is_better else '<='} {bound} {unit}"
                             + (f" {note}" if note else ""), status))
        self.targets.append({"section": section, "target": name, "label": label, "value": value,
                             "limit": limit, "unit": unit, "met": met, "note": note})
