"""nbgrader's own tests pass with the kit's configuration loaded course-wide.

An instructor loads the kit into a course with ``load_subconfig("<kit>/nbgrader_config.py")``. Here the same
line sits in a global Jupyter config folder (``JUPYTER_CONFIG_PATH``), which every nbgrader command of
nbgrader's tests reads before the course's own ``nbgrader_config.py``, exactly as the kit's line at the top of
a course's config would be: each test's course settings still win. Then nbgrader 0.9.6's own test files run,
from the installed package, in a pytest subprocess (tests/nbgrader_compat_plugin.py), split into shares so
pytest-xdist can spread them over its workers.

* A test of those files that fails or errors fails here, unless tests/nbgrader_known_failures.txt lists it
  with a reason; a listed test that passes fails here too (the list stays honest), and so does a listed test
  that exercises what the kit once broke (:data:`MUST_PASS`).
* Every nbgrader command of every test must have had the kit's settings in its configuration, or that test
  errors (the plugin checks it): a run that silently lost the kit cannot pass.
* A skip other than nbgrader's own unconditional ones (:data:`NBGRADER_SKIPS`) fails here.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbgrader
import pytest

from autograder.checkout import REPO
from autograder.tools import on_venv_path

KIT_CONFIG = REPO / "nbgrader_config.py"
KNOWN_FAILURES = Path(__file__).resolve().parent / "nbgrader_known_failures.txt"
NBGRADER_TESTS = Path(nbgrader.__file__).resolve().parent / "tests"

# nbgrader's test files, each split into this many shares (one pytest-xdist item each, every N-th test), so
# that each share is about a tenth of the whole run (about 6 minutes on one idle worker).
FILES = {
    "apps/test_nbgrader_autograde.py": 4,
    "apps/test_nbgrader_generate_feedback.py": 2,
    "apps/test_nbgrader_validate.py": 1,
    "apps/test_nbgrader_generate_assignment.py": 2,
    "preprocessors/test_overwritecells.py": 1,
}
SHARES = [(path, i, n) for path, n in FILES.items() for i in range(n)]

# Skipped by nbgrader itself, unconditionally (pytest.skip() as the test's first line).
NBGRADER_SKIPS = {
    "apps/test_nbgrader_autograde.py::TestNbGraderAutograde::test_many_students":
        "needs a hand-configured PostgreSQL server",
    "apps/test_nbgrader_autograde.py::TestNbGraderAutograde::test_infinite_loop_with_output":
        "nbgrader skips it: too long, too much memory",
}

# The tests that exercise what the kit once broke in ordinary assignments; none may be a known failure.
#  1 a notebook without a kernelspec; 2 Execute.timeout and its options; 3 files other than notebooks;
#  4 ClearSolutions' stubs; 5 execution of ordinary notebooks (nothing replayed, errors and timeouts as nbgrader).
_A = "apps/test_nbgrader_autograde.py::TestNbGraderAutograde::"
_G = "apps/test_nbgrader_generate_assignment.py::TestNbGraderGenerateAssignment::"
_F = "apps/test_nbgrader_generate_feedback.py::TestNbGraderFeedback::"
_V = "apps/test_nbgrader_validate.py::TestNbGraderValidate::"
MUST_PASS = {
    # 1. kernelspecs
    _A + "test_missing_source_kernelspec", _A + "test_incorrect_source_kernelspec",
    _A + "test_incorrect_submitted_kernelspec",
    # 2. time limits
    _A + "test_infinite_loop", _A + "test_autograde_timeout", _A + "test_showtraceback_exploit",
    _V + "test_validate_timeout", _V + "test_validate_timeout_config",
    # 3. files beside the notebooks
    _A + "test_grade_overwrite_files", _A + "test_grade_overwrite_files_subdirs", _A + "test_side_effects",
    _G + "test_dependent_files", _G + "test_single_file", _G + "test_multiple_files",
    # 4. stubs and the released notebook
    _G + "test_autotests_simple", _G + "test_autotests_fancy", _G + "test_autotests_hidden",
    _G + "test_autotests_hashed", _G + "test_header", _G + "test_save_cells",
    # 5. grading ordinary notebooks, and their feedback
    _A + "test_grade", _A + "test_grade_autotest", _A + "test_grade_hashed_autotest",
    _A + "test_grade_complex_autotest", _A + "test_hidden_tests_autotest", _A + "test_hidden_tests_single_notebook",
    _A + "test_handle_failure", _A + "test_handle_failure_single_notebook", _A + "test_no_execute",
    _F + "test_single_file", _F + "test_autotests", _V + "test_validate_changed", _V + "test_validate_unchanged",
}

_LINE = re.compile(r"^(?P<id>\S+\.py::\S+)\s+#\s*(?P<reason>\S.*)$")


def known_failures() -> dict[str, str]:
    """nodeid -> reason, from tests/nbgrader_known_failures.txt (``<nbgrader test id> # <reason>`` a line)."""
    known = {}
    for number, line in enumerate(KNOWN_FAILURES.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            raise ValueError(f"{KNOWN_FAILURES.name}:{number}: expected '<nbgrader test id> # <reason>': {line!r}")
        known[match["id"]] = match["reason"]
    return known


def shim_config(folder: Path) -> Path:
    """A global Jupyter config folder whose nbgrader_config.py loads the kit's, as the README says to."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"load_subconfig({str(KIT_CONFIG)!r})  # the kit's settings, as an instructor loads them\n")
    return folder


def compat_env(config_dir: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "JUPYTER_CONFIG", "JUPYTER_DATA_DIR", "COV_CORE"))}
    if env.get("PYTHONWARNINGS") == "ignore":  # the kit's grading setting (tests/conftest.py), not a course's
        del env["PYTHONWARNINGS"]
    on_venv_path(env)  # alembic, nbgrader
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    if config_dir is not None:
        env["JUPYTER_CONFIG_PATH"] = str(config_dir)
    return env


def run_nbgrader_tests(tmp: Path, targets: list[str], chunk: str = "0/1", kit: bool = True,
                       timeout: float = 1800) -> dict:
    """Run nbgrader's tests ``targets`` (paths or node ids under nbgrader/tests) in a pytest subprocess."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "pytest.ini").write_text("[pytest]\n")  # nbgrader's tests, not under this repo's pytest settings
    report = tmp / "report.json"
    cmd = [sys.executable, "-m", "pytest", "-c", str(tmp / "pytest.ini"), "--rootdir", str(NBGRADER_TESTS),
           "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:autograder", "-p", "tests.nbgrader_compat_plugin",
           "--timeout=600", "-q", "-rfEs", "--no-header", f"--compat-chunk={chunk}", f"--compat-report={report}",
           *(str(NBGRADER_TESTS / t) for t in targets)]
    if not kit:
        cmd.append("--compat-no-kit-check")
    env = compat_env(shim_config(tmp / "jupyter-config") if kit else None)
    work = tmp / "cwd"
    work.mkdir(exist_ok=True)
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=timeout)
    result = json.loads(report.read_text()) if report.is_file() else {"outcomes": {}, "collected": []}
    result.update(seconds=time.monotonic() - start, returncode=proc.returncode,
                  output=(proc.stdout[-6000:] + proc.stderr[-3000:]))
    return result


def judge(path: str, result: dict, known: dict[str, str]) -> list[str]:
    """What is wrong with one run of nbgrader's tests in ``path``: unlisted failures and errors, listed tests
    that pass or do not exist, skips other than nbgrader's own. [] when all is as it should be."""
    known = {k: v for k, v in known.items() if k.split("::")[0] == path}
    reasons = result.get("reasons", {})
    problems = [f"{KNOWN_FAILURES.name} lists a test that nbgrader does not have: {nodeid}"
                for nodeid in sorted(set(known) - set(result["collected"]))]
    problems += [f"MUST_PASS names a test that nbgrader does not have: {nodeid}"
                 for nodeid in sorted(n for n in MUST_PASS if n.startswith(path + "::"))
                 if nodeid not in result["collected"]]
    for nodeid, outcome in sorted(result["outcomes"].items()):
        if outcome in ("failed", "error") and nodeid not in known:
            problems.append(f"{outcome}: {nodeid}: {reasons.get(nodeid, '')}")
        elif outcome == "passed" and nodeid in known:
            problems.append(f"passes now, remove it from {KNOWN_FAILURES.name}: {nodeid}")
        elif outcome == "skipped" and nodeid not in NBGRADER_SKIPS:
            problems.append(f"skipped: {nodeid}: {reasons.get(nodeid, '')}")
    return problems


# ------------------------------------------------------------------------------------------------ fast checks
def test_judge_fails_unlisted_failures_listed_passes_stale_entries_and_foreign_skips():
    path = "apps/test_nbgrader_validate.py"
    ids = [f"{path}::TestNbGraderValidate::test_{n}" for n in ("a", "b", "c", "d", "e")]
    must = sorted(n for n in MUST_PASS if n.startswith(path))
    result = {"collected": ids + must, "reasons": {},
              "outcomes": dict(zip(ids, ["passed", "failed", "error", "skipped", "failed"]))}
    known = {ids[4]: "listed on purpose", ids[0]: "listed but passes",
             f"{path}::TestNbGraderValidate::test_gone": "no such test",
             "apps/test_nbgrader_autograde.py::TestNbGraderAutograde::test_x": "another file's entry"}
    problems = judge(path, result, known)
    assert len(problems) == 5, problems
    assert any("does not have" in p and "test_gone" in p for p in problems)
    assert any(p.startswith("passes now") and ids[0] in p for p in problems)
    assert any(p.startswith("failed: ") and ids[1] in p for p in problems)
    assert any(p.startswith("error: ") and ids[2] in p for p in problems)
    assert any(p.startswith("skipped: ") and ids[3] in p for p in problems)
    assert len(judge(path, {**result, "collected": ids}, {})) == 4 + len(must)  # and MUST_PASS names missing tests
    nbgrader_skip = next(iter(NBGRADER_SKIPS))
    autograde = nbgrader_skip.split("::")[0]
    collected = [nbgrader_skip] + [n for n in MUST_PASS if n.startswith(autograde)]
    assert judge(autograde, {"collected": collected, "outcomes": {nbgrader_skip: "skipped"}}, {}) == []


def test_known_failures_list_is_well_formed_and_spares_the_five_points():
    known = known_failures()
    for nodeid, reason in known.items():
        assert nodeid.split("::")[0] in FILES, f"{nodeid}: not in one of the files the kit runs"
        assert len(reason) >= 10, f"{nodeid}: give a one-line reason"
    listed = sorted(set(known) & MUST_PASS)
    assert not listed, f"these test what the kit once broke and must pass, not be known failures: {listed}"


def test_the_shim_loads_the_kits_configuration_and_the_plugin_notices_when_it_does_not(tmp_path):
    """The global config really brings the kit's settings to nbgrader, and without it the check says so."""
    probe = ("from nbgrader.apps import NbGraderApp\n"
             "from tests.nbgrader_compat_plugin import missing_kit_settings\n"
             "app = NbGraderApp()\n"
             "app.load_config_file()\n"
             "print(missing_kit_settings(app.config))\n")
    outputs = {}
    for kit in (True, False):
        env = compat_env(shim_config(tmp_path / "cfg") if kit else None)
        proc = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        outputs[kit] = proc.stdout.strip().splitlines()[-1]
    assert outputs[True] == "[]"
    assert "KitExecute" in outputs[False] and "NamedClearSolutions" in outputs[False]


# ------------------------------------------------------------------------------------------------ nbgrader's tests
@pytest.mark.slow
def test_an_nbgrader_test_errors_when_the_kit_was_not_loaded(tmp_path):
    """The plugin's check in a real nbgrader test: without the kit's configuration the test cannot pass."""
    target = "apps/test_nbgrader_generate_assignment.py::TestNbGraderGenerateAssignment::test_single_file"
    with_kit = run_nbgrader_tests(tmp_path / "kit", [target], kit=True, timeout=600)
    assert with_kit["outcomes"] == {target: "passed"}, with_kit["output"]
    assert with_kit["apps_with_kit"] >= 1
    # now the same run, its plugin still checking, but no global config: the test must not pass
    tmp = tmp_path / "lost"
    tmp.mkdir()
    (tmp / "pytest.ini").write_text("[pytest]\n")
    report = tmp / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(tmp / "pytest.ini"), "--rootdir", str(NBGRADER_TESTS),
         "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:autograder", "-p", "tests.nbgrader_compat_plugin",
         "-q", f"--compat-report={report}", str(NBGRADER_TESTS / target)],
        cwd=tmp, env=compat_env(None), capture_output=True, text=True, timeout=600)
    outcomes = json.loads(report.read_text())["outcomes"]
    assert outcomes == {target: "error"}, proc.stdout[-3000:]
    assert "the kit's nbgrader configuration was not loaded" in proc.stdout


