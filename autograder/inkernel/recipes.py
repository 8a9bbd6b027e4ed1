"""Grader-written procedures the trusted side may run on student objects in the kernel.

A recipe is public code with no secret in it: what it computes comes back as data, and the trusted side
judges that data as it judges any reply. A student may replace any recipe; the checks then see other
data, never a verdict. The trusted side names a recipe in a ``call`` request (``{"recipe": "grad"}``,
:meth:`autograder.remote.Remote.recipe`); arguments that are student objects arrive as the objects
themselves (their handles resolved by the server).

Instruments (:class:`Spy`, :class:`RecordingDecoder`, :class:`Recorder`, :class:`CountingSGD`) record
what the student's code did with them. What they record is evidence for a message, never a verdict:
a kernel can make them say anything.
"""
from __future__ import annotations

RECIPES: dict = {}


def recipe(fn):
    RECIPES[fn.__name__] = fn
    return fn


def _torch():
    import torch

    return torch


# ---------------------------------------------------------------------------------------- calling
@recipe
def identity(x):
    """The identity activation."""
    return x


@recipe
def grad(fn, args, grad_output=None, wrt=None, kwargs=None):
    """``fn(*args)`` with the floating tensors of ``args`` (or those at positions ``wrt``) requiring gradients,
    then ``output.backward(grad_output)`` (default: the gradient of ``output.sum()``).

    {"output": the output (a tensor, or whatever fn returned), "connected": whether the output depends on the
    inputs for autograd, "grads": one gradient (or None) per input in ``wrt`` order, "backward_error": why
    backward failed ("" when it did not)}.
    """
    torch = _torch()
    args = list(args)
    if wrt is None:
        wrt = [i for i, a in enumerate(args) if isinstance(a, torch.Tensor) and a.is_floating_point()]
    for i in wrt:
        args[i] = args[i].detach().clone().requires_grad_()
    out = fn(*args, **(kwargs or {}))
    connected = isinstance(out, torch.Tensor) and bool(out.requires_grad)
    result = {"output": out, "connected": connected, "grads": [None] * len(wrt), "backward_error": ""}
    if connected:
        try:
            torch.Tensor.backward(out, grad_output if grad_output is not None else torch.ones_like(out))
        except Exception as exc:
            result["backward_error"] = f"{type(exc).__name__}: {str(exc)[:150]}"
        result["grads"] = [args[i].grad for i in wrt]
    return result


@recipe
def torch_calls(fn, args, kwargs, names):
    """Which of torch's functions named in ``names`` ``fn(*args, **kwargs)`` calls (evidence: a kernel can hide a
    call, so this can only add to what the student's source shows)."""
    from torch.overrides import TorchFunctionMode

    wanted, seen = set(names), set()

    class Watch(TorchFunctionMode):
        def __torch_function__(self, func, types, a=(), k=None):
            name = getattr(func, "__name__", "")
            if name in wanted:
                seen.add(name)
            return func(*a, **(k or {}))

    with Watch():
        fn(*args, **(kwargs or {}))
    return sorted(seen)


@recipe
def lookup(obj, path):
    """An attribute path of an object (``"encoder"``, ``"net.0.weight"``): data, or a handle to pass on."""
    for part in str(path).split("."):
        obj = getattr(obj, part)
    return obj


# ---------------------------------------------------------------------------------------- modules
def _qualified(cls) -> str:
    module = getattr(cls, "__module__", "") or ""
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


@recipe
def state(module):
    """A module's registered parameters, buffers and their gradients (in order), its submodules' types and its
    mode: {"params": [[name, tensor]], "buffers": [...], "grads": [[name, tensor or None]], "modules":
    [[name, type]], "training": bool}."""
    return {"params": [[n, p] for n, p in module.named_parameters()],
            "buffers": [[n, b] for n, b in module.named_buffers()],
            "grads": [[n, p.grad] for n, p in module.named_parameters()],
            "modules": [[n, _qualified(type(m))] for n, m in module.named_modules()],
            "training": bool(module.training)}


@recipe
def attributes(module, names):
    """For each attribute name: {"tensor": is it a tensor, "parameter": an nn.Parameter, "registered": one of
    module.parameters() (the very object)}."""
    torch = _torch()
    params = list(module.parameters())
    out = {}
    for name in names:
        value = getattr(module, name, None)
        out[name] = {"tensor": isinstance(value, torch.Tensor), "parameter": isinstance(value, torch.nn.Parameter),
                     "registered": any(p is value for p in params)}
    return out


@recipe
def load_state(module, tensors):
    """Copy tensors into a module's tensors, by attribute path (``"weight"``, ``"net.0.bias"``), without autograd."""
    torch = _torch()
    with torch.no_grad():
        for path, value in tensors.items():
            target = lookup(module, path)
            torch.Tensor.copy_(target, value)
    return None


