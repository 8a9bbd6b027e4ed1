"""Hidden checks for part 3, ``03_activations.ipynb``: activation functions and the MLP.

Values and gradients are compared with torch's own functions, on ordinary inputs and on extreme
ones (|x| up to 1e4) where the textbook formulas overflow. The MLP is checked through its
behaviour: its registered parameters, where it calls the activation it is given, and whether it
fits targets that no linear network can.

They run on the trusted side: the student's functions are called in the kernel and answer with tensors;
torch's values and gradients, finite differences, the MLP's expected outputs (from the parameters it
reports) and the fitted error are computed here. "Is your own" is read from the student's source; what
the kernel reports about itself (a torch-call trace, the spy's recorded shapes, a loss history) can only
make a check fail or explain a failure.
"""
from __future__ import annotations

import ast
import math

import pytest
import torch

from autograder import graph
from autograder.reference import activations as ref
from autograder.remote import BadReply, Handle, RemoteError
from autograder.source import calls_builtin, definitions, parse_cells
from autograder.studentcode import (StudentError, call, call_pure, expect_finite, expect_shape, get,
                                is_class, is_instance, plain, remote_failure, type_name)
from course_utils.diagnose import diagnose_training
from course_utils.selfcheck import FIT_RECIPE, MLP_CAPACITY_FIXES


EXTREME = [-1e4, -3e3, -710.0, -100.0, -30.0, -5.0, -1.0, -0.25, 0.25, 1.0, 5.0, 30.0, 100.0, 710.0, 3e3, 1e4]
TOLERANCE = {torch.float32: (1e-6, 1e-5), torch.float64: (1e-12, 1e-10)}  # (absolute, relative)
DTYPES = (torch.float32, torch.float64)

TORCH_FN = {
    "relu": lambda x: torch.relu(x),
    "leaky_relu": lambda x, negative_slope=0.01: torch.nn.functional.leaky_relu(x, negative_slope),
    "sigmoid": lambda x: torch.sigmoid(x),
    "tanh": lambda x: torch.tanh(x),
}
BUILTINS = {
    "relu": {"relu", "relu_"},
    "leaky_relu": {"leaky_relu", "leaky_relu_", "prelu", "rrelu", "rrelu_"},
    "sigmoid": {"sigmoid", "sigmoid_", "special_expit", "expit"},
    "tanh": {"tanh", "tanh_"},
}
# torch's layer classes that compute the same thing (read from the source; the run-time trace sees the
# functions they call). The student's own functions are bare names (tanh from their own sigmoid stays allowed).
LAYERS = {"relu": {"ReLU"}, "leaky_relu": {"LeakyReLU", "PReLU", "RReLU"}, "sigmoid": {"Sigmoid"}, "tanh": {"Tanh"}}
HINTS = {
    "relu": "relu(x) is x where x > 0 and 0 elsewhere, e.g. torch.where(x > 0, x, torch.zeros_like(x)).",
    "leaky_relu": "leaky_relu(x) is x where x > 0 and negative_slope * x elsewhere.",
    "sigmoid": "1 / (1 + exp(-x)) for x >= 0 and exp(x) / (1 + exp(x)) for x < 0, so exp only ever sees a "
               "number <= 0.",
    "tanh": "tanh(x) = 2 * sigmoid(2x) - 1, or (1 - exp(-2|x|)) / (1 + exp(-2|x|)) with the sign of x.",
}


# ---------------------------------------------------------------- helpers
def _recipe(ns, recipe: str, name: str, *args, **kwargs):
    """A recipe run on the student's code; the student's failures inside it are reported under ``name``."""
    return call(lambda *a, **k: ns.recipe(recipe, *a, **k), name, *args, **kwargs)


def _apply(ns, name, x, **kwargs):
    """The student's activation on x (unchanged afterwards), as a plain tensor of x's shape and dtype."""
    out = plain(call_pure(ns, name, x, changed="its input", hint="return a new tensor; don't assign into x.",
                          **kwargs), name)
    expect_shape(out, tuple(x.shape), f"{name}(x) for x of shape {tuple(x.shape)}",
                 "an activation works elementwise and keeps the shape")
    if out.dtype != x.dtype:
        raise StudentError(f"`{name}` turned a {x.dtype} input into {out.dtype}. Hint: keep the input's dtype "
                           f"(torch.zeros_like(x), or plain Python numbers, don't change it).")
    return out


