"""``autograder report COURSE ASSIGNMENT [--out DIR]``: the class report of an autograded assignment.

One static HTML page (``report.html``) and the same data as CSV and JSON, written to
``COURSE/reports/ASSIGNMENT/`` by default: who could not be graded and why, who is flagged for
review, how the scores spread per notebook, how each hidden check behaved (item analysis), which
pairs of students handed in much the same code, and one row per student with a link to their
feedback. It only reads: the gradebook, ``class-grade.json``, and the notebooks under
``autograded/``, ``submitted/``, ``release/`` and ``feedback/``. It never changes a grade.

Modules: :mod:`.collect` (reading), :mod:`.stats` (scores and item analysis), :mod:`.similarity`
(copydetect's winnowing fingerprints, by inverted index) with :mod:`.tokens` (its code filter, fast,
and a hash that is the same in every run), :mod:`.plots` (matplotlib), :mod:`.page` (the HTML),
:mod:`.export` (CSV and JSON). docs/report.md says what each section means.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from autograder.classreport.collect import ClassData, collect
from autograder.classreport.similarity import SHOW_ABOVE, Similarity, similar_pairs
from autograder.classreport.stats import CellStats, ItemStats, NotebookStats, cell_stats, item_stats, notebook_stats

HTML_NAME = "report.html"


@dataclass
class Report:
    data: ClassData
    out: Path
    notebook_stats: list[NotebookStats]
    items: dict[str, list[ItemStats]]
    cells: dict[str, list[CellStats]]
    similarity: Similarity
    show_above: float = SHOW_ABOVE
    generated: str = ""
    seconds: dict = field(default_factory=dict)
    images: dict = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


def default_out(course: Path, assignment: str) -> Path:
    from autograder.coursedir import reports_folder

    return reports_folder(course, assignment)


def analyse(data: ClassData, out: Path, jobs: int, seconds: dict) -> Report:
    t = time.perf_counter()
    nb_stats = [notebook_stats(data, info) for info in data.notebooks]
    items = {info.name: item_stats(data, info) for info in data.notebooks}
    cells = {info.name: cell_stats(data, info) for info in data.notebooks}
    seconds["stats"] = time.perf_counter() - t
    t = time.perf_counter()
    sim = similar_pairs(data)
    seconds["similarity"] = time.perf_counter() - t
    return Report(data, out, nb_stats, items, cells, sim, generated=datetime.now().astimezone().isoformat(
        timespec="seconds"), seconds=seconds)


def build_report(course: Path, assignment: str, out: Path | None = None, jobs: int | None = None,
                 db_url: str | None = None) -> Path:
    """Write the report; returns the path of its HTML page."""
    from autograder.classreport import export, page

    course = Path(course).resolve()
    out = Path(out).resolve() if out else default_out(course, assignment)
    jobs = jobs if jobs is not None else min(2, os.cpu_count() or 1)
    seconds: dict = {}
    cpu = sum(os.times()[:4])  # this process's and its finished workers' CPU time
    t = time.perf_counter()
    data = collect(course, assignment, jobs=jobs, db_url=db_url)
    seconds["read"] = time.perf_counter() - t
    report = analyse(data, out, jobs, seconds)
    t = time.perf_counter()
    report.images = page.images(report)
    seconds["plots"] = time.perf_counter() - t
    out.mkdir(parents=True, exist_ok=True)
    report.files = [*export.CSV_FILES, "report.json"]
    seconds["cpu"] = sum(os.times()[:4]) - cpu
    export.write_csv(report, out)
    export.write_json(report, out)
    html = out / HTML_NAME
    html.write_text(page.render(report), encoding="utf-8")
    return html


def main(args) -> int:
    started = time.perf_counter()
    try:
        html = build_report(Path(args.course), args.assignment, Path(args.out) if args.out else None,
                            jobs=getattr(args, "jobs", None))
    except (FileNotFoundError, LookupError, ValueError) as exc:  # MissingEntry is a ValueError
        print(f"autograder report: {exc}", file=sys.stderr)
        return 2
    print(f"report: {html}")
    print(f"(written in {time.perf_counter() - started:.1f} s; its CSV and JSON are beside it)")
    return 0
