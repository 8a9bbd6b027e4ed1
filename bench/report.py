"""The benchmark's output: the machine it ran on, the table on stdout, every figure as JSON."""
from __future__ import annotations

import json
import math
import os
import platform
import sys
from pathlib import Path

from bench.context import Bench


def machine() -> dict:
    """What the figures depend on: CPUs, load, memory, versions, the torch threads."""
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
    from importlib.metadata import version

    for package in ("torch", "nbgrader", "nbclient"):
        try:
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


def print_report(b: Bench, failed: list[str], out=sys.stdout) -> None:
    """The header line (mode, CPUs, load, duration), the table, and how many targets were met."""
    m = b.results["machine"]
    print(f"\nbenchmark ({b.results['mode']}) on {m.get('cpus')} CPUs, torch threads {m['torch_threads']}, "
          f"load average at start {', '.join(f'{x:.1f}' for x in m.get('load_average', []))}; "
          f"took {b.results['total_s']:.0f} s\n", file=out)
    print_table(b, out)
    met = [t for t in b.targets if t["met"] is not None]
    print(f"\ntargets met: {sum(t['met'] for t in met)} of {len(met)}"
          + (f"; sections that could not be measured: {', '.join(failed)}" if failed else ""), file=out)


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


def write_json(b: Bench, path: str | Path) -> None:
    Path(path).write_text(json.dumps(finite_json(b.results), indent=1) + "\n")
