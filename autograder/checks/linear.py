"""Hidden checks for part 2, ``02_linear_layers.ipynb``: a linear layer from scratch, and composing two.

The checks of ``Linear`` run the layer with the grader's ``linear_forward`` swapped into the
student's namespace (and put back afterwards), so a mistake in exercise 1 costs its points once,
on ``linear_forward``, and not again on every later cell.
"""
from __future__ import annotations

import contextlib
import math

import pytest
import torch

from autograder.checks._torch_calls import calls_any
from autograder.reference import linear as ref
from autograder.student import StudentError, call, expect_finite, expect_shape, get, max_abs_diff, plain, rel_error

# ---------------------------------------------------------------- helpers


def _uses_builtin_linear(fn, *args) -> bool:
    """Does ``fn(*args)`` call ``torch.nn.functional.linear`` (which every ``nn.Linear`` calls)?"""
    return bool(calls_any({"linear"}, fn, *args))


@contextlib.contextmanager
def reference_linear_forward(ns: dict):
    """The grader's ``linear_forward`` in the student's namespace for the block; the student's after."""
    missing = object()
    saved = ns.get("linear_forward", missing)
    ns["linear_forward"] = ref.linear_forward
    try:
        yield
    finally:
        if saved is missing:
            ns.pop("linear_forward", None)
        else:
            ns["linear_forward"] = saved


def _data(seed: int, *shapes, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, generator=g, dtype=dtype) for s in shapes]


def _forward(ns, x, w, b):
    before = [t.clone() for t in (x, w, b)]
    try:
        result = call(ns, "linear_forward", x, w, b)
    except StudentError as exc:
        if "cannot be multiplied" in str(exc) or "must match the size" in str(exc):
            where = f" (x {tuple(x.shape)}, weight {tuple(w.shape)}). "
            raise StudentError(str(exc).split(" Hint:")[0].rstrip(".") + where +
                               "Hint: the weight is [out, in], so x @ weight.T is [..., out].") from None
        raise
    out = plain(result, "linear_forward")
    if not all(torch.equal(a, c) for a, c in zip((x, w, b), before)):
        raise StudentError("`linear_forward` changed one of its inputs in place. Hint: build a new tensor.")
    return out


def _hint_forward(x, w, b, out) -> str:
    if out.shape == (x @ w.T).shape:
        if max_abs_diff(out, x @ w.T) < 1e-9:
            return " Hint: add the bias."
        if w.shape[0] == w.shape[1] and max_abs_diff(out, x @ w + b) < 1e-9:
            return " Hint: the weight is [out, in]; multiply by its transpose."
    return " Hint: y = x @ weight.T + bias."


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
    xs, ws, bs = (t.clone().requires_grad_() for t in (x, w, b))
    out = call(ns, "linear_forward", xs, ws, bs)
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        raise StudentError("the output of `linear_forward` is not connected to its inputs for autograd. Hint: "
                           "use torch operations only (no .detach(), .data, .numpy() or torch.tensor(...)).")
    try:
        torch.Tensor.backward(out, g_out)
    except Exception as exc:
        raise StudentError(f"backward through `linear_forward` failed: {type(exc).__name__}.") from None
    expected = {"x": g_out @ w, "weight": g_out.T @ x, "bias": g_out.sum(0)}
    for name, t in (("x", xs), ("weight", ws), ("bias", bs)):
        if t.grad is None:
            raise StudentError(f"no gradient reached `{name}`. Hint: use {name} itself in the computation.")
        grad = plain(t.grad, f"{name}.grad")
        expect_finite(grad, f"the gradient of {name}")
        err = max_abs_diff(grad, expected[name])
        assert err < 1e-8, (f"expected the gradient of `{name}` to match y = x @ weight.T + bias, found an error "
                            f"of {err:.2g}.")


@pytest.mark.points(1, cell="linear_forward")
def test_forward_not_builtin(ns):
    """computes the product itself (no torch.nn.functional.linear / nn.Linear)"""
    x, w, b = _data(130, (4, 3), (2, 3), (2,))
    fn = get(ns, "linear_forward")
    if _uses_builtin_linear(lambda *a: call(fn, "linear_forward", *a), x, w, b):
        raise StudentError("`linear_forward` calls torch.nn.functional.linear (or an nn.Linear), which is the "
                           "function this exercise asks you to write. Hint: use @ (or torch.matmul) and +.")


