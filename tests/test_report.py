"""The class report (``autograder report``): a class of 14 graded for real, then the report read back.

The class (tests/report_class.py) hands in part 2 (linear layers): two near-copies, five distinct
correct solutions, mistakes, an untouched release, a flagged submission, one that cannot be graded,
a late one and a student who never hands in. ``autograder class-grade -j 2`` grades it through
nbgrader and ends by writing the report; the tests run ``autograder report`` again into their own
folder and check the page, the CSV, the JSON and the gradebook against each other. The page is
opened in Debian's chromium through Playwright; its screenshot is kept in ``artifacts/report/``.

Nothing here skips: copydetect, matplotlib and Playwright are the kit's dependencies
(pyproject's ``grade`` and ``dev`` extras), imported at the top so a missing one fails collection.
"""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import copydetect  # noqa: F401 (a missing dependency must fail, not skip)
import matplotlib  # noqa: F401
import pytest
from playwright.sync_api import sync_playwright

from tests import report_class as rc
from tests.kit import REPO

ARTIFACTS = REPO / "artifacts" / "report"
ASSIGNMENT = "autoencoders"
NOTEBOOK = rc.NOTEBOOK.removesuffix(".ipynb")


def CLASS(test):  # noqa: N802 (a marker)
    """The tests sharing the graded class: one xdist group; building it (grading included) may take most of
    the first test's time limit on a busy 2-core machine."""
    return pytest.mark.xdist_group("report_class")(pytest.mark.timeout(3600)(test))


# ---------------------------------------------------------------- fast: the parts, on small inputs
def test_the_regex_tokenizer_agrees_with_copydetects_pygments_filter():
    """filter_python stands in for copydetect's filter_code: on the kit's own code they agree, but for some
    strings (f-strings, escapes) that pygments splits into more string tokens."""
    import difflib
    import re

    from copydetect.utils import filter_code

    from autograder.classreport.tokens import filter_python
    from tests.kit import notebooks, read

    sources = [c.source for path in notebooks() for c in read(path).cells if c.cell_type == "code"]
    plain = [s for s in sources if not re.search(r"\b[fF][rR]?['\"]|\\", s)]
    assert len(plain) > 50
    same = sum(filter_code(s, "x.py", "python")[0] == filter_python(s)[0] for s in plain)
    assert same >= 0.9 * len(plain), f"{same} of {len(plain)} cells without f-strings filter alike"
    ratios = [difflib.SequenceMatcher(None, filter_code(s, "x.py", "python")[0], filter_python(s)[0]).ratio()
              for s in sources]
    assert sum(ratios) / len(ratios) > 0.95
    code = ("import torch\nclass Net(torch.nn.Module):\n"
            "    def forward(self, x):\n        return x.float().sum()  # hi\n")
    assert filter_python(code)[0] == filter_code(code, "x.py", "python")[0] == \
        "importtorchclassO(V.V.V):defF(self,V):returnV.V().V()"


def test_fingerprints_are_the_same_in_every_process():
    """Python's hash is salted per process; the report's k-gram hashes are not (the same report every run)."""
    from autograder.classreport.tokens import kgram_hashes

    code = ("from autograder.classreport.tokens import kgram_hashes\n"
            "print(kgram_hashes('x' * 10 + 'abc' * 20, 25).sum())")
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
            for _ in range(2)}
    assert runs == {str(kgram_hashes("x" * 10 + "abc" * 20, 25).sum())}
    assert len(kgram_hashes("a" * 24, 25)) == 0 and len(set(kgram_hashes("abcdefghij" * 5, 25).tolist())) == 10


def test_similarity_finds_a_renamed_copy_by_index_not_by_comparing_every_pair():
    from autograder.classreport import similarity as S
    from autograder.classreport.collect import ClassData, NotebookInfo, Student, Submission

    bodies = {f"s{i:02d}": f"def f{i}(a):\n    return a * {i} + {i * i} - a ** {i % 5}\n" for i in range(40)}
    bodies["s07"] = rc.BO["compose_linear_sol"]
    bodies["s31"] = rc.CAL["compose_linear_sol"]
    students = []
    for sid, code in bodies.items():
        sub = Submission("nb", submitted=True, editable=[("answer", "code", code)])
        students.append(Student(sid, submitted=True, notebooks={"nb": sub}))
    data = ClassData(Path("."), ASSIGNMENT, [NotebookInfo("nb")], students)
    result = S.similar_pairs(data)
    assert [(p.a, p.b) for p in result.top()] == [("s07", "s31")]
    assert result.candidates < result.possible / 10  # 780 possible pairs, a handful compared
    assert "<mark>" in result.top()[0].matches[0].left


