"""The kit's pytest plugin: run the hidden checks with pytest against a notebook, outside any grading kernel.

    pytest autograder/checks --notebook solutions/autoencoders/01_pca_encoder.ipynb [-k fit] [-x] [--pdb] [-v]
    autograder test-checks solutions/autoencoders/01_pca_encoder.ipynb -k fit      (the same)

* ``--notebook`` runs the notebook's code cells in a grading kernel (every cell but the check cells;
  ``--notebook-cells answers`` runs only its setup and answer cells, which is quicker) and hands
  that kernel's namespace to every check as the ``ns`` fixture (:class:`autograder.remote.Remote`):
  this pytest process is the trusted side, the kernel the student's, exactly as when a notebook is graded.
* Only the checks of that notebook's check cells are collected; the others are deselected.
* Points come from each check's ``@pytest.mark.points(n, cell=...)`` marker; at the end a table
  shows the points of every check and every cell. pytest-timeout's ``@pytest.mark.timeout`` applies.

The executor (:mod:`autograder.executor`) runs the very same functions without pytest (:mod:`autograder.checkrun`).
Installed as a ``pytest11`` entry point, so it is active in any pytest run of the kit's
environment; without ``--notebook`` it only registers its markers.
"""
from __future__ import annotations

import contextlib
import io
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHECKS_DIR = Path(__file__).resolve().parent / "checks"


# ---------------------------------------------------------------------------------------- options
def pytest_addoption(parser):
    group = parser.getgroup("autograder", "the kit's hidden checks")
    group.addoption("--notebook", default=None, metavar="PATH",
                    help="run the hidden checks of this notebook's check cells against its namespace")
    group.addoption("--notebook-cells", choices=["all", "answers"], default="all",
                    help="which code cells build the namespace: all but the check cells (default), or only the "
                         "setup and answer cells")
    group.addoption("--cell", action="append", default=None, metavar="GRADE_ID",
                    help="run only the checks of this check cell (repeatable)")


def pytest_configure(config):
    config.addinivalue_line("markers", "points(value, cell): a hidden check worth `value` points on check cell "
                                       "`cell` (may name parameters as {name})")
    if not config.pluginmanager.hasplugin("timeout"):
        config.addinivalue_line("markers", "timeout(seconds): a hidden check's time limit")
    if config.getoption("notebook"):
        config.pluginmanager.register(NotebookSession(config), "autograder-notebook")


def pytest_collect_file(file_path, parent):
    """Check modules are not named test_*.py: collect every public module of autograder/checks."""
    if file_path.suffix == ".py" and file_path.parent == CHECKS_DIR and not file_path.name.startswith("_") \
            and not file_path.name.startswith("test_"):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


# ---------------------------------------------------------------------------------------- the namespace
class KernelNotebook:
    """A notebook run in a grading kernel (its check cells left out), kept alive for the checks."""

    def __init__(self, path: Path, cells: str = "all"):
        import contextlib as _contextlib

        import nbformat

        from autograder import cells as kitcells
        from autograder.executor import GradingClient

        nb = nbformat.read(str(path), as_version=4)
        keep = [c for c in nb.cells if c.cell_type != "code" or (not kitcells.is_check_cell(c) and (
            cells != "answers" or kitcells.is_answer_cell(c) or kitcells.grade_id(c) == "setup"))]
        nb.cells = keep
        self.tmp = tempfile.TemporaryDirectory(prefix="autograder-checks-")
        self.client = GradingClient(nb, workdir=Path(self.tmp.name))
        self.stack = _contextlib.ExitStack()
        self.stack.callback(self.tmp.cleanup)
        self.stack.enter_context(self.client.setup_kernel())
        self.errors: list[str] = []
        self.outputs: dict[str, str] = {}
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            self.client.execute_cell(cell, index)
            name = kitcells.cell_name(cell, index)
            self.outputs[name] = "".join(o.get("text", "") for o in cell.outputs
                                         if o.get("output_type") == "stream" and o.get("name") == "stdout")
            for o in cell.outputs:
                if o.get("output_type") == "error":
                    self.errors.append(f"cell {name} raised {o.get('ename')}: {str(o.get('evalue', ''))[:200]}")
        self.ns = self.client.remote()

    def recover(self) -> None:
        """Restart the kernel and run the cells again (after a check killed it or hung it)."""
        from jupyter_core.utils import run_sync
        from nbformat.v4 import new_code_cell

        run_sync(self.client._recover)(new_code_cell(), "KernelDied", "the kernel was restarted")

    def close(self) -> None:
        self.stack.close()
        self.client.close()


