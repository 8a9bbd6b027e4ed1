#!/usr/bin/env python
"""The kit's benchmark: where students, TAs and CI wait, measured on the machine it runs on.

    python bench/run.py                    # the full run (tens of minutes on 2 cores)
    python bench/run.py --quick            # one notebook, one seed, a class of 4 (CI proves it works)
    python bench/run.py --out bench.json   # also write every figure as JSON
    python bench/run.py --only notebooks,quality    # some sections only

Sections (docs/benchmarks.md explains each figure):

* ``startup``   fixed costs: a bare interpreter, ``import torch`` in a fresh process, a kernel start,
                ``autograder grade`` of an empty notebook;
* ``mnist``     the first MNIST load into an empty cache and the loads after it;
* ``notebooks`` each solution's Restart & Run All in a real kernel (as a student runs it: the hidden
                check cells only print when the grader is absent, so they are left out) against the
                same code cells run as a plain Python script (the floor), and the kernel's peak memory;
* ``grading``   one student's whole assignment through ``autograder grade`` and ``nbgrader autograde``
                against the grading floor (code cells and hidden checks as a plain script), the fixed
                start-up inside them, and the start-up of each nbgrader command;
* ``class``     ``autograder class-grade`` of a class (solutions, partly wrong, untouched) with -j 1 and -j 2;
* ``quality``   test MSE of PCA and of the reference autoencoder (latent 2 and 32) under the notebook's
                and the grader's training budgets, over seeds, against the grader's thresholds.

Benchmarks print figures; they never fail on a slow figure. The exit code is 1 only when a
section could not be measured at all (its error is in the table and the JSON).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `python bench/run.py` from anywhere
    sys.path.insert(0, str(REPO))

from autograder.runner import Poller, tree_rss  # noqa: E402 (after the path is set)

SOLUTIONS = REPO / "solutions" / "autoencoders"
ASSIGNMENT = "autoencoders"
SHARED_DATA = REPO.parent / "shared" / "data"
SECTIONS = ("startup", "mnist", "notebooks", "grading", "class", "quality")
#: --quick measures one notebook: this one when it exists (the cheapest to run and grade), else the first.
QUICK_NOTEBOOK = "02_linear_layers.ipynb"

#: Issue 8's targets (2 CPU cores). Seconds unless said otherwise.
TARGETS = {
    "notebook_run_all_s": 60.0,
    "assignment_run_all_s": 240.0,
    "grade_factor": 1.3,         # autograding one student <= 1.3 x floor + 10 s
    "grade_fixed_s": 10.0,
    "nbgrader_startup_s": 2.0,
    "kernel_peak_mb": 1536.0,
    "mnist_load_s": 1.0,
}

SUBPROCESS_TIMEOUT = 3600  # no single measured command may hang the benchmark for longer


def say(*args) -> None:
    print("[bench]", *args, file=sys.stderr, flush=True)


def fmt_s(x: float | None) -> str:
    return "-" if x is None else (f"{x:.2f} s" if x < 10 else f"{x:.1f} s")


def fmt_wall_cpu(wall: float, cpu: float | None) -> str:
    """Wall time, and the CPU time it used: on a busy machine the CPU time is the steadier figure."""
    return fmt_s(wall) if cpu is None else f"{fmt_s(wall)} (cpu {fmt_s(cpu)})"


def children_cpu() -> float:
    """CPU seconds used so far by this process's finished (waited-for) children and their children."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# ====================================================================== environment
def base_env() -> dict:
    """The environment every measured process gets: one torch thread, the local MNIST copy, this venv first."""
    env = dict(os.environ)
    env.setdefault("COURSE_TORCH_THREADS", "1")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env.setdefault(var, env["COURSE_TORCH_THREADS"])
    if "COURSE_DATA_DIR" not in env and (SHARED_DATA / "MNIST" / "raw").is_dir():
        env["COURSE_DATA_DIR"] = str(SHARED_DATA)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.pop("AUTOGRADER_GRADING", None)
    return env


def student_kernel_env() -> dict:
    """A student's kernel: matplotlib's inline backend (what Jupyter uses), not Agg."""
    env = base_env()
    env.pop("MPLBACKEND", None)
    return env


def floor_env() -> dict:
    env = base_env()
    env["MPLBACKEND"] = "Agg"
    return env


def grading_env() -> dict:
    from autograder import limits

    env = limits.grading_env(base_env())
    return env


def tool(name: str) -> list[str]:
    """A console script of this environment (falls back to ``python -m``)."""
    path = Path(sys.executable).parent / name
    if path.exists():
        return [str(path)]
    return [sys.executable, "-m", {"autograder": "autograder.cli", "nbgrader": "nbgrader"}[name]]


def timed(cmd: list[str], *, cwd=None, env=None, timeout: float = SUBPROCESS_TIMEOUT, ok=(0,),
          what: str | None = None) -> tuple[float, subprocess.CompletedProcess]:
    """Run a command: (wall seconds, completed process with ``cpu_s``).

    Raises with the command's output when its exit code is not in ``ok``."""
    cpu = children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env or base_env(), capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - start
    proc.cpu_s = children_cpu() - cpu
    if ok is not None and proc.returncode not in ok:
        raise RuntimeError(f"{what or ' '.join(map(str, cmd))} exited with {proc.returncode}: "
                           f"{(proc.stdout[-1500:] + proc.stderr[-2500:]).strip()}")
    return seconds, proc


