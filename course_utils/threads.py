"""How many CPU threads torch may use: one reading of ``COURSE_TORCH_THREADS`` for notebooks and grader alike.

The grader sets ``COURSE_TORCH_THREADS=1``: with two threads, torch slows down many times whenever another
process competes for a 2-core machine, while one thread stays steady. Importing this module does not import
torch.
"""
from __future__ import annotations

import os

#: Environment variable that sets how many CPU threads torch may use.
THREADS_ENV = "COURSE_TORCH_THREADS"


def threads_from_env(default: int | None = None) -> int | None:
    """The positive whole number ``COURSE_TORCH_THREADS`` holds, else ``default``."""
    try:
        value = int(float(os.environ.get(THREADS_ENV, "").strip()))
    except ValueError:
        return default
    return value if value > 0 else default


def cap_torch_threads(threads: int | None = None) -> int:
    """Let torch use ``threads`` CPU threads (default: ``COURSE_TORCH_THREADS``, else torch's own number);
    returns the number."""
    import torch

    n = threads if threads is not None else threads_from_env() or torch.get_num_threads()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