def item_cell(item) -> str | None:
    """The check cell an item belongs to (its points marker's cell, parameters filled in)."""
    from autograder.registry import fill

    mark = item.get_closest_marker("points")
    if mark is None:
        return None
    params = getattr(getattr(item, "callspec", None), "params", {})
    return fill(mark.kwargs["cell"], params)


@dataclass
class CellTally:
    cell: str
    max_points: float
    checks: list = field(default_factory=list)  # (name, points, max_points, passed, message)

    @property
    def points(self) -> float:
        return round(sum(c[1] for c in self.checks), 4)


class NotebookSession:
    """State of one ``--notebook`` run: the notebook's cells, its namespace, the points."""

    def __init__(self, config):
        from autograder import cells as kitcells
        import nbformat

        self.path = Path(config.getoption("notebook")).resolve()
        self.mode = config.getoption("notebook_cells")
        nb = nbformat.read(str(self.path), as_version=4)
        self.cells = kitcells.check_cells(nb)
        wanted = config.getoption("cell")
        if wanted:
            unknown = sorted(set(wanted) - set(self.cells))
            if unknown:
                raise pytest.UsageError(f"{self.path.name} has no check cell {', '.join(unknown)}")
            self.cells = {cell: points for cell, points in self.cells.items() if cell in wanted}
        self.tallies: dict[str, CellTally] = {}
        self.errors: list[str] = []
        self.outputs: dict[str, str] = {}  # what each notebook cell printed
        self._ns = None
        self.kernel: KernelNotebook | None = None

    def _load(self):
        self.kernel = KernelNotebook(self.path, self.mode)
        self._ns, self.errors = self.kernel.ns, self.kernel.errors
        self.outputs.update(self.kernel.outputs)

    @pytest.fixture(scope="session")
    def ns(self):
        """The student's namespace: the notebook's kernel, after its cells ran, as the checks see it."""
        if self._ns is None:
            self._load()
        return self._ns

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session):
        """Run the notebook before the first check, outside every check's time limit (as the grading kernel does:
        a check's ``timeout`` is for the check, not for the notebook's own cells)."""
        if session.items and self._ns is None and not session.config.option.collectonly:
            self._load()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        """Each check starts afresh, in the kernel and here, as the executor runs it (autograder.checkrun)."""
        if self.kernel is None or item_cell(item) is None:
            return (yield)
        import time

        import torch

        from autograder.remote import KernelDied, KernelStuck

        mark = item.get_closest_marker("timeout")
        ns = self.kernel.ns
        ns.earlier = {cell: (t.points, t.max_points) for cell, t in self.tallies.items()
                      if cell != item_cell(item) and len(t.checks) == sum(1 for i in item.session.items
                                                                          if item_cell(i) == cell)}
        ns.deadline = time.monotonic() + (float(mark.args[0]) if mark and mark.args else _check_timeout())
        try:
            ns.begin()
            with torch.random.fork_rng(devices=[]), torch.enable_grad():
                torch.manual_seed(0)
                return (yield)
        except (KernelDied, KernelStuck):
            self.kernel.recover()
            raise
        finally:
            ns.deadline = None
            try:
                ns.end()
            except Exception:
                pass

    def pytest_unconfigure(self, config):
        if self.kernel is not None:
            self.kernel.close()

    def pytest_collection_modifyitems(self, config, items):
        keep = [item for item in items if item_cell(item) in self.cells or item_cell(item) is None]
        drop = [item for item in items if item not in keep]
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep

    def pytest_collection_finish(self, session):
        for item in session.items:  # what is left after every selection (-k, -m, node ids)
            cell = item_cell(item)
            if cell in self.cells:
                tally = self.tallies.setdefault(cell, CellTally(cell, 0.0))
                tally.max_points += float(item.get_closest_marker("points").args[0])

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        cell = item_cell(item)
        if cell is None or cell not in self.tallies:
            return report
        if report.when == "call" or (report.when == "setup" and report.failed):
            points = float(item.get_closest_marker("points").args[0])
            passed = report.passed
            message = "" if passed else _message(call)
            self.tallies[cell].checks.append((item.name, points if passed else 0.0, points, passed, message))
        return report

    def pytest_terminal_summary(self, terminalreporter):
        tr = terminalreporter
        tr.section(f"points: {self.path.name}")
        total = maximum = 0.0
        for cell in self.cells:
            tally = self.tallies.get(cell)
            if tally is None:
                continue
            tr.write_line(f"{cell}: {tally.points:g} / {tally.max_points:g}")
            for name, points, max_points, passed, message in tally.checks:
                tr.write_line(f"  {'PASS' if passed else 'FAIL'} [{points:g}/{max_points:g}] {name}"
                              + (f": {message.splitlines()[0][:160]}" if message else ""))
            total, maximum = total + tally.points, maximum + tally.max_points
        tr.write_line(f"total: {total:g} / {maximum:g}")
        for error in self.errors:
            tr.write_line(f"note: {error}")