@recipe
def build_many(cls, args, count, names=("weight", "bias")):
    """``count`` fresh ``cls(*args)``, each one's named tensors (for the statistics of an initialisation)."""
    torch = _torch()
    out = []
    for _ in range(int(count)):
        layer = cls(*args)
        out.append([torch.Tensor.detach(getattr(layer, n)) if isinstance(getattr(layer, n, None), torch.Tensor)
                    else None for n in names])
    return out


@recipe
def squared_error_backward(module, x, target, reduction="sum"):
    """``((module(x) - target) ** 2).sum()`` (or mean), then backward: {"output", "connected", "backward_error"}."""
    torch = _torch()
    out = module(x)
    connected = isinstance(out, torch.Tensor) and bool(out.requires_grad)
    result = {"output": out, "connected": connected, "backward_error": ""}
    if connected:
        loss = (out - target) ** 2
        try:
            torch.Tensor.backward(loss.sum() if reduction == "sum" else loss.mean())
        except Exception as exc:
            result["backward_error"] = f"{type(exc).__name__}: {str(exc)[:150]}"
    return result


@recipe
def optimizer_step(module, optimizer="SGD", lr=0.01):
    """One step of ``torch.optim.<optimizer>`` on ``module.parameters()`` with the gradients it has now."""
    torch = _torch()
    getattr(torch.optim, optimizer)(module.parameters(), lr=lr).step()
    return None


@recipe
def fit_full_batch(model, x, y, steps, lr):
    """Full-batch Adam on the mean squared error, ``steps`` steps: the loss of every step."""
    torch = _torch()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(int(steps)):
        loss = ((model(x) - y) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses


# ---------------------------------------------------------------------------------------- instruments
class Spy:
    """An activation that records the shape of every input it gets (in ``shapes``)."""

    def __init__(self, fn):
        self.fn, self.shapes = fn, []

    def __call__(self, x):
        self.shapes.append(tuple(x.shape))
        return self.fn(x)


@recipe
def spy(fn):
    return Spy(fn)


def _define_models():
    """The grader's instrument models, defined when torch is first needed (the trusted side uses the same
    classes for its own copies, so both sides compute with one definition)."""
    torch = _torch()
    nn = torch.nn

    class Recorder(nn.Module):
        """Linear -> BatchNorm -> ReLU -> Dropout -> Linear, float64, that records how each forward pass ran:
        ``calls`` gets one ``(training, grad_enabled)`` pair per pass."""

        def __init__(self, d: int = 5, hidden: int = 8):
            super().__init__()
            self.inp, self.norm = nn.Linear(d, hidden), nn.BatchNorm1d(hidden)
            self.drop, self.out = nn.Dropout(0.5), nn.Linear(hidden, d)
            self.double()
            self.calls: list = []

        def forward(self, x):
            self.calls.append((bool(self.training), bool(torch.is_grad_enabled())))
            return self.out(self.drop(torch.relu(self.norm(self.inp(x)))))

    class CountingSGD(torch.optim.SGD):
        """Plain SGD that counts its steps (``steps``) and its gradient clearings (``clears``)."""

        def __init__(self, params, lr):
            super().__init__(params, lr=lr)
            self.steps = 0
            self.clears = 0

        def step(self, closure=None):
            self.steps += 1
            return super().step(closure)

        def zero_grad(self, set_to_none: bool = True):
            self.clears += 1
            return super().zero_grad(set_to_none)

    class RecordingDecoder(nn.Module):
        """A decoder z -> sigmoid(z @ weight.T + bias) ([n, 784], or [n, 1, 28, 28] when ``image_shaped``) that
        remembers every code it is given (``calls``)."""

        def __init__(self, weight, bias, image_shaped: bool = False):
            super().__init__()
            self.weight = nn.Parameter(weight.detach().clone())
            self.bias = nn.Parameter(bias.detach().clone())
            self.image_shaped = bool(image_shaped)
            self.calls: list = []

        def forward(self, z):
            self.calls.append(torch.Tensor.detach(z).clone())
            out = torch.sigmoid(z @ self.weight.T + self.bias)
            return out.reshape(*out.shape[:-1], 1, 28, 28) if self.image_shaped else out

    return {"Recorder": Recorder, "CountingSGD": CountingSGD, "RecordingDecoder": RecordingDecoder}


_MODELS: dict = {}


def model_class(name: str):
    """One of the instrument classes: ``Recorder``, ``CountingSGD``, ``RecordingDecoder``."""
    if not _MODELS:
        _MODELS.update(_define_models())
    return _MODELS[name]


@recipe
def instrument(name, *args, **kwargs):
    """A new instrument: ``instrument("Recorder", 5, 8)``, ``instrument("RecordingDecoder", weight, bias)``."""
    return model_class(name)(*args, **kwargs)


@recipe
def optimizer(module, kind="SGD", lr=0.01):
    """An optimizer on ``module.parameters()``: one of ``torch.optim`` (``"SGD"``, ``"Adam"``) or ``"CountingSGD"``."""
    cls = model_class(kind) if kind == "CountingSGD" else getattr(_torch().optim, kind)
    return cls(module.parameters(), lr=lr)


@recipe
def loader(*tensors, batch_size):
    """Batches in a fixed order: lists ``[x]`` or ``[x, y]``, as ``DataLoader`` builds them."""
    from torch.utils.data import DataLoader, TensorDataset

    return DataLoader(TensorDataset(*tensors), batch_size=batch_size, shuffle=False)


@recipe
def sequential(layers):
    """``nn.Sequential`` of torch's layers named in ``layers``: ``[["Linear", 784, 256], ["ReLU"], ...]`` (a grader
    model for checks of a training loop; the trusted side builds its twin with the same call)."""
    nn = _torch().nn
    return nn.Sequential(*(getattr(nn, name)(*args) for name, *args in layers))


# ---------------------------------------------------------------------------------------- models as graphs
ENUMS = ("contiguous_format", "preserve_format", "channels_last", "strided")


def _node_arg(value, index: dict):
    """A graph node's argument as data: earlier nodes by position, torch's enums by name."""
    torch = _torch()
    if isinstance(value, torch.fx.Node):
        return {"node": index[value]}
    if isinstance(value, (list, tuple)):
        return [_node_arg(v, index) for v in value]
    if isinstance(value, (torch.memory_format, torch.layout)):
        return {"enum": str(value).removeprefix("torch.")}
    return value


@recipe
def export(module, example, training=False):
    """``module``'s forward pass on ``example`` as a graph of torch's own tensor operations and the tensors it
    holds (traced with torch.fx's ``make_fx``, in-place operations made functional, without autograd).

    The trusted side evaluates the graph itself, on inputs it chose (:mod:`autograder.graph`). Whatever the
    forward pass did in Python (a lookup, a branch) is frozen into the graph as it happened for ``example``.
    {"nodes": [["input"] | ["tensor", i] | ["call", "aten.addmm.default", args, kwargs] | ["output", arg]],
    "tensors": [...]}
    """
    torch = _torch()
    from torch.fx.experimental.proxy_tensor import make_fx

    was_training = module.training
    module.train(bool(training))
    try:
        with torch.no_grad():
            traced = make_fx(torch.func.functionalize(lambda x: module(x)))(example)
    finally:
        module.train(was_training)
    nodes, tensors, index = [], [], {}
    for node in traced.graph.nodes:
        index[node] = len(nodes)
        if node.op == "placeholder":
            nodes.append(["input"])
        elif node.op == "get_attr":
            tensors.append(torch.Tensor.detach(getattr(traced, node.target)))
            nodes.append(["tensor", len(tensors) - 1])
        elif node.op == "call_function":
            target = "getitem" if getattr(node.target, "__name__", "") == "getitem" else str(node.target)
            nodes.append(["call", target, _node_arg(list(node.args), index),
                          {k: _node_arg(v, index) for k, v in node.kwargs.items()}])
        elif node.op == "output":
            nodes.append(["output", _node_arg(node.args[0], index)])
        else:
            raise TypeError(f"the traced forward pass has a {node.op} node")
    return {"nodes": nodes, "tensors": tensors}


def warm_up() -> None:
    """Pay one-time costs (torch.fx's first trace: about 1.5 s) before any kernel is forked from this process."""
    torch = _torch()
    export(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU()), torch.zeros(1, 2))