def best_of(n: int, measure: Callable[[], float]) -> dict:
    """Repeat a timing; min (the figure start-ups are judged by) and median."""
    values = [measure() for _ in range(max(1, n))]
    return {"min_s": min(values), "median_s": statistics.median(values), "runs": len(values)}


# ====================================================================== memory
def vm_hwm_mb(pid: int) -> float | None:
    """The peak resident memory of one process (Linux ``VmHWM``), MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def unique_mb(pid: int) -> tuple[float | None, float | None]:
    """(USS, PSS) of one process now, MB: its own memory, without the shared libraries RSS counts in full."""
    import psutil

    try:
        info = psutil.Process(pid).memory_full_info()
        return info.uss / 2**20, getattr(info, "pss", 0) / 2**20 or None
    except (psutil.Error, OSError):
        return None, None


class TreeMemory(Poller):
    """Polls the resident memory of a process and all its children; ``peak_mb`` is the largest sum seen."""

    def __init__(self, pid: int, every: float = 0.2):
        super().__init__(every)
        self.pid, self.peak_mb = pid, 0.0

    def __enter__(self):
        self.sample()
        return super().__enter__()

    def sample(self) -> None:
        rss = tree_rss(self.pid)
        if rss is not None:
            self.peak_mb = max(self.peak_mb, rss / 2**20)

    def poll(self) -> bool:
        self.sample()
        return False


# ====================================================================== notebooks as code
def read_nb(path: Path):
    import nbformat

    return nbformat.read(str(path), as_version=4)


def is_hidden_check(cell) -> bool:
    """A graded, non-solution code cell: the one that runs the hidden checks when the grader is installed."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def student_view(nb):
    """The notebook as a student with full answers runs it: without the grader, check cells only print."""
    import copy

    nb = copy.deepcopy(nb)
    nb.cells = [c for c in nb.cells if not is_hidden_check(c)]
    return nb


def strip_magics(source: str) -> str:
    """IPython-only lines become ``pass`` (keeping blocks valid); a cell magic's first line is dropped."""
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        lines = lines[1:]
    out = []
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            out.append(line[: len(line) - len(stripped)] + "pass")
        else:
            out.append(line)
    return "\n".join(out)


FLOOR_RUNNER = '''\
import json, sys, traceback
from IPython.display import display  # what notebooks call without importing it
CELLS = json.loads({cells!r})
ns = {{"__name__": "__main__", "display": display}}
errors = 0
for index, source in CELLS:
    try:
        exec(compile(source, f"<cell {{index}}>", "exec"), ns)
    except Exception:
        errors += 1
        traceback.print_exc()
print("BENCH-CELL-ERRORS", errors, flush=True)
'''


