"""Values as data: the only things that cross between the trusted side and the student's kernel.

A value travels as a JSON tree and a list of byte buffers, one per tensor; nothing is pickled::

    None, True, 3, 2.5, "text"      themselves; a non-finite float is {"$float": "nan" | "inf" | "-inf"}
    [a, b]                          a JSON list
    (a, b)                          {"$tuple": [a, b]}
    {k: v}                          {"$dict": [[k, v], ...]}   (keys are values too: 2, "ae", (m, k))
    a tensor                        {"$tensor": i, "dtype": "float32", "shape": [n, d]}; buffer i holds its
                                    bytes, C order, this machine's byte order
    torch.float32, torch.device     {"$dtype": "float32"}, {"$device": "cpu"}
    anything else (a function, a    {"$handle": n, "type": "module.Class", ...}: a number that names the object
    module, a class, an object)     in the kernel's table; it carries no data
    the notebook's global ``name``  {"$global": "name"}: only in a request, to hand the kernel's own object (its
                                    ``X_train``, say) to a student function without sending it back and forth

Types are exact: a float subclass (``numpy.float64``) or a list subclass is not a float or a list, it is an
object and travels as a handle. :func:`decode` checks everything it reads against :class:`Limits` and
raises :class:`Malformed` on the first thing out of place; it never calls code named by the data.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Callable

DTYPES = ("float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool")
ITEMSIZE = {"float32": 4, "float64": 8, "float16": 2, "bfloat16": 2, "int64": 8, "int32": 4, "int16": 2,
            "int8": 1, "uint8": 1, "bool": 1}
MARKERS = ("$float", "$tuple", "$dict", "$tensor", "$dtype", "$device", "$handle", "$global")


class Malformed(ValueError):
    """A tree or buffer that is not a well-formed value within the limits."""


class NotData(TypeError):
    """An object that cannot travel as data (and no handle table was given)."""


@dataclass(frozen=True)
class Limits:
    """How much one message may carry. The trusted side decodes every reply within these."""

    max_bytes: int = 256 * 2**20  # all tensor buffers together
    max_nodes: int = 200_000  # values in the tree
    max_depth: int = 24
    max_string: int = 2**20  # characters of one string
    max_dims: int = 8


LIMITS = Limits()


# ---------------------------------------------------------------------------------------- encode
def encode(value: Any, handle: Callable[[Any], dict] | None = None, limits: Limits = LIMITS
           ) -> tuple[Any, list[bytes]]:
    """``value`` as (tree, buffers). ``handle(obj)`` gives the handle of an object that is not data; without
    it such an object raises :class:`NotData`."""
    buffers: list[bytes] = []
    count = [0]

    def walk(v, depth):
        count[0] += 1
        if count[0] > limits.max_nodes or depth > limits.max_depth:
            raise NotData("the value is too large or too deeply nested to send")
        kind = type(v)
        if v is None or kind is bool or kind is str:
            return v
        if kind is int:
            return v
        if kind is float:
            return v if math.isfinite(v) else {"$float": "nan" if v != v else ("inf" if v > 0 else "-inf")}
        if kind is list:
            return [walk(x, depth + 1) for x in v]
        if kind is tuple:
            return {"$tuple": [walk(x, depth + 1) for x in v]}
        if kind is dict:
            return {"$dict": [[walk(k, depth + 1), walk(x, depth + 1)] for k, x in v.items()]}
        tensor = _as_tensor(v)
        if tensor is not None:
            buffers.append(tensor[1])
            return {"$tensor": len(buffers) - 1, "dtype": tensor[0], "shape": tensor[2]}
        special = _torch_value(v)
        if special is not None:
            return special
        if handle is None:
            raise NotData(f"a {_type_name(v)} is not data")
        return handle(v)

    return walk(value, 0), buffers


def _type_name(v) -> str:
    kind = type(v)
    module = getattr(kind, "__module__", "") or ""
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


def _as_tensor(v):
    """(dtype name, bytes, shape) of a dense real tensor; None for anything that is not a tensor."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None or not isinstance(v, torch.Tensor):
        return None
    with torch._C.DisableTorchFunctionSubclass():
        t = torch.Tensor.as_subclass(v, torch.Tensor)
        if t.layout != torch.strided or t.is_quantized or t.is_complex() or t.device.type == "meta":
            raise NotData(f"a {t.layout} {t.dtype} tensor on {t.device.type} is not data (dense real tensors only)")
        name = str(t.dtype).removeprefix("torch.")
        if name not in ITEMSIZE:
            raise NotData(f"a {t.dtype} tensor is not data")
        t = torch.Tensor.contiguous(torch.Tensor.cpu(torch.Tensor.detach(t)))
        data = (t.view(torch.int16) if name == "bfloat16" else t).numpy().tobytes()
        return name, data, list(t.shape)


def _torch_value(v):
    import sys

    torch = sys.modules.get("torch")
    if torch is None:
        return None
    if isinstance(v, torch.dtype):
        return {"$dtype": str(v).removeprefix("torch.")}
    if isinstance(v, torch.device):
        return {"$device": str(v)}
    if type(v) is torch.Size:
        return {"$tuple": [int(x) for x in v]}
    return None


