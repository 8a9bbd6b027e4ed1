"""Hidden checks for part 3, ``03_activations.ipynb``: activation functions and the MLP.

Values and gradients are compared with torch's own functions, on ordinary inputs and on extreme
ones (|x| up to 1e4) where the textbook formulas overflow. The MLP is checked through its
behaviour: its registered parameters, where it calls the activation it is given, and whether it
fits targets that no linear network can.
"""
from __future__ import annotations

import inspect

import pytest
import torch

from autograder.checks._torch_calls import calls_any
from autograder.reference import activations as ref
from autograder.student import StudentError, call, expect_finite, expect_shape, get, plain
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
HINTS = {
    "relu": "relu(x) is x where x > 0 and 0 elsewhere, e.g. torch.where(x > 0, x, torch.zeros_like(x)).",
    "leaky_relu": "leaky_relu(x) is x where x > 0 and negative_slope * x elsewhere.",
    "sigmoid": "1 / (1 + exp(-x)) for x >= 0 and exp(x) / (1 + exp(x)) for x < 0, so exp only ever sees a "
               "number <= 0.",
    "tanh": "tanh(x) = 2 * sigmoid(2x) - 1, or (1 - exp(-2|x|)) / (1 + exp(-2|x|)) with the sign of x.",
}


# ---------------------------------------------------------------- helpers
def _apply(ns, name, x, **kwargs):
    """The student's activation on x (unchanged afterwards), as a plain tensor of x's shape and dtype."""
    before = x.clone()
    out = plain(call(ns, name, x, **kwargs), name)
    if not torch.equal(x, before):
        raise StudentError(f"`{name}` changed its input in place. Hint: return a new tensor; don't assign into x.")
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


def _grad(ns, name, x, **kwargs) -> torch.Tensor:
    xg = x.clone().requires_grad_()
    out = call(ns, name, xg, **kwargs)
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        raise StudentError(f"the output of `{name}` is not connected to its input for autograd. Hint: use torch "
                           f"operations on x only (no .detach(), .numpy(), .item() or torch.tensor(...)).")
    try:
        torch.Tensor.backward(torch.Tensor.sum(out))
    except Exception as exc:
        raise StudentError(f"backward through `{name}` failed: {type(exc).__name__}: {str(exc)[:150]}.") from None
    if xg.grad is None:
        raise StudentError(f"no gradient reached the input of `{name}`.")
    return plain(xg.grad, f"the gradient of {name}")


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
    for dtype in DTYPES:
        for x, what in ((_extreme(dtype), "inputs up to |x| = 1e4"), (_random_inputs(410, dtype), "random inputs")):
            grad = _grad(ns, name, x, **kwargs)
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


def _gradcheck(ns, name, **kwargs):
    g = torch.Generator().manual_seed(420 + len(name))
    sign = torch.where(torch.rand(30, generator=g) < 0.5, -1.0, 1.0).double()
    x = (sign * (0.2 + 4 * torch.rand(30, generator=g, dtype=torch.float64))).requires_grad_()
    fn = get(ns, name)
    out = call(fn, name, x.detach().clone(), **kwargs)
    if not isinstance(out, torch.Tensor) or out.dtype != torch.float64:
        raise StudentError(f"`{name}` should return float64 for a float64 input, found "
                           f"{getattr(out, 'dtype', type(out).__name__)}.")
    try:
        ok = torch.autograd.gradcheck(lambda t: call(fn, name, t, **kwargs), (x,), eps=1e-6, atol=1e-6, rtol=1e-4,
                                      raise_exception=False)
    except StudentError:
        raise
    except Exception as exc:
        raise StudentError(f"torch.autograd.gradcheck could not run on `{name}`: {type(exc).__name__}.") from None
    assert ok, (f"torch.autograd.gradcheck found that the gradients autograd computes through `{name}` differ from "
                f"finite differences (float64, |x| between 0.2 and 4.2). Hint: build `{name}` from differentiable "
                f"torch operations only.")


def _dtype_shape(ns, name, **kwargs):
    g = torch.Generator().manual_seed(430)
    for dtype in DTYPES:
        for shape in ((7,), (3, 4), (2, 3, 5)):
            x = torch.randn(*shape, generator=g, dtype=dtype) * 3
            _compare(name, _apply(ns, name, x, **kwargs), TORCH_FN[name](x, **kwargs), x,
                     f"a {dtype} input of shape {shape}")


