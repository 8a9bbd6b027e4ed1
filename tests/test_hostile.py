"""Whatever students hand in, each graded cell gets the right points and a readable message,
through `autograder grade` and through `nbgrader autograde` (via class-grade) alike."""
import json
import os
import subprocess
import sys

import pytest

from tests.hostile.corpus import CASES
from tests.hostile.forgery import STEAL
from tests.kit import SOLUTION_NOTEBOOKS, check_cells, read

# A cell's limit, in seconds. Each runaway cell spins for this long; an honest cell needs a few seconds alone, and
# 20 or more in class-grade -j 2 beside another test worker on 2 cores.
CELL_TIMEOUT, CLASS_CELL_TIMEOUT = "20", "40"


def _env(cell_timeout: str = CELL_TIMEOUT):
    return {**os.environ, "AUTOGRADER_CELL_TIMEOUT": cell_timeout}


def _expected(case):
    """(cell, wanted points or (low, high), words, max points); "any" cells are left out."""
    full = check_cells(read(SOLUTION_NOTEBOOKS / case.notebook))
    default = ("full", None) if case.notebook == "01_pca_encoder.ipynb" else ("any", None)
    for cell, points in full.items():
        want, words = case.expect.get(cell, default)
        if want == "any":
            continue
        want = {"full": points, "lost": (0, points - 0.001)}.get(want, want) if isinstance(want, str) else want
        yield cell, want, words, points


def _review_text(result) -> str:
    """What `autograder grade --json` gives a person to review: audit flags and cells not graded."""
    lines = [f"{f['reason']}: {f['code']}" for f in result["flags"]]
    lines += [c.get("note", "") for c in result["cells"] if not c["verified"]]
    lines += [check["review"] for c in result["cells"] for check in c["checks"] if check.get("review")]
    return "\n".join(lines)


def _assert_flagged(case, text):
    for words in case.flags:
        assert words in text, f"{case.name}: {words!r} not among the review flags:\n{text}"


def _assert_cell(case, cell, got, want, words, message_text):
    if isinstance(want, tuple):
        assert want[0] <= got <= want[1], f"{case.name}/{cell}: {got} not in {want}\n{message_text}"
    else:
        assert got == want, f"{case.name}/{cell}: got {got}, want {want}\n{message_text}"
    if words:
        assert words in message_text, f"{case.name}/{cell}: {words!r} not in\n{message_text}"


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_autograder_grade_scores_each_hostile_case(case, tmp_path, mnist_available):
    result = _grade(case, tmp_path)
    cells = {c["grade_id"]: c for c in result["cells"]}
    for cell, want, words, _ in _expected(case):
        got = cells[cell]
        text = got.get("note", "") + "\n" + "\n".join(c["message"] for c in got["checks"])
        _assert_cell(case, cell, got["score"], want, words, text)
    if case.flags:
        assert result["needs_review"], case.name
        _assert_flagged(case, _review_text(result))
    if case.honest:
        assert not result["needs_review"], f"{case.name}: an honest notebook was flagged:\n{_review_text(result)}"


def _grade(case, tmp_path) -> dict:
    path = case.write(tmp_path / case.name)
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "grade", str(path), "--json"],
                          capture_output=True, text=True, env=_env(), timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


@pytest.mark.slow
def test_there_is_no_key_to_steal_and_the_attempt_is_flagged(tmp_path, mnist_available):
    """docs/ta-guide.md, "Threat model": the kernel holds no key; introspecting it finds nothing, and is flagged."""
    result = _grade(STEAL, tmp_path)
    assert result["score"] == 0 and result["needs_review"]
    _assert_flagged(STEAL, _review_text(result))


# Session scope: xdist may run other modules' tests between this group's, and a module fixture would be built again.
@pytest.fixture(scope="session")
def graded_class(tmp_path_factory, mnist_available):
    """One course, one student per hostile case, graded by `autograder class-grade -j 2`."""
    from autograder.course import ASSIGNMENT, make_course, make_student, nbgrader

    root = tmp_path_factory.mktemp("hostile-class")
    notebooks = sorted({c.notebook for c in CASES})
    course = make_course(root / "course", only=notebooks)
    nbgrader("generate_assignment", ASSIGNMENT, "--force", cwd=course)
    nbgrader("release_assignment", ASSIGNMENT, "--force", cwd=course)
    for case in CASES + [STEAL]:
        home = make_student(root / "students" / case.name, case.name, course / "exchange")
        nbgrader("fetch_assignment", ASSIGNMENT, cwd=home)
        for other in (home / ASSIGNMENT).glob("*.ipynb"):  # each student hands in only the case's notebook
            if other.name != case.notebook:
                other.unlink()
        case.write(home / ASSIGNMENT)
        nbgrader("submit", ASSIGNMENT, cwd=home)
    nbgrader("collect", ASSIGNMENT, cwd=course)
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "class-grade", str(course), ASSIGNMENT, "-j", "2"],
                          capture_output=True, text=True, env=_env(CLASS_CELL_TIMEOUT), timeout=1800)
    nbgrader("generate_feedback", ASSIGNMENT, "--force", cwd=course)
    return course, proc


