"""autograder.inkernel.wire: values cross as data only, and anything malformed or oversized is refused."""
import math

import numpy as np
import pytest
import torch

from autograder.inkernel import wire
from autograder.inkernel.wire import Limits, Malformed, NotData, decode, encode


def roundtrip(value, **kwargs):
    tree, buffers = encode(value)
    wire.dumps(tree)  # plain JSON, nothing else
    return decode(tree, buffers, **kwargs)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64,
                                   torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool])
def test_tensors_of_every_dtype_come_back_equal(dtype):
    t = (torch.randn(3, 4, 2) * 5).to(dtype)
    back = roundtrip(t)
    assert back.dtype == dtype and back.shape == t.shape and torch.equal(back, t)
    assert roundtrip(torch.empty(0, 7, dtype=dtype)).shape == (0, 7)
    assert roundtrip(t.transpose(0, 2)).shape == (2, 4, 3)  # not contiguous


def test_structures_numbers_and_special_floats():
    value = {"a": [1, 2.5, None, True, "x"], (("ae", 2)): (torch.ones(2), [float("inf"), -math.inf]),
             3: {"nested": (1, (2, (3,)))}, "dtype": torch.float64, "device": torch.device("cpu")}
    back = roundtrip(value)
    assert back["a"] == [1, 2.5, None, True, "x"] and back[3] == {"nested": (1, (2, (3,)))}
    assert torch.equal(back[("ae", 2)][0], torch.ones(2)) and back[("ae", 2)][1] == [math.inf, -math.inf]
    assert back["dtype"] is torch.float64 and back["device"] == torch.device("cpu")
    assert math.isnan(roundtrip(float("nan")))
    assert roundtrip(torch.Size([2, 3])) == (2, 3)


def test_types_are_exact_and_objects_are_not_data():
    class Liar(torch.Tensor):
        def __eq__(self, other):
            return True

    lying = torch.zeros(3).as_subclass(Liar)
    back = roundtrip(lying)
    assert type(back) is torch.Tensor and torch.equal(back, torch.zeros(3))  # the data, not the object
    for obj in (np.float64(1.0), np.zeros(2), object(), lambda x: x, type("L", (list,), {})()):
        with pytest.raises(NotData):
            encode(obj)
    handles = []
    tree, _ = encode([np.zeros(2)], handle=lambda o: handles.append(o) or {"$handle": 1, "type": "numpy.ndarray"})
    assert tree == [{"$handle": 1, "type": "numpy.ndarray"}] and len(handles) == 1
    with pytest.raises(NotData):
        encode(torch.zeros(2, dtype=torch.complex64))


@pytest.mark.parametrize("tree,buffers,why", [
    ({"$tensor": 0, "dtype": "float32", "shape": [2]}, [b"\0" * 7], "holds 7 bytes"),
    ({"$tensor": 0, "dtype": "object", "shape": [1]}, [b"\0" * 8], "unknown dtype"),
    ({"$tensor": 1, "dtype": "float32", "shape": [1]}, [b"\0" * 4], "own buffer"),
    ([{"$tensor": 0, "dtype": "uint8", "shape": [1]}, {"$tensor": 0, "dtype": "uint8", "shape": [1]}], [b"\0"],
     "own buffer"),
    ({"$tensor": 0, "dtype": "uint8", "shape": [-1]}, [b""], "bad shape"),
    ({"$tensor": 0, "dtype": "uint8", "shape": [1] * 9}, [b"\0"], "bad shape"),
    ({"$pickle": "gASVCAAAAAAAAACMBHRlc3SULg=="}, [], "type marker"),
    ({"$handle": 3, "type": "x"}, [], "only data"),
    ({"$global": "X_train"}, [], "only data"),
    ({"$dict": [[[1, 2], 3]]}, [], "unhashable"),
    ({"$dict": [[1]]}, [], "dict entry"),
    ({"$float": "1e999"}, [], "special float"),
    (float("nan"), [], "non-finite"),
    ({"$dtype": "pickle"}, [], "unknown dtype"),
    (3 + 4j, [], "unexpected complex"),
])
def test_malformed_trees_are_refused(tree, buffers, why):
    with pytest.raises(Malformed, match=why):
        decode(tree, buffers)


def test_limits_hold_on_size_depth_count_and_strings():
    small = Limits(max_bytes=1000, max_nodes=50, max_depth=5, max_string=10)
    tree, buffers = encode(torch.zeros(300))
    with pytest.raises(Malformed, match="more than"):
        decode(tree, buffers, limits=small)
    with pytest.raises(Malformed, match="nested"):
        decode([[[[[[[1]]]]]]], [], limits=small)
    with pytest.raises(Malformed, match="values"):
        decode(list(range(100)), [], limits=small)
    with pytest.raises(Malformed, match="string"):
        decode("x" * 11, [], limits=small)
    with pytest.raises(NotData):
        encode(list(range(100)), limits=small)


def test_decoding_builds_only_data():
    """Nothing named by a tree is looked up or called: a tree naming a function stays a string."""
    back = decode({"$dict": [["os.system", "echo hi"]]}, [])
    assert back == {"os.system": "echo hi"}
