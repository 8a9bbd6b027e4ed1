"""What students import in the autoencoder unit: data, plots, seeding and visible checks.

Nothing here knows about grading: the hidden checks live in the separate ``autograder``
package, which students never receive.
"""
from course_utils.checks import CheckFailed, check_close, check_float, check_runs, check_tensor, rel_error
from course_utils.data import (
    MNISTNotFoundError,
    load_mnist,
    load_mnist_flat,
    make_loader,
    mnist_tensors,
    subset,
)
from course_utils.seed import get_device, set_seed

__all__ = [
    "CheckFailed", "MNISTNotFoundError", "check_close", "check_float", "check_runs", "check_tensor",
    "get_device", "load_mnist", "load_mnist_flat", "make_loader", "mnist_tensors", "rel_error",
    "set_seed", "subset",
]