def _compare(name, found, expected, x, what):
    expect_finite(found, f"{name}({what})")
    atol, rtol = TOLERANCE[x.dtype]
    bad = (found.double() - expected.double()).abs() > atol + rtol * expected.double().abs()
    if bool(bad.any()):
        i = int(bad.flatten().nonzero()[0])
        raise StudentError(f"{name}({what}): at x = {float(x.flatten()[i]):.6g} expected "
                           f"{float(expected.flatten()[i]):.8g}, found {float(found.flatten()[i]):.8g}. "
                           f"Hint: {HINTS[name]}")


def _random_inputs(seed: int, dtype, shape=(1000,)) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype) * 4


def _extreme(dtype) -> torch.Tensor:
    return torch.tensor(EXTREME, dtype=dtype)


def _reply(value, keys: tuple) -> dict:
    """A recipe's reply that must be a dict with ``keys`` (anything else is a reply the grader cannot read)."""
    if not isinstance(value, dict) or any(k not in value for k in keys):
        raise BadReply("a recipe's reply of the wrong form")
    return value


def _autograd(ns, fn, name, x, **kwargs) -> dict:
    """The kernel's autograd through the student's ``fn`` at x (the gradient of the output's sum), as data:
    {"output", "connected", "grads", "backward_error"}."""
    return _reply(_recipe(ns, "grad", name, fn, [x], kwargs=kwargs),
                  ("output", "connected", "grads", "backward_error"))


def _grad(ns, fn, name, x, **kwargs) -> torch.Tensor:
    result = _autograd(ns, fn, name, x, **kwargs)
    if result["connected"] is not True or not isinstance(result["output"], torch.Tensor):
        raise StudentError(f"the output of `{name}` is not connected to its input for autograd. Hint: use torch "
                           f"operations on x only (no .detach(), .numpy(), .item() or torch.tensor(...)).")
    if result["backward_error"]:
        raise StudentError(f"backward through `{name}` failed: {str(result['backward_error'])[:200]}.")
    grads = result["grads"]
    if not isinstance(grads, list) or len(grads) != 1 or grads[0] is None:
        raise StudentError(f"no gradient reached the input of `{name}`.")
    grad = plain(grads[0], f"the gradient of {name}")
    expect_shape(grad, tuple(x.shape), f"the gradient of {name}")
    return grad


def _torch_grad(name, x, **kwargs) -> torch.Tensor:
    xg = x.clone().requires_grad_()
    TORCH_FN[name](xg, **kwargs).sum().backward()
    return xg.grad


def _values(ns, name, **kwargs):
    for dtype in DTYPES:
        x = _random_inputs(400 + len(name), dtype)
        _compare(name, _apply(ns, name, x, **kwargs), TORCH_FN[name](x, **kwargs), x, f"random {dtype} inputs")


def _extreme_values(ns, name, **kwargs):
    for dtype in DTYPES:
        x = _extreme(dtype)
        _compare(name, _apply(ns, name, x, **kwargs), TORCH_FN[name](x, **kwargs), x, f"{dtype} inputs up to 1e4")


def _extreme_gradients(ns, name, **kwargs):
    fn = get(ns, name)
    for dtype in DTYPES:
        for x, what in ((_extreme(dtype), "inputs up to |x| = 1e4"), (_random_inputs(410, dtype), "random inputs")):
            grad = _grad(ns, fn, name, x, **kwargs)
            if not bool(torch.isfinite(grad).all()):
                i = int((~torch.isfinite(grad)).nonzero()[0])
                raise StudentError(
                    f"the gradient of `{name}` is {float(grad[i])} at x = {float(x[i]):.6g} ({dtype}). Hint: "
                    f"autograd differentiates every branch of torch.where, even the one not taken, and 0 * inf is "
                    f"nan: make sure no branch ever computes exp of a large positive number.")
            expected = _torch_grad(name, x, **kwargs)
            atol, rtol = TOLERANCE[dtype]
            bad = (grad.double() - expected.double()).abs() > 10 * atol + rtol * expected.double().abs()
            if bool(bad.any()):
                i = int(bad.nonzero()[0])
                raise StudentError(f"the gradient of `{name}` at x = {float(x[i]):.6g} ({dtype}) should be "
                                   f"{float(expected[i]):.12g}, found {float(grad[i]):.12g}.")


# What torch.autograd.gradcheck did in the kernel, done here: the analytic gradient (autograd through the
# student's function, in the kernel) against central finite differences from two calls (x + eps, x - eps).
# The functions are elementwise, so their Jacobian is diagonal and one perturbation of every entry at once
# gives all of its numerical entries.
GRADCHECK = dict(eps=1e-6, atol=1e-6, rtol=1e-4)


