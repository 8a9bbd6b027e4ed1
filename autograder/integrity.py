"""Is the grading kernel still the grader's? Find what a submission replaced or shadowed.

A check cell runs in the student's kernel, after the student's code. Before any check runs,
this module looks for the usual ways to rig the result: a local ``autograder`` module that
shadows the real package, and builtins or library functions (``torch.allclose``,
``isinstance``, ``AssertionError``...) swapped for the student's own.
"""
from __future__ import annotations

import builtins
import importlib
import os
import sys
import types
from pathlib import Path

import numpy
import torch

_PACKAGE_DIR = Path(__file__).resolve().parent
_BUILTIN_TYPES = (types.BuiltinFunctionType, types.BuiltinMethodType, types.WrapperDescriptorType,
                  types.MethodDescriptorType, types.MethodWrapperType, types.ClassMethodDescriptorType)

_BUILTIN_FUNCTION = len.__class__
_BUILTIN_FUNCTIONS = ("isinstance", "issubclass", "len", "abs", "max", "min", "sum", "round", "getattr", "print",
                      "callable", "sorted", "any", "all", "id", "hasattr", "iter", "next", "setattr", "repr")
# (module, dotted attribute) of library functions the checks rely on
_GUARDED = [
    ("torch", n) for n in ("allclose", "isclose", "equal", "isfinite", "as_tensor", "tensor", "randn", "manual_seed",
                           "linalg.svd", "linalg.eigh", "linalg.qr", "linalg.norm", "linalg.matrix_rank",
                           "testing.assert_close", "nn.functional.linear", "nn.functional.mse_loss",
                           "nn.functional.cross_entropy", "Tensor.allclose", "Tensor.__eq__", "Tensor.abs",
                           "Tensor.max", "Tensor.item", "Tensor.sum", "Tensor.mean", "Tensor.__sub__",
                           "Tensor.__matmul__", "Tensor.double", "Tensor.detach", "Tensor.cpu", "Tensor.tolist")
] + [("numpy", n) for n in ("allclose", "isclose", "array_equal", "testing.assert_allclose")] + [
    ("math", n) for n in ("isclose", "isfinite")
]
_BUILTIN_CLASSES = ("float", "int", "bool", "str", "type", "dict", "list", "tuple", "range", "object",
                    "Exception", "BaseException", "AssertionError", "NotImplementedError", "TimeoutError")


def _genuine_function(obj, package_dirs: list[str]) -> bool:
    # Only attribute access and ``in`` here: the builtins themselves may be the ones replaced.
    if obj.__class__ in _BUILTIN_TYPES or obj.__class__.__module__ == "torch._C":
        return True
    target = obj.__func__ if hasattr(obj, "__func__") else obj
    code = target.__code__ if hasattr(target, "__code__") else None
    if code is None:
        # functools.wraps-style callables, torch ops (torch._ops.OpOverloadPacket) ...
        return obj.__class__.__module__.split(".")[0] in {"torch", "numpy", "functools", "builtins"}
    filename = os.path.realpath(code.co_filename)
    return any(filename.startswith(d) for d in package_dirs)


def _lookup(module_name: str, dotted: str):
    obj = sys.modules.get(module_name) or importlib.import_module(module_name)
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def tampering() -> list[str]:
    """What looks replaced in this kernel; empty when all is as shipped."""
    try:
        return _tampering()
    except BaseException as exc:  # a kernel so rigged that the inspection itself fails
        return [f"the grading environment is broken ({exc.__class__.__name__})"]


def _tampering() -> list[str]:
    problems = []
    for name in _BUILTIN_CLASSES:
        obj = builtins.__dict__.get(name)
        if obj.__class__ is not type or obj.__module__ != "builtins" or obj.__name__ != name:
            problems.append(f"builtins.{name} was replaced")
    for name in _BUILTIN_FUNCTIONS:
        obj = builtins.__dict__.get(name)
        if obj.__class__ is not _BUILTIN_FUNCTION:
            problems.append(f"builtins.{name} was replaced")
    if problems:
        return problems
    here = os.path.realpath(os.getcwd())
    if str(_PACKAGE_DIR).startswith(here + os.sep) or str(_PACKAGE_DIR) == here:
        problems.append(f"the autograder package was loaded from the notebook's folder ({_PACKAGE_DIR})")
    package_dirs = [os.path.realpath(os.path.dirname(m.__file__)) for m in (torch, numpy, os)] + \
        [os.path.realpath(os.path.dirname(os.__file__))]
    for module_name, dotted in _GUARDED:
        try:
            obj = _lookup(module_name, dotted)
        except Exception:
            problems.append(f"{module_name}.{dotted} is missing")
            continue
        if not _genuine_function(obj, package_dirs):
            problems.append(f"{module_name}.{dotted} was replaced")
    for name in ("autograder", "course_utils"):
        shadow = Path(here, f"{name}.py")
        if shadow.exists() or Path(here, name, "__init__.py").exists():
            problems.append(f"a file or folder named {name} in the notebook's folder shadows the real package")
    return problems
