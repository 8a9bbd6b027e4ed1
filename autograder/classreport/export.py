"""The report's data as CSV (one file per table) and as one JSON document."""
from __future__ import annotations

import csv
import json
from pathlib import Path

CSV_FILES = ("students.csv", "notebooks.csv", "items.csv", "pairs.csv")


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def student_rows(report) -> tuple[list[str], list[list]]:
    from autograder.classreport.collect import reason_of, review_lines

    names = [i.name for i in report.data.notebooks]
    header = ["student", "name", "status", "reason", *names, "total", "max_score", "seconds_late", "needs_review",
              "review", "similar_to"]
    rows = []
    for s in report.data.students:
        graded = s.status == "graded"
        scores = [s.notebooks[n].score if graded and n in s.notebooks and s.notebooks[n].submitted else ""
                  for n in names]
        similar = [f"{p.b if p.a == s.id else p.a}:{p.score:.2f}" for p in report.similarity.listed_with(s.id)]
        rows.append([s.id, s.name, s.status, reason_of(s) if s.status == "not graded" else "", *scores,
                     s.score if graded else "", report.data.max_score, round(s.seconds_late),
                     int(s.needs_review), " | ".join(review_lines(s)) if s.needs_review else "", " ".join(similar)])
    return header, rows


def item_rows(report) -> tuple[list[str], list[list]]:
    header = ["notebook", "cell", "check", "name", "points", "results", "passed", "pass_rate", "correlation",
              "suspicious", "failure_1", "count_1", "failure_2", "count_2", "failure_3", "count_3"]
    rows = []
    for items in report.items.values():
        for it in items:
            fails = [x for f in it.failures for x in (f.message, f.count)]
            fails += [""] * (6 - len(fails))
            rows.append([it.notebook, it.cell, it.check, it.name, it.points, it.results, it.passed,
                         "" if it.pass_rate is None else round(it.pass_rate, 4),
                         "" if it.correlation is None else round(it.correlation, 4), int(it.suspicious), *fails])
    return header, rows


def write_csv(report, out: Path) -> None:
    _write_csv(out / "students.csv", *student_rows(report))
    nb_dicts = [st.to_dict() for st in report.notebook_stats]
    header = list(nb_dicts[0]) if nb_dicts else ["notebook"]
    _write_csv(out / "notebooks.csv", header, [[d[k] for k in header] for d in nb_dicts])
    _write_csv(out / "items.csv", *item_rows(report))
    _write_csv(out / "pairs.csv", ["a", "b", "score", "similarity_a", "similarity_b", "overlap", "notebooks"],
               [[p.a, p.b, round(p.score, 4), round(p.similarity[0], 4), round(p.similarity[1], 4), p.overlap,
                 " ".join(f"{m.notebook}/{m.kind}" for m in p.matches)] for p in report.similarity.pairs])


def to_json(report) -> dict:
    from autograder.classreport.collect import reason_of, review_lines

    sim = report.similarity
    students = []
    for s in report.data.students:
        students.append({
            "student": s.id, "name": s.name, "status": s.status, "submitted": s.submitted,
            "reason": reason_of(s) if s.status == "not graded" else "",
            "total": s.score if s.status == "graded" else None,
            "seconds_late": s.seconds_late, "needs_review": s.needs_review,
            "review": review_lines(s) if s.needs_review else [],
            "notebooks": {n: {"submitted": sub.submitted, "score": sub.score, "auto_score": sub.auto_score,
                              "manual_pending": sub.manual_pending, "flags": sub.flags,
                              "not_graded": [c.grade_id for c in sub.not_graded],
                              "feedback": str(sub.feedback) if sub.feedback else None}
                          for n, sub in s.notebooks.items()}})
    return {
        "course": str(report.data.course), "assignment": report.data.assignment, "generated": report.generated,
        "duedate": report.data.duedate, "max_score": report.data.max_score, "warnings": report.data.warnings,
        "notebooks": [st.to_dict() for st in report.notebook_stats],
        "items": [it.to_dict() for items in report.items.values() for it in items],
        "cells": [c.__dict__ for cells in report.cells.values() for c in cells],
        "students": students,
        "similarity": {"documents": sim.documents, "compared": sim.candidates, "possible": sim.possible,
                       "common_fingerprints": sim.common, "show_above": report.show_above,
                       "listed": [p.to_dict() for p in sim.listed],
                       "pairs": [p.to_dict() for p in sim.pairs]},
        "seconds": report.seconds,
    }


def write_json(report, out: Path) -> None:
    (out / "report.json").write_text(json.dumps(to_json(report), indent=1, default=str), encoding="utf-8")
