"""An empty kernel: while a notebook is graded, its kernel holds nothing of the grader and can read none of it.

Proved from inside a graded kernel: part 1's solution, whose pca_fit also writes down what it can see every
time the hidden checks call it (the modules loaded, every function and class alive in the kernel, what it can
read on disk, the environment, the grader's process), so the look is taken while the checks run.
"""
import json
import os
import sys

import pytest

from tests.kit import SOLUTION_NOTEBOOKS, read

SPY = r'''
import gc, os, sys, types, json, pathlib

LOOKS = []

def _look():
    mods = sorted(m for m in sys.modules if m.split(".")[0] == "autograder")
    owners = set()
    for obj in gc.get_objects():
        if isinstance(obj, (types.FunctionType, type)):
            owner = getattr(obj, "__module__", "")
            owners.add(owner if isinstance(owner, str) else "")
    files = {}
    for path in json.loads(os.environ.get("PROBE_FILES", "[]")):
        try:
            with open(path, "rb") as f:
                files[path] = len(f.read())
        except OSError as exc:
            files[path] = type(exc).__name__
    try:
        with open(f"/proc/{os.getppid()}/environ", "rb") as f:
            parent = "read"
    except OSError as exc:
        parent = type(exc).__name__
    try:
        import socket
        socket.create_connection(("127.0.0.1", int(os.environ.get("PROBE_PORT", "1"))), timeout=1).close()
        tcp = "connected"
    except OSError as exc:
        tcp = type(exc).__name__
    secret = sorted(k for k in os.environ if any(w in k.upper() for w in ("KEY", "SECRET", "TOKEN", "SANDBOX")))
    LOOKS.append({"modules": mods, "owners": sorted(o for o in owners if o.split(".")[0] == "autograder"),
                  "files": files, "parent": parent, "tcp": tcp, "env": secret})

_real_pca_fit = pca_fit

def pca_fit(X, k):
    _look()
    return _real_pca_fit(X, k)
'''


@pytest.fixture(scope="module")
def looks(tmp_path_factory, mnist_available):
    """Grade part 1's solution with the spy; what the spy saw, each time the checks called pca_fit."""
    import socket

    from nbformat.v4 import new_code_cell

    from autograder import cells as kitcells
    from autograder.executor import GradingClient
    from autograder.isolation import kit_checkout

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # a service of the grader's side, on a port the kernel knows
    nb = read(SOLUTION_NOTEBOOKS / "01_pca_encoder.ipynb")
    after = next(i for i, c in enumerate(nb.cells) if kitcells.grade_id(c) == "pca_fit_sol")
    nb.cells.insert(after + 1, new_code_cell(SPY))
    nb.cells.append(new_code_cell("import json\nprint('LOOKS=' + json.dumps(LOOKS))"))
    package = os.path.dirname(__import__("autograder").__file__)
    files = [os.path.join(package, "checks", "pca.py"), os.path.join(package, "reference", "pca.py"),
             os.path.join(package, "heldout", "__init__.py"), os.path.join(os.path.expanduser("~"), ".bashrc")]
    if kit_checkout():
        files.append(str(kit_checkout() / "solutions" / "autoencoders" / "01_pca_encoder.ipynb"))
    data = os.path.join(os.environ["COURSE_DATA_DIR"], "MNIST", "raw") if os.environ.get("COURSE_DATA_DIR") else ""
    if data and os.path.isdir(data):
        files.append(os.path.join(data, sorted(os.listdir(data))[0]))
    os.environ["PROBE_FILES"], os.environ["PROBE_PORT"] = json.dumps(files), str(listener.getsockname()[1])
    try:
        client = GradingClient(nb, workdir=tmp_path_factory.mktemp("spy"))
        graded = client.grade()
    finally:
        del os.environ["PROBE_FILES"], os.environ["PROBE_PORT"]
        listener.close()
    printed = "".join(o.get("text", "") for o in graded.cells[-1].outputs if o.get("output_type") == "stream")
    assert "LOOKS=" in printed, graded.cells[-1].outputs
    return client, json.loads(printed.split("LOOKS=", 1)[1]), files, data


@pytest.mark.slow
def test_the_checks_ran_and_the_spy_saw_them(looks):
    client, seen, _, _ = looks
    assert client.results["pca_fit"].score == client.results["pca_fit"].max_score == 7
    assert len(seen) >= 7  # once per call of pca_fit by the hidden checks (and the notebook's own calls)


@pytest.mark.slow
def test_no_module_function_or_class_of_the_grader_is_in_the_kernel(looks):
    _, seen, _, _ = looks
    for look in seen:
        assert all(m == "autograder" or m.startswith("autograder.inkernel") for m in look["modules"]), look["modules"]
        assert all(o.startswith("autograder.inkernel") for o in look["owners"]), look["owners"]


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="Landlock is Linux's")
def test_the_kernel_cannot_read_the_grader_reach_its_process_or_its_services(looks):
    client, seen, files, data = looks
    assert client.isolation.get("isolated"), client.isolation  # CI's machines have Landlock: it must be on
    for look in seen:
        for path, got in look["files"].items():
            if data and path.startswith(data):
                assert isinstance(got, int), f"the notebook's own data must stay readable: {path}: {got}"
            else:
                assert got == "PermissionError", f"{path} was readable from the kernel ({got})"
        assert look["parent"] == "PermissionError" or look["parent"] == "FileNotFoundError", look["parent"]
        assert look["tcp"] == "PermissionError", look["tcp"]
        assert look["env"] == [], look["env"]