def _gradcheck(ns, name, **kwargs):
    g = torch.Generator().manual_seed(420 + len(name))
    sign = torch.where(torch.rand(30, generator=g) < 0.5, -1.0, 1.0).double()
    x = sign * (0.2 + 4 * torch.rand(30, generator=g, dtype=torch.float64))
    fn = get(ns, name)
    result = _autograd(ns, fn, name, x, **kwargs)
    out = result["output"]
    if not isinstance(out, torch.Tensor) or out.dtype != torch.float64:
        raise StudentError(f"`{name}` should return float64 for a float64 input, found "
                           f"{out.dtype if isinstance(out, torch.Tensor) else type_name(out)}.")
    failed = (f"torch.autograd.gradcheck found that the gradients autograd computes through `{name}` differ from "
              f"finite differences (float64, |x| between 0.2 and 4.2). Hint: build `{name}` from differentiable "
              f"torch operations only.")
    if result["backward_error"]:
        error = str(result["backward_error"]).split(":")[0][:100]
        raise StudentError(f"torch.autograd.gradcheck could not run on `{name}`: {error}.")
    expect_shape(plain(out, name), tuple(x.shape), f"{name}(x) for x of shape {tuple(x.shape)}",
                 "an activation works elementwise and keeps the shape")
    grads = result["grads"]
    if result["connected"] is not True or not isinstance(grads, list) or len(grads) != 1 or grads[0] is None:
        raise AssertionError(failed)  # no gradient at all (gradcheck let a constant through; a check may not)
    analytic = plain(grads[0], f"the gradient of {name}")
    eps, atol, rtol = GRADCHECK["eps"], GRADCHECK["atol"], GRADCHECK["rtol"]
    shifted = []
    for x_shifted in (x + eps, x - eps):
        value = plain(call(fn, name, x_shifted, **kwargs), name)
        expect_shape(value, tuple(x.shape), f"{name}(x) for x of shape {tuple(x.shape)}",
                     "an activation works elementwise and keeps the shape")
        shifted.append(value.double())
    numerical = (shifted[0] - shifted[1]) / (2 * eps)
    if not bool((numerical != 0).any()):
        raise StudentError(f"`{name}` gives the same values at x + {eps:g} and x - {eps:g} for every x (float64, |x| "
                           f"between 0.2 and 4.2): finite differences see a constant, not {name}.")
    if tuple(analytic.shape) != tuple(x.shape):
        raise AssertionError(failed)
    close = (analytic.double() - numerical).abs() <= atol + rtol * numerical.abs()
    assert bool(close.all()), failed


def _dtype_shape(ns, name, **kwargs):
    g = torch.Generator().manual_seed(430)
    for dtype in DTYPES:
        for shape in ((7,), (3, 4), (2, 3, 5)):
            x = torch.randn(*shape, generator=g, dtype=dtype) * 3
            _compare(name, _apply(ns, name, x, **kwargs), TORCH_FN[name](x, **kwargs), x,
                     f"a {dtype} input of shape {shape}")


# ---------------------------------------------------------------- "is your own", read from the source


def _bindings(stmt, name: str):
    """Where a top-level statement binds ``name``: ("def" | "other", line) for each binding, in order."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        found = [("def" if not isinstance(stmt, ast.ClassDef) else "other", stmt.lineno)] if stmt.name == name else []
        for node in ast.walk(stmt):  # a function that declares the name global may rebind it
            if isinstance(node, ast.Global) and name in node.names:
                found.append(("other", node.lineno))
        return found
    if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Lambda) and len(stmt.targets) == 1 \
            and isinstance(stmt.targets[0], ast.Name) and stmt.targets[0].id == name:
        return [("def", stmt.lineno)]
    found = []
    todo = [stmt]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found += [("other", node.lineno) for a in node.names if (a.asname or a.name.split(".")[0]) == name]
        elif isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, (ast.Store, ast.Del)):
            found.append(("other", node.lineno))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found += _bindings(node, name)
            continue
        elif isinstance(node, ast.Lambda):
            continue
        todo.extend(ast.iter_child_nodes(node))
    return sorted(found, key=lambda b: b[1])


def _blank(node) -> bool:
    """Whether a definition is still the release's blank: only a docstring and ``raise NotImplementedError``."""
    body = list(getattr(node, "body", []))
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        body = body[1:]
    if not body or not all(isinstance(s, (ast.Raise, ast.Pass)) for s in body):
        return False
    raised = [s.exc for s in body if isinstance(s, ast.Raise)]
    names = {n.id for e in raised if e is not None for n in ast.walk(e) if isinstance(n, ast.Name)}
    return bool(raised) and names <= {"NotImplementedError"}