@pytest.mark.slow
@pytest.mark.parametrize("path,index,count", SHARES, ids=[f"{Path(p).stem}-{i + 1}of{n}" for p, i, n in SHARES])
def test_nbgrader_tests_pass_with_the_kit_configuration(tmp_path, path, index, count):
    result = run_nbgrader_tests(tmp_path, [path], chunk=f"{index}/{count}")
    outcomes = result["outcomes"]
    print(f"{path} share {index + 1}/{count}: {len(outcomes)} tests in {result['seconds']:.0f} s, "
          f"{result.get('apps_with_kit', 0)} nbgrader commands with the kit's configuration")
    assert result["collected"], f"nbgrader's tests were not collected:\n{result['output']}"
    assert outcomes and len(outcomes) == len(result["selected"]), f"not every test ran:\n{result['output']}"
    if path in ("apps/test_nbgrader_autograde.py", "apps/test_nbgrader_validate.py",
                "apps/test_nbgrader_generate_assignment.py", "apps/test_nbgrader_generate_feedback.py"):
        assert result["apps_with_kit"] > 0, "no nbgrader command ran with the kit's configuration"

    problems = judge(path, result, known_failures())
    assert not problems, "\n".join(problems) + "\n\n" + result["output"]


# ------------------------------------------------------------------------------------------------ one ordinary course
COURSE_CONFIG = """c = get_config()
{kit}
c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = "ordinary101"
c.CourseDirectory.db_url = "sqlite:///" + {db!r}
c.Exchange.root = {exchange!r}
c.Execute.timeout = 4
"""
STUDENT_CONFIG = """c = get_config()
c.CourseDirectory.course_id = "ordinary101"
c.CourseDirectory.student_id = "s1"
c.Exchange.root = {exchange!r}
"""


