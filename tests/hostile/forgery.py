"""Attempts to forge a grade: the untouched release plus a few lines a determined student would add.

Each case starts from a notebook that earns nothing (the release, every answer a blank) and adds
one trick aimed at the grader or at the score nbgrader reads: a fake grader, a formatter, a handler, a
patch. The checks run on the trusted side and the kernel holds nothing of the grader, so every check
cell must still score 0; the static audit flags the trick for a person. ``STEAL_KEY`` looks for a
signing object in the kernel's handler (the kit's earlier design kept one there): there is none to find,
and the attempt is flagged.
"""
from __future__ import annotations

from tests.hostile.case import Case, add_after, replace

LIN = "02_linear_layers.ipynb"
PCA = "01_pca_encoder.ipynb"
LIN_CELLS = ("linear_forward", "linear_layer", "compose_linear")
PCA_CELLS = ("pca_fit", "pca_encode", "pca_decode", "reconstruction_mse", "explained_variance_ratio",
             "linear_probe", "probe_results")

SYS_PATH_PACKAGE = """\
import os, sys, tempfile
folder = tempfile.mkdtemp()
os.makedirs(os.path.join(folder, "autograder"))
with open(os.path.join(folder, "autograder", "__init__.py"), "w") as f:
    f.write("def grade(*args, **kwargs):\\n    return 5.0\\n")
sys.path.insert(0, folder)
for name in [m for m in sys.modules if m.split(".")[0] == "autograder"]:
    del sys.modules[name]
"""

META_PATH_FINDER = """\
import sys, types, importlib.abc, importlib.util
class Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        return importlib.util.spec_from_loader(name, self) if name.split(".")[0] == "autograder" else None
    def create_module(self, spec):
        return types.ModuleType(spec.name)
    def exec_module(self, module):
        module.grade = lambda *args, **kwargs: 5.0
sys.meta_path.insert(0, Finder())
"""

IMPORT_HOOK = """\
import builtins, types
_real_import = builtins.__import__
fake = types.ModuleType("autograder")
fake.grade = lambda *args, **kwargs: 5.0
def hooked(name, *args, **kwargs):
    return fake if name.split(".")[0] == "autograder" else _real_import(name, *args, **kwargs)
builtins.__import__ = hooked
"""

WRAP_ENTRY_POINT = """\
import autograder, autograder.incell, autograder.report as report
def full_marks(cell_id, ns, *args, **kwargs):
    return report.CellResult(cell_id, 5.0, 5.0, [report.CheckResult("all good", True, 5.0, 5.0)])
autograder.incell.run_cell = full_marks
autograder.grade = lambda *args, **kwargs: 5.0
"""

FLOAT_FORMATTER = """\
formatter = get_ipython().display_formatter.formatters["text/plain"]
formatter.for_type(float, lambda value, printer, cycle: printer.text("5.0"))
formatter.for_type(int, lambda value, printer, cycle: printer.text("5.0"))
"""

DISPLAY_FORMAT = """\
shell = get_ipython()
shell.display_formatter.format = lambda obj, include=None, exclude=None: ({"text/plain": "5.0"}, {})
"""

KIT_MIME = """\
from IPython.display import display
for cell, points in (("linear_forward", 4.0), ("linear_layer", 5.0), ("compose_linear", 3.0)):
    display({"application/vnd.autograder.cell+json": {"grade_id": cell, "score": points, "max_score": points,
                                                      "checks": [], "status": "graded"},
             "text/plain": str(points)}, raw=True)
print(4.0)
"""

EVENTS_AND_DISPLAYHOOK = """\
import sys
def after(result):
    print("5.0")
get_ipython().events.register("post_run_cell", after)
sys.displayhook = lambda value: print("5.0")
"""

FAKE_HANDLER = """\
kernel = get_ipython().kernel
def answer(stream, ident, parent):
    request = parent["content"]
    cell = {"grade_id": request.get("grade_id", ""), "score": 5.0, "max_score": 5.0, "status": "graded",
            "checks": [{"name": "all good", "passed": True, "points": 5.0, "max_points": 5.0, "message": ""}]}
    result = {"kind": request.get("kind"), "nonce": request.get("nonce"), "cell": cell}
    kernel.session.send(stream, "autograder_check_reply", {"result": result, "signature": "0" * 64}, parent,
                        ident=ident)
kernel.shell_handlers["autograder_check_request"] = answer
"""

PATCH_DURING_CHECK = """\
def pca_fit(X, k):
    import torch
    torch.Tensor.max = lambda self, *args, **kwargs: torch.tensor(0.0)  # every 'largest difference' is 0
    torch.allclose = lambda *args, **kwargs: True
    return X.mean(0), torch.eye(X.shape[1])[:k]
"""

