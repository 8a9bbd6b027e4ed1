"""A student's model as a graph of torch operations, evaluated on the trusted side.

The kernel exports a module's forward pass (:func:`autograder.inkernel.recipes.export`): the torch
operations it ran and the tensors it holds, as data. This side rebuilds nothing of the student's code:
it checks the graph (known operations only, references to earlier nodes only, bounded size), runs it
once on shapes alone (the ``meta`` device: every operation's arguments are checked and its cost counted
before any real work), and then evaluates it on inputs of its own choosing, digits that never entered
the kernel among them.

So a model is judged by what its graph computes, not by what the kernel says it computes: a decoder that
looks up the image its encoder last saw froze that lookup into the graph when it was traced, and gives the
same picture for every code here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

# The operations a model made of torch's layers and functions runs (functional forms: in-place operations
# are made functional when the graph is traced). Anything else is refused with its name.
OPERATIONS = frozenset("""
    t transpose permute view reshape _unsafe_view expand clone contiguous unsqueeze squeeze flatten
    unflatten select slice cat stack split split_with_sizes chunk alias detach lift_fresh_copy _to_copy
    addmm mm bmm matmul linear convolution _convolution conv2d conv_transpose2d
    add sub rsub mul div neg pow sqrt rsqrt exp log abs sign clamp clamp_min clamp_max minimum maximum
    where gt lt ge le eq ne logical_not
    relu leaky_relu sigmoid tanh gelu elu silu softplus hardtanh hardsigmoid hardswish mish celu selu
    threshold _softmax _log_softmax prelu _prelu_kernel
    native_batch_norm _native_batch_norm_legit_no_training native_layer_norm native_group_norm
    max_pool2d_with_indices avg_pool2d adaptive_avg_pool2d _adaptive_avg_pool2d
    upsample_nearest2d upsample_bilinear2d
    sum mean amax amin var std
    empty full zeros ones scalar_tensor zeros_like ones_like full_like empty_like
    """.split())
ENUMS = {"contiguous_format": torch.contiguous_format, "preserve_format": torch.preserve_format,
         "channels_last": torch.channels_last, "strided": torch.strided}
MAX_NODES = 4000
MAX_ELEMENTS = 8_000_000  # the graph's own tensors together (the checks bound the parameters more tightly)
MAX_INTERMEDIATE = 2**27  # elements of any one intermediate result
MAX_FLOPS_PER_SAMPLE = 200e6


class GraphError(ValueError):
    """A graph the trusted side will not evaluate; the message says why, for the student."""


@dataclass
class Graph:
    nodes: list
    tensors: list
    flops: float = 0.0  # per evaluation of the traced batch, counted on shapes alone
    batch: int = 0  # the batch size the graph was traced with (view and reshape sizes are frozen to it)

    def operations(self) -> list[str]:
        return sorted({node[1] for node in self.nodes if node[0] == "call"})

    def __call__(self, x: torch.Tensor, batch: int | None = None) -> torch.Tensor:
        """The graph's output on ``x``, in batches of the traced size (the last one padded)."""
        batch = batch or self.batch or len(x)
        outs = []
        with torch.no_grad():
            for start in range(0, len(x), batch):
                chunk = x[start:start + batch]
                if len(chunk) < batch:
                    pad = chunk.new_zeros((batch - len(chunk), *chunk.shape[1:]))
                    outs.append(self._run(torch.cat([chunk, pad]))[:len(chunk)])
                else:
                    outs.append(self._run(chunk))
        return torch.cat(outs)

    def _run(self, x: torch.Tensor, tensors: list | None = None) -> torch.Tensor:
        tensors = self.tensors if tensors is None else tensors
        values: list = []
        for node in self.nodes:
            kind = node[0]
            if kind == "input":
                values.append(x)
            elif kind == "tensor":
                values.append(tensors[node[1]])
            elif kind == "call":
                args, kwargs = _fill(node[2], values), {k: _fill(v, values) for k, v in node[3].items()}
                if node[1] == "getitem":
                    values.append(args[0][args[1]])
                    continue
                try:
                    values.append(_operation(node[1])(*args, **kwargs))
                except GraphError:
                    raise
                except Exception as exc:
                    raise GraphError(f"the model's operation {node[1]} failed here: {type(exc).__name__}: "
                                     f"{str(exc).splitlines()[0][:160] if str(exc) else ''}") from None
                _bounded(values[-1], node[1])
            else:  # output
                out = _fill(node[1], values)
                if isinstance(out, (list, tuple)) and len(out) == 1:
                    out = out[0]
                if not isinstance(out, torch.Tensor):
                    raise GraphError("the model's forward pass does not return one tensor")
                return out
        raise GraphError("the graph has no output")

    def check(self, example: torch.Tensor) -> torch.Size:
        """Run the graph on shapes alone: every operation's arguments checked, its cost counted; the output's shape.
        """
        from torch.utils.flop_counter import FlopCounterMode

        meta = [t.to("meta") for t in self.tensors]
        with FlopCounterMode(display=False) as counter:
            out = self._run(example.to("meta"), meta)
        self.flops = float(counter.get_total_flops())
        self.batch = int(example.shape[0]) if example.dim() else 0
        per_sample = self.flops / max(self.batch, 1)
        if per_sample > MAX_FLOPS_PER_SAMPLE:
            raise GraphError(f"the model costs {per_sample / 1e6:,.0f} million operations per digit, more than the "
                             f"{MAX_FLOPS_PER_SAMPLE / 1e6:,.0f} million the grader evaluates. Hint: smaller layers.")
        return out.shape


