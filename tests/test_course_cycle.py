"""The README's main job: the whole nbgrader cycle with sample students, on a real gradebook."""
import csv

import pytest

from autograder.course import ASSIGNMENT, _gradebook_rows, run_course_cycle
from tests.kit import SOLUTION_NOTEBOOKS, check_cells, plain_lines, read, rubrics

NOTEBOOK = "01_pca_encoder.ipynb"  # one notebook keeps this test to about a minute; `make course` runs them all
# A course configured its own way: every folder the kit reads renamed, the gradebook outside the course.
RENAMED = {"submitted_directory": "handed_in", "autograded_directory": "marked", "feedback_directory": "returned",
           "release_directory": "given_out"}


# Session scope: xdist may run other modules' tests between this group's, and a module fixture would be built again.
@pytest.fixture(scope="session")
def course(tmp_path_factory, mnist_available):
    root = tmp_path_factory.mktemp("cycle")
    assert run_course_cycle(keep=root, quiet=True, only=[NOTEBOOK]) == 0
    return root


@pytest.fixture(scope="session")
def renamed_course(tmp_path_factory, mnist_available):
    """The same cycle on a course whose folders and gradebook are where its nbgrader_config.py says, graded by
    ``autograder class-grade`` (which ends with the class report)."""
    root = tmp_path_factory.mktemp("cycle-renamed")
    gradebook = tmp_path_factory.mktemp("records") / "grades.sqlite"
    settings = dict(RENAMED, db_url=f"sqlite:///{gradebook}")
    assert run_course_cycle(keep=root, quiet=True, only=[NOTEBOOK], settings=settings, class_grade=True) == 0
    return root / "course", gradebook


@pytest.mark.slow
@pytest.mark.xdist_group("course_cycle")
def test_grades_match_what_each_sample_student_did(course):
    rows = {(s, n): (score, mx) for s, n, score, mx in _gradebook_rows(course / "course")}
    full = sum(check_cells(read(SOLUTION_NOTEBOOKS / NOTEBOOK)).values())
    nb = NOTEBOOK.removesuffix(".ipynb")
    assert rows[("ada", nb)] == (full, full + 3)  # + 3 points of "Think!" answers left to a person
    assert 0 < rows[("ben", nb)][0] < full
    assert rows[("cy", nb)][0] == 0


@pytest.mark.slow
@pytest.mark.xdist_group("course_cycle")
def test_feedback_and_csv_are_written(course):
    for student in ("ada", "ben", "cy"):
        html = course / "course" / "feedback" / student / ASSIGNMENT / NOTEBOOK.replace(".ipynb", ".html")
        assert html.is_file(), html
    with open(course / "grades.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["student_id"] for r in rows} == {"ada", "ben", "cy"}


@pytest.mark.slow
@pytest.mark.xdist_group("course_cycle")
def test_feedback_shows_messages_not_hidden_code(course):
    html = (course / "course" / "feedback" / "ben" / ASSIGNMENT / NOTEBOOK.replace(".ipynb", ".html")).read_text()
    assert "still a blank" in html and "add the mean back" in html
    for secret in ("@points(", "def test_", "autograder/checks", "ref.pca_fit", "site-packages/autograder"):
        assert secret not in html, secret


@pytest.mark.slow
@pytest.mark.xdist_group("course_cycle")
def test_no_sample_student_is_flagged_for_review(course):
    """All three are honest (ben's mistakes are real mistakes): nothing the kernel's own libraries do flags them."""
    from autograder.review import review_folder

    for student in ("ada", "ben", "cy"):
        reviews = review_folder(course / "course" / "autograded" / student / ASSIGNMENT)
        assert reviews and not any(r.needs_review for r in reviews), (student, [r.lines() for r in reviews])


@pytest.mark.slow
@pytest.mark.xdist_group("course_cycle")
def test_a_course_configured_its_own_way_gets_the_same_grades(course, renamed_course):
    renamed, gradebook = renamed_course
    rows = _gradebook_rows(renamed)
    assert gradebook.is_file() and rows == _gradebook_rows(course / "course")
    for default in ("submitted", "autograded", "feedback", "release", "gradebook.db"):
        assert not (renamed / default).exists(), f"the kit wrote {default} although the course renamed it"
    html = NOTEBOOK.replace(".ipynb", ".html")
    for student in ("ada", "ben", "cy"):
        assert (renamed / "handed_in" / student / ASSIGNMENT / NOTEBOOK).is_file()
        assert (renamed / "marked" / student / ASSIGNMENT / NOTEBOOK).is_file()
        assert (renamed / "returned" / student / ASSIGNMENT / html).is_file()
    with open(renamed / "reports" / ASSIGNMENT / "students.csv") as f:
        report = {r["student"]: r for r in csv.DictReader(f)}
    nb = NOTEBOOK.removesuffix(".ipynb")
    for student, notebook, score, _ in rows:
        assert report[student]["status"] == "graded" and float(report[student][notebook]) == score, report[student]
    assert float(report["ada"][nb]) == sum(check_cells(read(SOLUTION_NOTEBOOKS / NOTEBOOK)).values())


@pytest.mark.slow
@pytest.mark.xdist_group("course_cycle")
def test_the_rubric_is_for_the_ta_alone(course):
    """Under each written answer of an autograded notebook (what formgrader shows the TA), the rubric the
    solutions hold for it; nowhere in the release, nor in any student's feedback."""
    from autograder.cells import grade_id, is_manual_cell, is_rubric_cell

    found = rubrics(SOLUTION_NOTEBOOKS / NOTEBOOK)
    phrases = [line for text in found.values() for line in plain_lines(text)]
    root = course / "course"
    for path in (root / "release" / ASSIGNMENT).rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert not [p for p in phrases if p in text], path
    for student in ("ada", "ben", "cy"):
        cells = read(root / "autograded" / student / ASSIGNMENT / NOTEBOOK).cells
        shown = {grade_id(cells[i]): cells[i + 1].source for i in range(len(cells) - 1)
                 if is_manual_cell(cells[i]) and is_rubric_cell(cells[i + 1])}
        assert set(shown) == set(found) and all(found[g].strip() in shown[g] for g in found), (student, shown)
        assert sum(map(is_rubric_cell, cells)) == len(found)
        html = (root / "feedback" / student / ASSIGNMENT / NOTEBOOK.replace(".ipynb", ".html")).read_text()
        assert "Rubric for" not in html and not [p for p in phrases if p in html], student