def _own_definition(cells, name: str) -> str:
    """Why the student's source does not show ``name`` as their own function ("" when it does)."""
    defs = definitions(cells)
    node = defs.get(name)
    if node is None or isinstance(node, ast.ClassDef):
        return (f"the grader reads your source to see that `{name}` does not call torch's own {name}, and found no "
                f"`def {name}(...)` in your notebook. Hint: define it with def in its answer cell.")
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _blank(node):
        return remote_failure(RemoteError("blank", "NotImplementedError", ""), name)
    last = None
    for tree in parse_cells(cells):
        for stmt in tree.body:
            for binding in _bindings(stmt, name):
                last = binding
    if last is not None and last[0] != "def":
        return (f"`{name}` is bound again after its definition (a cell's line {last[1]}), so the function the "
                f"notebook ends up with is not the `def {name}` the grader reads. Hint: define it once, with def, "
                f"and don't assign anything else to the name.")
    return ""


def _own(ns, name, **kwargs):
    fn = get(ns, name)
    problem = _own_definition(ns.cells, name)
    if problem:
        raise StudentError(problem)
    node = definitions(ns.cells)[name]
    if isinstance(fn, Handle) and not getattr(node, "decorator_list", None) and fn.type != "function":
        # Evidence: what the kernel says the name holds can fail the rule (torch's own function rebound at run
        # time), never pass it.
        raise StudentError(f"`{name}` in your notebook is a {fn.type_name}, not the function your `def {name}` "
                           f"defines, so the grader cannot read it from your source. Hint: define it once, with def, "
                           f"and don't rebind the name.")
    used = calls_builtin(ns.cells, name, BUILTINS[name] | LAYERS[name])
    dynamic = [u for u in used if u.startswith("a name looked up")]
    used = [u for u in used if u not in dynamic]
    if used:
        raise StudentError(f"`{name}` calls torch's own {', '.join(used)}, the function this exercise asks you to "
                           f"write. Hint: {HINTS[name]}")
    if dynamic:
        raise StudentError(f"`{name}` uses {dynamic[0]}, so the grader cannot read from your source whether it calls "
                           f"torch's own {name}. Hint: call torch functions by their plain names (torch.exp, "
                           f"torch.where). {HINTS[name]}")
    # Evidence only: a trace of the torch functions the call reaches can add a failure, never clear one.
    traced = _recipe(ns, "torch_calls", name, fn, [_random_inputs(440, torch.float32)], kwargs,
                     sorted(BUILTINS[name]))
    if isinstance(traced, list) and traced:
        seen = sorted({str(t)[:40] for t in traced if isinstance(t, str)} & BUILTINS[name]) or ["it"]
        raise StudentError(f"`{name}` calls torch's own {', '.join(seen)}, the function this exercise asks you to "
                           f"write. Hint: {HINTS[name]}")


# ---------------------------------------------------------------- relu, leaky_relu, sigmoid, tanh
# One family of checks for the four activations, each on its own cell. sigmoid and tanh overflow in
# the textbook formulas, so their extreme inputs and gradients are checks of their own; relu's and
# leaky_relu's fold into the value and gradient checks.
ALL = ["relu", "leaky_relu", "sigmoid", "tanh"]
SATURATING = ["sigmoid", "tanh"]
PIECEWISE = ["relu", "leaky_relu"]
SLOPE = {"leaky_relu": {"negative_slope": 0.1}}  # the non-default slope the other checks use


@pytest.mark.points(1, cell="{name}")
@pytest.mark.parametrize("name", ALL)
def test_values(ns, name):
    """matches torch's {name} on random inputs (default arguments)"""
    _values(ns, name)
    if name in PIECEWISE:
        _extreme_values(ns, name)


@pytest.mark.points(1, cell="{name}")
@pytest.mark.parametrize("name", SATURATING)
def test_extreme_values(ns, name):
    """finite and correct for |x| up to 1e4 (no overflow)"""
    _extreme_values(ns, name)


@pytest.mark.points(1, cell="leaky_relu")
def test_leaky_slope(ns):
    """honours negative_slope, by keyword and by position"""
    x = _random_inputs(450, torch.float64)
    fn = get(ns, "leaky_relu")
    for slope in (0.0, 0.1, 0.3, 0.75):
        _compare("leaky_relu", _apply(ns, "leaky_relu", x, negative_slope=slope),
                 TORCH_FN["leaky_relu"](x, slope), x, f"x, negative_slope={slope}")
        found = plain(call(fn, "leaky_relu", x, slope), "leaky_relu")
        expect_shape(found, tuple(x.shape), f"leaky_relu(x, {slope}) for x of shape {tuple(x.shape)}",
                     "an activation works elementwise and keeps the shape")
        _compare("leaky_relu", found, TORCH_FN["leaky_relu"](x, slope), x, f"x, {slope}")