# ---------------------------------------------------------------------------------------- decode
def decode(tree: Any, buffers: list, handle: Callable[[dict], Any] | None = None, limits: Limits = LIMITS) -> Any:
    """The value a (tree, buffers) pair encodes, built from data only; :class:`Malformed` when anything is off.

    ``handle(meta)`` turns a handle's metadata into whatever stands for it on this side; without it a
    handle is malformed.
    """
    total = 0
    for buf in buffers:
        total += _length(buf)
        if total > limits.max_bytes:
            raise Malformed(f"the tensors add up to more than {limits.max_bytes // 2**20} MB")
    return _Decoder(buffers, handle, limits).walk(tree, 0)


class _Decoder:
    """One tree's walk: plain JSON values as they are, marked objects (``{"$tensor": ...}``) built from data."""

    def __init__(self, buffers: list, handle: Callable[[dict], Any] | None, limits: Limits):
        self.buffers, self.handle, self.limits = buffers, handle, limits
        self.count = 0
        self.used: set[int] = set()

    def walk(self, node, depth: int):
        limits = self.limits
        self.count += 1
        if self.count > limits.max_nodes:
            raise Malformed(f"more than {limits.max_nodes} values")
        if depth > limits.max_depth:
            raise Malformed(f"nested more than {limits.max_depth} deep")
        if node is None or type(node) is bool or type(node) is int:
            return node
        if type(node) is float:
            if not math.isfinite(node):
                raise Malformed("a bare non-finite number")
            return node
        if type(node) is str:
            if len(node) > limits.max_string:
                raise Malformed(f"a string of more than {limits.max_string} characters")
            return node
        if type(node) is list:
            return [self.walk(x, depth + 1) for x in node]
        if type(node) is not dict or len(node) < 1:
            raise Malformed(f"an unexpected {type(node).__name__}")
        marker = next((k for k in node if k in MARKERS), None)
        if marker is None:
            raise Malformed("an object without a type marker")
        return self.marked(marker, node, depth)

    def marked(self, marker: str, node: dict, depth: int):
        body = node[marker]
        if marker == "$float":
            if body not in ("nan", "inf", "-inf") or len(node) != 1:
                raise Malformed("a bad special float")
            return float(body)
        if marker == "$tuple":
            if type(body) is not list or len(node) != 1:
                raise Malformed("a bad tuple")
            return tuple(self.walk(x, depth + 1) for x in body)
        if marker == "$dict":
            if type(body) is not list or len(node) != 1:
                raise Malformed("a bad dict")
            return self.pairs(body, depth)
        if marker == "$tensor":
            return _tensor(node, self.buffers, self.used, self.limits)
        if marker == "$dtype":
            return _dtype(body)
        if marker == "$device":
            return _device(body)
        if self.handle is None:
            raise Malformed("a handle where only data may be")
        if type(body) is not (int if marker == "$handle" else str):
            raise Malformed("a bad handle")
        return self.handle({k: v for k, v in node.items() if type(v) in (int, str, bool, list) or v is None})

    def pairs(self, body: list, depth: int) -> dict:
        out = {}
        for pair in body:
            if type(pair) is not list or len(pair) != 2:
                raise Malformed("a bad dict entry")
            key = self.walk(pair[0], depth + 1)
            try:
                hash(key)
            except TypeError:
                raise Malformed("an unhashable dict key") from None
            out[key] = self.walk(pair[1], depth + 1)
        return out


def _length(buf) -> int:
    try:
        return memoryview(buf).nbytes
    except TypeError:
        raise Malformed("a buffer that is not bytes") from None


def _tensor(node: dict, buffers: list, used: set, limits: Limits):
    import torch

    index, dtype, shape = node.get("$tensor"), node.get("dtype"), node.get("shape")
    if type(index) is not int or not 0 <= index < len(buffers) or index in used:
        raise Malformed("a tensor without its own buffer")
    used.add(index)
    if dtype not in ITEMSIZE:
        raise Malformed(f"a tensor of unknown dtype {str(dtype)[:20]!r}")
    if type(shape) is not list or len(shape) > limits.max_dims or \
            not all(type(s) is int and 0 <= s < 2**31 for s in shape):
        raise Malformed("a tensor with a bad shape")
    numel = math.prod(shape)
    data = buffers[index]
    if numel * ITEMSIZE[dtype] != _length(data):
        raise Malformed(f"a tensor of shape {shape} whose buffer holds {_length(data)} bytes")
    raw = bytearray(data)
    if numel == 0:
        return torch.empty(shape, dtype=getattr(torch, dtype))
    if dtype == "bool":
        return torch.frombuffer(raw, dtype=torch.uint8).ne(0).reshape(shape)
    if dtype == "bfloat16":
        return torch.frombuffer(raw, dtype=torch.int16).view(torch.bfloat16).reshape(shape)
    return torch.frombuffer(raw, dtype=getattr(torch, dtype)).reshape(shape)


def _dtype(body):
    import torch

    if body not in ITEMSIZE:
        raise Malformed("an unknown dtype")
    return getattr(torch, body)


def _device(body):
    import torch

    if type(body) is not str or len(body) > 16:
        raise Malformed("a bad device")
    try:
        return torch.device(body)
    except Exception:
        raise Malformed("a bad device") from None


def dumps(tree) -> str:
    """A tree as JSON text (for logs and tests); the protocol itself sends it as a message's content."""
    return json.dumps(tree, allow_nan=False)
