"""The course through a real JupyterHub, end to end (deploy/, docs/jupyterhub.md).

A JupyterHub with configurable-http-proxy runs on 127.0.0.1 (free ports) from
``deploy/standup.py``: an instructor, a TA and two students, each with their own password and
server (a local process spawner). Over HTTP, with each user's own API token:

1. every server starts; students have no formgrader and cannot reach the course directory;
   their servers run in the students' environment (the student distribution alone);
2. the instructor adds the students, generates and releases ``autoencoders`` (formgrader API);
3. a student's browser shows the released assignment in the Assignments panel (screenshot);
4. each student lists and fetches it; ada fills in the solutions through the contents API, ben
   leaves it untouched; both submit;
5. the instructor collects and autogrades through the formgrader API; every check cell's score
   matches ``autograder grade --json`` on the very same submitted notebook;
6. the TA's formgrader sees the same grades; in a browser, the TA grades ada's written "Think!" answers in
   formgrader (a score and a comment each), with each answer's rubric shown under it (screenshot); the
   gradebook's total and `autograder report`'s CSV then include the manual points;
7. feedback is generated and released; each student fetches it, and it shows the hidden checks'
   messages, never their code, and ada's shows the TA's score and comment on each written answer, never
   the rubric (screenshot of ada reading it in her browser);
8. ben's browser opens his fetched notebook and runs its first code cell (screenshot);
9. in ben's own kernel, `import autograder` fails and the grader's files cannot be read, and
   neither can the contents API reach them;
10. ada opens her filled-in part 4, runs it all, moves a slider of the latent explorer, and the decoded
   digit changes (screenshots before and after).

Screenshots, the hub's log, grades and feedback land in ``artifacts/jupyterhub/``. Every process
the hub started is stopped at the end, by pid and process group, even when a step fails.

The course holds ``HUB_NOTEBOOKS`` (part 1 by default, to keep the test to a few minutes);
``HUB_TEST_NOTEBOOKS=all`` (or a comma-separated list of file names) runs the cycle on others.
"""
from __future__ import annotations

import ast
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from autograder.checkout import ASSIGNMENT, SOLUTION_NOTEBOOKS
from autograder.tools import command
from tests.jupyterhub_harness import INSTALL_HINT, REPO, CourseHub, missing_dependencies
from tests.kit import plain_lines, read

pytestmark = pytest.mark.slow

ARTIFACTS = REPO / "artifacts" / "jupyterhub"
COURSE_ID = "autoencoders-unit"

# The notebooks the hub cycle puts in the course. Part 1 keeps the test to a few minutes (each
# filled-in notebook is executed twice: by the hub's autograde and by `autograder grade`);
# None means every notebook in solutions/autoencoders/. HUB_TEST_NOTEBOOKS overrides it.
HUB_NOTEBOOKS: tuple[str, ...] | None = ("01_pca_encoder.ipynb",)

INSTRUCTOR, TA, FILLS_IN, UNTOUCHED = "instructor", "ta", "ada", "ben"
STUDENTS = (FILLS_IN, UNTOUCHED)
OWN_ANSWER = "Ada's own answer to {}: the code keeps the coarse shape of a digit and loses its details."
TA_COMMENT = "TA on {}: right idea; say which digits overlap and why."


def course_notebooks() -> list[str]:
    available = sorted(p.name for p in SOLUTION_NOTEBOOKS.glob("*.ipynb"))
    choice = os.environ.get("HUB_TEST_NOTEBOOKS", "").strip()
    if choice == "all":
        wanted = available
    elif choice:
        wanted = [n.strip() for n in choice.split(",") if n.strip()]
    else:
        wanted = list(HUB_NOTEBOOKS) if HUB_NOTEBOOKS else available
    unknown = sorted(set(wanted) - set(available))
    assert not unknown, f"no notebook named {unknown} in {SOLUTION_NOTEBOOKS} (it has {available})"
    assert wanted, f"no notebooks in {SOLUTION_NOTEBOOKS}"
    return wanted


def meta(cell) -> dict:
    return (cell.get("metadata") or {}).get("nbgrader") or {}


