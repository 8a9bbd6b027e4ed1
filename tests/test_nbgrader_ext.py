"""The kit's nbgrader preprocessors: named blanks, a score or nothing, feedback without grader code;
each acts on kit notebooks only and leaves every other notebook of a course to nbgrader."""
import copy

import nbformat
import pytest
from nbformat.v4 import new_output
from traitlets.config import Config

from autograder.nbgrader_ext.kit import kit_source
from autograder.nbgrader_ext.named_stubs import NamedClearSolutions, enclosing_name, fill_placeholders
from autograder.nbgrader_ext.require_score import RequireScore, read_score
from autograder.nbgrader_ext.strip_feedback import REDACTED, StripFeedback
from tests.kit import check, code, notebook, solution


def test_enclosing_name_finds_function_and_method():
    lines = ["class Linear(nn.Module):", "    def __init__(self, n):", "        {blank}", "def f():", "    {blank}",
             "{blank}"]
    assert enclosing_name(lines, 2) == "Linear.__init__"
    assert enclosing_name(lines, 4) == "f"
    assert enclosing_name(lines, 5) is None
    assert fill_placeholders("\n".join(lines), "cell_id").endswith("cell_id")


def _stubbed(nb):
    nb, _ = NamedClearSolutions().preprocess(nb, {})
    return [c.source for c in nb.cells]


def test_kit_blanks_name_their_function_even_without_solution_markers():
    sources = _stubbed(notebook([
        solution("def pca_fit(X, k):\n    ### BEGIN SOLUTION\n    return X\n    ### END SOLUTION", "pca_fit_sol"),
        solution("def decode(z):\n    return z", "whole_cell_sol")]))
    assert 'raise NotImplementedError("Student exercise: pca_fit")' in sources[0]
    assert sources[1] == '# YOUR CODE HERE\nraise NotImplementedError("Student exercise: whole_cell_sol")'


def test_other_notebooks_get_nbgrader_stubs_in_their_own_language():
    plain = notebook([solution("def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION", "f")],
                     kit=False)
    assert _stubbed(plain)[0] == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    r = notebook([solution("f <- function(x) {\n### BEGIN SOLUTION\nx\n### END SOLUTION\n}", "f")], kit=False)
    r.metadata["kernelspec"] = {"name": "ir", "language": "R", "display_name": "R"}
    assert "fail()" in _stubbed(r)[0]


def _check_cell(*outputs, points=2):
    cell = check("f", points)
    cell.outputs = list(outputs)
    return cell


def _result(text):
    return new_output("execute_result", data={"text/plain": text}, execution_count=1)


def test_read_score_accepts_only_a_valid_number():
    assert read_score(_check_cell(_result("1.5"))) == (1.5, "")
    for outputs, words in [((), "no score"), ((_result("None"),), "not a score"), ((_result("-1.0"),), "outside"),
                           ((_result("3.0"),), "outside"), ((_result("nan"),), "outside"),
                           ((new_output("stream", name="stderr", text="boom"), _result("2.0")), "stderr"),
                           ((new_output("error", ename="E", evalue="", traceback=[]),), "raised E")]:
        score, reason = read_score(_check_cell(*outputs))
        assert score is None and words in reason, (outputs, reason)


@pytest.fixture
def course(tmp_path):
    """A course folder with one kit source notebook and one ordinary one, and the resources nbgrader passes."""
    source = tmp_path / "source" / "ps1"
    source.mkdir(parents=True)
    nbformat.write(notebook([check("f", 2)]), str(source / "kit.ipynb"))
    nbformat.write(notebook([check("f", 2, "assert True")], kit=False), str(source / "plain.ipynb"))
    config = Config()
    config.CourseDirectory.root = str(tmp_path)

    def resources(name):
        return {"nbgrader": {"assignment": "ps1", "notebook": name, "student": "s"}}

    return config, resources


def test_kit_source_decides_from_the_instructors_notebook(course):
    config, resources = course
    assert kit_source(config, resources("kit")) is not None
    assert kit_source(config, resources("plain")) is None
    assert kit_source(config, resources("missing")) is None and kit_source(config, {}) is None