def _check_timeout() -> float:
    from autograder import limits

    return float(limits.CHECK_TIMEOUT)


def _message(call) -> str:
    excinfo = call.excinfo
    if excinfo is None:
        return ""
    text = str(excinfo.value).strip()
    return text or excinfo.typename


# ---------------------------------------------------------------------------------------- programmatic use
def run_pytest(notebook: str, args: list[str] | None = None) -> int:
    """``autograder test-checks``: pytest on the checks directory with ``--notebook``."""
    # (the autograder package is already imported by the command itself: pytest need not rewrite it)
    return int(pytest.main([str(CHECKS_DIR), "--notebook", str(notebook), "-p", "no:cacheprovider",
                            "-W", "ignore::pytest.PytestAssertRewriteWarning", *(args or [])]))


class _Collector:
    def __init__(self):
        self.session: NotebookSession | None = None

    def pytest_sessionfinish(self, session):
        self.session = session.config.pluginmanager.get_plugin("autograder-notebook")


def check_notebook(notebook: Path, cells: str = "all", only: list[str] | None = None,
                   outputs: dict | None = None) -> dict[str, CellTally]:
    """Run the hidden checks against a notebook in this process, through pytest: cell -> tally.

    ``outputs``, when given, receives what each notebook cell printed in that run (grade id -> text).
    """
    collector = _Collector()
    args = [str(CHECKS_DIR), "--notebook", str(notebook), "--notebook-cells", cells, "-q", "-p", "no:cacheprovider",
            "--no-header", "--tb=no", "-o", "addopts=", "-o", "console_output_style=classic"]
    for cell in only or ():
        args += ["--cell", cell]
    with contextlib.redirect_stdout(io.StringIO()), _quiet_env():
        code = pytest.main(args, plugins=[collector])
    if collector.session is None or code not in (0, 1):
        raise RuntimeError(f"pytest could not run the checks of {notebook} (exit code {code})")
    if outputs is not None:
        outputs.update(collector.session.outputs)
    return collector.session.tallies


@contextlib.contextmanager
def _quiet_env():
    saved = os.environ.pop("PYTEST_ADDOPTS", None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ["PYTEST_ADDOPTS"] = saved
