"""What students import in the autoencoder unit: data, plots, seeding and visible checks.

Nothing here knows about grading: the hidden checks live in the separate ``autograder``
package, which students never receive. Names load on first use, so ``course_utils.paths``
can be read without importing torch.
"""
from __future__ import annotations

import importlib

_HOME = {
    **{name: "visible_checks" for name in ("CheckFailed", "check_close", "check_float", "check_runs", "check_tensor",
                                            "rel_error")},
    "MNISTNotFoundError": "data", "load_mnist": "data", "load_mnist_flat": "data", "make_loader": "data",
    "mnist_tensors": "data", "subset": "data",
    "get_device": "seed", "set_seed": "seed",
}
__all__ = sorted(_HOME)


def __getattr__(name: str):
    if name in _HOME:
        value = getattr(importlib.import_module(f"course_utils.{_HOME[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'course_utils' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
