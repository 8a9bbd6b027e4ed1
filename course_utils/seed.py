"""One call to make a notebook reproducible and well-behaved on a small CPU pod."""
from __future__ import annotations

import random

import numpy as np
import torch

from course_utils.threads import THREADS_ENV, cap_torch_threads  # noqa: F401 (THREADS_ENV: re-exported)


def set_seed(seed: int = 0, threads: int | None = None) -> torch.device:
    """Seed ``random``, ``numpy`` and ``torch`` and pick the device; returns the device.

    Uses a GPU when one exists, the CPU otherwise. ``threads`` (default: ``COURSE_TORCH_THREADS``, else torch's
    own number; :mod:`course_utils.threads`) caps the CPU threads torch uses.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    cap_torch_threads(threads)
    return get_device()


def get_device() -> torch.device:
    """``cuda`` when a GPU is available, else ``cpu``."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