# ---------------------------------------------------------------- Linear
def _make(ns, n_in: int, n_out: int):
    cls = get(ns, "Linear", kind="class")
    if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
        raise StudentError("`Linear` should be a class that subclasses torch.nn.Module.")
    layer = call(cls, "Linear", n_in, n_out)
    if not isinstance(layer, torch.nn.Module):
        raise StudentError(f"`Linear({n_in}, {n_out})` should be a torch.nn.Module, found {type(layer).__name__}.")
    return layer


def _weight_bias(layer, n_in: int, n_out: int, name: str = "layer"):
    for attr in ("weight", "bias"):
        if not isinstance(getattr(layer, attr, None), torch.Tensor):
            raise StudentError(f"`{name}.{attr}` should be a tensor (an nn.Parameter), found "
                               f"{type(getattr(layer, attr, None)).__name__}.")
    w, b = plain(layer.weight, f"{name}.weight"), plain(layer.bias, f"{name}.bias")
    expect_shape(w, (n_out, n_in), f"Linear({n_in}, {n_out}).weight", "the weight is [out_features, in_features]")
    expect_shape(b, (n_out,), f"Linear({n_in}, {n_out}).bias", "one bias per output feature")
    return w, b


def _set(layer, w, b):
    with torch.no_grad():
        torch.Tensor.copy_(layer.weight, w)
        torch.Tensor.copy_(layer.bias, b)


def _run(layer, x, what="layer(x)"):
    return plain(call(layer, "Linear.forward", x), what)


@pytest.mark.points(1, cell="linear_layer")
def test_layer_parameters(ns):
    """weight [out, in] and bias [out] are registered nn.Parameters"""
    for n_in, n_out in ((3, 5), (7, 2), (1, 1)):
        layer = _make(ns, n_in, n_out)
        _weight_bias(layer, n_in, n_out)
        named = dict(layer.named_parameters())
        for attr in ("weight", "bias"):
            if not isinstance(getattr(layer, attr), torch.nn.Parameter) or named.get(attr) is not getattr(layer, attr):
                raise StudentError(f"`{attr}` is not a registered parameter of the layer (layer.parameters() does "
                                   f"not yield it), so no optimizer would ever train it. Hint: "
                                   f"self.{attr} = torch.nn.Parameter(...).")
        if len(named) != 2:
            raise StudentError(f"expected exactly two parameters (weight and bias), found {sorted(named)}.")


@pytest.mark.points(1, cell="linear_layer")
def test_layer_forward(ns):
    """forward agrees with torch.nn.functional.linear on 1-D, 2-D and 3-D inputs"""
    with reference_linear_forward(ns):
        for i, (xs, ws) in enumerate(SHAPES):
            layer = _make(ns, ws[1], ws[0])
            _weight_bias(layer, ws[1], ws[0])
            x, w, b = _data(200 + i, xs, ws, ws[:1], dtype=torch.float32)
            _set(layer, w, b)
            out = _run(layer, x)
            expected = torch.nn.functional.linear(x, w, b)
            expect_shape(out, tuple(expected.shape), f"Linear({ws[1]}, {ws[0]}) on input {tuple(xs)}")
            err = rel_error(out, expected, eps=1e-6)
            assert err < 1e-5, (f"on input {tuple(xs)}, expected x @ weight.T + bias with the layer's own weight and "
                                f"bias, found a relative error of {err:.2g}. Hint: forward should return "
                                f"linear_forward(x, self.weight, self.bias).")