def ordinary_assignments(source: Path) -> None:
    """ps1: two Python notebooks (one without a kernelspec), a helper module, a data file, a solution cell
    without markers, assert tests, a cell that hangs; ps2: an R notebook."""
    from tests.kit import check, code, notebook, solution

    ps1, ps2 = source / "ps1", source / "ps2"
    ps1.mkdir(parents=True)
    ps2.mkdir(parents=True)
    (ps1 / "helper.py").write_text("def double(x):\n    return 2 * x\n")
    (ps1 / "data.json").write_text('{"offset": 10}\n')
    p1 = notebook([
        code("import json\nopen('runs.txt', 'a').write('x')\nDATA = json.load(open('data.json'))\n"
             "from helper import double", "setup"),
        solution("def f(x):\n    ### BEGIN SOLUTION\n    return double(x)\n    ### END SOLUTION", "f"),
        solution("def g(x):\n    return x + DATA['offset']", "g"),  # no markers: the whole cell is the answer
        check("test_f", 2, "assert f(2) == 4"),
        code("import time\nwhile True:\n    time.sleep(0.05)", "hang"),  # Execute.timeout: interrupted, goes on
        check("test_g", 1, "assert g(1) == 11\nprint('g ok')"),
    ], kit=False)
    nbformat_write(p1, ps1 / "p1.ipynb")
    p2 = notebook([solution("def h():\n    ### BEGIN SOLUTION\n    return 3\n    ### END SOLUTION", "h"),
                   check("test_h", 1, "assert h() == 3")], kit=False)
    del p2.metadata["kernelspec"], p2.metadata["language_info"]
    nbformat_write(p2, ps1 / "p2.ipynb")
    r = notebook([solution("sq <- function(x) {\n    ### BEGIN SOLUTION\n    x^2\n    ### END SOLUTION\n}", "sq"),
                  solution("cube <- function(x) x^3", "cube"),
                  check("test_sq", 1, "stopifnot(sq(2) == 4)")], kit=False)
    r.metadata["kernelspec"] = {"display_name": "R", "language": "R", "name": "ir"}
    r.metadata["language_info"] = {"name": "R"}
    nbformat_write(r, ps2 / "r.ipynb")