# ---------------------------------------------------------------- added for part 2
@recipe
def unit_gradients(module):
    """Every tensor ``module.parameters()`` yields gets a gradient of ones, in place of any it had (nothing runs
    ``forward``). Followed by :func:`optimizer_step`, what the step did to a module's tensors shows, in their
    values, which of them an optimizer on ``parameters()`` trains. {"count": how many tensors parameters()
    yielded, "numel": their total size}."""
    torch = _torch()
    params = list(module.parameters())
    for p in params:
        p.grad = torch.ones_like(p)
    return {"count": len(params), "numel": sum(int(p.numel()) for p in params)}


# ---------------------------------------------------------------------------------------- added for part 5
@recipe
def subset_indices(dataset, limit=100_000):
    """Where a ``torch.utils.data.Subset`` (nested ones followed) takes its items from: {"dataset": the first
    object of its ``.dataset`` chain that is not a Subset (a handle), "indices": each item's position in it (an
    int64 tensor, read with ``operator.index`` and composed through the chain as ``Subset.__getitem__`` does),
    "depth": how many Subsets were followed}. The positions are data; which object they index is the kernel's word.
    """
    import operator

    from torch.utils.data import Subset

    torch = _torch()
    positions, depth = None, 0
    while isinstance(dataset, Subset) and depth < 16:
        own = list(dataset.indices)
        if len(own) > int(limit):
            raise ValueError(f"a Subset of more than {int(limit)} items")
        own = [operator.index(i) for i in own]
        positions = own if positions is None else [own[p] for p in positions]
        dataset, depth = dataset.dataset, depth + 1
    return {"dataset": dataset, "indices": torch.tensor(positions or [], dtype=torch.int64), "depth": depth}
