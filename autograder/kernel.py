"""The grading kernel: an ipykernel that loads the grader before any student code and answers check requests.

The kit's executor (:mod:`autograder.executor`) forks it from a preloaded process (:mod:`autograder.zygote`)
or, when that is not available, starts it as ``python -I -m autograder.kernel``; either way the grader
comes from the kit's installation, never from the notebook's folder, ``PYTHONPATH`` or anything a
student can name. Before the first cell of the notebook runs, it:

1. reads its HMAC key from the pipe the executor opened (``--autograder-key-fd N``) and closes it;
2. caps its data memory (``AUTOGRADER_MEMORY_MB``): a runaway allocation fails inside the student's
   cell instead of taking the machine down;
3. imports the grader, every hidden check and the libraries they use, reads the grader-held MNIST
   into memory, and takes the :class:`~autograder.integrity.Baseline` snapshot;
4. adds one handler to the kernel, for :data:`autograder.protocol.REQUEST` messages: it runs a
   cell's checks on the notebook's namespace and replies with the result signed by the key.

The key is kept only inside an ``hmac`` object in the handler's closure. Reaching it needs
introspection of the kernel's objects (``gc``, ``__closure__``, frames, ``ctypes``): the static audit
flags those for a person (see docs/ta-guide.md, "Threat model").
"""
from __future__ import annotations

import os
import resource
import sys


def cap_memory(megabytes: int) -> None:
    limit = megabytes * 2**20
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))


def _take_key_fd(argv: list[str]) -> int:
    from autograder.protocol import KEY_FD_FLAG

    if KEY_FD_FLAG not in argv:
        raise SystemExit(f"autograder.kernel: started without {KEY_FD_FLAG} (only the kit's executor starts it)")
    i = argv.index(KEY_FD_FLAG)
    fd = int(argv[i + 1])
    del argv[i:i + 2]
    return fd


def preload() -> None:
    """Everything the checks use, imported now, while only the grader's code has run."""
    import warnings

    warnings.simplefilter("ignore")
    import numpy  # noqa: F401
    import torch
    import torch.nn.functional  # noqa: F401
    import tqdm.auto  # noqa: F401  (its monitor thread is the one thread the notebook may start)
    import tqdm._monitor  # noqa: F401

    import course_utils
    from autograder import heldout, incell, limits, registry, report  # noqa: F401 (loaded before any student code)

    for name in course_utils.__all__:  # fill the package's lazy names now, so using them later changes nothing
        getattr(course_utils, name)
    torch.set_num_threads(limits.TORCH_THREADS)
    registry.all_cells()
    heldout.preload()


def make_handler(kernel, signer, baseline, code_fingerprint: str, problem: str):
    """The shell handler for check requests: run, sign, reply. Holds the key only through ``signer``."""
    from autograder import protocol, registry
    from autograder.incell import run_cell

    table = registry.table()  # the checks as loaded now, before any student code

    def handle(stream, ident, parent):
        content = parent.get("content", {})
        nonce = str(content.get("nonce", ""))
        if content.get("kind") == "hello":
            baseline.record_threads()
            result = {"kind": "hello", "nonce": nonce, "code": code_fingerprint, "pid": os.getpid(),
                      "version": protocol.PROTOCOL_VERSION, "problem": problem}
        else:
            grade_id = str(content.get("grade_id", ""))
            cell = run_cell(grade_id, kernel.shell.user_ns, baseline, checks=table.get(grade_id, []))
            result = {"kind": "check", "nonce": nonce, "cell": cell.to_dict()}
        reply = {"result": result, "signature": protocol.sign(signer, result)}
        kernel.session.send(stream, protocol.REPLY, reply, parent, ident=ident)

    return handle


class Loaded:
    """What a grading process loaded before any student code: the code fingerprint, and why the grader could not
    load ('' when it could)."""

    def __init__(self):
        from autograder import protocol

        self.code = protocol.code_fingerprint()  # the files this process is about to load
        try:
            preload()
            self.problem = ""
        except Exception as exc:  # the notebook still runs; the executor reports why nothing could be graded
            self.problem = f"the grader could not load: {type(exc).__name__}: {str(exc)[:300]}"


def serve(argv: list[str], key_fd: int, loaded: Loaded | None = None) -> None:
    """Read the key, load the grader (unless ``loaded`` says it already is: the zygote's forked kernels), start
    the kernel with the check handler, and run until it is shut down."""
    import hashlib
    import hmac

    from autograder import limits, protocol

    key = protocol.read_key(key_fd)
    signer = hmac.new(bytes(key), digestmod=hashlib.sha256)
    key[:] = bytes(len(key))
    del key
    cap_memory(limits.MEMORY_MB)
    loaded = loaded or Loaded()

    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    app.initialize(argv)
    from autograder.integrity import Baseline

    baseline = Baseline()
    app.kernel.shell_handlers[protocol.REQUEST] = make_handler(app.kernel, signer, baseline, loaded.code,
                                                               loaded.problem)
    del signer
    from autograder.inkernel import server as data_server

    data_server.install(app.kernel)
    app.start()


def main(argv: list[str] | None = None) -> None:
    """``python -I -m autograder.kernel -f CONNECTION --autograder-key-fd N``: a kernel started from scratch."""
    argv = list(sys.argv[1:] if argv is None else argv)
    key_fd = _take_key_fd(argv)
    serve(argv, key_fd)


if __name__ == "__main__":
    main()