def _bounded(value, name: str) -> None:
    items = value if isinstance(value, (list, tuple)) else [value]
    for item in items:
        if isinstance(item, torch.Tensor) and item.numel() > MAX_INTERMEDIATE:
            raise GraphError(f"the model's operation {name} makes a tensor of {item.numel():,} numbers, more than "
                             f"the grader evaluates")


def _operation(name: str):
    parts = name.split(".")
    if len(parts) != 3 or parts[0] != "aten" or parts[1] not in OPERATIONS:
        raise GraphError(f"the model uses the operation {name}, which the grader does not evaluate. Hint: build it "
                         f"from torch's layers (nn.Linear, nn.Conv2d, activations, reshapes); write to the course "
                         f"team if a layer you need is missing.")
    packet = getattr(torch.ops.aten, parts[1], None)
    overload = getattr(packet, parts[2], None) if packet is not None else None
    if overload is None:
        raise GraphError(f"the model uses {name}, which this torch does not have")
    return overload


def _fill(arg, values: list):
    if isinstance(arg, dict):
        if "node" in arg:
            return values[arg["node"]]
        return ENUMS[arg["enum"]]
    if isinstance(arg, list):
        return [_fill(a, values) for a in arg]
    return arg


def _arg_ok(arg, before: int) -> bool:
    """Arguments are numbers, strings, dtypes, devices, lists of them, earlier nodes and known enums."""
    if arg is None or type(arg) in (bool, int, float, str) or isinstance(arg, (torch.dtype, torch.device)):
        return True
    if type(arg) is list:
        return len(arg) <= 64 and all(_arg_ok(a, before) for a in arg)
    if type(arg) is dict and len(arg) == 1:
        if "node" in arg:
            return type(arg["node"]) is int and 0 <= arg["node"] < before
        return arg.get("enum") in ENUMS
    return False


def load(data) -> Graph:
    """A graph from the kernel's data (:func:`autograder.inkernel.recipes.export`), checked; :class:`GraphError`."""
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list) or not isinstance(data.get("tensors"),
                                                                                              list):
        raise GraphError("the kernel did not send a graph")
    nodes, tensors = data["nodes"], data["tensors"]
    if not 2 <= len(nodes) <= MAX_NODES:
        raise GraphError(f"the model's graph has {len(nodes)} operations (at most {MAX_NODES} are evaluated)")
    if not all(isinstance(t, torch.Tensor) for t in tensors):
        raise GraphError("the model's graph holds something that is not a tensor")
    if sum(int(t.numel()) for t in tensors) > MAX_ELEMENTS:
        raise GraphError(f"the model holds more than {MAX_ELEMENTS:,} numbers")
    inputs = 0
    for i, node in enumerate(nodes):
        kind = node[0] if isinstance(node, list) and node else None
        if kind == "input" and len(node) == 1:
            inputs += 1
        elif kind == "tensor" and len(node) == 2 and type(node[1]) is int and 0 <= node[1] < len(tensors):
            pass
        elif kind == "call" and len(node) == 4 and type(node[1]) is str and isinstance(node[2], list) \
                and isinstance(node[3], dict) and _arg_ok(node[2], i) and all(
                    type(k) is str and _arg_ok(v, i) for k, v in node[3].items()):
            if node[1] != "getitem":
                _operation(node[1])
            elif not (len(node[2]) == 2 and type(node[2][1]) is int):
                raise GraphError("a bad getitem in the model's graph")
        elif kind == "output" and len(node) == 2 and i == len(nodes) - 1 and _arg_ok(node[1], i):
            pass
        else:
            raise GraphError(f"the model's graph has a malformed node at position {i}")
    if inputs != 1 or nodes[-1][0] != "output":
        raise GraphError("the model's graph does not have one input and one output")
    return Graph(nodes, [t.contiguous() for t in tensors])


def mse(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a.double() - b.double()) ** 2).mean()) if a.numel() else math.inf