@pytest.mark.points(1, cell="{name}")
@pytest.mark.parametrize("name", ALL)
def test_dtype_shape(ns, name):
    """keeps shape and dtype (float32, float64) and leaves its input unchanged"""
    _dtype_shape(ns, name, **SLOPE.get(name, {}))


@pytest.mark.points(1, cell="{name}")
@pytest.mark.parametrize("name", PIECEWISE)
def test_gradients(ns, name):
    """finite gradients that match torch's, and gradcheck passes away from 0"""
    _extreme_gradients(ns, name, **SLOPE.get(name, {}))
    _gradcheck(ns, name, **SLOPE.get(name, {}))


@pytest.mark.points(1, cell="{name}")
@pytest.mark.parametrize("name", SATURATING)
def test_extreme_gradients(ns, name):
    """finite gradients that match torch's for |x| up to 1e4"""
    _extreme_gradients(ns, name)


@pytest.mark.points(1, cell="{name}")
@pytest.mark.parametrize("name", SATURATING)
def test_gradcheck(ns, name):
    """passes torch.autograd.gradcheck in float64"""
    _gradcheck(ns, name)


@pytest.mark.points(1, cell="{name}")
@pytest.mark.parametrize("name", ALL)
def test_own(ns, name):
    """is your own (doesn't call torch's {name})"""
    _own(ns, name, **SLOPE.get(name, {}))


# ---------------------------------------------------------------- MLP
def _mlp(ns, sizes, *activation):
    cls = get(ns, "MLP", kind="class")
    if not is_class(cls):
        raise StudentError("`MLP` should be a class that subclasses torch.nn.Module.")
    model = call(cls, "MLP", list(sizes), *activation)
    if not is_instance(model):
        raise StudentError(f"`MLP({list(sizes)})` should be a torch.nn.Module, found {type_name(model)}.")
    return model


def _state(ns, model) -> dict:
    """The model's registered parameters and their gradients, in order: {"params": [(name, tensor)], "grads":
    [(name, tensor or None)]}."""
    state = _reply(_recipe(ns, "state", "MLP", model), ("params", "grads"))
    out = {}
    for key in ("params", "grads"):
        rows = state[key]
        if not isinstance(rows, list) or not all(isinstance(r, (list, tuple)) and len(r) == 2
                                                 and isinstance(r[0], str) for r in rows):
            raise BadReply("a module's state of the wrong form")
        out[key] = [(n, None if t is None and key == "grads" else plain(t, "MLP parameter")) for n, t in rows]
    return out


