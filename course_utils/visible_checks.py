"""Visible checks students run in the notebooks: quick, friendly, never the grade.

Each check prints one line starting with a tick when it passes and raises
:class:`CheckFailed` when it does not, with what was expected, what was found and a hint.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch


class CheckFailed(AssertionError):
    """A visible check did not pass. Its message says what was expected and what was found."""


def _fail(what: str, expected: str, found: str, hint: str | None) -> None:
    message = f"{what}: expected {expected}, found {found}."
    if hint:
        message += f"\nHint: {hint}"
    raise CheckFailed(message)


def ok(message: str) -> None:
    print(f"\u2714 {message}")


def rel_error(a, b, eps: float = 1e-12) -> float:
    """Largest relative error between two tensors (CS231n style): |a-b| / max(|a|+|b|, eps)."""
    a = torch.as_tensor(a, dtype=torch.float64)
    b = torch.as_tensor(b, dtype=torch.float64)
    return float(((a - b).abs() / (a.abs() + b.abs()).clamp_min(eps)).max())


def check_tensor(name: str, value, shape: Sequence[int] | None = None, dtype: torch.dtype | None = None,
                 finite: bool = True, hint: str | None = None) -> None:
    """``value`` is a torch tensor with this shape (None matches any size), dtype, and finite values."""
    if not isinstance(value, torch.Tensor):
        _fail(name, "a torch.Tensor", f"{type(value).__name__}", hint or
              "use torch operations (torch.as_tensor converts a numpy array) and return the tensor")
    if shape is not None:
        ok_shape = len(value.shape) == len(shape) and all(s is None or s == v for s, v in zip(shape, value.shape))
        if not ok_shape:
            pretty = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
            _fail(name, f"shape {pretty}", f"shape {tuple(value.shape)}", hint)
    if dtype is not None and value.dtype != dtype:
        _fail(name, f"dtype {dtype}", f"dtype {value.dtype}", hint or f"convert with .to({dtype})")
    if finite and value.is_floating_point() and not bool(torch.isfinite(value).all()):
        bad = int((~torch.isfinite(value)).sum())
        _fail(name, "finite values", f"{bad} NaN or infinite entries", hint or
              "look for a division by zero, a log of 0 or an exp of a large number")
    ok(f"{name}: shape {tuple(value.shape)}, dtype {value.dtype}")


def check_close(name: str, value, expected, rtol: float = 1e-4, atol: float = 1e-6, hint: str | None = None) -> None:
    """``value`` agrees with ``expected`` (tensors or numbers) within a tolerance."""
    if isinstance(expected, torch.Tensor):
        check_tensor(name, value, shape=tuple(expected.shape), finite=True, hint=hint)
        diff = float((value.detach().double() - expected.detach().double()).abs().max()) if value.numel() else 0.0
        if diff > atol + rtol * float(expected.detach().double().abs().max() if expected.numel() else 0):
            _fail(name, f"values close to the reference (relative error < {rtol:g})",
                  f"a largest difference of {diff:.3g} (relative error {rel_error(value, expected):.2e})", hint)
        ok(f"{name}: matches the reference (relative error {rel_error(value, expected):.1e})")
        return
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        _fail(name, "a Python number", type(value).__name__, hint or "use .item() or float(...) on a 0-d tensor")
    if not math.isclose(float(value), float(expected), rel_tol=rtol, abs_tol=atol):
        _fail(name, f"about {expected:.6g}", f"{value:.6g}", hint)
    ok(f"{name}: {value:.6g}")


def check_float(name: str, value, low: float = -math.inf, high: float = math.inf, hint: str | None = None) -> None:
    """``value`` is a finite Python float within ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, (float, int)):
        _fail(name, "a Python float", type(value).__name__, hint or "use .item() or float(...) on a 0-d tensor")
    if not math.isfinite(value) or not low <= value <= high:
        _fail(name, f"a finite number in [{low:g}, {high:g}]", f"{value!r}", hint)
    ok(f"{name}: {float(value):.6g}")


def check_runs(name: str, fn: Callable, *args, **kwargs):
    """Call ``fn``: report a blank that is still empty, or an error, in one friendly line."""
    try:
        result = fn(*args, **kwargs)
    except NotImplementedError:
        raise CheckFailed(f"{name} is not implemented yet: fill in the blank marked "
                          f"'YOUR CODE HERE' and run its cell again.") from None
    ok(f"{name} runs")
    return result
