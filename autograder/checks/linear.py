"""Hidden checks for part 2, ``02_linear_layers.ipynb``: a linear layer from scratch, and composing two.

They run on the trusted side: the student's functions and classes are called in the kernel, and what
comes back (outputs, weights, gradients) is judged here. Nothing of the grader's runs in the kernel but
the public recipes (:mod:`autograder.inkernel.recipes`).

A mistake in exercise 1 costs its points once, on ``linear_forward``, without the grader's own
``linear_forward`` ever entering the kernel: ``Linear``'s output (and its gradients) must equal
x @ weight.T + bias, OR what the student's OWN ``linear_forward`` gives on the same input, weight and
bias (called in the kernel before the layer runs, with the weight and bias requiring gradients as a
layer's parameters do, and accepted only when it computes the same function on the same values in
float64, where its own checks judge it). Where the student's ``linear_forward`` fails on an input, the
layer failing in exactly the same way there is not held against it; but a layer check passes only on
outputs it could judge, so a layer whose ``linear_forward`` fails on every input (a blank) cannot earn
the checks that judge its output.

Whether ``weight`` and ``bias`` are parameters rests on values: an SGD step on ``layer.parameters()``
(the real gradients, or gradients of ones that the ``unit_gradients`` recipe sets on them) must move
both tensors by exactly -lr times their gradient. What the kernel says of itself (is it an nn.Parameter,
the names ``named_parameters`` gives, a class's bases, a torch-call trace) only adds failures and messages.
The "not the built-in" rules are read from the student's source (:func:`autograder.source.calls_builtin`).
"""
from __future__ import annotations

import ast
import math
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch

from autograder import source
from autograder.reference import linear as ref
from autograder.remote import Handle, RemoteError
from autograder.studentcode import (CheckTimeout, StudentError, call, call_pure, expect_finite, expect_shape, get,
                                is_class, is_instance, max_abs_diff, plain, rel_error, remote_failure, type_name)


BUILTINS = {"linear", "Linear"}  # torch.nn.functional.linear, torch.nn.Linear (by attribute or imported name)
NN_LINEAR = "torch.nn.modules.linear.Linear"
WEIGHT_HINT = "the weight is [out_features, in_features]"  # as the notebook's visible check says

# ---------------------------------------------------------------- helpers


def _data(seed: int, *shapes, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, generator=g, dtype=dtype) for s in shapes]


def _attempt(ask):
    """(the reply, None), or (None, the kernel's error) when the student's code failed: kept to compare."""
    try:
        return ask(), None
    except RemoteError as exc:
        if exc.kind == "timeout":
            raise CheckTimeout(exc.message) from None
        return None, exc


def _same_failure(a: RemoteError, b: RemoteError) -> bool:
    return (a.kind, a.type, a.message) == (b.kind, b.type, b.message)


def _tensor(value):
    """A reply as a plain tensor, or None when it is not one."""
    if not isinstance(value, torch.Tensor):
        return None
    try:
        return plain(value, "value")
    except StudentError:
        return None


def _close(found, expected, tol: float = 1e-5) -> bool:
    """Same shape, and equal to ``tol`` relative to the largest entry (float32 rounding passes, a mistake does not)."""
    return (found is not None and expected is not None and tuple(found.shape) == tuple(expected.shape)
            and bool(torch.isfinite(found).all()) and max_abs_diff(found, expected) <= tol * (
                1 + (float(expected.double().abs().max()) if expected.numel() else 0.0)))


def _reference(x, w, b):
    """y = x @ weight.T + bias, computed on this side."""
    return ref.linear_forward(x, w, b)


def _forward(ns, x, w, b):
    try:
        result = call_pure(ns, "linear_forward", x, w, b, changed="one of its inputs", hint="build a new tensor.")
    except StudentError as exc:
        if "cannot be multiplied" in str(exc) or "must match the size" in str(exc):
            where = f" (x {tuple(x.shape)}, weight {tuple(w.shape)}). "
            raise StudentError(str(exc).split(" Hint:")[0].rstrip(".") + where +
                               "Hint: the weight is [out, in], so x @ weight.T is [..., out].") from None
        raise
    return plain(result, "linear_forward")


def _hint_forward(x, w, b, out) -> str:
    if out.shape == (x @ w.T).shape:
        if max_abs_diff(out, x @ w.T) < 1e-9:
            return " Hint: add the bias."
        if w.shape[0] == w.shape[1] and max_abs_diff(out, x @ w + b) < 1e-9:
            return " Hint: the weight is [out, in]; multiply by its transpose."
    return " Hint: y = x @ weight.T + bias."


