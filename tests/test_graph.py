"""autograder.graph: a model leaves the kernel as a graph of torch operations, and only its operations count."""
import pytest
import torch
from torch import nn

from autograder import graph
from autograder.inkernel.recipes import export


def _graph(module, example):
    g = graph.load(export(module, example))
    g.check(example)
    return g


MODELS = {
    "mlp": (nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 2)), (50, 784)),
    "conv": (nn.Sequential(nn.Unflatten(1, (1, 28, 28)), nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.LeakyReLU(),
                           nn.Flatten(), nn.Linear(8 * 14 * 14, 3)), (50, 784)),
    "decoder": (nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.BatchNorm1d(32), nn.Dropout(0.2), nn.Linear(32, 784),
                              nn.Sigmoid()), (50, 2)),
    "deconv": (nn.Sequential(nn.Linear(2, 8 * 7 * 7), nn.ReLU(inplace=True), nn.Unflatten(1, (8, 7, 7)),
                             nn.ConvTranspose2d(8, 1, 4, stride=4), nn.Sigmoid(), nn.Flatten()), (50, 2)),
}


@pytest.mark.parametrize("name", MODELS)
def test_a_graph_computes_what_the_model_computes(name):
    torch.manual_seed(0)
    module, shape = MODELS[name]
    module.eval()
    example = torch.rand(*shape)
    g = _graph(module, example)
    other = torch.rand(120, *shape[1:])  # another batch size: evaluated in batches of the traced one
    with torch.no_grad():
        assert torch.allclose(g(other), module(other), atol=1e-6)
    assert g.flops > 0 and all(op.startswith("aten.") or op == "getitem" for op in g.operations())


def test_a_lookup_in_python_is_frozen_or_cannot_be_traced():
    """The decoder that hands back what its encoder saw: its Python dict cannot reach the graph."""
    seen = {}

    class Remembers(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 784)

        def forward(self, z):
            key = z.sum().item()
            return seen.get(key, torch.sigmoid(self.lin(z)))

    with pytest.raises(RuntimeError):
        export(Remembers(), torch.randn(4, 2))

    class Frozen(nn.Module):  # returns a stored picture whatever the code: the graph returns it for every code
        def __init__(self):
            super().__init__()
            self.picture = torch.rand(4, 784)

        def forward(self, z):
            return self.picture + 0 * z.sum()

    g = _graph(Frozen(), torch.randn(4, 2))
    a, b = g(torch.randn(4, 2)), g(torch.randn(4, 2))
    assert torch.equal(a, b)


def _hand_made(nodes, tensors=()):
    return {"nodes": nodes, "tensors": list(tensors)}


@pytest.mark.parametrize("nodes,why", [
    ([["input"], ["call", "aten.sort.default", [{"node": 0}], {}], ["output", {"node": 1}]], "does not evaluate"),
    ([["input"], ["call", "aten.relu_.default", [{"node": 0}], {}], ["output", {"node": 1}]], "does not evaluate"),
    ([["input"], ["call", "builtins.eval", ["1"], {}], ["output", {"node": 1}]], "does not evaluate"),
    ([["input"], ["call", "aten.relu.default", [{"node": 2}], {}], ["output", {"node": 1}]], "malformed"),
    ([["input"], ["output", {"node": 0}], ["call", "aten.relu.default", [{"node": 0}], {}]], "malformed"),
    ([["input"], ["call", "aten.relu.default", [{"node": 0, "x": 1}], {}], ["output", {"node": 1}]], "malformed"),
    ([["input"], ["call", "aten.relu.default", [{"enum": "pickle"}], {}], ["output", {"node": 1}]], "malformed"),
    ([["input"], ["input"], ["output", {"node": 0}]], "one input"),
    ([["output", 1]], "operations"),
])
def test_malformed_or_unknown_graphs_are_refused(nodes, why):
    with pytest.raises(graph.GraphError, match=why):
        graph.load(_hand_made(nodes))


def test_size_and_cost_are_bounded_before_any_real_work(monkeypatch):
    with pytest.raises(graph.GraphError, match="holds more than"):
        graph.load(_hand_made([["input"], ["tensor", 0], ["output", {"node": 0}]],
                              [torch.zeros(graph.MAX_ELEMENTS + 1)]))
    huge = nn.Conv2d(1, 512, 9, padding=4)
    g = graph.load(export(huge, torch.zeros(2, 1, 28, 28)))
    monkeypatch.setattr(graph, "MAX_FLOPS_PER_SAMPLE", 1e6)
    with pytest.raises(graph.GraphError, match="million operations"):
        g.check(torch.zeros(2, 1, 28, 28))
    blowup = graph.load(_hand_made([["input"], ["call", "aten.expand.default", [{"node": 0}, [2**20, 2**10]], {}],
                                    ["output", {"node": 1}]]))
    with pytest.raises(graph.GraphError, match="makes a tensor"):
        blowup.check(torch.zeros(1))
