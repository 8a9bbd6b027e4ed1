NOTEBOOK = "02_linear_layers.ipynb"
PARTIAL_MISTAKES = {
    "linear_layer_sol": (
        "class Linear(torch.nn.Module):\n"
        '    """A fully connected layer: y = x @ weight.T + bias, for inputs [..., in_features]."""\n\n'
        "    def __init__(self, in_features: int, out_features: int):\n"
        "        super().__init__()\n"
        "        self.in_features, self.out_features = in_features, out_features\n"
        "        bound = 1 / math.sqrt(in_features)\n"
        "        self.weight = torch.nn.Parameter((2 * torch.rand(out_features, in_features) - 1) * bound)\n"
        "        self.bias = torch.nn.Parameter(torch.zeros(out_features))  # the bias should be drawn too\n\n"
        "    def forward(self, x: torch.Tensor) -> torch.Tensor:\n"
        "        return linear_forward(x, self.weight, self.bias)\n"
    ),
    "compose_linear_sol": (
        "def compose_linear(first: Linear, second: Linear) -> Linear:\n"
        '    """One Linear layer equal to second(first(x)) for every x."""\n'
        "    # YOUR CODE HERE\n"
        '    raise NotImplementedError("Student exercise: compose_linear")\n'
    ),
}
