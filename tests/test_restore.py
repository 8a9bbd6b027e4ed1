"""autograder.restore: what a student did to protected cells is undone, answers are kept."""
import copy

from nbformat.v4 import new_code_cell, new_markdown_cell

from tests.kit import check, code, md, notebook, solution
from autograder.restore import restore


def source_nb():
    return notebook([
        md("intro", "intro"),
        code("import torch", "setup"),
        solution("def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION", "f_sol"),
        check("f", 2),
        solution("def g(x):\n    return 2 * x", "g_sol"),
        check("g", 1),
    ])


def ids(nb):
    return [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]


def test_untouched_submission_is_unchanged():
    src = source_nb()
    nb, notes = restore(copy.deepcopy(src), src)
    assert [c.source for c in nb.cells] == [c.source for c in src.cells] and notes == []


def test_edited_check_cell_is_restored_and_answer_kept():
    src = source_nb()
    sub = copy.deepcopy(src)
    sub.cells[2].source = "def f(x):\n    return x + 1"
    sub.cells[3].source = "4.0"
    nb, notes = restore(sub, src)
    assert nb.cells[3].source == src.cells[3].source and nb.cells[2].source == "def f(x):\n    return x + 1"
    assert any("modified" in n for n in notes)


def test_deleted_and_metadata_stripped_check_cells_are_reinserted_in_place():
    src = source_nb()
    sub = copy.deepcopy(src)
    del sub.cells[5]  # check g deleted
    sub.cells[3].metadata = {}  # check f stripped of its metadata (and then edited)
    sub.cells[3].source = "2.0"
    nb, notes = restore(sub, src)
    assert ids(nb).count("f") == 1 and ids(nb).count("g") == 1
    assert ids(nb).index("f") == ids(nb).index("f_sol") + 1
    assert ids(nb).index("g") == ids(nb).index("g_sol") + 1
    assert "2.0" in [c.source for c in nb.cells]  # the stripped cell stays as an ordinary cell


def test_duplicated_check_cell_keeps_one_identity():
    src = source_nb()
    sub = copy.deepcopy(src)
    dup = copy.deepcopy(sub.cells[3])
    sub.cells.insert(1, dup)
    nb, notes = restore(sub, src)
    assert ids(nb).count("f") == 1
    assert len({c.get("id") for c in nb.cells}) == len(nb.cells), "cell ids stay unique"


def test_student_cells_without_metadata_are_kept():
    src = source_nb()
    sub = copy.deepcopy(src)
    sub.cells.insert(3, new_code_cell("print('my own experiment')"))
    sub.cells.insert(0, new_markdown_cell("my notes"))
    nb, _ = restore(sub, src)
    assert "print('my own experiment')" in [c.source for c in nb.cells]
    assert nb.cells[0].source == "my notes"


def test_a_notebook_without_kernelspec_stays_valid():
    """A script-made source and a student copy never saved in Jupyter: no kernelspec is better than an empty one."""
    import nbformat

    src = source_nb()
    del src.metadata["kernelspec"]
    nb, _ = restore(copy.deepcopy(src), src)
    assert "kernelspec" not in nb.metadata
    nbformat.validate(nb)
