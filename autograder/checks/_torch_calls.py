"""Which torch functions a piece of student code calls: a TorchFunctionMode that records names.

Used to tell whether a student's function is their own or a call to the built-in it re-implements
(``F.linear``, ``torch.sigmoid``...), whatever name it was imported under. Nothing is patched.
"""
from __future__ import annotations

from torch.overrides import TorchFunctionMode


class Watch(TorchFunctionMode):
    """Records, in ``seen``, every torch function called inside the block whose name is in ``names``."""

    def __init__(self, names: set[str]):
        super().__init__()
        self.names, self.seen = set(names), []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in self.names:
            self.seen.append(name)
        return func(*args, **(kwargs or {}))


def calls_any(names: set[str], fn, *args, **kwargs) -> list[str]:
    """The names from ``names`` that ``fn(*args, **kwargs)`` calls (empty when none)."""
    with Watch(names) as watch:
        fn(*args, **kwargs)
    return sorted(set(watch.seen))