@pytest.mark.points(1, cell="linear_layer")
def test_layer_trains(ns):
    """gradients reach weight and bias, and an optimizer step changes them"""
    with reference_linear_forward(ns):
        layer = _make(ns, 4, 3)
        _weight_bias(layer, 4, 3)
        x, target, w, b = _data(210, (16, 4), (16, 3), (3, 4), (3,), dtype=torch.float32)
        _set(layer, w, b)
        params = list(layer.parameters())
        if not params:
            raise StudentError("`Linear` has no parameters, so there is nothing to train. "
                               "Hint: wrap weight and bias in torch.nn.Parameter.")
        out = call(layer, "Linear.forward", x)
        if not isinstance(out, torch.Tensor) or not out.requires_grad:
            raise StudentError("the layer's output does not depend on its parameters for autograd.")
        torch.Tensor.backward(((out - target) ** 2).sum())
        residual = 2 * (x @ w.T + b - target)
        for attr, expected in (("weight", residual.T @ x), ("bias", residual.sum(0))):
            grad = getattr(layer, attr).grad
            if grad is None:
                raise StudentError(f"after loss.backward(), `layer.{attr}.grad` is None. Hint: make {attr} an "
                                   f"nn.Parameter and use it in forward.")
            grad = plain(grad, f"layer.{attr}.grad")
            expect_finite(grad, f"layer.{attr}.grad")
            err = max_abs_diff(grad, expected)
            assert err < 1e-3 * (1 + float(expected.abs().max())), (
                f"expected the gradient of `{attr}` for y = x @ weight.T + bias, found an error of {err:.2g}.")
        before = [plain(p, "parameter").clone() for p in (layer.weight, layer.bias)]
        optimizer = torch.optim.SGD(layer.parameters(), lr=0.01)
        optimizer.step()
        for attr, old in zip(("weight", "bias"), before):
            if torch.equal(plain(getattr(layer, attr), attr), old):
                raise StudentError(f"an SGD step on layer.parameters() left `{attr}` unchanged: the optimizer "
                                   f"does not see it. Hint: register it as an nn.Parameter.")


@pytest.mark.points(1, cell="linear_layer")
def test_layer_init(ns):
    """weight and bias start as U(-1/sqrt(in), 1/sqrt(in)), fresh for every layer"""
    a, b = (_weight_bias(_make(ns, 8, 8), 8, 8)[0] for _ in range(2))
    assert not torch.equal(a, b), "two new layers got the same weights. Hint: don't reseed inside Linear."
    for n_in, n_out, count in ((100, 20, 100), (9, 30, 150), (1, 50, 200)):
        bound = ref.init_bound(n_in)
        ws, bs = [], []
        for _ in range(count):
            w, b = _weight_bias(_make(ns, n_in, n_out), n_in, n_out)
            ws.append(w.flatten())
            bs.append(b)
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


@pytest.mark.points(1, cell="linear_layer")
def test_layer_not_builtin(ns):
    """is built from scratch (no torch.nn.Linear or F.linear inside)"""
    with reference_linear_forward(ns):
        layer = _make(ns, 5, 3)
        inner = [type(m).__name__ for m in layer.modules() if isinstance(m, torch.nn.Linear)]
        if inner:
            raise StudentError("`Linear` is (or contains) a torch.nn.Linear, which this exercise asks you to build. "
                               "Hint: create the weight and bias parameters yourself.")
        x = _data(220, (2, 5), dtype=torch.float32)[0]
        if _uses_builtin_linear(lambda t: call(layer, "Linear.forward", t), x):
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
        _set(layer, w, b)
        layers.append(layer)
        params.append((w, b))
    return layers, params


def _compose(ns, first, second, n_in, n_out):
    before = [plain(p, "parameter").clone() for layer in (first, second) for p in (layer.weight, layer.bias)]
    result = _as_linear(ns, call(ns, "compose_linear", first, second))
    after = [plain(p, "parameter") for layer in (first, second) for p in (layer.weight, layer.bias)]
    if not all(torch.equal(a, c) for a, c in zip(before, after)):
        raise StudentError("`compose_linear` changed the weights of `first` or `second`. "
                           "Hint: build a new Linear layer for the result.")
    return _weight_bias(result, n_in, n_out, "compose_linear(first, second)")


def _as_linear(ns, result):
    cls = get(ns, "Linear", kind="class")
    if not isinstance(result, cls):
        raise StudentError(f"`compose_linear` should return one of your Linear layers, found "
                           f"{type(result).__name__}.")
    return result


@pytest.mark.points(1, cell="compose_linear")
def test_compose_shapes(ns):
    """returns a Linear layer from first's input size to second's output size"""
    for sizes in ((5, 3, 7), (2, 9, 4), (6, 1, 6)):
        (first, second), _ = _layers(ns, sizes, seed=300 + sizes[1])
        _compose(ns, first, second, sizes[0], sizes[2])


@pytest.mark.points(1, cell="compose_linear")
def test_compose_values(ns):
    """equals second(first(x)) on random inputs, to 1e-5, for layers of different sizes"""
    for i, sizes in enumerate(((5, 3, 7), (4, 10, 2), (8, 8, 8), (1, 6, 3))):
        (first, second), ((w1, b1), (w2, b2)) = _layers(ns, sizes, seed=310 + i)
        w, b = _compose(ns, first, second, sizes[0], sizes[2])
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
