"""The first MNIST load into an empty cache, and the loads after it (in fresh processes)."""
from __future__ import annotations

import json
import statistics
import sys

from bench.context import TARGETS, Bench, fmt_s
from bench.measure import grading_env, timed

PROBE = '''\
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


def run(b: Bench) -> dict:
    """First load into an empty cache, then loads in fresh processes (the import of torch is not counted)."""
    env = dict(grading_env(), COURSE_CACHE_DIR=str(b.tmp / "mnist-cache"))

    def probe() -> dict:
        _, proc = timed([sys.executable, "-c", PROBE], env=env)
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
