"""The kit's nbgrader preprocessors: named blanks, a score or nothing, feedback without grader code."""
from nbformat.v4 import new_output

from autograder.authoring import check, code, notebook, solution
from autograder.nbgrader_ext.named_stubs import enclosing_name, fill_placeholders
from autograder.nbgrader_ext.require_score import RequireScore, read_score
from autograder.nbgrader_ext.strip_feedback import REDACTED, StripFeedback


def test_enclosing_name_finds_function_and_method():
    lines = ["class Linear(nn.Module):", "    def __init__(self, n):", "        {blank}", "def f():", "    {blank}",
             "{blank}"]
    assert enclosing_name(lines, 2) == "Linear.__init__"
    assert enclosing_name(lines, 4) == "f"
    assert enclosing_name(lines, 5) is None
    assert fill_placeholders("\n".join(lines), "cell_id").endswith("cell_id")


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


def test_require_score_turns_a_missing_score_into_an_error():
    nb = notebook([_check_cell(new_output("stream", name="stdout", text="hi")), _check_cell(_result("2.0"))])
    nb, _ = RequireScore().preprocess(nb, {})
    assert nb.cells[0].outputs[-1].output_type == "error" and "0 points" in nb.cells[0].outputs[-1].evalue
    assert nb.cells[1].outputs[-1].output_type == "execute_result"


def test_strip_feedback_removes_grader_code_and_tracebacks():
    from autograder.nbgrader_ext.strip_feedback import PACKAGE, secret_lines

    secret = sorted(secret_lines())[0]
    cell = _check_cell(new_output("error", ename="ValueError", evalue="bad",
                                  traceback=[f'File "{PACKAGE}/checks/pca.py", line 3', secret, "ValueError: bad"]))
    student = code("x = 1", "setup")
    student.outputs = [new_output("stream", name="stdout", text=f"ok\n{secret}\n"),
                       new_output("error", ename="E", evalue="e", traceback=[f"{PACKAGE}/cell.py line 1", "mine"])]
    hidden = solution("x = 1\n### BEGIN HIDDEN TESTS\nassert secret\n### END HIDDEN TESTS\ny = 2", "s")
    nb, _ = StripFeedback().preprocess(notebook([cell, student, hidden]), {})
    assert nb.cells[0].outputs[0].traceback == ["ValueError: bad"]
    assert nb.cells[1].outputs[0].text == f"{REDACTED}\n"
    assert nb.cells[1].outputs[1].traceback == ["mine"]
    assert "assert secret" not in nb.cells[2].source and "y = 2" in nb.cells[2].source


def test_kit_preprocessors_are_enabled_when_nbgrader_registers_them():
    """nbconvert runs a registered preprocessor only if it is enabled; nbgrader does not enable them."""
    from traitlets.utils.importstring import import_item

    for name in ("RequireScore", "StripFeedback", "NamedClearSolutions", "ResilientExecute", "RestoreFromSource"):
        assert import_item(f"autograder.nbgrader_ext.{name}")().enabled, name
