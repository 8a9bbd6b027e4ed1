"""The class report's numbers: how scores spread per notebook, and how each hidden check behaved.

Item analysis, as in classical test theory, per hidden check (a pytest check inside a check cell):

* **pass rate**: the share of students with a result for the check who passed it;
* **failure messages**: the three most common, grouped with their numbers masked (a message that
  differs only in a measured value counts as one), each with a real example and its count;
* **correlation with the notebook**: Pearson's r between passing the check (0/1) and the rest of
  the notebook's autograded score (the total without this check's own points: the corrected
  item-total correlation). Good students pass a healthy check more often than weak ones: r is
  clearly positive. r near zero or negative on a check many fail means passing it has little to do
  with mastering the rest: a misleading hint, a check that tests something unintended, or a
  broken check.
"""
from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field

from autograder.classreport.collect import ClassData, NotebookInfo

#: r below this on a check that enough students fail is marked for a look
LOW_CORRELATION = 0.2
MIN_STUDENTS_FOR_R = 5
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


@dataclass
class NotebookStats:
    notebook: str
    max_score: float  # the gradebook's maximum (checks and written answers)
    auto_max: float  # the hidden checks' points
    enrolled: int
    submitted: int
    graded: int  # submitted, with check results, none held back for review
    held: int  # submitted, but a cell was not graded for suspected tampering: left out until reviewed
    full: int  # full marks on the hidden checks
    zero: int  # no point on the hidden checks
    not_submitted: int
    manual_pending: int  # submissions whose written answers still wait for a person
    mean: float | None
    median: float | None
    auto_scores: list[float] = field(default_factory=list)

    def share(self, count: int) -> float:
        return count / self.enrolled if self.enrolled else 0.0

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("auto_scores")
        data.update(full_share=self.share(self.full), zero_share=self.share(self.zero),
                    not_submitted_share=self.share(self.not_submitted))
        return data


@dataclass
class Failure:
    message: str  # one real message of the group
    count: int


@dataclass
class ItemStats:
    notebook: str
    cell: str
    check: str  # pytest's name: test_values[relu]
    name: str  # what it checks (docstring)
    points: float
    results: int  # students with a result for this check
    passed: int
    failures: list[Failure] = field(default_factory=list)
    correlation: float | None = None

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.results if self.results else None

    @property
    def suspicious(self) -> bool:
        """Many fail it, yet failing it hardly goes with a weaker notebook."""
        rate = self.pass_rate
        return (rate is not None and rate < 0.9 and self.correlation is not None
                and self.correlation < LOW_CORRELATION)

    def to_dict(self) -> dict:
        data = asdict(self)
        data.update(pass_rate=self.pass_rate, suspicious=self.suspicious)
        return data


@dataclass
class CellStats:
    """One check cell, from the gradebook: what nbgrader will export."""
    notebook: str
    cell: str
    points: float
    graded: int  # submissions with a grade for it
    mean: float | None
    full: int
    zero: int
    not_graded: int  # the executor could not grade it (not run, tampered, unverified)


def mean(xs) -> float | None:
    xs = list(xs)
    return sum(xs) / len(xs) if xs else None


def median(xs) -> float | None:
    xs = sorted(xs)
    if not xs:
        return None
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2


def pearson(xs: list[float], ys: list[float]) -> float | None:
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx <= 1e-12 or syy <= 1e-12:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / math.sqrt(sxx * syy)


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(1.0, abs(b))


def notebook_stats(data: ClassData, info: NotebookInfo) -> NotebookStats:
    subs = [s.notebooks.get(info.name) for s in data.students]
    handed = [s for s in subs if s is not None and s.submitted]
    held = [s for s in handed if s.suspect]
    graded = [s for s in handed if s.cells and s.auto_score is not None and not s.suspect]
    scores = [s.auto_score for s in graded]
    return NotebookStats(
        notebook=info.name, max_score=info.max_score, auto_max=info.auto_max, enrolled=len(data.students),
        submitted=len(handed), graded=len(graded), held=len(held),
        full=sum(_close(x, info.auto_max) for x in scores) if info.auto_max else 0,
        zero=sum(_close(x, 0.0) for x in scores), not_submitted=len(data.students) - len(handed),
        manual_pending=sum(s.manual_pending for s in handed), mean=mean(scores), median=median(scores),
        auto_scores=scores)


def _pattern(message: str) -> str:
    first = message.strip().splitlines()[0] if message.strip() else "(no message)"
    return _NUMBER.sub("#", first)[:300]


def _failures(messages: list[str], top: int = 3) -> list[Failure]:
    groups: dict[str, Counter] = defaultdict(Counter)
    for message in messages:
        groups[_pattern(message)][message.strip() or "(no message)"] += 1
    ranked = sorted(groups.values(), key=lambda c: -sum(c.values()))[:top]
    return [Failure(counter.most_common(1)[0][0], sum(counter.values())) for counter in ranked]


def item_stats(data: ClassData, info: NotebookInfo) -> list[ItemStats]:
    """Every hidden check of one notebook, the least passed first."""
    outcomes: dict[tuple, list[tuple[bool, float, float, str]]] = defaultdict(list)
    meta: dict[tuple, tuple[str, float]] = {}
    for student in data.students:
        sub = student.notebooks.get(info.name)
        if sub is None or not sub.cells or sub.auto_score is None:
            continue
        total = sum(c.score for c in sub.cells if c.verified)
        for cell in sub.cells:
            if not cell.verified:
                continue
            for check in cell.checks:
                key = (cell.grade_id, check.check or check.name)
                meta.setdefault(key, (check.name, check.max_points))
                outcomes[key].append((check.passed, total - check.points, check.points, check.message))
    items = []
    for (cell, check), rows in outcomes.items():
        name, points = meta[(cell, check)]
        passed = [r[0] for r in rows]
        r = pearson([float(p) for p in passed], [r[1] for r in rows]) if len(rows) >= MIN_STUDENTS_FOR_R else None
        items.append(ItemStats(info.name, cell, check, name, points, len(rows), sum(passed),
                               _failures([m for ok, _, _, m in rows if not ok]), r))
    order = {c: i for i, c in enumerate(info.checks)}
    items.sort(key=lambda it: (it.pass_rate if it.pass_rate is not None else 2.0, order.get(it.cell, 99), it.check))
    return items


def cell_stats(data: ClassData, info: NotebookInfo) -> list[CellStats]:
    """Per check cell, from the gradebook's grades of the graded submissions."""
    subs = [sub for s in data.students if (sub := s.notebooks.get(info.name)) is not None and sub.cells]
    out = []
    for cell, points in info.checks.items():
        scores = [sub.grades[cell] for sub in subs if cell in sub.grades]
        not_graded = sum(1 for sub in subs for c in sub.cells if c.grade_id == cell and not c.verified)
        out.append(CellStats(info.name, cell, points, len(scores), mean(scores),
                             sum(_close(x, points) for x in scores), sum(_close(x, 0.0) for x in scores), not_graded))
    return out
