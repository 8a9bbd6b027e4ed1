"""The trusted executor writes every check cell's score; a path without it scores check cells 0."""
import pytest

from autograder.cells import is_check_cell
from tests.kit import SOLUTION_NOTEBOOKS, read


@pytest.mark.slow
def test_plain_nbgrader_execute_scores_every_check_cell_zero(tmp_path, mnist_available):
    """nbgrader's own Execute runs a check cell's one line: its value, 0, is what nbgrader records."""
    from nbgrader.preprocessors import Execute
    from nbgrader.utils import determine_grade

    nb = read(SOLUTION_NOTEBOOKS / "02_linear_layers.ipynb")
    nb, _ = Execute(timeout=300).preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    grades = [determine_grade(cell) for cell in nb.cells if is_check_cell(cell)]
    assert grades and all(score == 0 < points for score, points in grades), grades


@pytest.mark.slow
def test_the_executor_writes_the_verified_score(tmp_path, mnist_available):
    from nbgrader.utils import determine_grade

    from autograder.executor import GradingClient
    from autograder.results import MIME

    nb = read(SOLUTION_NOTEBOOKS / "02_linear_layers.ipynb")
    client = GradingClient(nb, workdir=tmp_path)
    nb = client.grade()
    for cell in (c for c in nb.cells if is_check_cell(c)):
        score, points = determine_grade(cell)
        result = client.results[cell.metadata["nbgrader"]["grade_id"]]
        assert score == points == result.score and result.verified
        assert [o.output_type for o in cell.outputs] == ["display_data", "execute_result"]
        assert cell.outputs[0].data[MIME]["status"] == "graded"
