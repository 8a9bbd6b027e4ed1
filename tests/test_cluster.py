"""class-grade on a real Dask cluster: a scheduler and two workers, each its own process, on 127.0.0.1.

A class of seven is graded through `autograder class-grade --scheduler`: two full marks, two partly wrong,
two untouched, and one whose notebook tries to kill the process that grades it (its kernel's walls forbid the
signal: it is graded like any full-marks notebook, and flagged for a person). While the workers grade, one of
them is killed holding a task. Every honest student must get, cell by cell, the grade a serial local `nbgrader
autograde` gives; the gradebook must hold exactly one result per student and notebook. Then two notebooks
that kill every worker they start on share the two workers with six honest students: only the two are
reported, and every honest student gets the serial grade. Every process the test starts is stopped by pid.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dask_cluster")]

NOTEBOOK = "02_linear_layers.ipynb"
KILLS_ITS_GRADER = ("import os, signal\n"
                    "grader = os.getppid()\n"
                    "if b'autograder.zygote' in open(f'/proc/{grader}/cmdline', 'rb').read():  # forked: its parent\n"
                    "    grader = int(open(f'/proc/{grader}/stat').read().rsplit(')', 1)[1].split()[1])\n"
                    "os.kill(grader, signal.SIGKILL)  # the process that grades this notebook\n")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """`dask scheduler` and two `dask worker`s (one thread each, with their nannies), stopped by pid.

    The scheduler gives up on a task at the first worker that dies holding it (``allowed-failures`` 0, the
    harshest setting; Dask's default is 3), so every notebook on a dying worker, running or queued, must be
    graded again alone to keep its grade: the tests below see that path every time, not by chance."""
    from autograder.daskprocs import LocalDask

    dask = LocalDask(tmp_path_factory.mktemp("dask"),
                     env=dict(os.environ, DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="0"))
    try:
        address = dask.start_scheduler()
        for name in ("w1", "w2"):
            dask.start_worker(name)
        yield address, dask
    finally:
        left = dask.stop()
        assert not left, f"processes still running after the test: {left}"


def _class(root: Path, killer: bool, killers: tuple[str, ...] = ()) -> Path:
    from autograder.course import (ASSIGNMENT, full_marks_notebook, make_course, make_student, nbgrader,
                                   partly_wrong_notebook)

    course = make_course(root / "course", only=[NOTEBOOK])
    nbgrader("generate_assignment", ASSIGNMENT, "--force", cwd=course)
    nbgrader("release_assignment", ASSIGNMENT, "--force", cwd=course)
    kinds = {"ada": full_marks_notebook, "ali": full_marks_notebook, "ben": partly_wrong_notebook,
             "bea": partly_wrong_notebook, "cy": None, "cal": None}
    if killer:
        kinds["zed"] = "killer"
    kinds.update({name: full_marks_notebook for name in killers})
    for student, make in kinds.items():
        home = make_student(root / "students" / student, student, course / "exchange")
        nbgrader("fetch_assignment", ASSIGNMENT, cwd=home)
        path = home / ASSIGNMENT / NOTEBOOK
        if make == "killer":
            nb = full_marks_notebook(NOTEBOOK)
            setup = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
            nb.cells.insert(setup + 1, nbformat.v4.new_code_cell(KILLS_ITS_GRADER))
            nbformat.write(nb, str(path))
        elif make is not None:
            nbformat.write(make(NOTEBOOK), str(path))
        nbgrader("submit", ASSIGNMENT, cwd=home)
    nbgrader("collect", ASSIGNMENT, cwd=course)
    return course


def _grades(course: Path) -> dict:
    from autograder.coursedir import layout

    with layout(course).gradebook() as gb:
        return {(sub.student.id, nb.name, g.name): g.score
                for sub in gb.find_assignment("autoencoders").submissions for nb in sub.notebooks for g in nb.grades}


@pytest.fixture(scope="module")
def serial_grades(tmp_path_factory, mnist_available):
    """The same six honest submissions, autograded by one local `nbgrader autograde` (no Dask)."""
    from autograder.course import ASSIGNMENT, nbgrader

    course = _class(tmp_path_factory.mktemp("serial"), killer=False)
    nbgrader("autograde", ASSIGNMENT, "--force", cwd=course)
    return _grades(course)


def _kill_a_busy_worker(address: str, grading: subprocess.Popen) -> str:
    """Wait until a worker holds a grading task, then SIGKILL that worker's process; returns its address."""
    from distributed import Client

    with Client(address, timeout="60s") as client:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and grading.poll() is None:
            busy = [w for w, keys in client.processing().items() if any("autograder-" in str(k) for k in keys)]
            if busy:
                pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
                time.sleep(1.0)  # well inside the notebook, not at its very start
                os.kill(pid, signal.SIGKILL)
                return busy[0]
            time.sleep(0.2)
    raise AssertionError("no worker ever held a grading task")


def test_class_grade_on_a_cluster_survives_a_dying_worker(cluster, serial_grades, tmp_path, mnist_available):
    address, _ = cluster
    course = _class(tmp_path, killer=True)
    grading = subprocess.Popen([sys.executable, "-m", "autograder.cli", "class-grade", str(course), "autoencoders",
                                "--scheduler", address, "-j", "2"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        killed = _kill_a_busy_worker(address, grading)
        out, err = grading.communicate(timeout=1500)
    finally:
        if grading.poll() is None:
            os.killpg(grading.pid, signal.SIGKILL)
    assert grading.returncode == 0, out + err  # everyone graded: the worker killed from outside lost nothing
    rows = {line.split()[0]: line for line in out.split(" need review", 1)[0].splitlines() if line.split()}
    assert "7 graded, 0 failed" in out, out
    assert "graded again alone" in out, out  # what the killed worker held was given up by Dask, then regraded
    for student in ("ada", "ali", "ben", "bea", "cy", "cal", "zed"):
        assert "graded" in rows[student] and "tcp://127.0.0.1" in rows[student], rows[student]
    assert "NEEDS REVIEW" in rows["zed"] and "sends signals" in out.split("zed needs review", 1)[1], out
    ours = _grades(course)
    honest = {k: v for k, v in ours.items() if k[0] != "zed"}
    assert honest == serial_grades, {k: (v, serial_grades.get(k)) for k, v in honest.items()
                                     if serial_grades.get(k) != v}
    assert {k[2]: v for k, v in ours.items() if k[0] == "zed"} == {k[2]: v for k, v in serial_grades.items()
                                                                   if k[0] == "ada"}  # a full-marks notebook
    assert killed  # and yet nothing was lost:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        notebooks = [(sub.student.id, nb.name) for sub in gb.find_assignment("autoencoders").submissions
                     for nb in sub.notebooks]
    assert sorted(notebooks) == sorted(set(notebooks)) and len({s for s, _ in notebooks}) == 7


def test_an_unreachable_scheduler_changes_nothing(tmp_path):
    course = tmp_path / "course"
    (course / "submitted" / "ada" / "autoencoders").mkdir(parents=True)
    before = sorted(p.relative_to(course) for p in course.rglob("*"))
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "class-grade", str(course), "autoencoders",
                           "--scheduler", "tcp://127.0.0.1:9"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in lines[0], proc.stderr
    assert sorted(p.relative_to(course) for p in course.rglob("*")) == before
    shutil.rmtree(course)


def _kills_its_worker(students: tuple[str, ...]):
    """A worker plugin that kills its worker as soon as it starts one of ``students``' notebooks.

    It stands in for a notebook that kills the process grading it: behind the kernel's walls none can (its
    signals stay inside), but one could where the walls are missing (no Landlock), and a worker can die of its
    own (out of memory, a node lost). Defined here, so Dask sends it to the workers by value.
    """
    from distributed.diagnostics.plugin import WorkerPlugin

    class KillsItsWorker(WorkerPlugin):
        name = "kills-its-worker"

        def __init__(self, marks):
            self.marks = marks

        def transition(self, key, start, finish, **kwargs):
            if finish == "executing" and any(mark in str(key) for mark in self.marks):
                os.kill(os.getpid(), signal.SIGKILL)

    return KillsItsWorker([f"-{s}-" for s in students])


def test_honest_students_beside_two_killers_get_their_serial_grades(cluster, serial_grades, tmp_path,
                                                                   mnist_available):
    """Two notebooks that kill every worker they start on, six honest students, two workers: wherever Dask
    queued the honest notebooks when the workers died, each honest student gets, cell by cell, the grade of a
    serial `nbgrader autograde`, and only the two killers are reported (after being graded again alone)."""
    from distributed import Client

    address, dask = cluster
    course = _class(tmp_path, killer=False, killers=("kai", "kim"))
    with Client(address, timeout="60s") as client:
        client.register_plugin(_kills_its_worker(("kai", "kim")))
        try:
            proc = subprocess.run([sys.executable, "-m", "autograder.cli", "class-grade", str(course), "autoencoders",
                                   "--scheduler", address, "-j", "2"], capture_output=True, text=True, timeout=1500)
        finally:
            client.unregister_worker_plugin("kills-its-worker")
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr  # two students could not be graded
    assert "6 graded, 2 failed" in out, out
    rows = {line.split()[0]: line for line in out.split(" need review", 1)[0].splitlines() if line.split()}
    for killer in ("kai", "kim"):
        assert "FAILED" in rows[killer] and "alone on the worker each time" in rows[killer], rows[killer]
    ours = _grades(course)
    assert not any(k[0] in ("kai", "kim") for k in ours)
    (tmp_path / "class-grade.txt").write_text(out)
    assert ours == serial_grades, {k: (v, serial_grades.get(k)) for k, v in ours.items() if serial_grades.get(k) != v}
    with Client(address, timeout="60s") as client:  # the nannies brought the workers back
        client.wait_for_workers(2, timeout=120)