def _own_forward(ns, x, w, b, grad_output=None):
    """What the student's own ``linear_forward`` gives on (x, w, b), w and b requiring gradients as a layer's
    parameters do (the ``grad`` recipe: its output, whether it is connected, the gradients of w and b for
    ``grad_output``): (the reply, None) or (None, the failure)."""
    fn = ns.get("linear_forward")
    if not isinstance(fn, Handle) or not fn.callable:
        return None, RemoteError("missing", "NameError", "name 'linear_forward' is not defined")
    reply, failure = _attempt(lambda: ns.recipe("grad", fn, [x, w, b], grad_output, wrt=[1, 2]))
    if failure is None and (not isinstance(reply, dict) or not isinstance(reply.get("grads"), list)
                            or len(reply["grads"]) != 2):
        return None, RemoteError("raised", "BadReply", "the grad recipe's reply is not what it returns")
    return reply, failure


@dataclass
class _Own:
    """The student's own ``linear_forward`` on a layer check's input, asked BEFORE the layer runs (so nothing the
    layer does can shape the answer), in float32 and on the same values in float64 (the dtype in which the
    linear_forward cell's own checks judge it). It may excuse the layer only when it computes one function in both:
    otherwise a linear_forward wrong only in float32 (say, a constant there, and the layer the same constant) would
    excuse the layer without ever losing a point on its own cell. And it may excuse the layer only when its own cell
    lost points: a linear_forward judged correct there cannot later turn into one that agrees with a wrong layer."""

    out: torch.Tensor | None = None  # its float32 output, when a tensor
    value: Any = None  # its float32 output, whatever it is
    failure: RemoteError | None = None  # how it failed in float32
    consistent: bool = False  # the same function (or the same failure) in float64
    connected: bool = False
    grads: list = field(default_factory=lambda: [None, None])  # of w and b, for 2 * (output - target)


def _own(ns, x, w, b, target=None) -> _Own:
    if ns.full_marks("linear_forward"):  # judged correct on its own cell: a layer using it must give the reference
        return _Own()
    reply, failure = _own_forward(ns, x, w, b)
    wide, wide_failure = _own_forward(ns, x.double(), w.double(), b.double())
    own = _Own(failure=failure)
    if failure is not None or wide_failure is not None:
        own.consistent = failure is not None and wide_failure is not None and \
            (failure.kind, failure.type) == (wide_failure.kind, wide_failure.type)
        return own
    own.value, own.out, wide_out = reply.get("output"), _tensor(reply.get("output")), _tensor(wide.get("output"))
    if own.out is None or wide_out is None:
        own.consistent = own.out is None and wide_out is None and type_name(own.value) == type_name(wide.get("output"))
        return own
    own.consistent = _close(own.out, wide_out, 1e-4)
    own.connected = reply.get("connected") is True
    if target is not None and own.connected and own.out.shape == target.shape:
        with_target, _ = _own_forward(ns, x, w, b, 2 * (own.out - target))
        if with_target is not None and _close(_tensor(with_target.get("output")), own.out):
            own.grads = [_tensor(g) for g in with_target["grads"]]
    return own


def _how_it_fails(exc: RemoteError) -> str:
    if exc.kind == "blank":
        return "is still a blank"
    if exc.kind == "missing":
        return "is not defined"
    return f"raises {exc.type}" + (f": {exc.message}" if exc.message else "")


def _not_checkable(skipped) -> StudentError:
    """Why no output of Linear.forward could be judged: it failed (a RemoteError), or returned no tensor (the type's
    name), just as the student's own linear_forward did on the same inputs."""
    if isinstance(skipped, str):
        how = f"it returns what your `linear_forward` returns, a {skipped}, not a tensor"
    else:
        how = "it fails just as your `linear_forward` does" + (
            f" (`linear_forward` {_how_it_fails(skipped)})" if isinstance(skipped, RemoteError) else "")
    return StudentError(f"`Linear.forward` could not be checked: on every input the grader tried, {how}, so it never "
                        f"returned an output to judge. Hint: finish linear_forward first; the layer is judged on what "
                        f"it returns.")


# ---------------------------------------------------------------- linear_forward
SHAPES = [((6,), (4, 6)), ((5, 3), (7, 3)), ((2, 4, 5), (3, 5)), ((8, 1), (1, 1)), ((3, 9), (9, 9))]


@pytest.mark.points(1, cell="linear_forward")
def test_forward_shapes(ns):
    """[..., in] -> [..., out] for 1-D, 2-D and 3-D inputs and non-square weights"""
    for i, (xs, ws) in enumerate(SHAPES):
        x, w, b = _data(100 + i, xs, ws, ws[:1])
        out = _forward(ns, x, w, b)
        expect_shape(out, tuple(xs[:-1]) + (ws[0],), f"linear_forward on x {tuple(xs)}, weight {tuple(ws)}",
                     "the weight is [out, in], so y = x @ weight.T + bias keeps x's leading dimensions")