@pytest.mark.slow
@pytest.mark.xdist_group("hostile_class")
def test_class_grade_grades_every_hostile_student(graded_class):
    course, proc = graded_class
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(CASES) + 1} graded, 0 failed" in proc.stdout
    table = proc.stdout.split(" need review", 1)[0]  # the table; the review list follows it
    rows = {line.split()[0]: line for line in table.splitlines() if line.split()}
    for case in CASES + [STEAL]:
        if case.flags:
            assert "NEEDS REVIEW" in rows[case.name], rows[case.name]
            review = proc.stdout.split(f"\n{case.name} needs review", 1)[1].split("\n\n", 1)[0]
            _assert_flagged(case, review)
        if case.honest:
            assert "NEEDS REVIEW" not in rows[case.name], rows[case.name]


def _what_feedback_says(feedback: str) -> str:
    """The feedback page's lines about failed checks and cells not graded (shown when an assertion fails)."""
    import html
    import re

    text = html.unescape(re.sub(r"<[^>]+>", "", feedback))
    keep = ("FAIL", "not graded", "limit", "died", "Error")
    return "\n".join(line.strip() for line in text.splitlines() if any(k in line for k in keep))[-4000:]


@pytest.mark.slow
@pytest.mark.xdist_group("hostile_class")
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_nbgrader_scores_each_hostile_case(graded_class, case):
    from nbgrader.api import Gradebook

    course, _ = graded_class
    notebook = case.notebook.removesuffix(".ipynb")
    feedback = (course / "feedback" / case.name / "autoencoders" / f"{notebook}.html").read_text()
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for cell, want, words, _ in _expected(case):
            grade = gb.find_grade(cell, notebook, "autoencoders", case.name)
            _assert_cell(case, cell, grade.score, want, None, _what_feedback_says(feedback))
    if words := case.expect.get("pca_fit", (None, None))[1]:
        assert words in feedback
    assert "still a blank" in feedback or "PASS" in feedback or "FAIL" in feedback or "not graded" in feedback
    for secret in ("pytest.mark.points(", "def test_fit", "autograder/checks", "ref.pca_fit("):
        assert secret not in feedback, f"{case.name}: {secret!r} leaked into feedback"


GRADER_MARKS = ("autograder.checks", "autograder.reference", "autograder.heldout", "autograder.registry",
                "autograder.executor", "autograder.remote", "test_fit_mean", "ref.pca_fit", "pytest.mark.points")


@pytest.mark.slow
@pytest.mark.xdist_group("hostile_class")
def test_what_the_kernel_holds_shows_nothing_of_the_grader(graded_class):
    """The notebook that prints everything it can find in its kernel: decoded from its feedback, none of the grader."""
    import base64
    import html
    import zlib

    course, _ = graded_class
    feedback = html.unescape((course / "feedback" / "print_what_the_kernel_holds" / "autoencoders" /
                              "01_pca_encoder.html").read_text())
    import re

    blob = re.search(r"DUMP:([A-Za-z0-9+/=]{100,}):END", feedback)[1]  # the output, not the cell's source
    dump = zlib.decompress(base64.b64decode(blob)).decode()
    assert '"modules"' in dump and "torch" in dump  # the dump is real
    for mark in GRADER_MARKS:
        assert mark not in dump, f"{mark!r} was found in the kernel"


def _cell_grades(course, student):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        sub = gb.find_submission("autoencoders", student)
        return {(nb.name, g.name): (g.score, g.max_score) for nb in sub.notebooks for g in nb.grades}


@pytest.mark.slow
@pytest.mark.xdist_group("hostile_class")
def test_class_grade_again_gives_the_same_grades(graded_class):
    """Re-running is idempotent: the same grades, none left over from the first run."""
    course, _ = graded_class
    before = _cell_grades(course, "wrong_answers")
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "class-grade", str(course), "autoencoders",
                           "--student", "wrong_answers", "--json"], capture_output=True, text=True,
                          env=_env(CLASS_CELL_TIMEOUT), timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    outcome = json.loads(proc.stdout)
    assert [o["student"] for o in outcome] == ["wrong_answers"] and outcome[0]["ok"]
    assert _cell_grades(course, "wrong_answers") == before


@pytest.mark.slow
@pytest.mark.xdist_group("hostile_class")
def test_class_grade_refuses_to_grade_where_the_grader_cannot_load(graded_class, tmp_path):
    """No MNIST for the grader: nothing is graded (no student would get a fair score), and the exit code says so."""
    course, _ = graded_class
    before = _cell_grades(course, "wrong_answers")
    env = {**_env(CLASS_CELL_TIMEOUT), "COURSE_DATA_DIR": str(tmp_path / "empty"),
           "COURSE_CACHE_DIR": str(tmp_path / "cache"), "COURSE_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "class-grade", str(course), "autoencoders"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2 and "cannot load the grader or its data" in proc.stderr, proc.stderr
    assert "MNIST" in proc.stderr
    assert _cell_grades(course, "wrong_answers") == before
