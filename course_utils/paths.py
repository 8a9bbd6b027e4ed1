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


def fresh_copy(copy: Path, source: Path) -> bool:
    """Whether ``copy`` (a decompressed file in the cache) is at least as new as its ``source``."""
    return copy.is_file() and copy.stat().st_size > 0 and copy.stat().st_mtime >= source.stat().st_mtime


def mnist_cache_current() -> bool:
    """Whether loading MNIST from ``COURSE_DATA_DIR`` would write nothing to the cache (file times only, no torch).

    True when every gzipped source has a fresh plain copy in the cache and both tensor files are newer than
    the raw files they were built from. The grader checks this before it fingerprints the data folders.
    """
    cache = cache_dir() / "MNIST"
    sources = data_dir() / "MNIST" / "raw" if data_dir() else cache / "raw"
    raw = []
    for source in sorted(sources.glob("*")) if sources.is_dir() else []:
        if source.suffix == ".gz":
            copy = cache / "raw" / source.name.removesuffix(".gz")
            if not fresh_copy(copy, source):
                return False
            raw.append(copy)
        elif source.is_file():
            raw.append(source)
    if not raw:
        return False
    newest = max(p.stat().st_mtime for p in raw)
    tensors = [t for t in (cache / "tensors").glob("*.pt") if t.stat().st_mtime >= newest]
    return len(tensors) >= 2