@pytest.mark.points(1, cell="linear_forward")
def test_forward_values(ns):
    """agrees with torch.nn.functional.linear in float64 (relative error below 1e-6)"""
    for i, (xs, ws) in enumerate(SHAPES):
        x, w, b = _data(110 + i, xs, ws, ws[:1])
        out = _forward(ns, x, w, b)
        expected = torch.nn.functional.linear(x, w, b)
        expect_shape(out, tuple(expected.shape), "linear_forward")
        if out.dtype != torch.float64:
            raise StudentError(f"with float64 inputs `linear_forward` should return float64, found {out.dtype}.")
        err = rel_error(out, expected)
        assert err < 1e-6, (f"on x {tuple(xs)} and weight {tuple(ws)}, expected x @ weight.T + bias, found a "
                            f"relative error of {err:.2g}.{_hint_forward(x, w, b, out)}")


@pytest.mark.points(1, cell="linear_forward")
def test_forward_gradients(ns):
    """autograd reaches x, weight and bias with the right gradients"""
    x, w, b = _data(120, (5, 4), (3, 4), (3,))
    g_out = _data(121, (5, 3))[0]
    fn = get(ns, "linear_forward")
    reply = call(lambda: ns.recipe("grad", fn, [x, w, b], g_out), "linear_forward")
    grads = reply.get("grads") if isinstance(reply, dict) else None
    if not isinstance(grads, list) or len(grads) != 3 or not isinstance(reply.get("output"), torch.Tensor) \
            or not reply.get("connected"):
        raise StudentError("the output of `linear_forward` is not connected to its inputs for autograd. Hint: "
                           "use torch operations only (no .detach(), .data, .numpy() or torch.tensor(...)).")
    if reply.get("backward_error"):
        raise StudentError(f"backward through `linear_forward` failed: "
                           f"{str(reply['backward_error']).split(':')[0]}.")
    expected = {"x": g_out @ w, "weight": g_out.T @ x, "bias": g_out.sum(0)}
    for name, grad in zip(("x", "weight", "bias"), grads):
        if grad is None:
            raise StudentError(f"no gradient reached `{name}`. Hint: use {name} itself in the computation.")
        grad = plain(grad, f"{name}.grad")
        expect_shape(grad, tuple(expected[name].shape), f"the gradient of {name}")
        expect_finite(grad, f"the gradient of {name}")
        err = max_abs_diff(grad, expected[name])
        assert err < 1e-8, (f"expected the gradient of `{name}` to match y = x @ weight.T + bias, found an error "
                            f"of {err:.2g}.")


def _dynamic(used: list) -> str:
    return next((u for u in used if u not in BUILTINS), "")


@pytest.mark.points(1, cell="linear_forward")
def test_forward_not_builtin(ns):
    """computes the product itself (no torch.nn.functional.linear / nn.Linear)"""
    x, w, b = _data(130, (4, 3), (2, 3), (2,))
    fn = get(ns, "linear_forward")
    used = source.calls_builtin(ns.cells, "linear_forward", BUILTINS)
    if dynamic := _dynamic(used):
        raise StudentError(f"`linear_forward` uses {dynamic}, so the grader cannot tell whether it calls "
                           f"torch.nn.functional.linear. Hint: use @ (or torch.matmul) and + directly.")
    traced = call(lambda: ns.recipe("torch_calls", fn, [x, w, b], {}, sorted(BUILTINS)), "linear_forward")
    if used or (isinstance(traced, list) and "linear" in traced):  # the trace is evidence: it only adds failures
        raise StudentError("`linear_forward` calls torch.nn.functional.linear (or an nn.Linear), which is the "
                           "function this exercise asks you to write. Hint: use @ (or torch.matmul) and +.")


# ---------------------------------------------------------------- Linear
def _make(ns, n_in: int, n_out: int) -> Handle:
    cls = get(ns, "Linear", kind="class")
    if not is_class(cls):
        raise StudentError("`Linear` should be a class that subclasses torch.nn.Module.")
    layer = call(cls, "Linear", n_in, n_out)
    if not is_instance(layer):
        raise StudentError(f"`Linear({n_in}, {n_out})` should be a torch.nn.Module, found {type_name(layer)}.")
    return layer


