"""Each solution's Restart & Run All in a kernel, as a student runs it, against its plain-script floor."""
from __future__ import annotations

from pathlib import Path

from autograder.checkout import solution_notebooks
from bench.context import TARGETS, Bench, fmt_s, fmt_wall_cpu
from bench.measure import floor_env, say, student_kernel_env
from bench.nbrun import read_nb, run_floor, run_kernel, student_view, workdir_for


def measure(b: Bench, path: Path) -> dict:
    """One notebook without its check cells (a student has no grader): in a kernel, then as a plain script."""
    nb = student_view(read_nb(path))
    say(f"{path.name}: Restart & Run All in a kernel")
    kernel = run_kernel(nb, workdir_for(path, b.tmp), student_kernel_env())
    say(f"{path.name}: the same cells as a plain script")
    floor = run_floor(nb, workdir_for(path, b.tmp), floor_env())
    return {"notebook": path.name, "code_cells": sum(c.cell_type == "code" for c in nb.cells),
            "kernel": kernel, "floor": floor,
            "run_all_s": kernel["seconds"], "floor_s": floor["seconds"],
            "ratio": kernel["seconds"] / floor["seconds"], "peak_mb": kernel["peak_mb"]}


def record(b: Bench, name: str, item: dict) -> None:
    kernel, floor = item["kernel"], item["floor"]
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


def run(b: Bench) -> dict:
    # Warm the default MNIST cache first so no notebook pays for the first-ever load.
    from course_utils.data import mnist_tensors

    mnist_tensors("train")
    mnist_tensors("test")
    items = []
    for path in b.notebooks:
        items.append(measure(b, path))
        record(b, path.stem, items[-1])
    total = sum(i["run_all_s"] for i in items)
    floor_total = sum(i["floor_s"] for i in items)
    b.target("notebooks", "assignment_run_all_s", "whole assignment: Restart & Run All, summed", total,
             TARGETS["assignment_run_all_s"], "s", note=b.partial, cpu=sum(i["kernel"]["cpu_s"] for i in items))
    b.row("notebooks", "whole assignment: floor, summed (ratio)",
          f"{fmt_s(floor_total)} ({total / floor_total:.2f}x)")
    return {"items": items, "assignment_run_all_s": total, "assignment_floor_s": floor_total,
            "assignment_ratio": total / floor_total, "notebooks_measured": len(items),
            "notebooks_total": len(solution_notebooks())}