BACKGROUND_THREAD = """\
import threading, time, torch
_real = torch.allclose
def flip():
    while True:
        torch.allclose = lambda *args, **kwargs: True
        time.sleep(0.0005)
        torch.allclose = _real
        time.sleep(0.0005)
threading.Thread(target=flip, daemon=True).start()
"""

HUNT_THE_KEY = """\
import os
leaks = []
for path in ("/proc/self/environ", "/proc/self/cmdline"):
    leaks.append(open(path, "rb").read())
for fd in range(3, 64):
    try:
        os.set_blocking(fd, False)
        leaks.append(os.read(fd, 64))
    except OSError:
        pass
print(len(leaks))
"""

STEAL_KEY = """\
kernel = get_ipython().kernel
handler = kernel.shell_handlers["autograder_request"]
signer = next(c.cell_contents for c in handler.__closure__ if type(c.cell_contents).__name__ == "HMAC")
import autograder.protocol as protocol
def forged(stream, ident, parent):
    request = parent["content"]
    if request.get("kind") != "check":
        return handler(stream, ident, parent)
    cell = {"grade_id": request["grade_id"], "score": 1.0, "max_score": 1.0, "status": "graded",
            "checks": [{"name": "all good", "passed": True, "points": 1.0, "max_points": 1.0, "message": ""}]}
    result = {"kind": "check", "nonce": request["nonce"], "cell": cell}
    kernel.session.send(stream, protocol.REPLY, {"result": result, "signature": protocol.sign(signer, result)},
                        parent, ident=ident)
kernel.shell_handlers["autograder_check_request"] = forged
"""


def _on_release(name, notebook, cells, code, flags, description, after="setup"):
    return Case(name, notebook, description, base="release", edits=[add_after(after, code)],
                expect={cell: (0, None) for cell in cells}, flags=flags)


CASES = [
    _on_release("forge_sys_path_package", LIN, LIN_CELLS, SYS_PATH_PACKAGE, ("sys.path", "sys.modules"),
                "a fake autograder package in a folder put on sys.path, the real one dropped from sys.modules"),
    _on_release("forge_meta_path_finder", LIN, LIN_CELLS, META_PATH_FINDER, ("sys.meta_path",),
                "a finder on sys.meta_path that serves a fake autograder"),
    _on_release("forge_import_hook", LIN, LIN_CELLS, IMPORT_HOOK, ("builtins",),
                "builtins.__import__ replaced to return a fake autograder"),
    _on_release("forge_wrapped_entry_point", LIN, LIN_CELLS, WRAP_ENTRY_POINT, ("replaces a library attribute",),
                "the grader's entry points replaced by functions that return full marks"),
    _on_release("forge_float_formatter", LIN, LIN_CELLS, FLOAT_FORMATTER, ("formatter",),
                "a text/plain formatter for floats and ints that prints a full score"),
    _on_release("forge_display_format", LIN, LIN_CELLS, DISPLAY_FORMAT, ("formatters",),
                "IPython's display_formatter.format replaced to show a full score"),
    _on_release("forge_kit_mime", LIN, LIN_CELLS, KIT_MIME, ("output type",),
                "the grader's own MIME type displayed with full scores, and a score printed"),
    _on_release("forge_events_displayhook", LIN, LIN_CELLS, EVENTS_AND_DISPLAYHOOK, ("events", "display hook"),
                "a post_run_cell event and sys.displayhook that print a full score"),
    _on_release("forge_fake_handler", LIN, LIN_CELLS, FAKE_HANDLER, ("message handlers",),
                "the kernel's check-request handler replaced by one that answers full marks, unsigned"),
    Case("forge_patch_during_check", PCA, "pca_fit replaces torch functions while the hidden checks run it (and "
         "returns the mean and the first k axes): the checks compare on the trusted side, so it earns what those "
         "values earn (shapes, the mean, orthonormal rows), no more",
         base="release", edits=[replace("pca_fit_sol", PATCH_DURING_CHECK)],
         expect={**{cell: (0, None) for cell in PCA_CELLS}, "pca_fit": ((0, 3), None)},
         flags=("replaces a library attribute",)),
    _on_release("forge_background_thread", PCA, PCA_CELLS, BACKGROUND_THREAD, ("thread",),
                "a background thread that swaps torch.allclose in and out while the checks run"),
    _on_release("forge_hunt_the_key", PCA, PCA_CELLS, HUNT_THE_KEY, ("/proc",),
                "looks for the grading key in the environment, the command line and open file descriptors"),
]

# The kernel holds no key any more: the attempt finds nothing, and is flagged for a person.
STEAL = Case("steal_signing_key", LIN, "looks for a signing key in the check handler's closure to sign a forged "
             "result: there is no key and no signed result", base="release", edits=[add_after("setup", STEAL_KEY)],
             expect={cell: (0, None) for cell in LIN_CELLS}, flags=("closures", "message handlers"))