def _read(layer: Handle, attr: str, name: str):
    value, failure = _attempt(lambda: layer.attr(attr))
    if failure is not None:
        found = "none" if failure.type == "AttributeError" else f"an error ({failure.type})"
        raise StudentError(f"`{name}.{attr}` should be a tensor (an nn.Parameter), found {found}.")
    if not isinstance(value, torch.Tensor):
        raise StudentError(f"`{name}.{attr}` should be a tensor (an nn.Parameter), found {type_name(value)}.")
    return plain(value, f"{name}.{attr}")


def _weight_bias(layer: Handle, n_in: int, n_out: int, name: str = "layer"):
    w, b = _read(layer, "weight", name), _read(layer, "bias", name)
    expect_shape(w, (n_out, n_in), f"Linear({n_in}, {n_out}).weight", WEIGHT_HINT)
    expect_shape(b, (n_out,), f"Linear({n_in}, {n_out}).bias", "one bias per output feature")
    return w, b


def _set(ns, layer: Handle, w, b) -> None:
    call(lambda: ns.recipe("load_state", layer, {"weight": w, "bias": b}), "Linear")


def _state(ns, layer: Handle) -> dict:
    """The ``state`` recipe's reply (kernel-reported names: evidence), checked for form."""
    reply = call(lambda: ns.recipe("state", layer), "Linear")
    if not isinstance(reply, dict) or not all(isinstance(reply.get(k), list) for k in ("params", "grads", "modules")):
        raise StudentError("the layer's parameters could not be read.")
    return reply


def _names(pairs) -> list:
    return [p[0] for p in pairs if isinstance(p, list) and len(p) == 2 and isinstance(p[0], str)]


def _layer_output(ns, layer: Handle, x, w, b):
    """Linear.forward on x, with the layer's weight and bias set to w and b, judged: ("reference", output) when it
    is x @ w.T + b, ("own", output) when it is what the student's own linear_forward gives on (x, w, b), (None, why)
    when it fails (or returns no tensor) exactly as that linear_forward does: nothing to judge; a failure otherwise."""
    own = _own(ns, x, w, b)
    expected = _reference(x, w, b)
    out, failure = _attempt(lambda: layer(x))
    found = _tensor(out) if failure is None else None
    if _close(found, expected):
        return "reference", found
    if own.consistent:
        if own.failure is not None:
            if failure is not None and _same_failure(failure, own.failure):
                return None, own.failure
        elif failure is None:
            if own.out is not None and _close(found, own.out):
                return "own", found
            if found is None and own.out is None and type_name(out) == type_name(own.value):
                return None, type_name(out)  # neither returns a tensor: linear_forward's mistake, charged there
    if failure is not None:
        raise StudentError(remote_failure(failure, "Linear.forward"))
    found = plain(out, "layer(x)")
    expect_shape(found, tuple(expected.shape), f"Linear({w.shape[1]}, {w.shape[0]}) on input {tuple(x.shape)}")
    err = rel_error(found, expected, eps=1e-6)
    raise StudentError(f"on input {tuple(x.shape)}, expected x @ weight.T + bias with the layer's own weight and "
                       f"bias, found a relative error of {err:.2g}. Hint: forward should return "
                       f"linear_forward(x, self.weight, self.bias).")


UNIT_LR = 0.25


def _optimizer_trains(ns, layer: Handle, w, b, n_in: int, n_out: int, grads: dict | None = None, lr: float = 0.01,
                      message=None) -> dict:
    """One SGD step on ``layer.parameters()``, judged on the values: weight and bias must each move by -lr times
    their gradient (the real ones in ``grads``, or ones set by the ``unit_gradients`` recipe). The recipe's reply
    (how many tensors parameters() yields, their size) when it was used."""
    reply = None
    if grads is None:
        lr = UNIT_LR
        reply = call(lambda: ns.recipe("unit_gradients", layer), "Linear")
        if not isinstance(reply, dict) or type(reply.get("count")) is not int or type(reply.get("numel")) is not int:
            raise StudentError("the layer's parameters could not be read.")
        if reply["count"] == 0:
            raise StudentError("`Linear` has no parameters, so there is nothing to train. "
                               "Hint: wrap weight and bias in torch.nn.Parameter.")
        grads = {"weight": torch.ones_like(w), "bias": torch.ones_like(b)}
    call(lambda: ns.recipe("optimizer_step", layer, "SGD", lr), "Linear")
    after = _weight_bias(layer, n_in, n_out)
    for attr, old, new in zip(("weight", "bias"), (w, b), after):
        if not _close(new, old.double() - lr * grads[attr].double()):
            unchanged = torch.equal(new, old)
            raise StudentError(message(attr, unchanged) if message else (
                f"an SGD step on layer.parameters() left `{attr}` unchanged: the optimizer does not see it. "
                f"Hint: register it as an nn.Parameter." if unchanged else
                f"an SGD step on layer.parameters() did not move `{attr}` by -lr times its gradient. Hint: register "
                f"it as an nn.Parameter, once, and use it as it is in forward."))
    return reply or {}


