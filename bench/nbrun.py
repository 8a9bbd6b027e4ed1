"""Notebooks as the benchmark runs them: a student's view, a kernel's Restart & Run All, plain-script floors.

Check cells are told apart with :mod:`autograder.cells`. A check cell is one line that is never run as
code: when a kit notebook is graded, the executor runs the cell's hidden checks in its own process against
the kernel. So a student's run (no grader) leaves check cells out, and the grading floor runs each one in
the script's own process: the very checks, through the very protocol, but without the process boundary
(:class:`autograder.remote.LocalChannel`): what grading costs beyond that is the boundary's price.
"""
from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder import cells as kitcells
from autograder.source import python_source

from bench.measure import SUBPROCESS_TIMEOUT, TreeMemory, children_cpu, unique_mb, vm_hwm_mb

CHECK_CALL = '__check__("{grade_id}")'


def read_nb(path: Path):
    import nbformat

    return nbformat.read(str(path), as_version=4)


def student_view(nb):
    """The notebook as a student with full answers runs it, without the grader: no check cells."""
    nb = copy.deepcopy(nb)
    nb.cells = [c for c in nb.cells if not kitcells.is_check_cell(c)]
    return nb


def grading_view(nb):
    """The notebook as grading runs it: each check cell becomes a direct call of the checks, in the same process."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if kitcells.is_check_cell(cell):
            cell.source = CHECK_CALL.format(grade_id=kitcells.grade_id(cell))
    return nb


# Each cell runs even if one before it failed. As in a kernel, a cell's last expression is evaluated
# on its own; when it is a hidden-check result (a CellResult from __check__), its score is added up.
FLOOR_RUNNER = '''\
import ast, json, sys, traceback
from IPython.display import display  # what notebooks call without importing it
CELLS = json.loads({cells!r})
ns = {{"__name__": "__main__", "display": display}}
done = []

def check(grade_id):
    from autograder.checkrun import run_cell
    from autograder.remote import LocalChannel, Remote
    return run_cell(grade_id, Remote(LocalChannel(ns), cells=[(None, s) for s in done]))[0]

ns["__check__"] = check
errors, score, max_score, checked = 0, 0.0, 0.0, 0
for index, source in CELLS:
    name = f"<cell {{index}}>"
    try:
        tree = ast.parse(source, name)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, name, "exec"), ns)
        value = eval(compile(ast.Expression(last.value), name, "eval"), ns) if last else None
    except Exception:
        errors += 1
        traceback.print_exc()
        continue
    done.append(source)
    if type(value).__name__ == "CellResult":
        checked += 1
        score, max_score = score + value.score, max_score + value.max_score
        for check in value.checks:
            if not check.passed:
                print(f"check failed: {{value.grade_id}}: {{check.name}}: {{check.message}}", file=sys.stderr)
print("BENCH-RESULT", json.dumps({{"cell_errors": errors, "check_cells": checked, "check_score": score,
                                   "check_max_score": max_score}}), flush=True)
'''


def floor_script(nb) -> str:
    """The notebook's code cells as one plain Python script."""
    cells = [(i, python_source(c.source)) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    return FLOOR_RUNNER.format(cells=json.dumps(cells))


def workdir_for(notebook: Path, root: Path) -> Path:
    """A fresh folder holding the notebook folder's other files (what a student's folder has)."""
    work = Path(tempfile.mkdtemp(prefix=f"{notebook.stem}-", dir=root))
    for item in notebook.parent.iterdir():
        if item.is_file() and item.suffix != ".ipynb":
            shutil.copy2(item, work / item.name)
    return work


def _last_error_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def run_floor(nb, workdir: Path, env: dict) -> dict:
    """Run the code cells as a plain script in a subprocess: wall time, peak memory, cells that failed and,
    for a grading view, the hidden checks' score."""
    script = workdir / "_bench_floor.py"
    script.write_text(floor_script(nb))
    cpu = children_cpu()
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(script)], cwd=workdir, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    with TreeMemory(proc.pid) as mem:
        try:
            out, err = proc.communicate(timeout=SUBPROCESS_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    seconds = time.perf_counter() - start
    cpu = children_cpu() - cpu
    found = [line for line in out.splitlines() if line.startswith("BENCH-RESULT ")]
    if proc.returncode != 0 or not found:
        raise RuntimeError(f"the plain-script run failed (exit {proc.returncode}): {err.strip()[-2000:]}")
    result = json.loads(found[-1].split(" ", 1)[1])
    failed = result["cell_errors"] or result["check_score"] < result["check_max_score"]
    return {"seconds": seconds, "cpu_s": cpu, "peak_mb": mem.peak_mb, **result,
            "first_error": _last_error_line(err) if failed else ""}


def run_kernel(nb, workdir: Path, env: dict, cell_timeout: int = 900) -> dict:
    """Restart & Run All in a real kernel (nbclient, kernel "python3"): kernel start, wall time, peak memory."""
    from nbclient import NotebookClient

    client = NotebookClient(nb, kernel_name="python3", timeout=cell_timeout, allow_errors=True,
                            record_timing=False, iopub_timeout=10, raise_on_iopub_timeout=False,
                            resources={"metadata": {"path": str(workdir)}})
    cpu = children_cpu()
    start = time.perf_counter()
    with client.setup_kernel(env=env):
        ready = time.perf_counter()
        pid = client.km.provisioner.process.pid
        with TreeMemory(pid) as mem:
            for index, cell in enumerate(client.nb.cells):
                client.execute_cell(cell, index)
            mem.sample()
            hwm = vm_hwm_mb(pid)
            uss, pss = unique_mb(pid)
        done = time.perf_counter()
    cpu = children_cpu() - cpu  # the kernel is reaped at shutdown: its CPU time is counted here
    errors = [o for c in client.nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    return {"seconds": done - start, "cpu_s": cpu, "kernel_start_s": ready - start, "cells_s": done - ready,
            "peak_mb": max(mem.peak_mb, hwm or 0.0), "kernel_vmhwm_mb": hwm, "tree_peak_mb": mem.peak_mb,
            "end_uss_mb": uss, "end_pss_mb": pss,
            "cell_errors": len(errors),
            "first_error": f"{errors[0].get('ename')}: {errors[0].get('evalue')}"[:300] if errors else ""}
