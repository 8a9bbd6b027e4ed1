"""Part 2 (linear layers): mistakes students make, and correct answers written differently."""
NOTEBOOK = "02_linear_layers.ipynb"
FUNCTION_CELLS = ["linear_forward", "linear_layer", "compose_linear"]

FORWARD_HEAD = "def linear_forward(x, weight, bias):\n"
COMPOSE_HEAD = "def compose_linear(first, second):\n"


def layer(init: str, forward: str = "        return linear_forward(x, self.weight, self.bias)\n",
          base: str = "torch.nn.Module") -> str:
    """A Linear class with the given __init__ body (after super().__init__()) and forward body."""
    return (f"class Linear({base}):\n"
            "    def __init__(self, in_features, out_features):\n"
            "        super().__init__()\n"
            "        bound = 1 / math.sqrt(in_features)\n" + init +
            "\n    def forward(self, x):\n" + forward)


GOOD_INIT = ("        self.weight = torch.nn.Parameter((2 * torch.rand(out_features, in_features) - 1) * bound)\n"
             "        self.bias = torch.nn.Parameter((2 * torch.rand(out_features) - 1) * bound)\n")

BUGGY = {
    # ---------------------------------------------------------------- linear_forward
    "weight_not_transposed": ({"linear_forward_sol": FORWARD_HEAD + "    return x @ weight + bias\n"},
                              {"linear_forward"}),
    "bias_missing": ({"linear_forward_sol": FORWARD_HEAD + "    return x @ weight.T\n"}, {"linear_forward"}),
    "forward_through_numpy": ({"linear_forward_sol": FORWARD_HEAD + (
        "    return torch.as_tensor(x.detach().numpy() @ weight.detach().numpy().T + bias.detach().numpy())\n")},
        {"linear_forward"}),
    "forward_calls_F_linear": ({"linear_forward_sol": FORWARD_HEAD + (
        "    return torch.nn.functional.linear(x, weight, bias)\n")}, {"linear_forward"}),
    "forward_only_for_batches": ({"linear_forward_sol": FORWARD_HEAD + (
        "    return torch.mm(x, weight.t()) + bias\n")}, {"linear_forward"}),
    # ---------------------------------------------------------------- Linear
    "parameters_as_plain_tensors": ({"linear_layer_sol": layer(
        "        self.weight = ((2 * torch.rand(out_features, in_features) - 1) * bound).requires_grad_()\n"
        "        self.bias = ((2 * torch.rand(out_features) - 1) * bound).requires_grad_()\n")}, {"linear_layer"}),
    "bias_initialised_to_zero": ({"linear_layer_sol": layer(
        "        self.weight = torch.nn.Parameter((2 * torch.rand(out_features, in_features) - 1) * bound)\n"
        "        self.bias = torch.nn.Parameter(torch.zeros(out_features))\n")}, {"linear_layer"}),
    "normal_initialisation": ({"linear_layer_sol": layer(
        "        self.weight = torch.nn.Parameter(torch.randn(out_features, in_features) * bound)\n"
        "        self.bias = torch.nn.Parameter(torch.randn(out_features) * bound)\n")}, {"linear_layer"}),
    "bound_one_over_in": ({"linear_layer_sol": layer(
        "        self.weight = torch.nn.Parameter((2 * torch.rand(out_features, in_features) - 1) / in_features)\n"
        "        self.bias = torch.nn.Parameter((2 * torch.rand(out_features) - 1) / in_features)\n")},
        {"linear_layer"}),
    "uniform_zero_to_bound": ({"linear_layer_sol": layer(
        "        self.weight = torch.nn.Parameter(torch.rand(out_features, in_features) * bound)\n"
        "        self.bias = torch.nn.Parameter(torch.rand(out_features) * bound)\n")}, {"linear_layer"}),
    "weight_stored_in_by_out": ({"linear_layer_sol": layer(
        "        self.weight = torch.nn.Parameter((2 * torch.rand(in_features, out_features) - 1) * bound)\n"
        "        self.bias = torch.nn.Parameter((2 * torch.rand(out_features) - 1) * bound)\n",
        "        return x @ self.weight + self.bias\n")}, {"linear_layer", "compose_linear"}),
    "forward_ignores_bias": ({"linear_layer_sol": layer(GOOD_INIT, "        return x @ self.weight.T\n")},
                             {"linear_layer"}),
    "wraps_nn_Linear": ({"linear_layer_sol": layer(
        "        self.inner = torch.nn.Linear(in_features, out_features)\n"
        "        self.weight, self.bias = self.inner.weight, self.inner.bias\n",
        "        return self.inner(x)\n")}, {"linear_layer"}),
    "subclasses_nn_Linear": ({"linear_layer_sol": (
        "class Linear(torch.nn.Linear):\n    pass\n")}, {"linear_layer"}),
    "same_weights_every_layer": ({"linear_layer_sol": layer(
        "        torch.manual_seed(0)\n" + GOOD_INIT)}, {"linear_layer"}),
    # ---------------------------------------------------------------- compose_linear
    "compose_wrong_order": ({"compose_linear_sol": COMPOSE_HEAD + (
        "    combined = Linear(first.weight.shape[1], second.weight.shape[0])\n"
        "    with torch.no_grad():\n"
        "        combined.weight.copy_(first.weight.T @ second.weight.T)\n"
        "        combined.bias.copy_(first.bias @ second.weight.T + second.bias)\n"
        "    return combined\n")}, {"compose_linear"}),
    "compose_adds_biases": ({"compose_linear_sol": COMPOSE_HEAD + (
        "    combined = Linear(first.weight.shape[1], second.weight.shape[0])\n"
        "    with torch.no_grad():\n"
        "        combined.weight.copy_(second.weight @ first.weight)\n"
        "        combined.bias.copy_(second.bias + first.bias.sum())\n"
        "    return combined\n")}, {"compose_linear"}),
    "compose_forgets_second_bias": ({"compose_linear_sol": COMPOSE_HEAD + (
        "    combined = Linear(first.weight.shape[1], second.weight.shape[0])\n"
        "    with torch.no_grad():\n"
        "        combined.weight.copy_(second.weight @ first.weight)\n"
        "        combined.bias.copy_(second.weight @ first.bias)\n"
        "    return combined\n")}, {"compose_linear"}),
    "compose_overwrites_first": ({"compose_linear_sol": COMPOSE_HEAD + (
        "    first.weight = torch.nn.Parameter(second.weight @ first.weight)\n"
        "    first.bias = torch.nn.Parameter(second.weight @ first.bias + second.bias)\n"
        "    return first\n")}, {"compose_linear"}),
    "compose_returns_sequential": ({"compose_linear_sol": COMPOSE_HEAD + (
        "    return torch.nn.Sequential(first, second)\n")}, {"compose_linear"}),
}