def floor_script(nb) -> str:
    """The notebook's code cells as one plain Python script; each cell runs even if one before it failed."""
    cells = [(i, strip_magics(c.source)) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    return FLOOR_RUNNER.format(cells=json.dumps(cells))


def workdir_for(notebook: Path, root: Path) -> Path:
    """A fresh folder holding the notebook folder's other files (what a student's folder has)."""
    work = Path(tempfile.mkdtemp(prefix=f"{notebook.stem}-", dir=root))
    for item in notebook.parent.iterdir():
        if item.is_file() and item.suffix != ".ipynb":
            shutil.copy2(item, work / item.name)
    return work


def run_floor(nb, workdir: Path, env: dict) -> dict:
    """Run the code cells as a plain script in a subprocess: wall time, peak memory, cells that failed."""
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
    errors = None
    for line in out.splitlines():
        if line.startswith("BENCH-CELL-ERRORS"):
            errors = int(line.split()[1])
    if proc.returncode != 0 or errors is None:
        raise RuntimeError(f"the plain-script run failed (exit {proc.returncode}): {err.strip()[-2000:]}")
    return {"seconds": seconds, "cpu_s": cpu, "peak_mb": mem.peak_mb, "cell_errors": errors,
            "first_error": _last_error_line(err) if errors else ""}


def _last_error_line(text: str) -> str:
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return lines[-1][:300] if lines else ""


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
            shared = unique_mb(pid)
        done = time.perf_counter()
    cpu = children_cpu() - cpu  # the kernel is reaped at shutdown: its CPU time is counted here
    errors = [o for c in client.nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    return {"seconds": done - start, "cpu_s": cpu, "kernel_start_s": ready - start, "cells_s": done - ready,
            "peak_mb": max(mem.peak_mb, hwm or 0.0), "kernel_vmhwm_mb": hwm, "tree_peak_mb": mem.peak_mb,
            "end_uss_mb": shared[0], "end_pss_mb": shared[1],
            "cell_errors": len(errors),
            "first_error": f"{errors[0].get('ename')}: {errors[0].get('evalue')}"[:300] if errors else ""}


# ====================================================================== results and the table
@dataclass
class Row:
    section: str
    label: str
    value: str | None  # None: a note printed on a line of its own
    target: str = ""
    status: str = ""


@dataclass
class Bench:
    quick: bool
    notebooks: list[Path]
    seeds: list[int]
    students: int
    jobs: list[int]
    repeats: int
    tmp: Path
    results: dict = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    targets: list[dict] = field(default_factory=list)
    _cache: dict = field(default_factory=dict)

    # -- recording
    def row(self, section: str, label: str, value: str) -> None:
        self.rows.append(Row(section, label, value))

    def note(self, section: str, text: str) -> None:
        """A line of its own in the table (what the rows below it measure)."""
        self.rows.append(Row(section, text, None))

    def target(self, section: str, name: str, label: str, value: float | None, limit: float, unit: str,
               note: str = "", cpu: float | None = None) -> None:
        met = None if value is None else bool(value <= limit)
        status = "-" if met is None else ("met" if met else "NOT MET")
        shown = "-" if value is None else (f"{value:.2f} {unit}" if value < 10 else f"{value:.1f} {unit}")
        if cpu is not None:
            shown += f" (cpu {fmt_s(cpu)})"
        bound = f"{limit:.2f}" if limit < 10 else f"{limit:.1f}".removesuffix(".0")
        self.rows.append(Row(section, label, shown, f"<= {bound} {unit}" + (f" {note}" if note else ""),
                             status))
        self.targets.append({"section": section, "target": name, "label": label, "value": value,
                             "limit": limit, "unit": unit, "met": met, "note": note})

    # -- shared, measured once
    def kernel_start(self) -> float:
        if "kernel_start" not in self._cache:
            self._cache["kernel_start"] = measure_kernel_start(self.repeats)
        return self._cache["kernel_start"]["min_s"]

    def grade_empty(self) -> float:
        """`autograder grade` of a notebook with no cells: the CLI's fixed cost per notebook, best of N."""
        if "grade_empty" not in self._cache:
            import nbformat

            empty = Path(tempfile.mkdtemp(prefix="empty-", dir=self.tmp)) / "empty.ipynb"
            nbformat.write(nbformat.v4.new_notebook(), str(empty))
            cmd = [*tool("autograder"), "grade", str(empty), "--source", str(empty), "--json"]
            self._cache["grade_empty"] = best_of(self.repeats, lambda: timed(cmd, env=base_env())[0])
        return self._cache["grade_empty"]["min_s"]

    def course(self) -> dict:
        """One temporary nbgrader course for the grading and class sections (built on first use)."""
        if "course" not in self._cache:
            self._cache["course"] = build_course(self.tmp / "course", [p.name for p in self.notebooks])
        return self._cache["course"]

    def floors(self) -> dict[str, dict]:
        """The grading floor of each notebook: code cells and hidden checks as a plain script, grading env."""
        if "grading_floors" not in self._cache:
            floors = {}
            for path in self.notebooks:
                say(f"grading floor of {path.name} (code cells + hidden checks as a plain script)")
                floors[path.name] = run_floor(read_nb(path), workdir_for(path, self.tmp), grading_env())
            self._cache["grading_floors"] = floors
        return self._cache["grading_floors"]


def measure_kernel_start(repeats: int) -> dict:
    """Start a "python3" kernel, wait until it answers, shut it down: the start part, best of N."""
    from jupyter_client.manager import start_new_kernel

    def once() -> float:
        start = time.perf_counter()
        km, kc = start_new_kernel(kernel_name="python3", startup_timeout=300, env=student_kernel_env())
        seconds = time.perf_counter() - start
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        return seconds

    return best_of(repeats, once)


# ====================================================================== 0. startup
def section_startup(b: Bench) -> dict:
    py = sys.executable
    out = {}
    probes = [("python_bare", "pass"), ("import_torch", "import torch")]
    if not b.quick:
        probes += [("import_torch_torchvision", "import torch, torchvision"),
                   ("import_course_utils", "import course_utils, course_utils.plots")]
    for key, code in probes:
        out[key] = best_of(b.repeats, lambda code=code: timed([py, "-c", code])[0])
        b.row("startup", f"fresh `python -c \"{code}\"`", fmt_s(out[key]["min_s"]))
    b.kernel_start()
    out["kernel_start"] = b._cache["kernel_start"]
    b.row("startup", 'kernel start ("python3", until it answers)', fmt_s(out["kernel_start"]["min_s"]))
    b.grade_empty()
    out["autograder_grade_empty"] = b._cache["grade_empty"]
    b.row("startup", "`autograder grade` of an empty notebook (CLI + kernel)",
          fmt_s(out["autograder_grade_empty"]["min_s"]))
    try:
        import importlib.util

        out["rfc3987_syntax_installed"] = importlib.util.find_spec("rfc3987_syntax") is not None
    except Exception:
        out["rfc3987_syntax_installed"] = None
    b.row("startup", "rfc3987-syntax installed (costs every nbgrader command)",
          str(out["rfc3987_syntax_installed"]).lower())
    return out


# ====================================================================== 0b. MNIST
MNIST_PROBE = '''\
import json, time
t0 = time.perf_counter()
from course_utils.data import mnist_tensors, load_mnist_flat
t1 = time.perf_counter()
mnist_tensors("train"); mnist_tensors("test")
t2 = time.perf_counter()
load_mnist_flat("train", n=10_000, seed=0); load_mnist_flat("test", n=2_000, seed=0)
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "tensors_s": t2 - t1, "flat_subsets_s": t3 - t2}))
'''


def section_mnist(b: Bench) -> dict:
    """First load into an empty cache, then loads in fresh processes (the import of torch is not counted)."""
    cache = b.tmp / "mnist-cache"
    env = dict(base_env(), COURSE_CACHE_DIR=str(cache))

    def probe() -> dict:
        _, proc = timed([sys.executable, "-c", MNIST_PROBE], env=env)
        return json.loads(proc.stdout.strip().splitlines()[-1])

    first = probe()
    later = [probe() for _ in range(max(2, b.repeats))]
    out = {
        "first_load_s": first["tensors_s"],
        "later_load_s": statistics.median(p["tensors_s"] for p in later),
        "later_load_max_s": max(p["tensors_s"] for p in later),
        "later_load_with_subsets_s": statistics.median(p["tensors_s"] + p["flat_subsets_s"] for p in later),
        "import_s": statistics.median(p["import_s"] for p in later),
    }
    b.row("mnist", "first load, empty cache (decompress, parse, write cache)", fmt_s(out["first_load_s"]))
    b.target("mnist", "mnist_load_s", "later loads: mnist_tensors train + test", out["later_load_s"],
             TARGETS["mnist_load_s"], "s")
    b.row("mnist", "later loads + the notebooks' 10k/2k float subsets", fmt_s(out["later_load_with_subsets_s"]))
    b.row("mnist", "import course_utils.data (torch, torchvision), not counted above", fmt_s(out["import_s"]))
    return out


# ====================================================================== 1. notebooks
def section_notebooks(b: Bench) -> dict:
    # Warm the default MNIST cache first so no notebook pays for the first-ever load.
    from course_utils.data import mnist_tensors

    mnist_tensors("train")
    mnist_tensors("test")
    items = []
    for path in b.notebooks:
        nb = student_view(read_nb(path))
        say(f"{path.name}: Restart & Run All in a kernel")
        kernel = run_kernel(nb, workdir_for(path, b.tmp), student_kernel_env())
        say(f"{path.name}: the same cells as a plain script")
        floor = run_floor(nb, workdir_for(path, b.tmp), floor_env())
        item = {"notebook": path.name, "code_cells": sum(c.cell_type == "code" for c in nb.cells),
                "kernel": kernel, "floor": floor,
                "run_all_s": kernel["seconds"], "floor_s": floor["seconds"],
                "ratio": kernel["seconds"] / floor["seconds"], "peak_mb": kernel["peak_mb"]}
        items.append(item)
        name = path.stem
        b.target("notebooks", "notebook_run_all_s", f"{name}: Restart & Run All (kernel)", kernel["seconds"],
                 TARGETS["notebook_run_all_s"], "s", cpu=kernel["cpu_s"])
        b.row("notebooks", f"{name}: plain-script floor", fmt_wall_cpu(floor["seconds"], floor["cpu_s"]))
        b.row("notebooks", f"{name}: ratio kernel / floor (kernel start {fmt_s(kernel['kernel_start_s'])})",
              f"{item['ratio']:.2f}x")
        b.target("notebooks", "kernel_peak_mb", f"{name}: peak kernel memory (RSS)", kernel["peak_mb"],
                 TARGETS["kernel_peak_mb"], "MB", note=f"(plain script {floor['peak_mb']:.0f} MB)")
        if kernel["end_uss_mb"] is not None:
            b.row("notebooks", f"{name}: kernel's own memory at the end (USS; PSS)",
                  f"{kernel['end_uss_mb']:.0f} MB; {kernel['end_pss_mb'] or 0:.0f} MB")
        if kernel["cell_errors"] or floor["cell_errors"]:
            b.row("notebooks", f"{name}: CELLS FAILED (kernel {kernel['cell_errors']}, script "
                  f"{floor['cell_errors']})", (kernel["first_error"] or floor["first_error"])[:60])
    total = sum(i["run_all_s"] for i in items)
    floor_total = sum(i["floor_s"] for i in items)
    partial = len(b.notebooks) < len(all_notebooks())
    note = f"({len(items)} of {len(all_notebooks())} notebooks)" if partial else ""
    b.target("notebooks", "assignment_run_all_s", "whole assignment: Restart & Run All, summed", total,
             TARGETS["assignment_run_all_s"], "s", note=note, cpu=sum(i["kernel"]["cpu_s"] for i in items))
    b.row("notebooks", "whole assignment: floor, summed (ratio)",
          f"{fmt_s(floor_total)} ({total / floor_total:.2f}x)")
    return {"items": items, "assignment_run_all_s": total, "assignment_floor_s": floor_total,
            "assignment_ratio": total / floor_total, "notebooks_measured": len(items),
            "notebooks_total": len(all_notebooks())}


# ====================================================================== 2. grading one student
def build_course(root: Path, names: list[str]) -> dict:
    """make_course + generate_assignment: the course every grading figure uses."""
    from autograder.course import make_course

    say(f"building a temporary course in {root}")
    course = make_course(root, only=names)
    seconds, _ = timed([*tool("nbgrader"), "generate_assignment", ASSIGNMENT, "--force"], cwd=course,
                       env=grading_env())
    return {"root": course, "generate_assignment_s": seconds}


def add_submission(course: Path, student: str, kind: str, names: list[str]) -> None:
    """Put a student's notebooks straight into submitted/ (what `nbgrader collect` leaves there)."""
    import nbformat

    from autograder.course import full_marks_notebook, partly_wrong_notebook

    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        if kind == "full marks":
            nb = full_marks_notebook(name)
        elif kind == "partly wrong":
            nb = partly_wrong_notebook(name)
        elif kind == "untouched release":
            nb = read_nb(course / "assignments" / ASSIGNMENT / name)
        else:
            raise ValueError(kind)
        nbformat.write(nb, str(folder / name))


def gradebook_score(course: Path, student: str) -> tuple[float, float]:
    from autograder.classgrade import _scores

    return _scores(course, ASSIGNMENT, student, None)


NBGRADER_NOOPS = [
    # (label, arguments, expected exit codes, run in --quick)
    ("--version (imports only)", ["--version"], (0,), True),
    ("db student list", ["db", "student", "list"], (0,), False),
    ("autograde, nobody submitted", ["autograde", ASSIGNMENT, "--student", "nobody"], (0, 1), True),
    ("generate_feedback, nothing graded", ["generate_feedback", ASSIGNMENT, "--student", "nobody"], (0, 1), False),
    ("collect, nothing released", ["collect", ASSIGNMENT, "--student", "nobody"], (0, 1), False),
    ("list (the exchange)", ["list"], (0, 1), False),
    ("export to CSV", ["export", "--to=__EXPORT__"], (0,), False),
]


def section_grading(b: Bench) -> dict:
    names = [p.name for p in b.notebooks]
    floors = b.floors()
    floor_total = sum(f["seconds"] for f in floors.values())
    floor_cpu = sum(f["cpu_s"] for f in floors.values())
    kernel_start = b.kernel_start()
    n = len(names)
    partial = f"({n} of {len(all_notebooks())} notebooks)" if n < len(all_notebooks()) else ""
    limit = TARGETS["grade_factor"] * floor_total + TARGETS["grade_fixed_s"]
    out = {"floor_s": floor_total, "floor_cpu_s": floor_cpu, "floors": floors, "limit_s": limit, "notebooks": names}
    for name, floor in floors.items():
        if floor["cell_errors"]:
            b.row("grading", f"{Path(name).stem}: grading floor had failing cells", floor["first_error"][:60])
    b.row("grading", "grading floor (code + hidden checks as plain scripts), summed",
          fmt_wall_cpu(floor_total, floor_cpu))

    # autograder grade, once per notebook, on a copy of the solutions
    sub = Path(tempfile.mkdtemp(prefix="student-", dir=b.tmp))
    per, score, max_score = {}, 0.0, 0.0
    for path in b.notebooks:
        shutil.copy2(path, sub / path.name)
        say(f"autograder grade {path.name}")
        seconds, proc = timed([*tool("autograder"), "grade", str(sub / path.name), "--json"], env=base_env())
        result = json.loads(proc.stdout)
        per[path.name] = {"seconds": seconds, "cpu_s": proc.cpu_s, "score": result["score"],
                          "max_score": result["max_score"]}
        score, max_score = score + result["score"], max_score + result["max_score"]
    wall = sum(p["seconds"] for p in per.values())
    empty = b.grade_empty()
    cpu = sum(p["cpu_s"] for p in per.values())
    out["autograder_grade"] = {"wall_s": wall, "cpu_s": cpu, "per_notebook": per, "score": score,
                               "max_score": max_score,
                               "ratio": wall / floor_total, "fixed_startup_s": n * empty,
                               "fixed_share": n * empty / wall}
    b.target("grading", "autograde_one_student_s", f"autograder grade, one student {partial}".strip(), wall,
             limit, "s", note="(1.3 x floor + 10)", cpu=cpu)
    b.row("grading", "  ratio to floor; score", f"{wall / floor_total:.2f}x; {score:g}/{max_score:g}")
    b.row("grading", f"  fixed start-up: {n} x `autograder grade` of an empty notebook",
          f"{fmt_s(n * empty)} ({100 * n * empty / wall:.0f}%)")

    # nbgrader autograde through a course
    info = b.course()
    course = info["root"]
    add_submission(course, "bench_one", "full marks", names)
    say("nbgrader autograde, one student")
    wall, proc = timed([*tool("nbgrader"), "autograde", ASSIGNMENT, "--student", "bench_one", "--force"],
                       cwd=course, env=grading_env())
    cpu = proc.cpu_s
    score, max_score = gradebook_score(course, "bench_one")

    # each nbgrader command's own start-up
    commands = {}
    for label, args, codes, in_quick in NBGRADER_NOOPS:
        if b.quick and not in_quick:
            continue
        args = [a.replace("__EXPORT__", str(b.tmp / "export.csv")) for a in args]
        cwd = b.tmp if args == ["--version"] else course
        commands[label] = best_of(b.repeats, lambda args=args, cwd=cwd, codes=codes: timed(
            [*tool("nbgrader"), *args], cwd=cwd, env=grading_env(), ok=codes)[0])
    commands["generate_assignment (real work)"] = {"min_s": info["generate_assignment_s"],
                                                   "median_s": info["generate_assignment_s"], "runs": 1}
    noop = commands["autograde, nobody submitted"]["min_s"]
    fixed = noop + n * kernel_start
    out["nbgrader_autograde"] = {"wall_s": wall, "cpu_s": cpu, "score": score, "max_score": max_score,
                                 "ratio": wall / floor_total, "fixed_startup_s": fixed, "fixed_share": fixed / wall,
                                 "command_startup_s": noop, "kernel_starts_s": n * kernel_start}
    out["nbgrader_commands"] = commands
    b.target("grading", "autograde_one_student_s", f"nbgrader autograde, one student {partial}".strip(), wall,
             limit, "s", note="(1.3 x floor + 10)", cpu=cpu)
    b.row("grading", "  ratio to floor; score (gradebook)",
          f"{wall / floor_total:.2f}x; {score:g}/{max_score:g}")
    b.row("grading", f"  fixed start-up: command start-up + {n} kernel start(s)",
          f"{fmt_s(fixed)} ({100 * fixed / wall:.0f}%)")
    for label, figures in commands.items():
        if label.startswith("generate_assignment"):
            b.row("grading", f"nbgrader {label}", fmt_s(figures["min_s"]))
        else:
            b.target("grading", "nbgrader_startup_s", f"nbgrader {label}: start-up", figures["min_s"],
                     TARGETS["nbgrader_startup_s"], "s")
    return out


# ====================================================================== 3. a class
KINDS = ("full marks", "partly wrong", "full marks", "untouched release")


def section_class(b: Bench) -> dict:
    names = [p.name for p in b.notebooks]
    course = b.course()["root"]
    students = {f"class{i + 1:02d}": KINDS[i % len(KINDS)] for i in range(b.students)}
    for student, kind in students.items():
        add_submission(course, student, kind, names)
    mix = {k: sum(v == k for v in students.values()) for k in dict.fromkeys(KINDS)}
    out = {"submissions": len(students), "notebooks": names, "mix": mix, "runs": {}}
    b.row("class", "submissions (" + ", ".join(f"{v} {k}" for k, v in mix.items()) + ")",
          f"{len(students)} x {len(names)} notebook(s)")
    for jobs in b.jobs:
        say(f"autograder class-grade -j {jobs} ({len(students)} students)")
        cmd = [*tool("autograder"), "class-grade", str(course), ASSIGNMENT, "-j", str(jobs), "--json"]
        for student in students:
            cmd += ["--student", student]
        wall, proc = timed(cmd, env=base_env(), ok=(0, 1))
        cpu = proc.cpu_s
        outcomes = json.loads(proc.stdout.strip().splitlines()[-1])
        graded = [o for o in outcomes if o["ok"]]
        per = [o["seconds"] for o in outcomes]
        run = {"jobs": jobs, "wall_s": wall, "cpu_s": cpu, "per_minute": 60 * len(students) / wall,
               "graded": len(graded),
               "failed": len(outcomes) - len(graded), "student_median_s": statistics.median(per) if per else None,
               "student_max_s": max(per) if per else None,
               "scores": {o["student"]: o["score"] for o in outcomes}}
        out["runs"][str(jobs)] = run
        b.row("class", f"-j {jobs}: total wall time", fmt_wall_cpu(wall, cpu))
        b.row("class", f"-j {jobs}: submissions per minute", f"{run['per_minute']:.2f}")
        b.row("class", f"-j {jobs}: graded / failed; one student's median (max)",
              f"{run['graded']} / {run['failed']}; {fmt_s(run['student_median_s'])} ({fmt_s(run['student_max_s'])})")
    if len(b.jobs) > 1:
        one, most = out["runs"][str(b.jobs[0])], out["runs"][str(b.jobs[-1])]
        out["speedup"] = one["wall_s"] / most["wall_s"]
        b.row("class", f"speed-up of -j {b.jobs[-1]} over -j {b.jobs[0]}", f"{out['speedup']:.2f}x")
    return out


# ====================================================================== 4. model quality
# The recipes and thresholds are part 4's own: the grader's recipe and bars come from
# autograder.checks.autoencoder, the notebook's budget is the notebook's own training cell (grade_id
# "train_models") run on the reference model. Only these two functions know where they live.
LATENT_SIZES = (2, 32)


def part4_cells() -> dict | None:
    """The cells (by grade_id) of the solution notebook that trains the autoencoders; None while it doesn't exist."""
    for path in all_notebooks():
        cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in read_nb(path).cells}
        if "train_models" in cells and "setup" in cells:
            cells["__path__"] = path
            return cells
    return None


def notebook_budget(seed: int) -> dict[int, dict]:
    """The notebook's training cell, run on the reference Autoencoder with every seed in it shifted by ``seed``
    (seed 0 is exactly the notebook). Judged like the grader judges the notebook's own ``ae_models``."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from autograder.checks import autoencoder as checks
    from autograder.reference import autoencoder as ref
    from course_utils import data, seed as seeding

    cells = part4_cells()
    seconds: dict[int, float] = {}

    def train_autoencoder(model, loader, epochs, lr=1e-3):
        start = time.perf_counter()
        history = ref.train_autoencoder(model, loader, epochs, lr)
        seconds[getattr(model, "_bench_k", len(seconds))] = time.perf_counter() - start
        return history

    class Autoencoder(ref.Autoencoder):
        def __init__(self, latent_dim):
            super().__init__(latent_dim)
            self._bench_k = latent_dim

    shift = seed

    def set_seed(seed=0, threads=None):
        return seeding.set_seed(seed + shift, threads)

    def make_loader(*tensors, seed=0, **kwargs):
        return data.make_loader(*tensors, seed=seed + shift, **kwargs)

    ns: dict = {"__name__": "__bench__"}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(strip_magics(cells["setup"].source), "<setup>", "exec"), ns)
        ns.update(Encoder=ref.Encoder, Decoder=ref.Decoder, Autoencoder=Autoencoder,
                  train_autoencoder=train_autoencoder, set_seed=set_seed, make_loader=make_loader)
        exec(compile(strip_magics(cells["train_models"].source), "<train_models>", "exec"), ns)
    plt.close("all")
    models = ns["ae_models"]
    X_train, X_held = checks._held_out()
    out = {}
    for k in LATENT_SIZES:
        if k not in models:
            continue
        pca = checks.pca_test_mse(X_train, X_held, k)
        # the bars of test_own_model_2_beats_pca and test_own_model_32_trained
        bar = checks.QUALITY_RATIO * pca if k == 2 else checks.pca_test_mse(X_train, X_held, k // 2)
        rule = f"{checks.QUALITY_RATIO:g} x PCA({k})" if k == 2 else f"PCA({k // 2})"
        out[k] = {"ae_mse": checks.mse(checks.bottleneck_reconstruction(models[k], X_held, k), X_held),
                  "pca_mse": pca, "threshold": bar, "rule": rule, "train_s": seconds.get(k)}
    return out


def grader_budget(seed: int) -> dict[int, dict]:
    """The grader's quality recipe (QUALITY_RECIPE) at each latent size, on split seed ``seed`` (and init seed
    shifted by it: seed 0 is exactly the check). The grader judges latent size QUALITY_RECIPE["k"] only."""
    from autograder.checks import autoencoder as checks
    from autograder.reference import autoencoder as ref

    base = checks.QUALITY_RECIPE
    out = {}
    for k in LATENT_SIZES:
        recipe = dict(base, k=k, split_seed=base["split_seed"] + seed, init_seed=base["init_seed"] + seed)
        ae, pca, secs = checks.grader_quality(ref.Autoencoder, recipe)
        judged = k == base["k"]
        out[k] = {"ae_mse": ae, "pca_mse": pca, "threshold": checks.QUALITY_RATIO * pca if judged else None,
                  "rule": f"{checks.QUALITY_RATIO:g} x PCA({k})" if judged else "not judged by the grader",
                  "train_s": secs}
    return out


def budget_descriptions() -> dict[str, str]:
    from autograder.checks import autoencoder as checks

    r = checks.QUALITY_RECIPE
    cells = part4_cells()
    return {
        "notebook": (f"the training cell of {cells['__path__'].name}, reference model, judged on the grader's "
                     f"held-out digits" if cells else "no part-4 notebook yet"),
        "grader": (f"QUALITY_RECIPE: {r['n_train']} train / {r['n_test']} held-out digits, Adam {r['lr']:g}, "
                   f"batch {r['batch_size']}, {r['epochs']} epochs"),
    }


def section_quality(b: Bench) -> dict:
    import torch

    torch.set_num_threads(int(os.environ.get("COURSE_TORCH_THREADS", "1")))
    budgets = {"notebook": notebook_budget, "grader": grader_budget}
    described = budget_descriptions()
    out = {"seeds": b.seeds, "budgets": {}}
    for name, run in budgets.items():
        if name == "notebook" and part4_cells() is None:
            out["budgets"][name] = {"skipped": "no solution notebook with a 'train_models' cell yet"}
            b.note("quality", f"{name} budget: skipped, no part-4 notebook yet")
            continue
        b.note("quality", f"{name} budget: {described[name]}")
        runs = []
        for seed in b.seeds:
            say(f"quality: {name} budget, seed {seed}")
            runs.append(run(seed))
        rows = {}
        for k in LATENT_SIZES:
            per = [r[k] for r in runs if k in r]
            if not per:
                continue
            ae = [p["ae_mse"] for p in per]
            pca = [p["pca_mse"] for p in per]
            limits_ = [p["threshold"] for p in per]
            margins = None if None in limits_ else [t - a for t, a in zip(limits_, ae)]
            row = {"ae_mse": ae, "pca_mse": pca, "threshold": limits_, "rule": per[0]["rule"],
                   "ae_mse_mean": statistics.mean(ae), "ae_mse_worst": max(ae), "pca_mse_mean": statistics.mean(pca),
                   "ae_over_pca": statistics.mean(ae) / statistics.mean(pca),
                   "margin_min": None if margins is None else min(margins),
                   "margin_rel_min": None if margins is None else min(m / t for m, t in zip(margins, limits_)),
                   "train_s_mean": statistics.mean(p["train_s"] for p in per if p["train_s"] is not None)
                   if any(p["train_s"] is not None for p in per) else None}
            rows[str(k)] = row
            spread = f" [{min(ae):.4f}..{max(ae):.4f}]" if len(ae) > 1 else ""
            b.row("quality", f"  k={k}: PCA / autoencoder test MSE (mean{' [range]' if spread else ''})",
                  f"{row['pca_mse_mean']:.4f} / {row['ae_mse_mean']:.4f}{spread}")
            if margins is None:
                b.row("quality", f"  k={k}: grader's threshold", row["rule"])
            else:
                b.row("quality", f"  k={k}: threshold ({row['rule']}); smallest margin",
                      f"{statistics.mean(limits_):.4f}; {row['margin_min']:+.4f} ({100 * row['margin_rel_min']:.0f}%)")
            if row["train_s_mean"] is not None:
                b.row("quality", f"  k={k}: training time per model", fmt_s(row["train_s_mean"]))
        out["budgets"][name] = {"describe": described[name], "latent": rows}
    return out


# ====================================================================== driver
def all_notebooks() -> list[Path]:
    return sorted(SOLUTIONS.glob("*.ipynb"))


def machine() -> dict:
    info = {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "torch_threads": os.environ.get("COURSE_TORCH_THREADS", "1"), "argv": sys.argv[1:]}
    try:
        info["load_average"] = list(os.getloadavg())
    except OSError:
        pass
    try:
        import psutil

        info["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    except Exception:
        pass
    for package in ("torch", "nbgrader", "nbclient"):
        try:
            from importlib.metadata import version

            info[package] = version(package)
        except Exception:
            info[package] = None
    return info


def print_table(b: Bench, out=sys.stdout) -> None:
    rows = [r for r in b.rows if r.value is not None]
    width = max([len(r.label) for r in rows] + [20]) + 2
    vwidth = max([len(r.value) for r in rows] + [10]) + 2
    twidth = max([len(r.target) for r in rows] + [6]) + 2
    header = f"{'figure':<{width}}{'value':>{vwidth}}  {'target':<{twidth}}status"
    print(header, file=out)
    print("-" * len(header), file=out)
    section = None
    for r in b.rows:
        if r.section != section:
            section = r.section
            print(f"[{section}]", file=out)
        if r.value is None:
            print(r.label, file=out)
            continue
        print(f"{r.label:<{width}}{r.value:>{vwidth}}  {r.target:<{twidth}}{r.status}".rstrip(), file=out)


def finite_json(value):
    """JSON-safe: NaN and infinities become None, Paths become strings."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="one notebook, one seed, a class of 4 (a few minutes)")
    p.add_argument("--out", help="write every figure to this JSON file")
    p.add_argument("--only", help=f"comma-separated sections to run (default all: {','.join(SECTIONS)})")
    p.add_argument("--skip", help="comma-separated sections to leave out")
    p.add_argument("--notebook", action="append",
                   help="measure only this notebook (file name; repeatable). Default: all; --quick: the first")
    p.add_argument("--students", type=int, help="class size (default 20; --quick 4)")
    p.add_argument("--seeds", type=int, help="seeds for model quality (default 3; --quick 1)")
    p.add_argument("--jobs", default="1,2", help="class-grade -j values to compare (default 1,2)")
    p.add_argument("--repeats", type=int, help="repeats of each start-up timing (default 3; --quick 1)")
    p.add_argument("--keep", help="build the temporary courses here and keep them")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    notebooks = all_notebooks()
    if not notebooks:
        print(f"bench: no notebooks in {SOLUTIONS}", file=sys.stderr)
        return 2
    if args.notebook:
        by_name = {p.name: p for p in notebooks}
        missing = [n for n in args.notebook if n not in by_name]
        if missing:
            print(f"bench: no such notebook(s): {', '.join(missing)}", file=sys.stderr)
            return 2
        notebooks = [by_name[n] for n in args.notebook]
    elif args.quick:
        notebooks = [p for p in notebooks if p.name == QUICK_NOTEBOOK] or notebooks[:1]
    sections = [s.strip() for s in (args.only or ",".join(SECTIONS)).split(",") if s.strip()]
    sections = [s for s in sections if s not in (args.skip or "").split(",")]
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        print(f"bench: unknown section(s) {unknown}; choose from {', '.join(SECTIONS)}", file=sys.stderr)
        return 2
    os.environ.update({k: v for k, v in base_env().items() if k not in os.environ})
    if args.keep:
        tmp = Path(args.keep).resolve()
        tmp.mkdir(parents=True, exist_ok=True)
    else:
        tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    b = Bench(quick=args.quick, notebooks=notebooks,
              seeds=list(range(args.seeds or (1 if args.quick else 3))),
              students=args.students or (4 if args.quick else 20),
              jobs=[int(j) for j in args.jobs.split(",") if j.strip()],
              repeats=args.repeats or (1 if args.quick else 3), tmp=tmp)
    started = time.perf_counter()
    b.results["machine"] = machine()
    b.results["mode"] = "quick" if args.quick else "full"
    failed = []
    functions = {"startup": section_startup, "mnist": section_mnist, "notebooks": section_notebooks,
                 "grading": section_grading, "class": section_class, "quality": section_quality}
    try:
        for name in sections:
            say(f"== {name}")
            t0 = time.perf_counter()
            try:
                b.results[name] = functions[name](b)
                b.results[name]["section_s"] = time.perf_counter() - t0
            except Exception as exc:
                failed.append(name)
                b.results[name] = {"error": f"{type(exc).__name__}: {exc}"[:3000]}
                b.row(name, "COULD NOT BE MEASURED", f"{type(exc).__name__}: {str(exc)[:70]}")
                traceback.print_exc()
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    b.results["targets"] = b.targets
    b.results["total_s"] = time.perf_counter() - started
    b.results["machine"]["load_average_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    m = b.results["machine"]
    print(f"\nbenchmark ({b.results['mode']}) on {m.get('cpus')} CPUs, torch threads {m['torch_threads']}, "
          f"load average at start {', '.join(f'{x:.1f}' for x in m.get('load_average', []))}; "
          f"took {b.results['total_s']:.0f} s\n")
    print_table(b)
    met = [t for t in b.targets if t["met"] is not None]
    print(f"\ntargets met: {sum(t['met'] for t in met)} of {len(met)}"
          + (f"; sections that could not be measured: {', '.join(failed)}" if failed else ""))
    if args.out:
        Path(args.out).write_text(json.dumps(finite_json(b.results), indent=1) + "\n")
        print(f"figures written to {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
