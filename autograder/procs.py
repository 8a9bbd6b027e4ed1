"""Process helpers: resident memory of a process tree, and a background poller."""
from __future__ import annotations

import threading


def tree_rss(pid: int) -> int | None:
    """Resident bytes of a process and all its children; None when it is gone."""
    import psutil

    try:
        proc = psutil.Process(pid)
        rss = proc.memory_info().rss
        for child in proc.children(recursive=True):
            try:
                rss += child.memory_info().rss
            except psutil.Error:
                pass
        return rss
    except psutil.Error:
        return None


class Poller:
    """Calls ``poll()`` every ``every`` seconds in a background thread while the ``with`` block runs;
    polling stops early when ``poll()`` returns True."""

    def __init__(self, every: float = 0.5):
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=2)

    def poll(self) -> bool:
        raise NotImplementedError

    def _run(self):
        while not self._stop.wait(self.every):
            if self.poll():
                return