def _require_grad(ns, layer: Handle) -> None:
    """Evidence only (it can fail the check): weight and bias must require gradients for any to reach them."""
    for attr in ("weight", "bias"):
        flag, _ = _attempt(lambda: ns.recipe("lookup", layer, f"{attr}.requires_grad"))
        if flag is False:
            raise StudentError(f"`layer.{attr}` does not require gradients, so none can ever reach it. Hint: "
                               f"torch.nn.Parameter(...) requires them unless told otherwise.")


def _not_registered(attr: str, unchanged: bool = True) -> str:
    return (f"`{attr}` is not a registered parameter of the layer (layer.parameters() does not yield it), so no "
            f"optimizer would ever train it. Hint: self.{attr} = torch.nn.Parameter(...).")


@pytest.mark.points(1, cell="linear_layer")
def test_layer_parameters(ns):
    """weight [out, in] and bias [out] are registered nn.Parameters"""
    for n_in, n_out in ((3, 5), (7, 2), (1, 1)):
        layer = _make(ns, n_in, n_out)
        w, b = _weight_bias(layer, n_in, n_out)
        # what the kernel says of the attributes (evidence: it can only fail the check, with the clearer message)
        said = call(lambda: ns.recipe("attributes", layer, ["weight", "bias"]), "Linear")
        names = _names(_state(ns, layer)["params"])
        for attr in ("weight", "bias"):
            entry = said.get(attr) if isinstance(said, dict) else None
            if isinstance(entry, dict) and not (entry.get("parameter") and entry.get("registered")):
                raise StudentError(_not_registered(attr))
        if sorted(names) != ["bias", "weight"]:
            raise StudentError(f"expected exactly two parameters (weight and bias), found {sorted(names)}.")
        # the verdict: an optimizer on layer.parameters() trains weight and bias, and nothing else is there
        reply = _optimizer_trains(ns, layer, w, b, n_in, n_out, message=_not_registered)
        if reply["numel"] != n_out * n_in + n_out:
            raise StudentError(f"expected exactly two parameters (weight and bias), found {sorted(names)} "
                               f"({reply['count']} tensors of {reply['numel']} numbers in all).")


@pytest.mark.points(1, cell="linear_layer")
def test_layer_forward(ns):
    """forward agrees with torch.nn.functional.linear on 1-D, 2-D and 3-D inputs"""
    judged, skipped = 0, None
    for i, (xs, ws) in enumerate(SHAPES):
        layer = _make(ns, ws[1], ws[0])
        _weight_bias(layer, ws[1], ws[0])
        x, w, b = _data(200 + i, xs, ws, ws[:1], dtype=torch.float32)
        _set(ns, layer, w, b)
        basis, found = _layer_output(ns, layer, x, w, b)
        if basis is None:
            skipped = skipped or found
        else:
            judged += 1
    if not judged:
        raise _not_checkable(skipped)


TRAIN_LAYERS = ((4, 3, 210), (4, 4, 211))  # the square one for a linear_forward that only works on square weights


def _grad_failure(attr: str, grad, expected) -> str | None:
    if grad is None:
        return (f"after loss.backward(), `layer.{attr}.grad` is None. Hint: make {attr} an nn.Parameter and use it "
                f"in forward.")
    grad = _tensor(grad)
    if grad is None:
        return f"`layer.{attr}.grad` should be a tensor."
    if tuple(grad.shape) != tuple(expected.shape):
        return f"`layer.{attr}.grad` should have shape {tuple(expected.shape)}, found {tuple(grad.shape)}."
    if not bool(torch.isfinite(grad).all()):
        return f"`layer.{attr}.grad` should be finite."
    err = max_abs_diff(grad, expected)
    if err >= 1e-3 * (1 + float(expected.abs().max())):
        return f"expected the gradient of `{attr}` for y = x @ weight.T + bias, found an error of {err:.2g}."
    return None


