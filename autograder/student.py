"""Helpers the hidden checks use to call student code and read what it returns.

Everything a student returns is distrusted: it is converted to a plain CPU tensor (tensor
subclasses and ``__torch_function__`` tricks are stripped) before any comparison, and never
compared with ``==`` on the student's object.
"""
from __future__ import annotations

import math
from typing import Any

import torch


class StudentError(AssertionError):
    """A check failed because of the student's code; the message is for the student."""


def get(ns: dict, name: str, kind: str = "function"):
    """The student's definition of ``name``, or a failure that says how to fix its absence."""
    if name not in ns:
        raise StudentError(f"expected a {kind} named `{name}`, found none. "
                           f"Hint: run the cell that defines it, and keep its name as given.")
    value = ns[name]
    if kind in ("function", "class") and not callable(value):
        raise StudentError(f"expected `{name}` to be a {kind}, found a {type(value).__name__}.")
    return value


def call(ns_or_fn, name: str, *args, **kwargs):
    """Call the student's ``name`` (from a namespace dict or a callable) and explain any failure."""
    fn = get(ns_or_fn, name) if isinstance(ns_or_fn, dict) else ns_or_fn
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise StudentError(f"`{name}` is still a blank (it raises NotImplementedError). "
                           f"Hint: replace the `raise NotImplementedError` line with your code.") from None
    except StudentError:
        raise
    except BaseException as exc:  # student code may raise anything, even SystemExit
        if isinstance(exc, KeyboardInterrupt) and getattr(exc, "autograder_timeout", False):
            raise
        text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        raise StudentError(f"`{name}` raised {type(exc).__name__}" + (f": {text}" if text else "") +
                           ". Hint: run it on a small input in your notebook to see where it fails.") from None


def plain(value: Any, name: str, allow_numpy: bool = False) -> torch.Tensor:
    """``value`` as a plain, detached CPU tensor, or a failure saying what was found instead."""
    if not isinstance(value, torch.Tensor):
        found = type(value).__module__ + "." + type(value).__name__ if type(value).__module__ != "builtins" \
            else type(value).__name__
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
    if type(value) is bool or not isinstance(value, (int, float)) or type(value) not in (int, float):
        raise StudentError(f"`{name}` should return a Python float, found {type(value).__name__}. "
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