ALTERNATIVES = {
    "einsum_forward": {"linear_forward_sol": FORWARD_HEAD + (
        "    return torch.einsum('...i,oi->...o', x, weight) + bias\n")},
    "addmm_forward": {"linear_forward_sol": FORWARD_HEAD + (
        "    flat = x.reshape(-1, x.shape[-1])\n"
        "    return torch.addmm(bias, flat, weight.T).reshape(*x.shape[:-1], weight.shape[0])\n")},
    "matmul_bias_first": {"linear_forward_sol": FORWARD_HEAD + (
        "    return bias + torch.matmul(x, weight.transpose(-1, -2))\n")},
    "init_like_torch": {"linear_layer_sol": layer(
        "        self.weight = torch.nn.Parameter(torch.empty(out_features, in_features))\n"
        "        self.bias = torch.nn.Parameter(torch.empty(out_features))\n"
        "        torch.nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))\n"
        "        torch.nn.init.uniform_(self.bias, -bound, bound)\n")},
    "register_parameter": {"linear_layer_sol": layer(
        "        self.register_parameter('weight', torch.nn.Parameter(\n"
        "            torch.empty(out_features, in_features).uniform_(-bound, bound)))\n"
        "        self.register_parameter('bias', torch.nn.Parameter(\n"
        "            torch.empty(out_features).uniform_(-bound, bound)))\n",
        "        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight.T).reshape(\n"
        "            *x.shape[:-1], self.weight.shape[0])\n")},
    "compose_assigns_parameters": {"compose_linear_sol": COMPOSE_HEAD + (
        "    combined = Linear(first.weight.shape[1], second.weight.shape[0])\n"
        "    W1, b1, W2, b2 = (p.detach() for p in (first.weight, first.bias, second.weight, second.bias))\n"
        "    combined.weight = torch.nn.Parameter(W2 @ W1)\n"
        "    combined.bias = torch.nn.Parameter(W2 @ b1 + b2)\n"
        "    return combined\n")},
    "compose_by_probing": {"compose_linear_sol": COMPOSE_HEAD + (
        "    n_in = first.weight.shape[1]\n"
        "    combined = Linear(n_in, second.weight.shape[0])\n"
        "    with torch.no_grad():\n"
        "        b = second(first(torch.zeros(n_in)))\n"
        "        W = (second(first(torch.eye(n_in))) - b).T\n"
        "        combined.weight.copy_(W)\n"
        "        combined.bias.copy_(b)\n"
        "    return combined\n")},
}


# The course cycle's "partly wrong" student (autograder course): answer cells replaced by mistakes.
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