def test_require_score_turns_a_missing_score_into_an_error_in_kit_notebooks_only(course):
    config, resources = course
    for name, expect_error in (("kit", True), ("plain", False)):
        nb = notebook([_check_cell(new_output("stream", name="stdout", text="hi")), _check_cell(_result("2.0"))])
        nb, _ = RequireScore(config=config).preprocess(nb, resources(name))
        assert (nb.cells[0].outputs[-1].output_type == "error") is expect_error, name
        assert nb.cells[1].outputs[-1].output_type == "execute_result"


def test_strip_feedback_removes_grader_code_and_tracebacks_in_kit_notebooks_only(course):
    from autograder.nbgrader_ext.strip_feedback import PACKAGE, secret_lines

    config, resources = course
    secret = sorted(secret_lines())[0]

    def feedback():
        cell = _check_cell(new_output("error", ename="ValueError", evalue="bad",
                                      traceback=[f'File "{PACKAGE}/checks/pca.py", line 3', secret, "ValueError: bad"]))
        student = code("x = 1", "setup")
        student.outputs = [new_output("stream", name="stdout", text=f"ok\n{secret}\n"),
                           new_output("error", ename="E", evalue="e", traceback=[f"{PACKAGE}/cell.py line 1", "mine"])]
        hidden = solution("x = 1\n### BEGIN HIDDEN TESTS\nassert secret\n### END HIDDEN TESTS\ny = 2", "s")
        return notebook([cell, student, hidden])

    nb, _ = StripFeedback(config=config).preprocess(feedback(), resources("kit"))
    assert nb.cells[0].outputs[0].traceback == ["ValueError: bad"]
    assert nb.cells[1].outputs[0].text == f"{REDACTED}\n"
    assert nb.cells[1].outputs[1].traceback == ["mine"]
    assert "assert secret" not in nb.cells[2].source and "y = 2" in nb.cells[2].source
    plain = feedback()
    untouched = copy.deepcopy(plain)
    nb, _ = StripFeedback(config=config).preprocess(plain, resources("plain"))
    assert nb == untouched


def test_kit_preprocessors_are_enabled_when_nbgrader_registers_them():
    """nbconvert runs a registered preprocessor only if it is enabled; nbgrader's own base class enables them."""
    from traitlets.utils.importstring import import_item

    for name in ("RequireScore", "StripFeedback", "NamedClearSolutions", "KitExecute", "RestoreFromSource"):
        assert import_item(f"autograder.nbgrader_ext.{name}")().enabled, name


def test_kit_source_uses_the_course_folders_nbgrader_resolved(tmp_path, monkeypatch):
    """Inside nbgrader, a kit preprocessor finds the source through its converter's CourseDirectory: a relative
    root or another source folder given on the command line still finds it (nbgrader converts from inside the
    root, so a root taken from the raw config would point elsewhere); an ordinary notebook stays ordinary."""
    from nbconvert.exporters import NotebookExporter
    from nbgrader.converters import Autograde
    from nbgrader.coursedir import CourseDirectory

    source = tmp_path / "course" / "src" / "ps1"
    source.mkdir(parents=True)
    nbformat.write(notebook([check("f", 2)]), str(source / "kit.ipynb"))
    nbformat.write(notebook([check("f", 2, "assert True")], kit=False), str(source / "plain.ipynb"))
    monkeypatch.chdir(tmp_path)
    config = Config()
    config.CourseDirectory.root = "course"  # relative, as on a command line
    config.CourseDirectory.source_directory = "src"
    coursedir = CourseDirectory(config=config)
    monkeypatch.chdir(tmp_path / "course")  # where nbgrader converts notebooks
    exporter = NotebookExporter(parent=Autograde(coursedir=coursedir, config=config))
    for cls in (RequireScore, StripFeedback):
        preprocessor = cls(parent=exporter)
        for name, kit in (("kit", True), ("plain", False)):
            resources = {"nbgrader": {"assignment": "ps1", "notebook": name, "student": "s"}}
            assert (kit_source(preprocessor.config, resources, preprocessor) is not None) is kit, (cls, name)
    # the raw config alone, from inside the root, does not find it: the converter's folders are needed
    assert kit_source(config, {"nbgrader": {"assignment": "ps1", "notebook": "kit", "student": "s"}}) is None
