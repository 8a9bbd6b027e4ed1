"""Fixed costs: a bare interpreter, `import torch`, a kernel start, `autograder grade` of an empty kit notebook."""
from __future__ import annotations

import importlib.util
import sys

from bench import shared
from bench.context import Bench, fmt_s
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
    out["autograder_grade_empty"] = shared.grade_empty(b)
    b.row("startup", "`autograder grade` of an empty kit notebook (CLI + kernel)",
          fmt_s(out["autograder_grade_empty"]["min_s"]))
    try:
        out["rfc3987_syntax_installed"] = importlib.util.find_spec("rfc3987_syntax") is not None
    except Exception:
        out["rfc3987_syntax_installed"] = None
    b.row("startup", "rfc3987-syntax installed (costs every nbgrader command)",
          str(out["rfc3987_syntax_installed"]).lower())
    return out
