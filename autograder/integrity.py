"""Is the grading kernel still the one the grader set up? A snapshot taken before any student code.

The grading kernel (:mod:`autograder.kernel`) loads the grader and the libraries its checks use,
then takes a :class:`Baseline` before the first student cell runs. Before a cell's checks and
after each of them, :meth:`Baseline.changes` compares the kernel with that snapshot:

* every attribute of the libraries the checks rely on (torch and its submodules, numpy, math,
  builtins) is still the very object it was, and every Python function among them still runs
  the code it ran (``__code__`` and defaults);
* the classes of ``torch.nn``, ``torch.optim`` and ``torch.utils.data``, and every module of the
  grader itself (``autograder``, ``course_utils``), hold exactly what they held;
* ``sys.modules`` still maps those modules' names to them;
* no trace or profile hook, torch function or dispatch mode, or gc callback was installed, and no
  thread is running that the kernel did not start.

Anything else means the notebook rigged the environment the checks run in: the cell is not
graded. What this cannot see (the snapshot itself rewritten through ``gc`` or ``ctypes``, memory
written through ``/proc``) is what the static audit (:mod:`autograder.audit`) flags for a person.
"""
from __future__ import annotations

import gc
import os
import sys
import threading
import types

GUARDED_MODULES = (
    "builtins", "math", "operator", "functools", "contextlib", "copy", "inspect", "io", "json", "signal",
    "threading", "time", "warnings", "hmac", "hashlib",
    "numpy", "numpy.linalg",
    "torch", "torch.nn", "torch.nn.functional", "torch.nn.init", "torch.linalg", "torch.optim", "torch.autograd",
    "torch.utils.data", "torch.testing", "torch.overrides", "torch.random", "torch.special", "torch.fft",
)
CLASS_MODULE_PREFIXES = ("torch.nn.modules.", "torch.optim.", "torch.utils.data.", "torch._tensor",
                         "torch.nn.parameter", "torch.autograd.grad_mode")
GRADER_PACKAGES = ("autograder", "course_utils")


def _function(obj) -> types.FunctionType | None:
    target = getattr(obj, "__func__", obj)
    return target if isinstance(target, types.FunctionType) else None


def _function_state(func: types.FunctionType) -> tuple:
    """What a Python function runs: its code, defaults and closure cells' contents."""
    cells = tuple(c.cell_contents if _filled(c) else _MISSING for c in (func.__closure__ or ()))
    return func.__code__, func.__defaults__, func.__kwdefaults__, cells


def _filled(cell) -> bool:
    try:
        cell.cell_contents
        return True
    except ValueError:
        return False


def _same_state(func: types.FunctionType, state: tuple) -> bool:
    code, defaults, kwdefaults, cells = state
    if func.__code__ is not code or func.__defaults__ is not defaults or func.__kwdefaults__ is not kwdefaults:
        return False
    return not cells or all(a is b for a, b in zip(_function_state(func)[3], cells))


