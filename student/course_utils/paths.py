"""Where the course's data lives (no torch import: the grader's executor reads these too)."""
from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "COURSE_DATA_DIR"
CACHE_ENV = "COURSE_CACHE_DIR"
OFFLINE_ENV = "COURSE_OFFLINE"


def cache_dir() -> Path:
    """The writable folder for decompressed files, downloads and tensor caches."""
    value = os.environ.get(CACHE_ENV)
    return Path(value).expanduser() if value else Path.home() / ".cache" / "autoencoder-course"


def data_dir() -> Path | None:
    """The folder named by ``COURSE_DATA_DIR`` (a local copy holding ``MNIST/raw/``), if any."""
    value = os.environ.get(DATA_ENV)
    return Path(value).expanduser() if value else None