def source(cell) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style") and self._skip > 0

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def visible_text(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    return html.unescape("".join(parser.parts))


def disabled_lab_plugins(lab_page: str) -> set[str]:
    """The JupyterLab plugins a server's /lab page disables (its jupyter-config-data)."""
    found = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', lab_page, re.S)
    assert found, "no jupyter-config-data in the /lab page"
    disabled = json.loads(found.group(1)).get("disabledExtensions", [])
    return set(disabled if isinstance(disabled, list) else [k for k, v in disabled.items() if v])


def hidden_code_lines() -> set[str]:
    """Lines of code of the hidden checks and reference answers (no docstrings, comments, strings).

    Lines that also occur in a solutions notebook are left out: a student's own code may read the same.
    """
    notebook_lines = set()
    for nb in SOLUTION_NOTEBOOKS.glob("*.ipynb"):
        for cell in json.loads(nb.read_text())["cells"]:
            notebook_lines.update(line.strip() for line in source(cell).splitlines())
    lines = set()
    for path in sorted((REPO / "autograder" / "checks").glob("*.py")) + sorted(
            (REPO / "autograder" / "reference").glob("*.py")):
        text = path.read_text()
        strings = set()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                strings.update(range(node.lineno, node.end_lineno + 1))
        for number, line in enumerate(text.splitlines(), 1):
            s = line.strip()
            if number in strings or len(s) < 25 or s.startswith(("#", '"', "'", 'f"', "f'", 'r"', "rf'", 'rf"')):
                continue
            if s not in notebook_lines:
                lines.add(s)
    return lines


def autograder_grade(path: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen([*command("autograder"), "grade", "--json", str(path)], cwd=path.parent, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


# ------------------------------------------------------------------------------------------ fixture
@pytest.fixture(scope="module")
def hub():
    missing = missing_dependencies()
    if missing:
        pytest.fail("the JupyterHub test needs " + "; ".join(missing) + f": {INSTALL_HINT}", pytrace=False)
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    root = Path(tempfile.mkdtemp(prefix="course-hub-test-"))
    h = CourseHub(root, instructors=[INSTRUCTOR], graders=[TA], students=list(STUDENTS),
                  notebooks=course_notebooks(), log_dir=ARTIFACTS)
    try:
        h.start()
        yield h
    finally:
        left = h.stop()
        shutil.rmtree(root, ignore_errors=True)
        assert not left, f"processes of the hub still running after stop(): {left}"


# ------------------------------------------------------------------------------------------ the test
@pytest.mark.timeout(1500)
def test_course_cycle_through_jupyterhub(hub: CourseHub):
    timings: dict[str, float] = {}
    started = time.monotonic()
    notebooks = course_notebooks()
    ids = [n[: -len(".ipynb")] for n in notebooks]

    def lap(step: str, t0: float) -> None:
        timings[step] = round(time.monotonic() - t0, 1)
        print(f"[hub test] {step}: {timings[step]:.1f} s", flush=True)

    try:
        _cycle(hub, notebooks, ids, lap)
    finally:
        timings["total (hub already up)"] = round(time.monotonic() - started, 1)
        (ARTIFACTS / "timings.json").write_text(json.dumps(timings, indent=2) + "\n")


def _cycle(hub: CourseHub, notebooks: list[str], ids: list[str], lap) -> None:
    cycle = HubCycle(hub, notebooks, ids, lap)
    for step in (cycle.servers, cycle.generate_and_release, cycle.student_sees_the_release,
                 cycle.students_fetch_edit_and_submit, cycle.collect_and_autograde, cycle.ta_sees_the_same_grades,
                 cycle.ta_grades_the_written_answers, cycle.feedback, cycle.students_in_the_browser,
                 cycle.grader_out_of_reach, cycle.latent_explorer):
        step()


class HubCycle:
    """The numbered steps of the cycle (the module's docstring), one method each, sharing what they found."""

    def __init__(self, hub: CourseHub, notebooks: list[str], ids: list[str], lap):
        self.hub, self.notebooks, self.ids, self.lap = hub, notebooks, ids, lap
        self.settings = hub.settings()
        self.course_rel = Path(self.settings["course_dir"]).name  # the course folder, in the instructor's home
        self.query = {"course_id": COURSE_ID, "assignment_id": ASSIGNMENT}
        self.local = ARTIFACTS / "submitted"  # the exact notebooks each student submitted
        self.browser_env = dict(os.environ, COURSE_HUB_RUN_ID=hub.run_id)

    def servers(self) -> None:
        """1. every server starts; students have no formgrader and cannot reach the course directory."""
        hub, course_rel = self.hub, self.course_rel
        t0 = time.monotonic()
        hub.spawn([INSTRUCTOR, TA, *STUDENTS])
        self.lap("spawn 4 servers", t0)
        self.instructor, self.ta = instructor, ta = hub.user(INSTRUCTOR), hub.user(TA)
        self.students = {name: hub.user(name) for name in STUDENTS}
        assert instructor.json("GET", "formgrader/api/status") == {"status": True}
        assert ta.json("GET", "formgrader/api/status") == {"status": True}
        for name, s in self.students.items():
            s.request("GET", "formgrader/api/status", expect=404)  # the formgrader is off for students
            disabled = disabled_lab_plugins(s.request("GET", "lab").text)
            assert {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment"} <= disabled, \
                f"{name}'s JupyterLab does not disable the formgrader: {sorted(disabled)}"
            names = {item["name"] for item in s.contents("")["content"]}
            assert not names & {"solutions", "autograder", course_rel, "gradebook.db", "nbgrader_config.py"}, \
                f"{name}'s server shows course files: {sorted(names)}"
            for sneaky in ("../", "../" + INSTRUCTOR, f"../{INSTRUCTOR}/{course_rel}/solutions"):
                # "/" encoded, so that neither the client nor the proxy folds the ".." away
                s.request("GET", "api/contents/" + sneaky.replace("/", "%2F"), expect=(400, 403, 404),
                          allow_redirects=False)
        assert not {p for p in disabled_lab_plugins(instructor.request("GET", "lab").text) if "nbgrader" in p}

    def generate_and_release(self) -> None:
        """2. the instructor adds the students, generates and releases the assignment (formgrader API)."""
        instructor = self.instructor
        t0 = time.monotonic()
        for name in STUDENTS:
            instructor.request("PUT", f"formgrader/api/student/{name}",
                               json={"first_name": name.title(), "last_name": "Student", "email": None})
        instructor.nbgrader("POST", f"formgrader/api/assignment/{ASSIGNMENT}/assign", timeout=600)
        instructor.nbgrader("POST", f"formgrader/api/assignment/{ASSIGNMENT}/release")
        release = instructor.contents(f"{self.course_rel}/assignments/{ASSIGNMENT}")
        assert sorted(i["name"] for i in release["content"] if i["name"].endswith(".ipynb")) == self.notebooks
        assignment = instructor.json("GET", f"formgrader/api/assignment/{ASSIGNMENT}")
        assert assignment["releaseable"] and assignment["status"] == "released", assignment
        self.lap("generate and release", t0)

    def student_sees_the_release(self) -> None:
        """3. a student's browser shows the released assignment in the Assignments panel."""
        from tests.jupyterhub_browser import StudentBrowser

        t0 = time.monotonic()
        with StudentBrowser(self.hub.url, ARTIFACTS, self.browser_env) as browser:
            browser.login(UNTOUCHED, self.hub.passwords()[UNTOUCHED])
            nbgrader_menu = browser.menu_items("Nbgrader")
            assert "Assignment List" in nbgrader_menu and not any("Formgrader" in i for i in nbgrader_menu), \
                nbgrader_menu
            panel = browser.open_assignments()
            released = browser.page.locator("#released_assignments_list").inner_text()
            assert ASSIGNMENT in released and COURSE_ID in released, panel
            browser.shot("01_student_sees_released_assignment.png")
        self.hub.watch()
        self.lap("browser: login and Assignments panel", t0)

    def students_fetch_edit_and_submit(self) -> None:
        """4. each student lists and fetches it; ada fills it in, ben leaves it untouched; both submit. Then
        ``autograder grade --json`` starts on the very notebooks they submitted."""
        t0 = time.monotonic()
        for name, s in self.students.items():
            listed = s.nbgrader("GET", "assignments", params={"course_id": COURSE_ID})["value"]
            assert [(a["assignment_id"], a["status"]) for a in listed] == [(ASSIGNMENT, "released")], listed
            fetched = s.nbgrader("POST", "assignments/fetch", json=self.query)["value"]
            entry = next(a for a in fetched if a["status"] == "fetched")
            assert sorted(Path(n["path"]).name for n in entry["notebooks"]) == self.notebooks, entry
            for nb_name in self.notebooks:
                self._edit(name, s, nb_name)
            submitted = s.nbgrader("POST", "assignments/submit", json=self.query)["value"]
            mine = [a for a in submitted if a["status"] == "submitted"]
            assert mine and mine[0]["submissions"], submitted
        self.lap("students list, fetch, edit and submit", t0)
        # `autograder grade --json` on the same notebooks, side by side with the hub's autograde.
        from autograder.limits import grading_env

        grade_env = grading_env(dict(os.environ, COURSE_HUB_RUN_ID=self.hub.run_id))
        self.t_local = time.monotonic()
        self.local_runs = {(name, nb): autograder_grade(self.local / name / nb, grade_env)
                           for name in STUDENTS for nb in self.notebooks}
        self.hub.watch()

    def _edit(self, name: str, s, nb_name: str) -> None:
        path = f"{ASSIGNMENT}/{nb_name}"
        nb = s.read_notebook(path)
        text = json.dumps(nb)
        assert "def test_" not in text and "@points(" not in text, f"{name}'s {nb_name} shows hidden checks"
        blanks = [c for c in nb["cells"] if meta(c).get("solution") and c["cell_type"] == "code"]
        assert blanks and all("raise NotImplementedError" in source(c) for c in blanks), \
            f"{name}'s {nb_name} has solution code in it"
        if name == FILLS_IN:
            answers = {meta(c)["grade_id"]: source(c) if c["cell_type"] == "code" else OWN_ANSWER.format(meta(c)["grade_id"])
                       for c in json.loads((SOLUTION_NOTEBOOKS / nb_name).read_text())["cells"] if meta(c).get("solution")}
            for cell in nb["cells"]:
                if meta(cell).get("solution"):
                    cell["source"] = answers[meta(cell)["grade_id"]]
            s.write_notebook(path, nb)
            again = s.read_notebook(path)
            assert [source(c) for c in again["cells"]] == [source(c) for c in nb["cells"]]
        # Keep the exact notebook this student submits, to grade it with `autograder grade`.
        target = self.local / name / nb_name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(s.read_notebook(path)))

    def collect_and_autograde(self) -> None:
        """5. the instructor collects and autogrades through the formgrader API; every check cell's score matches
        ``autograder grade --json`` on the very same submitted notebook."""
        instructor, hub = self.instructor, self.hub
        t0 = time.monotonic()
        instructor.nbgrader("POST", f"formgrader/api/assignment/{ASSIGNMENT}/collect", timeout=300)
        subs = instructor.json("GET", f"formgrader/api/submissions/{ASSIGNMENT}")
        assert sorted(x["student"] for x in subs if x["submitted"]) == sorted(STUDENTS), subs
        assert all(x["timestamp"] for x in subs), f"a collected submission lost its timestamp: {subs}"
        for name in STUDENTS:
            # The collected copy is the very file graded locally.
            for nb_name in self.notebooks:
                collected = instructor.read_notebook(f"{self.course_rel}/submitted/{name}/{ASSIGNMENT}/{nb_name}")
                mine = json.loads((self.local / name / nb_name).read_text())
                assert [source(c) for c in collected["cells"]] == [source(c) for c in mine["cells"]], \
                    f"the collected {name}/{nb_name} differs from what {name} submitted"
        self.lap("collect", t0)
        t0 = time.monotonic()
        for name in STUDENTS:
            hub.watch()
            instructor.nbgrader("POST", f"formgrader/api/submission/{ASSIGNMENT}/{name}/autograde", timeout=1200)
        self.lap("autograde through the formgrader", t0)
        hub_scores = self._hub_scores()
        self.local_results = self._local_results()
        for (name, nb_name), result in self.local_results.items():
            ours = {c["grade_id"]: c["score"] for c in result["cells"]}
            theirs = hub_scores.get((name, nb_name))
            assert theirs is not None, f"the formgrader has no grades for {name}/{nb_name}"
            assert set(theirs) == set(ours), \
                f"{name}/{nb_name}: graded cells differ: hub {sorted(theirs)}, ours {sorted(ours)}"
            diff = {gid: (theirs[gid], ours[gid]) for gid in ours if abs((theirs[gid] or 0) - ours[gid]) > 1e-6}
            assert not diff, f"{name}/{nb_name}: hub score != autograder grade (grade_id: (hub, ours)): {diff}"
            if name == UNTOUCHED:
                assert result["score"] == 0, f"the untouched {nb_name} scored {result['score']}"
            else:
                assert result["score"] == result["max_score"] > 0, \
                    f"the filled-in {nb_name} scored {result['score']} / {result['max_score']}"

    def _hub_scores(self) -> dict[tuple[str, str], dict[str, float]]:
        hub_scores: dict[tuple[str, str], dict[str, float]] = {}
        for nb_id, nb_name in zip(self.ids, self.notebooks):
            for sub in self.instructor.json("GET", f"formgrader/api/submitted_notebooks/{ASSIGNMENT}/{nb_id}"):
                grades = self.instructor.json("GET", "formgrader/api/grades", params={"submission_id": sub["id"]})
                hub_scores[(sub["student"], nb_name)] = {g["name"]: g["auto_score"] for g in grades
                                                         if g["cell_type"] == "code"}
        (ARTIFACTS / "hub_scores.json").write_text(json.dumps({f"{k[0]}/{k[1]}": v for k, v in hub_scores.items()},
                                                              indent=2))
        return hub_scores

    def _local_results(self) -> dict:
        results = {}
        for key, proc in self.local_runs.items():
            try:
                out, err = proc.communicate(timeout=1200)
            finally:
                if proc.poll() is None:
                    proc.kill()
            assert proc.returncode == 0, f"autograder grade {key} failed ({proc.returncode}):\n{err[-3000:]}"
            results[key] = json.loads(out)
        self.lap("autograder grade --json (started before collect)", self.t_local)
        (ARTIFACTS / "autograder_grade.json").write_text(json.dumps({f"{k[0]}/{k[1]}": v for k, v in results.items()},
                                                                    indent=2))
        return results

    def ta_sees_the_same_grades(self) -> None:
        """6. the TA's formgrader sees the same grades."""
        self.ta_subs = {x["student"]: x for x in self.ta.json("GET", f"formgrader/api/submissions/{ASSIGNMENT}")}
        for x in self.instructor.json("GET", f"formgrader/api/submissions/{ASSIGNMENT}"):
            assert self.ta_subs[x["student"]]["score"] == x["score"] and x["autograded"], (x, self.ta_subs)

    def ta_grades_the_written_answers(self) -> None:
        """6b. the TA grades ada's written answers in formgrader, in a browser; the gradebook's total and
        ``autograder report``'s CSV then include the manual points."""
        t0 = time.monotonic()
        self.manual = manual = _ta_grades_the_written_answers(self.hub, self.ta, self.notebooks, self.ids)
        subs_after = {x["student"]: x for x in self.ta.json("GET", f"formgrader/api/submissions/{ASSIGNMENT}")}
        before = self.ta_subs[FILLS_IN]["score"]
        assert abs(subs_after[FILLS_IN]["score"] - (before + sum(v[0] for v in manual.values()))) < 1e-6, \
            (before, subs_after[FILLS_IN], manual)
        report = _report_after_manual_grading(self.settings["course_dir"])
        assert report[FILLS_IN]["status"] == "graded" and abs(float(report[FILLS_IN]["total"]) -
                                                              subs_after[FILLS_IN]["score"]) < 1e-6, report[FILLS_IN]
        self.lap("browser: the TA grades the written answers in formgrader; the report shows them", t0)

    def feedback(self) -> None:
        """7. feedback is generated and released; each student fetches it: the hidden checks' messages, never their
        code, never a rubric, and on ada's written answers the TA's score and comment."""
        t0 = time.monotonic()
        self.instructor.nbgrader("POST", f"formgrader/api/assignment/{ASSIGNMENT}/generate_feedback", timeout=600)
        self.instructor.nbgrader("POST", f"formgrader/api/assignment/{ASSIGNMENT}/release_feedback", timeout=300)
        self.feedback_folders = {}
        for name, s in self.students.items():
            listed = s.nbgrader("POST", "assignments/fetch_feedback", json=self.query)["value"]
            subs = [x for a in listed if a["status"] == "submitted" for x in a["submissions"]]
            assert subs and subs[-1]["has_local_feedback"], listed
            folder = self.feedback_folders[name] = subs[-1]["local_feedback_path"]
            for nb_name in self.notebooks:
                page = s.read_text(f"{folder}/{nb_name[:-len('.ipynb')]}.html")
                (ARTIFACTS / f"feedback_{name}_{nb_name[:-len('.ipynb')]}.html").write_text(page)
                self._check_feedback(name, nb_name, page)
        self.lap("feedback generated, released and fetched", t0)

    def _check_feedback(self, name: str, nb_name: str, page: str) -> None:
        text = visible_text(page)
        for cell in self.local_results[(name, nb_name)]["cells"]:
            for check in cell["checks"]:
                shown = check["message"] or check["name"]
                assert shown in text, f"{name}'s feedback on {nb_name} does not show {shown!r}"
        for needle in ("def test_", "@points("):
            assert needle not in page, f"{name}'s feedback on {nb_name} shows {needle!r}"
        leaked = sorted(line for line in hidden_code_lines() if line in text)
        assert not leaked, f"{name}'s feedback on {nb_name} shows the checks' code: {leaked[:5]}"
        rubric = sorted(line for line in rubric_lines(nb_name) if line in text)
        assert not rubric and "Rubric for" not in text, f"{name}'s feedback on {nb_name} shows the rubric: {rubric[:3]}"
        for (nb, gid), (score, comment, worth) in self.manual.items():
            if name == FILLS_IN and nb == nb_name:
                assert comment in text, f"ada's feedback on {nb_name} does not show the TA's comment on {gid}"
                assert f"Written response (Score: {score:.1f} / {worth:.1f})" in text, (gid, score)

    def students_in_the_browser(self) -> None:
        """8. ben's browser opens his fetched notebook, runs its first code cell and reads his feedback; ada reads
        the TA's comment in hers."""
        from tests.jupyterhub_browser import StudentBrowser

        hub, first_id = self.hub, self.notebooks[0][: -len(".ipynb")]
        t0 = time.monotonic()
        with StudentBrowser(hub.url, ARTIFACTS, self.browser_env) as browser:
            browser.login(UNTOUCHED, hub.passwords()[UNTOUCHED])
            panel = browser.open_assignments()
            submitted = browser.page.locator("#submitted_assignments_list").inner_text()
            assert ASSIGNMENT in submitted, panel
            browser.shot("02_student_sees_submission_and_feedback.png")
            prompt, output = browser.run_first_code_cell(UNTOUCHED, f"{ASSIGNMENT}/{self.notebooks[0]}")
            hub.watch()
            browser.shot("03_student_ran_first_code_cell.png")
            assert re.fullmatch(r"\[\d+\]:", prompt.strip()), prompt
            assert "Traceback" not in output and "Error" not in output, output
            # ... and reads the feedback on it: the hidden checks' lines, as the grader's kernel printed them.
            browser.page.goto(f"{hub.url}user/{UNTOUCHED}/files/{self.feedback_folders[UNTOUCHED]}/{first_id}.html")
            first_line = browser.page.get_by_text(re.compile(r"\d+(\.\d+)? / \d+(\.\d+)? points")).first
            first_line.scroll_into_view_if_needed()
            browser.page.mouse.wheel(0, -200)
            browser.shot("04_student_reads_feedback.png")
        with StudentBrowser(hub.url, ARTIFACTS, self.browser_env) as browser:
            browser.login(FILLS_IN, hub.passwords()[FILLS_IN])
            browser.page.goto(f"{hub.url}user/{FILLS_IN}/files/{self.feedback_folders[FILLS_IN]}/{first_id}.html")
            first_comment = next(comment for (nb, _), (_, comment, _) in self.manual.items() if nb == self.notebooks[0])
            shown = browser.page.get_by_text(first_comment).first
            shown.scroll_into_view_if_needed()
            browser.page.mouse.wheel(0, 150)
            browser.shot("04c_student_reads_the_ta_comment.png")
        self.lap("browser: open the fetched notebook and run its first code cell", t0)

    def grader_out_of_reach(self) -> None:
        """9. in ben's own kernel, `import autograder` fails and the grader's files cannot be read."""
        t0 = time.monotonic()
        _student_cannot_reach_the_grader(self.hub, self.students[UNTOUCHED], self.settings)
        self.lap("a student's kernel cannot import or read the grader", t0)

    def latent_explorer(self) -> None:
        """10. ada runs her part 4 in the browser and moves a slider of the latent explorer."""
        t0 = time.monotonic()
        _student_explores_the_latent_space(self.hub, self.students[FILLS_IN])
        for shot in sorted(ARTIFACTS.glob("*.png")):
            assert shot.stat().st_size > 20_000 or "slider" in shot.name, f"{shot} looks empty"
        self.lap("a student runs part 4 and moves a latent slider", t0)


def written_answers(nb_name: str) -> list[tuple[str, float, str]]:
    """(grade id, points, rubric) of each written "Think!" answer of a notebook, from the solutions."""
    from autograder.cells import grade_id, is_written_answer, points

    return [(grade_id(c), points(c), c.source) for c in read(SOLUTION_NOTEBOOKS / nb_name).cells
            if is_written_answer(c)]


def rubric_lines(nb_name: str) -> set[str]:
    """Distinctive lines of a notebook's rubrics (what must never reach a student)."""
    return {line for _, _, rubric in written_answers(nb_name) for line in plain_lines(rubric)}


def _ta_grades_the_written_answers(hub: CourseHub, ta, notebooks: list[str], ids: list[str]) -> dict:
    """The TA, in a browser, opens formgrader's page of ada's notebooks and gives each written answer a score
    (half its points) and a comment, which formgrader saves itself; the rubric is on the page, under the answer.
    Returns {(notebook, grade id): (score, comment, points)} once the gradebook holds every one of them."""
    from tests.jupyterhub_browser import StudentBrowser

    given = {}
    with StudentBrowser(hub.url, ARTIFACTS, dict(os.environ, COURSE_HUB_RUN_ID=hub.run_id)) as browser:
        browser.login(TA, hub.passwords()[TA])
        page = browser.page
        for nb_id, nb_name in zip(ids, notebooks):
            sub = next(x for x in ta.json("GET", f"formgrader/api/submitted_notebooks/{ASSIGNMENT}/{nb_id}")
                       if x["student"] == FILLS_IN)
            page.goto(f"{hub.url}user/{TA}/formgrader/submissions/{sub['id']}/")
            answers = written_answers(nb_name)
            for gid, worth, rubric in answers:
                score, comment = worth / 2, TA_COMMENT.format(gid)
                box = page.locator(f"textarea[id='{gid}-comment']")
                box.scroll_into_view_if_needed()
                box.fill(comment)
                box.press("Tab")  # formgrader saves a comment or a score when its box loses the focus
                page.locator(f"input.score[id='{gid}']").fill(f"{score:g}")
                page.locator(f"input.score[id='{gid}']").press("Tab")
                given[(nb_name, gid)] = (score, comment, worth)
                text = page.locator("body").inner_text()
                assert f"Rubric for {gid}" in text and plain_lines(rubric)[0] in text, \
                    f"formgrader does not show the rubric of {gid} to the TA"
            _wait_for_manual_grades(ta, sub["id"], {gid: given[(nb_name, gid)] for gid, _, _ in answers})
            if nb_name == notebooks[0]:
                page.locator(f"textarea[id='{answers[0][0]}-comment']").scroll_into_view_if_needed()
                page.mouse.wheel(0, -250)
                browser.shot("04b_ta_grades_a_written_answer_with_its_rubric.png")
    return given


def _wait_for_manual_grades(ta, submission_id: str, wanted: dict, timeout: float = 60) -> None:
    """Until the gradebook holds each score and comment (formgrader saves them asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        grades = {g["name"]: g["manual_score"] for g in ta.json("GET", "formgrader/api/grades",
                                                                params={"submission_id": submission_id})}
        comments = {c["name"]: c["manual_comment"] for c in ta.json("GET", "formgrader/api/comments",
                                                                    params={"submission_id": submission_id})}
        missing = {gid: (grades.get(gid), comments.get(gid)) for gid, (score, comment, _) in wanted.items()
                   if grades.get(gid) != score or comments.get(gid) != comment}
        if not missing:
            return
        assert time.monotonic() < deadline, f"formgrader did not save the TA's grades: {missing}"
        time.sleep(0.5)


def _report_after_manual_grading(course_dir: str) -> dict:
    """`autograder report` on the hub's course (into the artifacts): its students.csv, by student."""
    import csv

    out = ARTIFACTS / "report"
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "report", course_dir, ASSIGNMENT, "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    with open(out / "students.csv") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


PART4 = "04_autoencoder.ipynb"


def _student_explores_the_latent_space(hub: CourseHub, student) -> None:
    """Part 4 with the student's answers (the solution's), run in their browser; a slider moves the decoded digit."""
    from tests.jupyterhub_browser import StudentBrowser

    student.request("PUT", "api/contents/explore", json={"type": "directory"}, expect=(200, 201))
    student.write_notebook(f"explore/{PART4}", json.loads((SOLUTION_NOTEBOOKS / PART4).read_text()))
    with StudentBrowser(hub.url, ARTIFACTS, dict(os.environ, COURSE_HUB_RUN_ID=hub.run_id)) as browser:
        browser.login(FILLS_IN, hub.passwords()[FILLS_IN])
        browser.run_all_cells(f"{hub.url}user/{FILLS_IN}/lab/tree/explore/{PART4}?reset")
        hub.watch()
        before, after = browser.move_latent_slider("06_student_moves_a_latent_slider")
        browser.shot("07_student_explored_part4.png")
    assert before.stat().st_size > 2_000 and after.stat().st_size > 2_000, (before, after)
    assert before.read_bytes() != after.read_bytes(), "the decoded digit did not change when the slider moved"


GRADER_FILE = REPO / "autograder" / "checks" / "pca.py"
PROBE = f"""\
import importlib.util, json
found = {{"autograder_importable": importlib.util.find_spec("autograder") is not None}}
try:
    open({str(GRADER_FILE)!r}).read()
    found["grader_file"] = "read"
except Exception as exc:
    found["grader_file"] = type(exc).__name__
import sys, course_utils
found["course_utils"], found["python"] = course_utils.__file__, sys.executable
print("PROBE", json.dumps(found))
"""


def _student_cannot_reach_the_grader(hub: CourseHub, student, settings: dict) -> None:
    """Run a probe cell in the student's own kernel, through the browser; then try the contents API."""
    from tests.jupyterhub_browser import StudentBrowser

    nb = {"cells": [{"cell_type": "code", "execution_count": None, "id": "probe", "metadata": {}, "outputs": [],
                     "source": PROBE}],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    student.write_notebook("probe.ipynb", nb)
    with StudentBrowser(hub.url, ARTIFACTS, dict(os.environ, COURSE_HUB_RUN_ID=hub.run_id)) as browser:
        browser.login(UNTOUCHED, hub.passwords()[UNTOUCHED])
        _, output = browser.run_first_code_cell(UNTOUCHED, "probe.ipynb")
        browser.shot("05_student_kernel_cannot_import_the_grader.png")
    hub.watch()
    found = json.loads(output.split("PROBE", 1)[1].strip().splitlines()[0])
    (ARTIFACTS / "student_probe.json").write_text(json.dumps(found, indent=2))
    student_env = settings["student_env"]
    assert not found["autograder_importable"], found
    assert found["python"].startswith(student_env) and found["course_utils"].startswith(student_env), found
    if settings.get("student_account"):  # the hub runs as root: students' servers run as an unprivileged account
        assert found["grader_file"] == "PermissionError", found
    else:
        pytest.fail("the hub test must run as root to prove students cannot read the grader's files")
    for path in (str(GRADER_FILE).lstrip("/"), "../" * 12 + str(GRADER_FILE).lstrip("/")):
        student.request("GET", "api/contents/" + path.replace("/", "%2F"), expect=(400, 403, 404),
                        allow_redirects=False)
