"""Hostile and broken submissions, each with the points and messages a TA should see.

Each case is built from a source notebook by small edits (answer cells replaced, cells added,
check cells edited, deleted, duplicated or stripped). ``EXPECT`` maps a check cell to the
points it must get ("full" for all of them) and, optionally, words its feedback must contain.
Cells not named keep full marks. Several attacks share one notebook where they hit different
cells, so the corpus stays quick to grade (each notebook is one kernel run).
"""
from __future__ import annotations

from tests.hostile import forgery, kernel
from tests.hostile.case import Case, add_after, blank, delete, duplicate_edited, replace, strip_metadata

PCA = "01_pca_encoder.ipynb"
FULL = ("full", None)

CASES = [
    Case("runaway_cells", PCA,
         "ungraded cells that hang, ignore Ctrl-C, swallow KeyboardInterrupt, exhaust memory, kill the kernel, "
         "fail to import, print to stderr and print the grader's source: every graded cell keeps full marks",
         edits=[
             add_after("setup", "import definitely_not_a_module_xyz"),
             add_after("pca_fit_sol", "while True:\n    pass"),
             add_after("pca_fit_sol", "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n"
                                      "    pass"),
             add_after("reconstruction_mse_sol", "while True:\n    try:\n        while True:\n            pass\n"
                                                 "    except KeyboardInterrupt:\n        pass"),
             add_after("explained_variance_ratio_sol", "hog = [bytearray(10**8) for _ in range(200)]"),
             add_after("explained_variance_ratio_sol", "import sys\nprint('student noise', file=sys.stderr)"),
             add_after("explained_variance_ratio_sol", "import os\nos._exit(3)"),
             add_after("linear_probe_sol", "import autograder.checks.pca as _p\nprint(open(_p.__file__).read())"),
         ],
         expect={"pca_fit": FULL, "pca_encode": FULL, "pca_decode": FULL, "reconstruction_mse": FULL,
                 "explained_variance_ratio": FULL, "linear_probe": FULL, "probe_results": FULL}),
    Case("wrong_answers", PCA,
         "one broken answer per cell: a syntax error, numpy arrays, NaN, a hard-coded number, tensors whose __eq__ "
         "lies, a blank left",
         edits=[
             replace("pca_fit_sol", "def pca_fit(X, k):\n    mean = X.mean(0\n    return mean, None\n"),
             replace("pca_encode_decode_sol",
                     "def pca_encode(X, mean, components):\n    return ((X - mean) @ components.T).numpy()\n\n"
                     "def pca_decode(Z, mean, components):\n    return Z @ components + mean + float('nan')\n"),
             replace("reconstruction_mse_sol", "def reconstruction_mse(X, X_hat):\n    return 0.25\n"),
             replace("explained_variance_ratio_sol",
                     "class Liar(torch.Tensor):\n    def __eq__(self, other):\n        return True\n"
                     "def explained_variance_ratio(X, mean, components):\n"
                     "    return torch.full((components.shape[0],), 0.1).as_subclass(Liar)\n"),
             blank("linear_probe_sol"),
         ],
         expect={"pca_fit": (0, "expected a function named `pca_fit`"),
                 "pca_encode": (0, "should return a torch.Tensor, found numpy.ndarray"),
                 "pca_decode": (0, "NaN"),
                 "reconstruction_mse": ((0, 1.99), "expected"),
                 "explained_variance_ratio": (0, "expected shares"),
                 "linear_probe": (0, "still a blank"),
                 "probe_results": (0, None)}),
    Case("test_cells_tampered", PCA,
         "check cells deleted, edited to print a score, duplicated, stripped of metadata, and names like "
         "`grade` and `check` defined in the notebook: nothing gains a point",
         edits=[
             blank("pca_fit_sol"),
             replace("pca_fit", "7.0"),
             blank("pca_encode_decode_sol"),
             delete("pca_encode"),
             duplicate_edited("pca_decode", "2.0"),
             replace("reconstruction_mse_sol", "def reconstruction_mse(X, X_hat):\n    return float(((X - X_hat) ** 2).sum())\n"),
             strip_metadata("reconstruction_mse", "2.0"),
             add_after("reconstruction_mse_sol", "check = grade = lambda *a: 4.0"),
         ],
         expect={"pca_fit": (0, "still a blank"), "pca_encode": (0, "still a blank"),
                 "pca_decode": (0, "still a blank"), "reconstruction_mse": ((0, 1.99), "the sum"),
                 "probe_results": (0, None)}),
    Case("library_patched", PCA,
         "torch.allclose and Tensor.__eq__ replaced in the kernel: the checks compare on the trusted side, so the "
         "patch gains nothing; the answers that do not use == keep their points, the probe (which counts correct "
         "predictions with ==) breaks in the student's own kernel, and the patch is flagged",
         edits=[add_after("setup", "import torch\ntorch.allclose = lambda *a, **k: True\n"
                                   "torch.Tensor.__eq__ = lambda self, other: True")],
         expect={**{c: FULL for c in ("pca_fit", "pca_encode", "pca_decode", "reconstruction_mse",
                                      "explained_variance_ratio")},
                 "linear_probe": (0, "raised"), "probe_results": (0, None)}, flags=("replaces a library attribute",)),
    Case("shadow_module", PCA,
         "a fake autograder.py written next to the notebook, returning full points for a blank: the grader was "
         "loaded before the notebook ran, so the blank scores 0 and every other cell keeps its points",
         edits=[blank("pca_fit_sol"),
                add_after("setup", "open('autograder.py', 'w').write('def grade(*a, **k):\\n    return 7.0\\n')")],
         expect={"pca_fit": (0, "still a blank"), "probe_results": (0, None)},  # its own results use pca_fit
         flags=("code, config or system file",)),
    Case("kills_kernel_in_a_check", PCA,
         "pca_encode exits the process when the hidden checks call it: that cell scores 0, the rest are graded",
         edits=[replace("pca_encode_decode_sol",
                        "import os\ndef pca_encode(X, mean, components):\n"
                        "    if X.dtype == torch.float64:  # only the hidden checks use float64\n        os._exit(1)\n"
                        "    return (X - mean) @ components.T\n\n"
                        "def pca_decode(Z, mean, components):\n    return Z @ components + mean\n")],
         expect={"pca_encode": (0, "kernel died")}),
]


def _other_notebook_cases() -> list[Case]:
    """For every other notebook: a real mistake, a deleted check cell and a check cell edited to print a score.

    The mistake loses points on its own cell; the deleted and edited check cells are restored and keep their
    points; the notebook's own-results cells ("any") may follow the mistake.
    """
    import importlib

    cases = []
    for module_name in ("linear", "activations", "autoencoder", "training"):
        module = importlib.import_module(f"autograder.samples.{module_name}")
        name, (replacements, losing) = next((k, v) for k, v in module.BUGGY.items() if len(v[1]) == 1)
        lost = next(iter(losing))
        others = [c for c in module.FUNCTION_CELLS if c != lost]
        edits = [replace(gid, source) for gid, source in replacements.items()]
        edits += [delete(others[-1]), replace(others[0], "99.0")]
        expect = {lost: ("lost", None)}
        expect.update({c: FULL for c in others})
        cases.append(Case(f"{module.NOTEBOOK[:2]}_{name}", module.NOTEBOOK,
                          f"{module.NOTEBOOK}: the mistake '{name}', check cell {others[-1]} deleted and "
                          f"{others[0]} edited to print 99", edits=edits, expect=expect))
    return cases


CASES += _other_notebook_cases() + forgery.CASES + kernel.CASES