def test_item_statistics():
    from autograder.classreport.stats import _failures, pearson

    assert pearson([1, 0, 1, 0], [9, 1, 8, 2]) > 0.9
    assert pearson([1, 1, 1], [3, 2, 1]) is None
    top = _failures(["found 0.31 expected 0", "found 0.5 expected 0", "shape (2, 3)", "found 7 expected 0"])
    assert [f.count for f in top] == [3, 1] and top[0].message.startswith("found")


# ---------------------------------------------------------------- the class, graded for real
# Session scope: xdist may run other modules' tests between this group's, and a module fixture would be built again.
@pytest.fixture(scope="session")
def graded_class(tmp_path_factory, mnist_available):
    """The class built, graded by class-grade (which writes the report), and the report written again by
    `autograder report --out`."""
    root = tmp_path_factory.mktemp("report-class")
    course, proc = rc.build_class(root)
    out = root / "report"
    run = subprocess.run([sys.executable, "-m", "autograder.cli", "report", str(course), ASSIGNMENT, "--out",
                          str(out)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    return course, proc, out, run


def _json(out: Path) -> dict:
    return json.loads((out / "report.json").read_text())


def _gradebook(course: Path) -> dict:
    """{(student, cell): score} of the check cells, from nbgrader's gradebook."""
    from nbgrader.api import Gradebook

    grades = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id="") as gb:
        for student in gb.students:
            try:
                sub = gb.find_submission_notebook(NOTEBOOK, ASSIGNMENT, student.id)
            except Exception:
                continue
            grades.update({(student.id, g.name): float(g.score) for g in sub.grades})
    return grades


@pytest.mark.slow
@CLASS
def test_class_grade_saves_its_outcomes_and_ends_with_the_report(graded_class):
    course, proc, out, run = graded_class
    assert proc.returncode == 1, proc.stdout + proc.stderr  # kim could not be graded
    line = [x for x in proc.stdout.splitlines() + proc.stderr.splitlines() if x.startswith("report: ")]
    assert line and Path(line[-1].removeprefix("report: ").strip()).is_file(), proc.stdout[-2000:]
    outcomes = {o["student"]: o for o in json.loads((course / "reports" / ASSIGNMENT / "class-grade.json").read_text())}
    assert set(outcomes) == set(rc.STUDENTS) and not outcomes[rc.UNGRADABLE]["ok"]
    assert run.stdout.startswith(f"report: {out / 'report.html'}")
    for name in ("report.html", "report.json", "students.csv", "notebooks.csv", "items.csv", "pairs.csv"):
        assert (out / name).is_file(), name


@pytest.mark.slow
@CLASS
def test_the_near_copies_are_the_top_pair_and_distinct_solutions_are_not_listed(graded_class):
    _, _, out, _ = graded_class
    sim = _json(out)["similarity"]
    listed = [(p["a"], p["b"]) for p in sim["listed"]]
    assert listed and listed[0] == rc.COPIES, sim["listed"][:3]
    assert sim["listed"][0]["score"] >= 0.8
    distinct = set(rc.DISTINCT_CORRECT)
    assert not [p for p in listed if set(p) <= distinct], listed
    top_distinct = max((p["score"] for p in sim["pairs"] if {p["a"], p["b"]} <= distinct), default=0)
    assert top_distinct < sim["listed"][0]["score"] / 2
    with open(out / "pairs.csv") as f:
        assert next(csv.DictReader(f))["a"] == rc.COPIES[0]


@pytest.mark.slow
@CLASS
def test_flagged_late_ungradable_and_missing_students(graded_class):
    _, _, out, _ = graded_class
    students = {s["student"]: s for s in _json(out)["students"]}
    assert len(students) == len(rc.STUDENTS) + len(rc.NOT_SUBMITTED)
    flagged = students[rc.FLAGGED]
    assert flagged["needs_review"] and any("environment" in line for line in flagged["review"]), flagged
    assert [s for s, row in students.items() if row["needs_review"]] == [rc.FLAGGED]
    ungradable = students[rc.UNGRADABLE]
    assert ungradable["status"] == "not graded" and ungradable["reason"], ungradable
    assert students[rc.LATE]["seconds_late"] > 0 and students["ada"]["seconds_late"] == 0
    assert students["max"]["status"] == "not submitted" and students["max"]["total"] is None
    assert {s for s, row in students.items() if row["status"] == "graded"} == \
        set(rc.STUDENTS) - {rc.UNGRADABLE}
    with open(out / "students.csv") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert set(rows) == set(students) and rows[rc.UNGRADABLE]["status"] == "not graded"


@pytest.mark.slow
@CLASS
def test_item_analysis_agrees_with_the_gradebook(graded_class):
    course, _, out, _ = graded_class
    report, grades = _json(out), _gradebook(course)
    graded = [s["student"] for s in report["students"] if s["status"] == "graded"]
    items = [it for it in report["items"] if it["notebook"] == NOTEBOOK]
    rates = [it["pass_rate"] for it in items]
    assert items and rates == sorted(rates), "the least passed check first"
    for cell in report["cells"]:
        scores = [grades[(s, cell["cell"])] for s in graded]
        assert cell["graded"] == len(scores) == len(graded)
        assert cell["mean"] == pytest.approx(sum(scores) / len(scores))
        assert cell["full"] == sum(abs(x - cell["points"]) < 1e-6 for s, x in zip(graded, scores))
        assert cell["zero"] == sum(x == 0 for x in scores)
        mine = [it for it in items if it["cell"] == cell["cell"]]
        assert all(it["results"] == len(graded) for it in mine)
        # every point in the gradebook is a passed check in the notebooks, and back
        assert sum(it["passed"] * it["points"] for it in mine) == pytest.approx(sum(scores))
    nb = report["notebooks"][0]
    checks = {c["cell"] for c in report["cells"]}
    totals = [sum(grades[(s, c)] for c in checks) for s in graded]
    assert nb["graded"] == len(graded) and nb["not_submitted"] == len(rc.NOT_SUBMITTED)
    assert nb["full"] == sum(abs(t - nb["auto_max"]) < 1e-6 for t in totals)
    assert nb["zero"] == sum(t == 0 for t in totals)
    failing = [it for it in items if it["passed"] < it["results"]]
    assert failing and all(1 <= len(it["failures"]) <= 3 for it in failing)
    assert all(it["correlation"] is None or -1 <= it["correlation"] <= 1 for it in items)


@pytest.mark.slow
@CLASS
def test_the_report_changes_no_score(graded_class):
    course, _, out, _ = graded_class
    before = _gradebook(course)
    run = subprocess.run([sys.executable, "-m", "autograder.cli", "report", str(course), ASSIGNMENT, "--out",
                          str(out.parent / "again")], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert _gradebook(course) == before
    notebook_totals = {}
    for (student, _), score in before.items():
        notebook_totals[student] = notebook_totals.get(student, 0.0) + score
    for row in _json(out)["students"]:
        if row["status"] == "graded":  # the copies too: similarity is shown, never scored
            assert row["notebooks"][NOTEBOOK]["score"] == pytest.approx(notebook_totals[row["student"]])


@pytest.mark.slow
@CLASS
def test_the_page_in_headless_chromium(graded_class):
    from tests.jupyterhub_browser import CHROMIUM, CHROMIUM_ARGS

    _, _, out, _ = graded_class
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    requests = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768})  # a laptop screen
            page.on("request", lambda r: requests.append(r.url))
            page.goto((out / "report.html").as_uri(), wait_until="load")
            page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
            page.screenshot(path=str(ARTIFACTS / "report-top.png"))
            loaded = page.eval_on_selector_all("img.hist", "imgs => imgs.map(i => i.complete && i.naturalWidth)")
            rows = page.locator("#student-table tbody tr").count()
            width = page.evaluate("document.documentElement.scrollWidth")
            page.locator("#student-table th", has_text="total").click()  # sorting works and keeps every row
            sorted_rows = page.locator("#student-table tbody tr").count()
            top_pair = page.locator("table.pairs tbody tr").first.inner_text()
        finally:
            browser.close()
    assert len(loaded) == 2 and all(w and w > 100 for w in loaded), loaded  # the notebook's and the total's
    assert rows == sorted_rows == len(rc.STUDENTS) + len(rc.NOT_SUBMITTED)
    assert width <= 1366, "the page scrolls sideways on a laptop screen"
    assert rc.COPIES[0] in top_pair and rc.COPIES[1] in top_pair
    assert all(u.startswith(("file:", "data:")) for u in requests), [u for u in requests if "://" in u][:5]
