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


@pytest.mark.parametrize("path", ["setup_kernel", "grade"])
def test_a_kernel_whose_port_is_taken_is_started_again_on_other_ports(tmp_path, monkeypatch, caplog, path):
    """Between choosing a free port and the kernel binding it, another process may take it (xdist workers, a
    class's kernels): the kernel dies at start. Both ways of starting one (the checks' in-process run uses nbclient's
    synchronous ``setup_kernel``, grading its ``execute``) start another on other ports, and greet it."""
    import logging
    import socket

    import nbformat

    from autograder.executor import GradingClient

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    managers = []
    make = GradingClient.create_kernel_manager

    def first_on_a_taken_port(self):
        km = make(self)
        if not managers:
            km.cache_ports = False  # else its provisioner chooses fresh ports
            km.iopub_port = taken.getsockname()[1]
        managers.append(km)
        return km

    monkeypatch.setattr(GradingClient, "create_kernel_manager", first_on_a_taken_port)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 6 * 7\nprint(x)")])
    client = GradingClient(nb, workdir=tmp_path)
    caplog.set_level(logging.WARNING)
    try:
        if path == "grade":
            client.grade()
            printed = nb.cells[0].outputs[0]["text"]
        else:
            with client.setup_kernel():
                client.execute_cell(nb.cells[0], 0)
                printed = nb.cells[0].outputs[0]["text"]
                assert client.isolation, "the kernel was not greeted: its walls were not asked about"
    finally:
        taken.close()
        client.close()
    assert len(managers) == 2 and printed == "42\n"
    assert "starting another on other ports" in caplog.text



@pytest.fixture
def a_port_taken_at_the_first_restart(monkeypatch):
    """At the first restart, between the old kernel's end and the new one's start, another process takes a port
    the kernel had (the restarted kernel is given the same ports): the list holds that process's socket."""
    import socket

    from jupyter_client.manager import AsyncKernelManager

    taken = []
    shutdown = AsyncKernelManager._async_shutdown_kernel

    async def and_take_a_port(self, now=False, restart=False):
        await shutdown(self, now=now, restart=restart)
        if restart and not taken:
            taken.append(socket.socket())
            taken[0].setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # its connections may linger a while
            taken[0].bind(("127.0.0.1", self.iopub_port))
            taken[0].listen()

    monkeypatch.setattr(AsyncKernelManager, "_async_shutdown_kernel", and_take_a_port)
    yield taken
    for sock in taken:
        sock.close()


def test_a_kernel_whose_port_is_taken_while_it_restarts_is_started_again_on_other_ports(
        tmp_path, a_port_taken_at_the_first_restart, caplog):
    """The grader then starts a kernel on other ports, replays the cells, and the notebook goes on."""
    import logging

    import nbformat

    from autograder.executor import GradingClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in
                                         ("x = 6 * 7", "import os\nos._exit(1)", "print(x)")])
    client = GradingClient(nb, workdir=tmp_path)
    caplog.set_level(logging.WARNING)
    client.grade()
    assert a_port_taken_at_the_first_restart, "the kernel was never restarted"
    assert [o.get("text") for o in nb.cells[2].outputs] == ["42\n"], nb.cells[2].outputs
    assert "starting another on other ports" in caplog.text


def test_the_checks_namespace_answers_after_its_kernel_is_started_on_other_ports(
        tmp_path, a_port_taken_at_the_first_restart):
    """The checks' in-process run keeps one namespace for the whole session (pytest's ``ns`` fixture): after a
    check killed the kernel and the restart found a port taken, that same namespace reaches the new kernel."""
    import nbformat

    from autograder.pytest_plugin import KernelNotebook

    path = tmp_path / "tiny.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 6 * 7")]), str(path))
    kernel = KernelNotebook(path)
    try:
        ns = kernel.ns
        assert ns["x"] == 42
        kernel.recover()
        assert a_port_taken_at_the_first_restart, "the kernel was never restarted"
        assert ns["x"] == 42
    finally:
        kernel.close()