@pytest.mark.points(1, cell="linear_layer")
def test_layer_trains(ns):
    """gradients reach weight and bias, and an optimizer step changes them"""
    skipped = None
    for n_in, n_out, seed in TRAIN_LAYERS:
        layer = _make(ns, n_in, n_out)
        _weight_bias(layer, n_in, n_out)
        x, target, w, b = _data(seed, (16, n_in), (16, n_out), (n_out, n_in), (n_out,), dtype=torch.float32)
        _set(ns, layer, w, b)
        if not _state(ns, layer)["params"]:
            raise StudentError("`Linear` has no parameters, so there is nothing to train. "
                               "Hint: wrap weight and bias in torch.nn.Parameter.")
        own = _own(ns, x, w, b, target)  # asked before the layer runs
        reply, failure = _attempt(lambda: ns.recipe("squared_error_backward", layer, x, target))
        if failure is not None:
            if own.consistent and own.failure is not None and _same_failure(failure, own.failure):
                skipped = skipped or own.failure
                continue  # fails as the student's linear_forward does: judged on linear_forward's cell
            raise StudentError(remote_failure(failure, "Linear.forward"))
        value = reply.get("output") if isinstance(reply, dict) else None
        out, connected = _tensor(value), isinstance(reply, dict) and reply.get("connected") is True
        if out is None and own.consistent and own.failure is None and own.out is None \
                and type_name(own.value) == type_name(value):
            skipped = skipped or type_name(value)
            continue  # no tensor, as linear_forward returns none: charged on its cell
        grads = {p[0]: p[1] for p in _state(ns, layer)["grads"] if isinstance(p, list) and len(p) == 2
                 and isinstance(p[0], str)}
        # against the reference: the gradients of sum((x @ w.T + b - target) ** 2)
        expected_out = _reference(x, w, b)
        residual = 2 * (expected_out.double() - target.double())
        expected = {"weight": residual.T @ x.double(), "bias": residual.sum(0)}
        problems = [_grad_failure(attr, grads.get(attr), expected[attr]) for attr in ("weight", "bias")]
        if _close(out, expected_out) and not any(problems):
            _optimizer_trains(ns, layer, w, b, n_in, n_out, {a: plain(grads[a], a) for a in ("weight", "bias")})
            return
        # against what the student's own linear_forward gives on the same input (its mistakes cost on its cell)
        if own.consistent and own.out is not None and _close(out, own.out):
            own_grads = dict(zip(("weight", "bias"), own.grads if own.connected else [None, None]))
            own_problems = [_grad_failure(attr, grads.get(attr), g.double())
                            for attr, g in own_grads.items() if g is not None]
            if not any(own_problems):
                if all(g is not None for g in own_grads.values()):
                    _optimizer_trains(ns, layer, w, b, n_in, n_out,
                                      {a: plain(grads[a], a) for a in ("weight", "bias")})
                else:  # linear_forward gives no gradient to one of them: the step's own gradients
                    _require_grad(ns, layer)
                    _optimizer_trains(ns, layer, w, b, n_in, n_out)
                return
        if not connected:
            raise StudentError("the layer's output does not depend on its parameters for autograd.")
        raise StudentError(next(p for p in problems if p) if any(problems) else
                           "the layer's output is not x @ weight.T + bias (nor what your linear_forward gives). "
                           "Hint: forward should return linear_forward(x, self.weight, self.bias).")
    raise _not_checkable(skipped)


@pytest.mark.points(1, cell="linear_layer")
def test_layer_init(ns):
    """weight and bias start as U(-1/sqrt(in), 1/sqrt(in)), fresh for every layer"""
    cls = get(ns, "Linear", kind="class")
    _make(ns, 8, 8)  # the class's own failures, with their messages

    def build(n_in, n_out, count):
        layers = call(lambda: ns.recipe("build_many", cls, [n_in, n_out], count), "Linear")
        if not isinstance(layers, list) or len(layers) != count:
            raise StudentError("the layers' weights could not be read.")
        out = []
        for pair in layers:
            if not isinstance(pair, list) or len(pair) != 2:
                raise StudentError("the layers' weights could not be read.")
            for attr, value in zip(("weight", "bias"), pair):
                if not isinstance(value, torch.Tensor):
                    raise StudentError(f"`layer.{attr}` should be a tensor (an nn.Parameter), found "
                                       f"{type_name(value)}.")
            w, b = plain(pair[0], "layer.weight"), plain(pair[1], "layer.bias")
            expect_shape(w, (n_out, n_in), f"Linear({n_in}, {n_out}).weight", WEIGHT_HINT)
            expect_shape(b, (n_out,), f"Linear({n_in}, {n_out}).bias", "one bias per output feature")
            out.append((w, b))
        return out

    (a, _), (b, _) = build(8, 8, 2)
    assert not torch.equal(a, b), "two new layers got the same weights. Hint: don't reseed inside Linear."
    for n_in, n_out, count in ((100, 20, 100), (9, 30, 150), (1, 50, 200)):
        bound = ref.init_bound(n_in)
        layers = build(n_in, n_out, count)
        ws = [w.flatten() for w, _ in layers]
        bs = [b for _, b in layers]
        for name, values in (("weight", torch.cat(ws)), ("bias", torch.cat(bs))):
            expect_finite(values, name)
            largest = float(values.abs().max())
            assert largest <= bound * (1 + 1e-6), (
                f"Linear({n_in}, {n_out}).{name} has an entry of size {largest:.4g}, beyond the bound 1/sqrt(in) = "
                f"{bound:.4g}. Hint: draw from U(-1/sqrt(in_features), 1/sqrt(in_features)).")
            ks = ref.uniform_ks(values, bound)
            spread = float(values.double().std())
            # n genuine uniform draws exceed a KS distance of 2.5/sqrt(n) with probability 2*exp(-12.5) < 1e-5
            limit = 2.5 / math.sqrt(values.numel())
            assert ks < limit, (
                f"over {count} layers Linear({n_in}, {n_out}), the {name} values do not look uniform on "
                f"[-{bound:.3g}, {bound:.3g}] (standard deviation {spread:.3g}, expected {bound / math.sqrt(3):.3g}; "
                f"KS distance {ks:.3f}). Hint: U(-b, b) is (2 * torch.rand(...) - 1) * b with b = 1/sqrt(in); "
                f"the bias is drawn too, not zero.")