def _layer_params(ns, model, sizes, state: dict | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(weight, bias) of each layer, in order, from the registered parameters; fails unless they match sizes."""
    params = [p for _, p in (state or _state(ns, model))["params"]]
    shapes = [tuple(p.shape) for p in params]
    expected = [s for a, b in zip(sizes[:-1], sizes[1:]) for s in ((b, a), (b,))]
    weights = [p for p in params if p.dim() == 2]
    biases = [p for p in params if p.dim() == 1]
    arrow = " -> ".join(map(str, sizes))
    if not params:
        raise StudentError(f"`MLP({list(sizes)})` has no registered parameters, so no optimizer can train it. Hint: "
                           f"keep the layers in a torch.nn.ModuleList (or nn.Sequential), not a plain Python list.")
    ok = (len(weights) == len(biases) == len(sizes) - 1 and len(params) == len(expected)
          and all(tuple(w.shape) == (b, a) for w, a, b in zip(weights, sizes[:-1], sizes[1:]))
          and all(tuple(v.shape) == (b,) for v, b in zip(biases, sizes[1:])))
    if not ok:
        raise StudentError(f"expected the parameters of {len(sizes) - 1} linear layers {arrow}, in order (weights "
                           f"[out, in] and biases [out]: {expected}), found {shapes}. Hint: one layer per consecutive "
                           f"pair of sizes, kept in a torch.nn.ModuleList or nn.Sequential.")
    return list(zip(weights, biases))


def _out(model, x, n_out):
    y = plain(call(model, "MLP.forward", x), "MLP.forward")
    expect_shape(y, (len(x), n_out), f"the MLP's output for an input {tuple(x.shape)}", "[n, sizes[-1]]")
    expect_finite(y, "the MLP's output")
    return y


def _inputs(seed, n, d):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g)


def _spy_shapes(spy) -> list | None:
    """What the spy recorded (evidence: None when the kernel's answer is not a list of shapes)."""
    try:
        shapes = spy.attr("shapes")
    except RemoteError:
        return None
    if not isinstance(shapes, list) or not all(isinstance(s, tuple) for s in shapes):
        return None
    return shapes


@pytest.mark.points(1, cell="mlp")
def test_mlp_registers_layers(ns):
    """registers one linear layer per pair of sizes, so model.parameters() holds them all"""
    for sizes in ((3, 8, 5, 2), (4, 1), (2, 16, 16, 16, 1)):
        _layer_params(ns, _mlp(ns, sizes, ns.path("torch.tanh")), sizes)


# The activation each MLP gets: the spy records where it is called (evidence for the message); the verdict is
# the MLP's output against layer, activation, layer, ... computed here from its parameters. torch.sin (an
# activation no MLP uses by itself) makes the output tell whether the given activation is the one applied.
BETWEEN = (((3, 8, 5, 2), "tanh"), ((4, 1), "tanh"), ((2, 6, 6, 6, 3), "sin"))


@pytest.mark.points(1, cell="mlp")
def test_mlp_activation_between_layers(ns):
    """calls the activation it is given exactly between layers, never after the last"""
    for seed, (sizes, activation) in enumerate(BETWEEN):
        spy = ns.recipe("spy", ns.path(f"torch.{activation}"))
        model = _mlp(ns, sizes, spy)
        params = _layer_params(ns, model, sizes)
        x = _inputs(500 + seed, 10, sizes[0])
        before = _spy_shapes(spy)
        y = _out(model, x, sizes[-1])
        after = _spy_shapes(spy)
        expected_calls = [(10, h) for h in sizes[1:-1]]
        if before is not None and after is not None and after[:len(before)] == before:
            calls = after[len(before):]
            if calls != expected_calls:
                extra = " Hint: no activation after the last layer: the output must be free to take any value." \
                    if len(calls) == len(expected_calls) + 1 else \
                    " Hint: call the activation you were given (self.activation) after every layer but the last."
                raise StudentError(f"for sizes {list(sizes)}, expected the activation to be called on hidden "
                                   f"activations of shapes {expected_calls}, found calls on {calls}.{extra}")
        expected = ref.mlp_forward(params, x, getattr(torch, activation))
        err = float((y - expected).abs().max())
        assert err < 1e-5 * (1 + float(expected.abs().max())), (
            f"for sizes {list(sizes)}, expected layer, activation, layer, ... , layer with the registered "
            f"parameters in order, found a largest difference of {err:.3g}.")


@pytest.mark.points(1, cell="mlp")
def test_mlp_identity_is_affine(ns):
    """with the identity activation the whole MLP is one affine map"""
    sizes = (3, 7, 5, 2)
    model = _mlp(ns, sizes, ns.path("torch.positive"))  # torch.positive(t) is t itself: the identity
    params = _layer_params(ns, model, sizes)
    W, b = params[0]
    for w, c in params[1:]:
        W, b = w @ W, w @ b + c
    x = _inputs(510, 50, sizes[0])
    y = _out(model, x, sizes[-1])
    err = float((y - (x @ W.T + b)).abs().max())
    assert err < 1e-5 * (1 + float(y.abs().max())), (
        f"with activation = identity, expected the MLP to equal the single affine map W3 W2 W1 x + ..., found a "
        f"largest difference of {err:.3g}. Hint: forward should apply the layers in order, nothing else.")


def _default_is_relu(cells) -> bool:
    """Whether the student's source gives MLP.__init__ the default ``activation=relu``, their own relu."""
    defs = definitions(cells)
    cls, relu = defs.get("MLP"), defs.get("relu")
    if not isinstance(cls, ast.ClassDef) or not isinstance(relu, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Assign)):
        return False
    init = [s for s in cls.body if isinstance(s, ast.FunctionDef) and s.name == "__init__"]
    if not init:
        return False
    args = init[-1].args
    positional = args.posonlyargs + args.args
    defaults = dict(zip([a.arg for a in positional[len(positional) - len(args.defaults):]], args.defaults))
    defaults.update({a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None})
    default = defaults.get("activation")
    return isinstance(default, ast.Name) and default.id == "relu" and not _own_definition(cells, "relu").startswith(
        "`relu` is bound again")


@pytest.mark.points(1, cell="mlp")
def test_mlp_default_relu(ns):
    """uses your relu when no activation is given"""
    relu = get(ns, "relu")
    sizes = (3, 6, 6, 2)
    model = _mlp(ns, sizes)
    params = _layer_params(ns, model, sizes)
    if _default_is_relu(ns.cells):
        return  # the source's default is the student's relu itself, right or wrong (relu's own cell judges that)
    call(relu, "relu", torch.linspace(-2, 2, 9))  # a blank relu says so here, not as a blank MLP
    x = _inputs(520, 20, sizes[0])
    y = _out(model, x, sizes[-1])
    expected = ref.mlp_forward(params, x, lambda t: plain(call(relu, "relu", t), "relu"))
    err = float((y - expected).abs().max())
    assert err < 1e-5 * (1 + float(expected.abs().max())), (
        f"MLP({list(sizes)}) without an activation argument should use your relu between layers, found a largest "
        f"difference of {err:.3g} from that. Hint: def __init__(self, sizes, activation=relu).")


# A parameter's gradient is checked against how the loss moves when the parameter moves along it (a central
# difference from two forward passes with the parameter set here): a gradient the forward pass does not back.
FD_STEP, FD_RTOL, FD_ATOL = 1e-2, 0.1, 1e-4


def _loss(model, x, target) -> float:
    y = plain(call(model, "MLP.forward", x), "MLP.forward")
    expect_shape(y, tuple(target.shape), f"the MLP's output for an input {tuple(x.shape)}", "[n, sizes[-1]]")
    return float(((y.double() - target.double()) ** 2).mean())


@pytest.mark.points(1, cell="mlp")
def test_mlp_all_layers_train(ns):
    """every layer receives finite gradients and an optimizer step changes it"""
    sizes = (3, 8, 8, 2)
    model = _mlp(ns, sizes, ns.path("torch.tanh"))
    _layer_params(ns, model, sizes)
    x, target = _inputs(530, 32, 3), _inputs(531, 32, 2)
    y = plain(call(model, "MLP.forward", x), "MLP.forward")
    expect_shape(y, (32, 2), "the MLP's output for an input (32, 3)", "[n, sizes[-1]]")
    result = _reply(_recipe(ns, "squared_error_backward", "MLP.forward", model, x, target, reduction="mean"),
                    ("output", "connected", "backward_error"))
    if result["connected"] is not True or not isinstance(result["output"], torch.Tensor):
        raise StudentError("the MLP's output is not connected to its parameters for autograd.")
    expect_shape(plain(result["output"], "MLP.forward"), (32, 2), "the MLP's output for an input (32, 3)",
                 "[n, sizes[-1]]")
    if result["backward_error"]:
        raise StudentError(f"backward through the MLP failed: {str(result['backward_error'])[:200]}.")
    state = _state(ns, model)
    named, grads = state["params"], dict(state["grads"])
    for name, p in named:
        g = grads.get(name)
        if g is None or tuple(g.shape) != tuple(p.shape) or not bool(torch.isfinite(g).all()) \
                or float(g.abs().max()) == 0:
            raise StudentError(f"after a backward pass, parameter `{name}` has no (or a zero or non-finite) "
                               f"gradient: the forward pass does not use it.")
    for name, p in named:  # the gradient must be what the loss does when the parameter moves (data, not a report)
        g = grads[name].double()
        norm = float(g.norm())
        direction = g / norm
        moved = []
        for sign in (1, -1):
            _recipe(ns, "load_state", "MLP", model, {name: (p.double() + sign * FD_STEP * direction).to(p.dtype)})
            moved.append(_loss(model, x, target))
        _recipe(ns, "load_state", "MLP", model, {name: p})
        slope = (moved[0] - moved[1]) / (2 * FD_STEP)
        if not abs(slope - norm) <= FD_RTOL * norm + FD_ATOL:
            raise StudentError(f"after a backward pass, parameter `{name}` has no (or a zero or non-finite) "
                               f"gradient: the forward pass does not use it (moving `{name}` along its gradient "
                               f"changes the loss at a rate of {slope:.3g}, the gradient says {norm:.3g}).")
    lr = 0.01
    _recipe(ns, "optimizer_step", "MLP", model, "Adam", lr)
    after = dict(_state(ns, model)["params"])
    for name, old in named:
        new = after.get(name)
        if new is None or (new.shape == old.shape and torch.equal(new, old)):
            raise StudentError(f"an Adam step on model.parameters() left `{name}` unchanged.")
        # Adam's first step moves every entry by lr * g / (|g| + eps): the step is judged on the values.
        g = grads[name].double()
        expected = old.double() - lr * g / (g.abs() + 1e-8)
        if new.shape != old.shape or not bool(((new.double() - expected).abs() <= 1e-6 + 1e-5 * expected.abs()).all()):
            raise StudentError(f"an Adam step on model.parameters() did not move `{name}` by what its gradient says "
                               f"(-lr * sign(gradient) on a first step): the optimizer does not train it as a "
                               f"registered parameter. Hint: register each layer once, in a torch.nn.ModuleList.")


# The budget's one home is course_utils.selfcheck.FIT_RECIPE (the notebook's self-check runs it on the course's
# own targets): 400 full-batch Adam steps at 0.01, below 0.1 x the best linear fit.
FIT_STEPS, FIT_LR, FIT_RATIO = FIT_RECIPE["steps"], FIT_RECIPE["lr"], FIT_RECIPE["ratio"]
FIT_CAPACITY_FIXES = MLP_CAPACITY_FIXES


def _history(losses) -> list[float] | None:
    """The kernel's loss history, for the diagnosis only (None when it is not a list of finite numbers)."""
    if not isinstance(losses, list) or not losses or len(losses) > FIT_STEPS:
        return None
    if not all(type(v) in (int, float) and math.isfinite(v) for v in losses):
        return None
    return [float(v) for v in losses]


def _as_graph(ns, model: Handle, x: torch.Tensor) -> torch.Tensor:
    """The trained MLP's outputs on ``x``, computed here from its forward pass exported as a graph of torch
    operations (traced on other inputs than the ones judged: nothing the forward pass does with its input in
    Python can be frozen into an answer for ``x``)."""
    example = torch.randn(x.shape, generator=torch.Generator().manual_seed(7), dtype=x.dtype)
    data = _recipe(ns, "export", "MLP.forward", model, example)
    try:
        g = graph.load(data)
        g.check(example)
        return g(x)
    except graph.GraphError as exc:
        raise StudentError(f"the grader evaluates the trained MLP as a graph of torch operations: {exc}") from None


@pytest.mark.points(1, cell="mlp")
@pytest.mark.timeout(90)
def test_mlp_fits_nonlinear(ns):
    """fits two nonlinear targets far better than any linear network can (fixed budget)"""
    for seed, (target, sizes) in enumerate(((ref.wiggle, (1, 32, 32, 1)), (ref.saddle, (2, 32, 32, 1)))):
        x, y = target(seed=540 + seed)
        floor = ref.best_affine_mse(x, y)
        ns.call({"path": "torch.manual_seed"}, seed)
        model = _mlp(ns, sizes, ns.path("torch.tanh"))
        _layer_params(ns, model, sizes)
        _out(model, x, 1)
        losses = _recipe(ns, "fit_full_batch", "MLP.forward", model, x, y, FIT_STEPS, FIT_LR)
        # The error is measured here, on the trained MLP's own forward pass, exported as a graph.
        prediction = _as_graph(ns, model, x)
        mse = float(((prediction - y) ** 2).mean()) if bool(torch.isfinite(prediction).all()) else math.inf
        if mse < 1e-6 * floor:  # no network trained 400 steps gives back the target itself
            ns.review(f"test_mlp_fits_nonlinear: the trained MLP returns the grader's {target.__name__} target almost "
                      f"exactly (MSE {mse:.2g}): a model that remembers targets?")
        if not mse < FIT_RATIO * floor:
            raise AssertionError(_fit_failure(target, sizes, floor, mse, losses, y))


def _fit_failure(target, sizes, floor: float, mse: float, losses, y) -> str:
    """Why the fit failed: the verdict is ``mse`` (measured here); the kernel's loss history only explains it."""
    bar = FIT_RATIO * floor
    diagnosis = diagnose_training(
        _history(losses), float(((y - y.mean()) ** 2).mean()), final=mse, target=bar,
        what="MSE", baseline_name="predicting the mean of the target everywhere",
        budget=f"the budget ({FIT_STEPS} steps)", loop_is_fixed=True, capacity_fixes=FIT_CAPACITY_FIXES,
        loop=f"the grader's loop (full-batch Adam at lr {FIT_LR:g}, zero_grad every step)")
    return (f"on a grader-held nonlinear {target.__doc__.split(':')[0]} target, MLP({list(sizes)}, torch.tanh) "
            f"trained with {FIT_STEPS} full-batch Adam steps should reach a mean squared error below "
            f"{bar:.4f} (a tenth of {floor:.4f}, the best any linear network can do), found "
            f"{mse:.4f}. Hint: check that forward applies every layer, with the activation between them.\n"
            f"{diagnosis.text()}\nThe notebook's self-check (check_fit_budget(MLP)) runs this budget on the "
            f"course's own targets.")
