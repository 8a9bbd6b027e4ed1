import os

import pytest

from autograder.limits import configure_process
from autograder.tools import with_local_data

# Tests run like the grader: one torch thread, headless plots (autograder.limits), a local MNIST copy.
configure_process()
with_local_data(os.environ)


def pytest_configure(config):
    import torch  # noqa: F401 (loaded now, with its thread count set once)

    configure_process()


@pytest.fixture(scope="session")
def mnist_available():
    """MNIST must be reachable: the tests never skip for want of data, they fail and say why."""
    from course_utils.data import mnist_tensors

    mnist_tensors("test")
    return True