def _forward_only_raises(cells) -> bool:
    """Whether the student's ``Linear.forward`` does nothing but raise (a blank, however it is worded)."""
    cls = source.definitions(cells).get("Linear")
    if not isinstance(cls, ast.ClassDef):
        return False
    for node in cls.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "forward":
            body = [s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
                    and not isinstance(s, ast.Pass)]
            return bool(body) and all(isinstance(s, ast.Raise) for s in body)
    return False


@pytest.mark.points(1, cell="linear_layer")
def test_layer_not_builtin(ns):
    """is built from scratch (no torch.nn.Linear or F.linear inside)"""
    cls = get(ns, "Linear", kind="class")
    used = source.calls_builtin(ns.cells, "Linear", BUILTINS, stop_at={"linear_forward"})
    if dynamic := _dynamic(used):
        raise StudentError(f"`Linear` uses {dynamic}, so the grader cannot tell whether it uses torch.nn.Linear "
                           f"or torch.nn.functional.linear. Hint: create the weight and bias parameters yourself and "
                           f"return linear_forward(x, self.weight, self.bias).")
    layer = _make(ns, 5, 3)
    # evidence from the kernel (its class's bases, its submodules): it can only fail the check
    modules = [m[1] for m in _state(ns, layer)["modules"] if isinstance(m, list) and len(m) == 2]
    if "Linear" in used or isinstance(cls, Handle) and cls.is_a(NN_LINEAR) or NN_LINEAR in modules:
        raise StudentError("`Linear` is (or contains) a torch.nn.Linear, which this exercise asks you to build. "
                           "Hint: create the weight and bias parameters yourself.")
    if "linear" in used:
        raise StudentError("`Linear.forward` calls torch.nn.functional.linear. "
                           "Hint: return linear_forward(x, self.weight, self.bias).")
    if _forward_only_raises(ns.cells):
        raise StudentError(remote_failure(RemoteError("blank", "NotImplementedError", ""), "Linear.forward"))
    x = _data(220, (2, 5), dtype=torch.float32)[0]
    w, b = (_tensor(_attempt(lambda: layer.attr(attr))[0]) for attr in ("weight", "bias"))
    own_failure = _own_forward(ns, x, w, b)[1] if w is not None and b is not None else None  # before the layer runs
    traced, failure = _attempt(lambda: ns.recipe("torch_calls", layer, [x], {}, sorted(BUILTINS)))
    if failure is not None:  # a forward that fails as the student's linear_forward does is that function's doing
        if own_failure is None or not _same_failure(failure, own_failure):
            raise StudentError(remote_failure(failure, "Linear.forward"))
    elif isinstance(traced, list) and "linear" in traced:  # evidence; not the layer's if linear_forward does it
        fn = ns.get("linear_forward")
        own_trace = _attempt(lambda: ns.recipe("torch_calls", fn, [x, w, b], {}, sorted(BUILTINS)))[0] \
            if isinstance(fn, Handle) and w is not None and b is not None else None
        if not (isinstance(own_trace, list) and "linear" in own_trace):  # not linear_forward's doing
            raise StudentError("`Linear.forward` calls torch.nn.functional.linear. "
                               "Hint: return linear_forward(x, self.weight, self.bias).")


