"""How a grading kernel starts: an ipykernel with the protocol server added, and nothing of the grader.

``python -I -m autograder.inkernel.kernel -f CONNECTION [--memory-mb N]`` starts one from scratch; the
zygote (:mod:`autograder.inkernel.zygote`) forks ready ones from a process that ran :func:`preload`.
Either way the kernel caps its data memory (a runaway allocation fails inside the student's cell instead
of taking the machine down), adds :func:`autograder.inkernel.server.install`'s handler, walls itself in
(:mod:`autograder.inkernel.sandbox`) and runs the notebook. It imports only what a student's notebook
imports anyway, and this package.
"""
from __future__ import annotations

import resource
import sys

MEMORY_FLAG = "--memory-mb"


def cap_memory(megabytes: int) -> None:
    if megabytes <= 0:
        return
    limit = megabytes * 2**20
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))


def take_flag(argv: list[str], flag: str, default: str = "") -> str:
    """The value of ``flag VALUE`` in ``argv``, removed from it."""
    if flag not in argv:
        return default
    i = argv.index(flag)
    value = argv[i + 1] if i + 1 < len(argv) else default
    del argv[i:i + 2]
    return value


def preload() -> None:
    """What notebooks import anyway, loaded once so that each forked kernel starts ready (no grader code)."""
    import warnings

    warnings.simplefilter("ignore")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401 (its font list is read now, while its cache folder may still be read)
    import numpy  # noqa: F401
    import torch
    import torch.nn.functional  # noqa: F401
    import torch.utils.data  # noqa: F401
    import tqdm.auto  # noqa: F401
    import tqdm._monitor  # noqa: F401

    import course_utils
    import course_utils.seed  # noqa: F401
    from autograder.inkernel import recipes, sandbox, server, wire  # noqa: F401 (nothing is read from disk later)

    for name in course_utils.__all__:  # the package's lazy names, filled now
        getattr(course_utils, name)


def serve(argv: list[str]) -> None:
    """Cap memory, start the kernel with the protocol server, wall it in, and run until it is shut down."""
    memory = int(take_flag(argv, MEMORY_FLAG, "0") or 0)
    preload()  # (already done in a kernel forked from the zygote)
    cap_memory(memory)
    from ipykernel.kernelapp import IPKernelApp

    from autograder.inkernel import sandbox, server

    app = IPKernelApp.instance()
    app.initialize(argv)  # its sockets are bound now: the walls forbid new ones
    protocol = server.install(app.kernel)
    protocol.isolation = sandbox.apply_from_environment()
    app.start()


def main(argv: list[str] | None = None) -> None:
    serve(list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
