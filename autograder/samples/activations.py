NOTEBOOK = "03_activations.ipynb"
PARTIAL_MISTAKES = {
    "sigmoid_sol": (
        "def sigmoid(x: torch.Tensor) -> torch.Tensor:\n"
        '    """1 / (1 + exp(-x)), elementwise, with finite values and gradients for every x."""\n'
        "    return 1 / (1 + torch.exp(-x))  # overflows: nan gradients for large negative x\n"
    ),
    "mlp_sol": (
        "class MLP(torch.nn.Module):\n"
        '    """Linear layers sizes[0] -> sizes[1] -> ... -> sizes[-1], with `activation` between layers."""\n\n'
        "    def __init__(self, sizes: Sequence[int], activation: Callable = relu):\n"
        "        super().__init__()\n"
        "        self.activation = activation\n"
        "        self.layers = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))\n\n"
        "    def forward(self, x: torch.Tensor) -> torch.Tensor:\n"
        "        for layer in self.layers:\n"
        "            x = self.activation(layer(x))  # squashes the output layer too\n"
        "        return x\n"
    ),
}