class Baseline:
    """What the grading kernel looked like before any student code ran."""

    def __init__(self):
        self.modules: dict[str, types.ModuleType] = {}
        self.attrs: list[tuple[str, dict, dict]] = []  # (label, live dict, snapshot) where keys must keep identity
        self.exact: list[tuple[str, dict, dict]] = []  # (label, live dict, snapshot) that must not gain keys either
        self.functions: list[tuple[str, types.FunctionType, tuple]] = []
        self.gc_callbacks = list(gc.callbacks)
        registry = sys.modules.get("autograder.registry")
        self.table = registry.table() if registry is not None else {}
        self.checks = _checks_state(self.table)
        self.threads: set[int] | None = None
        self.library_dirs = tuple(os.path.dirname(m.__file__) + os.sep for m in
                                  (sys.modules.get("torch"), sys.modules.get("numpy")) if m is not None)
        monitor = sys.modules.get("tqdm._monitor")  # tqdm's progress-bar monitor thread may start later
        self.allowed_thread_classes = (getattr(monitor, "TMonitor"),) if monitor is not None else ()
        self._take()

    # ------------------------------------------------------------------ snapshot
    def _take(self) -> None:
        for name in GUARDED_MODULES:
            module = sys.modules.get(name)
            if module is not None:
                self.modules[name] = module
                self._watch(name, vars(module), exact=False)
        classes: dict[int, tuple[str, type]] = {}
        for name, module in list(sys.modules.items()):
            if module is None:
                continue
            if name.split(".")[0] in GRADER_PACKAGES:
                self.modules[name] = module
                self._watch(name, vars(module), exact=True)
            if name.split(".")[0] in GRADER_PACKAGES or name.startswith(CLASS_MODULE_PREFIXES) or name == "torch":
                for value in list(vars(module).values()):
                    if isinstance(value, type) and (value.__module__ == name or name == "torch") \
                            and not value.__flags__ & _IMMUTABLE_TYPE:
                        classes.setdefault(id(value), (f"{value.__module__}.{value.__qualname__}", value))
        for label, cls in classes.values():
            self._watch(label, cls.__dict__, exact=True)

    def _watch(self, label: str, namespace, exact: bool) -> None:
        snapshot = dict(namespace)
        (self.exact if exact else self.attrs).append((label, namespace, snapshot))
        for key, value in snapshot.items():
            func = _function(value)
            if func is not None:
                self.functions.append((f"{label}.{key}", func, _function_state(func)))

    def record_threads(self) -> None:
        """The kernel's own threads, recorded when the executor first talks to it (before any cell runs)."""
        self.threads = {t.ident for t in threading.enumerate()}

    # ------------------------------------------------------------------ comparison
    def changes(self, limit: int = 6) -> list[str]:
        """What differs from the snapshot (empty when nothing does); never raises."""
        try:
            return self._changes(limit)
        except BaseException as exc:  # a kernel so rigged that looking at it fails
            return [f"the grading environment could not be inspected ({type(exc).__name__})"]

    def _changes(self, limit: int) -> list[str]:
        found: list[str] = []
        for name, module in self.modules.items():
            if sys.modules.get(name) is not module:
                found.append(f"sys.modules[{name!r}] was replaced")
        for label, live, snapshot in self.attrs + self.exact:
            for key, value in snapshot.items():
                now = live.get(key, _MISSING)
                if now is not value and not self._library_wrapper(now, value):
                    found.append(f"{label}.{key} was replaced")
        for label, live, snapshot in self.exact:
            added = [key for key in live.keys() - snapshot.keys()
                     if key != "__annotations__" and not _submodule(live[key], label)]
            if added:
                found.append(f"{label} was changed ({', '.join(map(str, sorted(added)[:3]))} added)")
        if len(found) < limit:
            for label, func, state in self.functions:
                if not _same_state(func, state):
                    found.append(f"the code of {label} was replaced")
        if _checks_state(self.table) != self.checks:
            found.append("the hidden checks were changed")
        found.extend(self._hooks())
        return found[:limit]

    def _hooks(self) -> list[str]:
        torch = self.modules.get("torch")
        found = []
        if sys.gettrace() is not None or sys.getprofile() is not None:
            found.append("a trace or profile hook is installed (sys.settrace / sys.setprofile)")
        if threading.gettrace() is not None or threading.getprofile() is not None:
            found.append("a thread trace or profile hook is installed")
        if torch is not None and (torch._C._len_torch_function_stack() or torch._C._len_torch_dispatch_stack()):
            found.append("a torch function or dispatch mode is active")
        if gc.callbacks != self.gc_callbacks:
            found.append("a gc callback was added")
        if self.threads is not None:
            foreign = [t.name for t in threading.enumerate()
                       if t.ident not in self.threads and type(t) not in self.allowed_thread_classes]
            if foreign:
                found.append(f"a thread started by the notebook is running ({', '.join(foreign[:3])})")
        return found


    def _library_wrapper(self, now, before) -> bool:
        """torch wraps some of its own functions on first use (``torch._dynamo`` disables itself around
        ``torch.manual_seed``; an optimizer's first instance hooks its class's ``step``): a wrapper whose code
        is the library's own and whose ``__wrapped__`` chain leads back to the original is not a change."""
        seen = 0
        while now is not before and seen < 4:
            code = getattr(getattr(now, "__func__", now), "__code__", None)
            if code is None or not code.co_filename.startswith(self.library_dirs):
                return False
            now, seen = getattr(now, "__wrapped__", None), seen + 1
        return now is before


_MISSING = object()
_IMMUTABLE_TYPE = 1 << 8  # Py_TPFLAGS_IMMUTABLETYPE: classes no Python code can change


def _checks_state(table: dict) -> list:
    """Every hidden check as loaded: which function, with which parameters, for how many points."""
    return [(cell, c.cell, c.name, id(c.func), c.points, c.timeout, repr(c.params))
            for cell, checks in table.items() for c in checks]


def _submodule(value, package: str) -> bool:
    """A package gains an attribute for each of its submodules the first time one is imported."""
    return isinstance(value, types.ModuleType) and value.__name__.startswith(package + ".")