def nbformat_write(nb, path: Path) -> None:
    import nbformat

    nbformat.write(nb, str(path))


def _files(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "timestamp.txt" and "__pycache__" not in p.parts}


def _executed(nb_text: str) -> list:
    """What grading showed, cell by cell: the source and each output's kind, error name and text."""
    import nbformat

    nb = nbformat.reads(nb_text, as_version=4)
    return [(c.source, [(o.output_type, o.get("ename"), "".join(o.get("text", "")))
                        for o in c.get("outputs", [])]) for c in nb.cells]


def run_ordinary_course(root: Path, source: Path, kit: bool) -> dict:
    """The whole nbgrader cycle of an ordinary assignment, the course loading the kit's config (or not)."""
    import nbformat
    from nbgrader.api import Gradebook

    course, student, exchange, jupyter = root / "course", root / "student", root / "exchange", root / "jupyter"
    for folder in (course, student, exchange, jupyter):
        folder.mkdir(parents=True)
    os.chmod(exchange, 0o777)
    shutil.copytree(source, course / "source")
    db = str(course / "gradebook.db")
    kit_line = f"load_subconfig({str(KIT_CONFIG)!r})" if kit else "# (no kit)"
    (course / "nbgrader_config.py").write_text(COURSE_CONFIG.format(kit=kit_line, root=str(course), db=db,
                                                                    exchange=str(exchange)))
    (student / "nbgrader_config.py").write_text(STUDENT_CONFIG.format(exchange=str(exchange)))
    env = compat_env(None)
    env.update(JUPYTER_CONFIG_DIR=str(jupyter), JUPYTER_DATA_DIR=str(root / "data"), HOME=str(root))

    def nbgrader(*args, cwd=course):
        proc = subprocess.run(["nbgrader", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"nbgrader {' '.join(args)} ({'kit' if kit else 'plain'}):\n" \
                                     f"{proc.stdout[-3000:]}{proc.stderr[-5000:]}"
        return proc.stdout + proc.stderr

    nbgrader("generate_assignment", "ps1")
    nbgrader("generate_assignment", "ps2")
    nbgrader("release_assignment", "ps1")
    nbgrader("fetch_assignment", "ps1", cwd=student)
    answers = {"f": "def f(x):\n    return double(x)", "g": "def g(x):\n    return x + DATA['offset']",
               "h": "def h():\n    return 3"}
    for path in (student / "ps1").glob("*.ipynb"):
        nb = nbformat.read(str(path), as_version=4)
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid in answers:
                cell.source = answers[gid]
        nbformat.write(nb, str(path))
    nbgrader("submit", "ps1", cwd=student)
    nbgrader("collect", "ps1")
    autograde_log = nbgrader("autograde", "ps1")
    nbgrader("generate_feedback", "ps1")
    with Gradebook("sqlite:///" + db) as gb:
        scores = {nb.name: (nb.score, nb.max_score) for nb in gb.find_submission("ps1", "s1").notebooks}
    autograded = course / "autograded" / "s1" / "ps1"
    return {
        "release": _files(course / "release"),
        "fetched": sorted(_files(student / "ps1")),
        "submitted": sorted(_files(course / "submitted" / "s1" / "ps1")),
        "autograded files": sorted(_files(autograded)),
        "runs": (autograded / "runs.txt").read_text(),
        "executed": {n: _executed((autograded / n).read_text()) for n in ("p1.ipynb", "p2.ipynb")},
        "scores": scores,
        "feedback": sorted(_files(course / "feedback" / "s1" / "ps1")),
        "log": autograde_log,
    }


@pytest.mark.slow
def test_an_ordinary_assignment_goes_through_the_course_exactly_as_without_the_kit(tmp_path):
    """Generate, release, fetch, submit, collect, autograde and feedback of an ordinary assignment beside the
    kit: the same releases (files beside notebooks kept; nbgrader's stubs, in R too, and for a solution cell
    without markers), the same grading (no kernelspec, Execute.timeout, a hung cell interrupted and nothing
    run twice) and the same scores as plain nbgrader."""
    ordinary_assignments(tmp_path / "source")
    plain = run_ordinary_course(tmp_path / "plain", tmp_path / "source", kit=False)
    kit = run_ordinary_course(tmp_path / "kit", tmp_path / "source", kit=True)
    for key in ("release", "fetched", "submitted", "autograded files", "runs", "executed", "scores", "feedback"):
        assert kit[key] == plain[key], key
    release = plain["release"]
    assert {"ps1/helper.py", "ps1/data.json", "ps1/p1.ipynb", "ps1/p2.ipynb", "ps2/r.ipynb"} <= set(release)
    assert "raise NotImplementedError()" in release["ps1/p1.ipynb"] and "{blank}" not in release["ps1/p1.ipynb"]
    assert "fail()" in release["ps2/r.ipynb"] and "NotImplementedError" not in release["ps2/r.ipynb"]
    assert {"helper.py", "data.json"} <= set(plain["submitted"]) & set(plain["autograded files"])
    assert plain["runs"] == "x", "a cell before the hung one ran again"
    hang = [outputs for source, outputs in plain["executed"]["p1.ipynb"] if source.startswith("import time")][0]
    assert any(kind == "error" for kind, _, _ in hang), hang
    assert plain["scores"] == {"p1": (3.0, 3.0), "p2": (1.0, 1.0)}
    assert {"p1.html", "p2.html"} <= set(plain["feedback"])
