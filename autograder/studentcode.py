"""Helpers the hidden checks use to call student code and read what it returns.

The checks run on the trusted side; the student's code runs in the kernel. ``ns`` is the kernel's
namespace as :class:`autograder.remote.Remote` sees it: what comes back is data (plain CPU tensors,
numbers, strings, lists, tuples and dicts) or a :class:`~autograder.remote.Handle` for an object that
stays in the kernel. Nothing a student returns is believed: it is compared with what the check computed
itself. (The benchmark's floor and the tests also pass a plain namespace dict through
:class:`autograder.remote.LocalChannel`: the same helpers apply.)
"""
from __future__ import annotations

import math
from typing import Any

import torch

from autograder.remote import BadReply, Handle, ProtocolProblem, RemoteError

MODULE = "torch.nn.modules.module.Module"


class StudentError(AssertionError):
    """A check failed because of the student's code; the message is for the student."""


class CheckTimeout(KeyboardInterrupt):
    """A check ran past its time limit (in the kernel, or while this side waited for it)."""

    autograder_timeout = True


def type_name(value: Any) -> str:
    """The name of a value's type as messages show it: ``numpy.ndarray``, ``list``, ``Linear``."""
    if isinstance(value, Handle):
        return value.type_name
    kind = type(value)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"


def is_callable(value: Any) -> bool:
    return value.callable if isinstance(value, Handle) else callable(value)


def get(ns, name: str, kind: str = "function"):
    """The student's definition of ``name``, or a failure that says how to fix its absence."""
    try:
        value = ns[name]
    except KeyError:
        raise StudentError(f"expected a {kind} named `{name}`, found none. "
                           f"Hint: run the cell that defines it, and keep its name as given.") from None
    if kind in ("function", "class") and not is_callable(value):
        raise StudentError(f"expected `{name}` to be a {kind}, found a {type_name(value)}.")
    return value


def is_class(value: Any, base: str = MODULE) -> bool:
    """Whether ``value`` is a class deriving from ``base`` (a qualified name, e.g. torch's Module)."""
    if isinstance(value, Handle):
        return value.kind == "class" and value.is_a(base)
    return isinstance(value, type) and base in [f"{c.__module__}.{c.__qualname__}" for c in value.__mro__]


def is_instance(value: Any, base: str = MODULE) -> bool:
    """Whether ``value`` is an object whose class derives from ``base``."""
    if isinstance(value, Handle):
        return value.kind != "class" and value.is_a(base)
    return base in [f"{c.__module__}.{c.__qualname__}" for c in type(value).__mro__]


def remote_failure(exc: RemoteError, name: str = "") -> str:
    """What a student reads when their code, called in the kernel, failed."""
    who = f"`{name}`" if name else "your code"
    if exc.kind == "blank":
        return (f"{who} is still a blank (it raises NotImplementedError). "
                f"Hint: replace the `raise NotImplementedError` line with your code.")
    if exc.kind == "missing":
        return f"expected {who} to be defined, found none. Hint: run the cell that defines it."
    if exc.kind == "not_data":
        return (f"{who} returned something the grader cannot read ({exc.message}). Hint: return torch tensors and "
                f"Python numbers, as the exercise asks.")
    if exc.kind == "exit":
        return f"{who} raised SystemExit. Hint: don't call exit() or sys.exit() in your functions."
    text = f": {exc.message}" if exc.message else ""
    return f"{who} raised {exc.type}{text}. Hint: run it on a small input in your notebook to see where it fails."


def call(ns_or_fn, name: str, *args, **kwargs):
    """Call the student's ``name`` (from the namespace, or a callable it gave) and explain any failure."""
    fn = get(ns_or_fn, name) if not is_callable(ns_or_fn) or isinstance(ns_or_fn, dict) else ns_or_fn
    try:
        return fn(*args, **kwargs)
    except RemoteError as exc:
        raise _student_failure(exc, name) from None
    except NotImplementedError:
        raise StudentError(remote_failure(RemoteError("blank", "NotImplementedError", ""), name)) from None
    except (StudentError, ProtocolProblem):
        raise
    except BaseException as exc:  # a local callable (unit tests): it may raise anything, even SystemExit
        if isinstance(exc, KeyboardInterrupt) and getattr(exc, "autograder_timeout", False):
            raise
        text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        raise StudentError(f"`{name}` raised {type(exc).__name__}" + (f": {text}" if text else "") +
                           ". Hint: run it on a small input in your notebook to see where it fails.") from None