# ---------------------------------------------------------------- compose_linear
def _layers(ns, sizes, seed):
    g = torch.Generator().manual_seed(seed)
    layers, params = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layer = _make(ns, n_in, n_out)
        _weight_bias(layer, n_in, n_out)
        w = torch.randn(n_out, n_in, generator=g) / math.sqrt(n_in)
        b = torch.randn(n_out, generator=g)
        _set(ns, layer, w, b)
        layers.append(layer)
        params.append((w, b))
    return layers, params


def _current(layer: Handle) -> list:
    out = []
    for attr in ("weight", "bias"):
        value, _ = _attempt(lambda: layer.attr(attr))
        out.append(_tensor(value))
    return out


def _compose(ns, first, second, n_in, n_out, params):
    result = _as_linear(ns, call(ns, "compose_linear", first, second))
    after = _current(first) + _current(second)
    before = [t for pair in params for t in pair]  # what the check loaded into them
    if not all(a is not None and a.shape == c.shape and torch.equal(a, c.to(a.dtype)) for a, c in zip(after, before)):
        raise StudentError("`compose_linear` changed the weights of `first` or `second`. "
                           "Hint: build a new Linear layer for the result.")
    return _weight_bias(result, n_in, n_out, "compose_linear(first, second)")


def _as_linear(ns, result):
    cls = get(ns, "Linear", kind="class")
    qualified = cls.mro[0] if isinstance(cls, Handle) and cls.mro else "__main__.Linear"
    if not isinstance(result, Handle) or result.kind == "class" or not result.is_a(qualified):
        raise StudentError(f"`compose_linear` should return one of your Linear layers, found "
                           f"{type_name(result).rsplit('.', 1)[-1]}.")
    return result


@pytest.mark.points(1, cell="compose_linear")
def test_compose_shapes(ns):
    """returns a Linear layer from first's input size to second's output size"""
    for sizes in ((5, 3, 7), (2, 9, 4), (6, 1, 6)):
        (first, second), params = _layers(ns, sizes, seed=300 + sizes[1])
        _compose(ns, first, second, sizes[0], sizes[2], params)


@pytest.mark.points(1, cell="compose_linear")
def test_compose_values(ns):
    """equals second(first(x)) on random inputs, to 1e-5, for layers of different sizes"""
    for i, sizes in enumerate(((5, 3, 7), (4, 10, 2), (8, 8, 8), (1, 6, 3))):
        (first, second), params = _layers(ns, sizes, seed=310 + i)
        (w1, b1), (w2, b2) = params
        w, b = _compose(ns, first, second, sizes[0], sizes[2], params)
        expect_finite(w, "the composed weight")
        expect_finite(b, "the composed bias")
        x = _data(320 + i, (64, sizes[0]))[0]
        expected = ref.linear_forward(ref.linear_forward(x, w1.double(), b1.double()), w2.double(), b2.double())
        found = ref.linear_forward(x, w.double(), b.double())
        err = max_abs_diff(found, expected)
        hint = " Hint: W = W2 @ W1 and b = W2 @ b1 + b2."
        if max_abs_diff(found, expected - b2.double()) < 1e-4:
            hint = " Hint: the second layer's bias is missing."
        elif sizes[1] == sizes[2] and max_abs_diff(b, b1 + b2) < 1e-4:
            hint = " Hint: the first bias passes through the second layer's weight: b = W2 @ b1 + b2."
        assert err < 1e-5 * (1 + float(expected.abs().max())), (
            f"for layers {sizes[0]} -> {sizes[1]} -> {sizes[2]}, expected the composed layer to give second(first(x)), "
            f"found a largest difference of {err:.3g}.{hint}")


@pytest.mark.points(1, cell="compose_linear")
def test_compose_deep_stack(ns):
    """folding a stack of six layers pair by pair gives one layer equal to the whole stack"""
    sizes = (4, 7, 3, 9, 5, 6, 2)
    layers, params = _layers(ns, sizes, seed=330)
    combined = layers[0]
    for layer, n_out in zip(layers[1:], sizes[2:]):
        combined = _as_linear(ns, call(ns, "compose_linear", combined, layer))
        _weight_bias(combined, sizes[0], n_out, "compose_linear(...)")
    w, b = _weight_bias(combined, sizes[0], sizes[-1], "compose_linear(...)")
    x = _data(331, (32, sizes[0]))[0]
    expected = x
    for wi, bi in params:
        expected = ref.linear_forward(expected, wi.double(), bi.double())
    err = max_abs_diff(ref.linear_forward(x, w.double(), b.double()), expected)
    assert err < 1e-5 * (1 + float(expected.abs().max())), (
        f"composing a six-layer stack {' -> '.join(map(str, sizes))} pair by pair, expected one layer equal to the "
        f"stack, found a largest difference of {err:.3g}.")