def _own(ns, name, **kwargs):
    fn = get(ns, name)
    used = calls_any(BUILTINS[name], lambda t: call(fn, name, t, **kwargs), _random_inputs(440, torch.float32))
    if used:
        raise StudentError(f"`{name}` calls torch's own {', '.join(used)}, the function this exercise asks you to "
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
    for slope in (0.0, 0.1, 0.3, 0.75):
        _compare("leaky_relu", _apply(ns, "leaky_relu", x, negative_slope=slope),
                 TORCH_FN["leaky_relu"](x, slope), x, f"x, negative_slope={slope}")
        found = plain(call(ns, "leaky_relu", x, slope), "leaky_relu")
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
    if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
        raise StudentError("`MLP` should be a class that subclasses torch.nn.Module.")
    model = call(cls, "MLP", list(sizes), *activation)
    if not isinstance(model, torch.nn.Module):
        raise StudentError(f"`MLP({list(sizes)})` should be a torch.nn.Module, found {type(model).__name__}.")
    return model


def _layer_params(model, sizes) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(weight, bias) of each layer, in order, from the registered parameters; fails unless they match sizes."""
    params = [plain(p, "MLP parameter") for p in model.parameters()]
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


class _Spy:
    """An activation that records the shape of every input it gets."""

    def __init__(self, fn):
        self.fn, self.shapes = fn, []

    def __call__(self, x):
        self.shapes.append(tuple(x.shape))
        return self.fn(x)


def _inputs(seed, n, d):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g)


@pytest.mark.points(1, cell="mlp")
def test_mlp_registers_layers(ns):
    """registers one linear layer per pair of sizes, so model.parameters() holds them all"""
    for sizes in ((3, 8, 5, 2), (4, 1), (2, 16, 16, 16, 1)):
        _layer_params(_mlp(ns, sizes, torch.tanh), sizes)


@pytest.mark.points(1, cell="mlp")
def test_mlp_activation_between_layers(ns):
    """calls the activation it is given exactly between layers, never after the last"""
    for seed, sizes in enumerate(((3, 8, 5, 2), (4, 1), (2, 6, 6, 6, 3))):
        spy = _Spy(torch.tanh)
        model = _mlp(ns, sizes, spy)
        params = _layer_params(model, sizes)
        x = _inputs(500 + seed, 10, sizes[0])
        del spy.shapes[:]
        y = _out(model, x, sizes[-1])
        expected_calls = [(10, h) for h in sizes[1:-1]]
        if spy.shapes != expected_calls:
            extra = " Hint: no activation after the last layer: the output must be free to take any value." \
                if len(spy.shapes) == len(expected_calls) + 1 else \
                " Hint: call the activation you were given (self.activation) after every layer but the last."
            raise StudentError(f"for sizes {list(sizes)}, expected the activation to be called on hidden "
                               f"activations of shapes {expected_calls}, found calls on {spy.shapes}.{extra}")
        expected = ref.mlp_forward(params, x, torch.tanh)
        err = float((y - expected).abs().max())
        assert err < 1e-5 * (1 + float(expected.abs().max())), (
            f"for sizes {list(sizes)}, expected layer, activation, layer, ... , layer with the registered "
            f"parameters in order, found a largest difference of {err:.3g}.")


@pytest.mark.points(1, cell="mlp")
def test_mlp_identity_is_affine(ns):
    """with the identity activation the whole MLP is one affine map"""
    sizes = (3, 7, 5, 2)
    model = _mlp(ns, sizes, lambda t: t)
    params = _layer_params(model, sizes)
    W, b = params[0]
    for w, c in params[1:]:
        W, b = w @ W, w @ b + c
    x = _inputs(510, 50, sizes[0])
    y = _out(model, x, sizes[-1])
    err = float((y - (x @ W.T + b)).abs().max())
    assert err < 1e-5 * (1 + float(y.abs().max())), (
        f"with activation = identity, expected the MLP to equal the single affine map W3 W2 W1 x + ..., found a "
        f"largest difference of {err:.3g}. Hint: forward should apply the layers in order, nothing else.")


@pytest.mark.points(1, cell="mlp")
def test_mlp_default_relu(ns):
    """uses your relu when no activation is given"""
    relu = get(ns, "relu")
    sizes = (3, 6, 6, 2)
    model = _mlp(ns, sizes)
    params = _layer_params(model, sizes)
    try:
        default = inspect.signature(type(model).__init__).parameters["activation"].default
    except (KeyError, TypeError, ValueError):
        default = None
    if default is relu:
        return  # the default is the student's relu itself, right or wrong (relu's own cell judges that)
    call(relu, "relu", torch.linspace(-2, 2, 9))  # a blank relu says so here, not as a blank MLP
    x = _inputs(520, 20, sizes[0])
    y = _out(model, x, sizes[-1])
    expected = ref.mlp_forward(params, x, lambda t: plain(call(relu, "relu", t), "relu"))
    err = float((y - expected).abs().max())
    assert err < 1e-5 * (1 + float(expected.abs().max())), (
        f"MLP({list(sizes)}) without an activation argument should use your relu between layers, found a largest "
        f"difference of {err:.3g} from that. Hint: def __init__(self, sizes, activation=relu).")


@pytest.mark.points(1, cell="mlp")
def test_mlp_all_layers_train(ns):
    """every layer receives finite gradients and an optimizer step changes it"""
    sizes = (3, 8, 8, 2)
    model = _mlp(ns, sizes, torch.tanh)
    _layer_params(model, sizes)
    x, target = _inputs(530, 32, 3), _inputs(531, 32, 2)
    out = call(model, "MLP.forward", x)
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        raise StudentError("the MLP's output is not connected to its parameters for autograd.")
    expect_shape(out, (32, 2), "the MLP's output for an input (32, 3)", "[n, sizes[-1]]")
    torch.Tensor.backward(((out - target) ** 2).mean())
    named = list(model.named_parameters())
    for name, p in named:
        if p.grad is None or not bool(torch.isfinite(p.grad).all()) or float(p.grad.abs().max()) == 0:
            raise StudentError(f"after a backward pass, parameter `{name}` has no (or a zero or non-finite) "
                               f"gradient: the forward pass does not use it.")
    before = [plain(p, name).clone() for name, p in named]
    torch.optim.Adam(model.parameters(), lr=0.01).step()
    for (name, p), old in zip(named, before):
        if torch.equal(plain(p, name), old):
            raise StudentError(f"an Adam step on model.parameters() left `{name}` unchanged.")


# The budget's one home is course_utils.selfcheck.FIT_RECIPE (the notebook's self-check runs it on the course's
# own targets): 400 full-batch Adam steps at 0.01, below 0.1 x the best linear fit.
FIT_STEPS, FIT_LR, FIT_RATIO = FIT_RECIPE["steps"], FIT_RECIPE["lr"], FIT_RECIPE["ratio"]
FIT_CAPACITY_FIXES = MLP_CAPACITY_FIXES


@pytest.mark.points(1, cell="mlp")
@pytest.mark.timeout(90)
def test_mlp_fits_nonlinear(ns):
    """fits two nonlinear targets far better than any linear network can (fixed budget)"""
    for seed, (target, sizes) in enumerate(((ref.wiggle, (1, 32, 32, 1)), (ref.saddle, (2, 32, 32, 1)))):
        x, y = target(seed=540 + seed)
        floor = ref.best_affine_mse(x, y)
        torch.manual_seed(seed)
        model = _mlp(ns, sizes, torch.tanh)
        _layer_params(model, sizes)
        _out(model, x, 1)
        optimizer = torch.optim.Adam(model.parameters(), lr=FIT_LR)
        losses = []
        for _ in range(FIT_STEPS):
            loss = ((call(model, "MLP.forward", x) - y) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
        with torch.no_grad():
            mse = float(((_out(model, x, 1) - y) ** 2).mean())
        if not mse < FIT_RATIO * floor:
            diagnosis = diagnose_training(
                losses, float(((y - y.mean()) ** 2).mean()), final=mse, target=FIT_RATIO * floor, what="MSE",
                baseline_name="predicting the mean of the target everywhere", budget=f"the budget ({FIT_STEPS} steps)",
                loop_is_fixed=True, capacity_fixes=FIT_CAPACITY_FIXES)
            raise AssertionError(
                f"on a grader-held nonlinear {target.__doc__.split(':')[0]} target, MLP({list(sizes)}, torch.tanh) "
                f"trained with {FIT_STEPS} full-batch Adam steps should reach a mean squared error below "
                f"{FIT_RATIO * floor:.4f} (a tenth of {floor:.4f}, the best any linear network can do), found "
                f"{mse:.4f}. Hint: check that forward applies every layer, with the activation between them.\n"
                f"{diagnosis.text()}\nThe notebook's self-check (check_fit_budget(MLP)) runs this budget on the "
                f"course's own targets.")