def _student_failure(exc: RemoteError, name: str) -> BaseException:
    if exc.kind == "timeout":
        return CheckTimeout(exc.message)
    if exc.kind == "bad_request":  # not the student's answer: the server did not understand the grader
        return BadReply(f"the kernel did not understand the grader's request: {exc.message[:200]}")
    return StudentError(remote_failure(exc, name))


def call_pure(ns, name: str, *args, changed: str = "one of its inputs", hint: str = "", **kwargs):
    """Call the student's ``name`` in the kernel, and fail if the call changed a tensor argument in place."""
    sent = list(args) + [kwargs[k] for k in sorted(kwargs)]
    if not any(isinstance(a, torch.Tensor) for a in sent):  # nothing of ours to compare (the kernel's own data)
        return call(ns, name, *args, **kwargs)
    get(ns, name)
    try:
        result, positional, keywords = ns.call_keeping_inputs({"name": name}, *args, **kwargs)
    except RemoteError as exc:
        raise _student_failure(exc, name) from None
    back = list(positional) + [keywords.get(k) for k in sorted(kwargs)]
    for before, after in zip(sent, back):
        if isinstance(before, torch.Tensor) and not (
                isinstance(after, torch.Tensor) and after.shape == before.shape and after.dtype == before.dtype
                and torch.equal(after, before)):
            raise StudentError(f"`{name}` changed {changed} in place." + (f" Hint: {hint}" if hint else ""))
    return result


def plain(value: Any, name: str, allow_numpy: bool = False) -> torch.Tensor:
    """``value`` as a plain, detached CPU tensor, or a failure saying what was found instead."""
    if not isinstance(value, torch.Tensor):
        found = type_name(value)
        hint = " (convert with torch.as_tensor or use torch operations throughout)" if "numpy" in found else ""
        raise StudentError(f"`{name}` should return a torch.Tensor, found {found}{hint}.")
    with torch._C.DisableTorchFunctionSubclass():
        t = torch.Tensor.as_subclass(value, torch.Tensor)
        if t.device.type not in ("cpu", "cuda", "mps"):
            raise StudentError(f"`{name}` returned a tensor on the {t.device.type!r} device, which holds no values. "
                               f"Hint: create tensors without device='{t.device.type}'.")
        if t.is_sparse or t.is_quantized or t.is_complex():
            raise StudentError(f"`{name}` should return a dense real tensor, found layout {t.layout}, "
                               f"dtype {t.dtype}.")
        return torch.Tensor.cpu(torch.Tensor.detach(t))


def expect_shape(t: torch.Tensor, shape: tuple, name: str, hint: str = "") -> None:
    if tuple(t.shape) != tuple(shape):
        raise StudentError(f"`{name}` should have shape {tuple(shape)}, found {tuple(t.shape)}."
                           + (f" Hint: {hint}" if hint else ""))


def expect_finite(t: torch.Tensor, name: str) -> None:
    if t.is_floating_point() and not bool(torch.isfinite(t).all()):
        bad = int((~torch.isfinite(t)).sum())
        raise StudentError(f"`{name}` should be finite, found {bad} NaN or infinite values.")


def as_float(value: Any, name: str) -> float:
    """A student's scalar result as a Python float; 0-d tensors are not accepted silently."""
    if type(value) is bool or type(value) not in (int, float):
        raise StudentError(f"`{name}` should return a Python float, found {type_name(value).rsplit('.', 1)[-1]}. "
                           f"Hint: use .item() on a 0-d tensor.")
    value = float(value)
    if not math.isfinite(value):
        raise StudentError(f"`{name}` returned {value}, expected a finite number.")
    return value


def max_abs_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max()) if a.numel() else 0.0


def rel_error(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-12) -> float:
    """CS231n's relative error: max |a-b| / max(|a|+|b|, eps)."""
    a, b = a.double(), b.double()
    return float(((a - b).abs() / (a.abs() + b.abs()).clamp_min(eps)).max()) if a.numel() else 0.0
