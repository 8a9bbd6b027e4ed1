"""Fixed costs: a bare interpreter, `import torch`, a kernel start, `autograder grade` of empty kit notebooks
(a run's start-up, and each further notebook's, with kernels forked from the zygote or started from scratch)."""
from __future__ import annotations

import importlib.util
import sys

from bench import shared
from bench.context import TARGETS, Bench, fmt_s
from bench.measure import best_of, timed


def run(b: Bench) -> dict:
    out = {}
    probes = [("python_bare", "pass"), ("import_torch", "import torch")]
    if not b.quick:
        probes += [("import_torch_torchvision", "import torch, torchvision"),
                   ("import_course_utils", "import course_utils, course_utils.plots")]
    for key, code in probes:
        out[key] = best_of(b.repeats, lambda code=code: timed([sys.executable, "-c", code])[0])
        b.row("startup", f"fresh `python -c \"{code}\"`", fmt_s(out[key]["min_s"]))
    out["kernel_start"] = shared.kernel_start(b)
    b.row("startup", 'kernel start ("python3", until it answers)', fmt_s(out["kernel_start"]["min_s"]))
    runs = shared.grade_empty_runs(b)
    out["autograder_grade_empty"], out["grade_empty_runs"] = runs["zygote_1"], runs
    b.row("startup", "`autograder grade` of an empty kit notebook (CLI + grader load + kernel)",
          fmt_s(runs["zygote_1"]["min_s"]))
    b.row("startup", "  of which the CLI's start-up; the grader's load (once per run)",
          f"{fmt_s(runs['cli_startup']['min_s'])}; {fmt_s(runs['grader_load_s'])}")
    b.target("startup", "fixed_per_notebook_s", "each further notebook in one run (kernel forked from the zygote)",
             runs["zygote_per_notebook_s"], TARGETS["fixed_per_notebook_s"], "s",
             note="(issue 12: 1.85 s + 1 s)")
    if "scratch_per_notebook_s" in runs:
        b.row("startup", "  the same with each kernel started from scratch (AUTOGRADER_ZYGOTE=0)",
              fmt_s(runs["scratch_per_notebook_s"]))
    try:
        out["rfc3987_syntax_installed"] = importlib.util.find_spec("rfc3987_syntax") is not None
    except Exception:
        out["rfc3987_syntax_installed"] = None
    b.row("startup", "rfc3987-syntax installed (costs every nbgrader command)",
          str(out["rfc3987_syntax_installed"]).lower())
    return out
