"""Part 3 (activations and the MLP): mistakes students make, and correct answers written differently."""
NOTEBOOK = "03_activations.ipynb"
FUNCTION_CELLS = ["relu", "leaky_relu", "sigmoid", "tanh", "mlp"]

RELU = "def relu(x):\n"
LEAKY = "def leaky_relu(x, negative_slope=0.01):\n"
SIGMOID = "def sigmoid(x):\n"
TANH = "def tanh(x):\n"
STABLE_TANH = TANH + ("    positive = x >= 0\n"
                      "    z = torch.exp(-2 * torch.where(positive, x, -x))\n"
                      "    t = (1 - z) / (1 + z)\n"
                      "    return torch.where(positive, t, -t)")


def mlp(init: str, forward: str) -> str:
    """An MLP class with the given __init__ body (after super().__init__()) and forward body."""
    return ("class MLP(torch.nn.Module):\n"
            "    def __init__(self, sizes, activation=relu):\n"
            "        super().__init__()\n"
            "        self.activation = activation\n" + init +
            "\n    def forward(self, x):\n" + forward)


MODULE_LIST = ("        self.layers = torch.nn.ModuleList(\n"
               "            torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))\n")

BUGGY = {
    # ---------------------------------------------------------------- relu
    "relu_new_dtype": ({"relu_sol": RELU + "    return x.clamp(min=0).float()\n"}, {"relu"}),
    "relu_in_place": ({"relu_sol": RELU + "    x[x < 0] = 0\n    return x\n"}, {"relu"}),
    "relu_calls_torch": ({"relu_sol": RELU + "    return torch.relu(x)\n"}, {"relu"}),
    "relu_through_numpy": ({"relu_sol": RELU + (
        "    import numpy as np\n    return torch.from_numpy(np.maximum(x.detach().numpy(), 0))\n")}, {"relu"}),
    "relu_flattens": ({"relu_sol": RELU + "    return torch.where(x > 0, x, torch.zeros_like(x)).flatten()\n"},
                      {"relu"}),
    # ---------------------------------------------------------------- leaky_relu
    "leaky_ignores_slope": ({"leaky_relu_sol": LEAKY + "    return torch.where(x > 0, x, 0.01 * x)\n"},
                            {"leaky_relu"}),
    "leaky_slope_on_positive_side": ({"leaky_relu_sol": LEAKY + (
        "    return torch.where(x > 0, negative_slope * x, x)\n")}, {"leaky_relu"}),
    "leaky_default_slope_wrong": ({"leaky_relu_sol": (
        "def leaky_relu(x, negative_slope=0.1):\n    return torch.where(x > 0, x, negative_slope * x)\n")},
        {"leaky_relu"}),
    "leaky_calls_functional": ({"leaky_relu_sol": LEAKY + (
        "    return torch.nn.functional.leaky_relu(x, negative_slope)\n")}, {"leaky_relu"}),
    # ---------------------------------------------------------------- sigmoid
    "sigmoid_naive": ({"sigmoid_sol": SIGMOID + "    return 1 / (1 + torch.exp(-x))\n"}, {"sigmoid"}),
    "sigmoid_exp_ratio": ({"sigmoid_sol": SIGMOID + "    return torch.exp(x) / (1 + torch.exp(x))\n"},
                          {"sigmoid"}),
    "sigmoid_where_with_overflowing_branch": ({"sigmoid_sol": SIGMOID + (
        "    return torch.where(x >= 0, 1 / (1 + torch.exp(-x)), torch.exp(x) / (1 + torch.exp(x)))\n")},
        {"sigmoid"}),
    "sigmoid_clamped_input": ({"sigmoid_sol": SIGMOID + (
        "    x = x.clamp(-20, 20)\n    return 1 / (1 + torch.exp(-x))\n")}, {"sigmoid"}),
    "sigmoid_calls_torch": ({"sigmoid_sol": SIGMOID + "    return torch.sigmoid(x)\n"}, {"sigmoid"}),
    "sigmoid_float32_only": ({"sigmoid_sol": SIGMOID + (
        "    x = x.float()\n    z = torch.exp(-torch.where(x >= 0, x, -x))\n"
        "    return torch.where(x >= 0, 1 / (1 + z), z / (1 + z))\n")}, {"sigmoid"}),
    # ---------------------------------------------------------------- tanh
    "tanh_naive": ({"tanh_sol": TANH + (
        "    return (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x))\n")}, {"tanh"}),
    "tanh_via_naive_sigmoid": ({"tanh_sol": TANH + "    return 2 / (1 + torch.exp(-2 * x)) - 1\n"}, {"tanh"}),
    "tanh_calls_torch": ({"tanh_sol": TANH + "    return torch.tanh(x)\n"}, {"tanh"}),
    "tanh_missing_sign": ({"tanh_sol": TANH + (
        "    z = torch.exp(-2 * x.abs())\n    return (1 - z) / (1 + z)\n")}, {"tanh"}),
    # ---------------------------------------------------------------- MLP
    "mlp_activation_after_last_layer": ({"mlp_sol": mlp(MODULE_LIST, (
        "        for layer in self.layers:\n"
        "            x = self.activation(layer(x))\n"
        "        return x\n"))}, {"mlp"}),
    "mlp_layers_in_python_list": ({"mlp_sol": mlp(
        "        self.layers = [torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])]\n", (
            "        for layer in self.layers[:-1]:\n"
            "            x = self.activation(layer(x))\n"
            "        return self.layers[-1](x)\n"))}, {"mlp"}),
    "mlp_ignores_activation_argument": ({"mlp_sol": mlp(MODULE_LIST, (
        "        for layer in self.layers[:-1]:\n"
        "            x = torch.relu(layer(x))\n"
        "        return self.layers[-1](x)\n"))}, {"mlp"}),
    "mlp_no_activation": ({"mlp_sol": mlp(MODULE_LIST, (
        "        for layer in self.layers:\n"
        "            x = layer(x)\n"
        "        return x\n"))}, {"mlp"}),
    "mlp_drops_last_layer": ({"mlp_sol": mlp(MODULE_LIST, (
        "        for layer in self.layers[:-1]:\n"
        "            x = self.activation(layer(x))\n"
        "        return x\n"))}, {"mlp"}),
    "mlp_one_layer_too_few": ({"mlp_sol": mlp(
        "        self.layers = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(sizes[:-2], sizes[1:-1]))\n"
        "        self.out = torch.nn.Linear(sizes[-2], sizes[-1]) if len(sizes) > 2 else None\n", (
            "        for layer in self.layers:\n"
            "            x = self.activation(layer(x))\n"
            "        return self.out(x) if self.out is not None else x\n"))}, {"mlp"}),
    "mlp_default_is_not_relu": ({"mlp_sol": mlp(MODULE_LIST, (
        "        for layer in self.layers[:-1]:\n"
        "            x = self.activation(layer(x))\n"
        "        return self.layers[-1](x)\n")).replace("activation=relu", "activation=torch.tanh")}, {"mlp"}),
}

ALTERNATIVES = {
    "relu_clamp": {"relu_sol": RELU + "    return torch.clamp(x, min=0)\n"},
    "relu_maximum": {"relu_sol": RELU + "    return torch.maximum(x, torch.zeros_like(x))\n"},
    "relu_mask": {"relu_sol": RELU + "    return x * (x > 0)\n"},
    "relu_abs": {"relu_sol": RELU + "    return (x + x.abs()) / 2\n"},
    "leaky_maximum": {"leaky_relu_sol": LEAKY + "    return torch.maximum(x, negative_slope * x)\n"},
    "leaky_from_relu": {"leaky_relu_sol": LEAKY + "    return relu(x) - negative_slope * relu(-x)\n"},
    "sigmoid_logaddexp": {"sigmoid_sol": SIGMOID + (
        "    return torch.exp(-torch.logaddexp(torch.zeros_like(x), -x))\n")},
    "sigmoid_softplus_free_split": {"sigmoid_sol": SIGMOID + (
        "    e_pos = torch.exp(-torch.where(x >= 0, x, torch.zeros_like(x)))\n"
        "    e_neg = torch.exp(torch.where(x < 0, x, torch.zeros_like(x)))\n"
        "    return torch.where(x >= 0, 1 / (1 + e_pos), e_neg / (1 + e_neg))\n")},
    "tanh_via_sigmoid": {"tanh_sol": TANH + "    return 2 * sigmoid(2 * x) - 1\n"},
    "sigmoid_via_stable_tanh": {"sigmoid_sol": SIGMOID + "    return 0.5 * (1 + tanh(x / 2))\n",
                                "tanh_sol": STABLE_TANH},
    "mlp_sequential": {"mlp_sol": (
        "class Activation(torch.nn.Module):\n"
        "    def __init__(self, fn):\n"
        "        super().__init__()\n"
        "        self.fn = fn\n"
        "    def forward(self, x):\n"
        "        return self.fn(x)\n\n"
        "class MLP(torch.nn.Module):\n"
        "    def __init__(self, sizes, activation=relu):\n"
        "        super().__init__()\n"
        "        modules = []\n"
        "        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):\n"
        "            if i > 0:\n"
        "                modules.append(Activation(activation))\n"
        "            modules.append(torch.nn.Linear(a, b))\n"
        "        self.net = torch.nn.Sequential(*modules)\n"
        "    def forward(self, x):\n"
        "        return self.net(x)\n")},
    "mlp_parameter_lists": {"mlp_sol": mlp(
        "        pairs = list(zip(sizes[:-1], sizes[1:]))\n"
        "        self.weights = torch.nn.ParameterList(\n"
        "            torch.nn.Parameter((2 * torch.rand(b, a) - 1) / math.sqrt(a)) for a, b in pairs)\n"
        "        self.biases = torch.nn.ParameterList(\n"
        "            torch.nn.Parameter((2 * torch.rand(b) - 1) / math.sqrt(a)) for a, b in pairs)\n", (
            "        for i, (w, b) in enumerate(zip(self.weights, self.biases)):\n"
            "            x = x @ w.T + b\n"
            "            if i < len(self.weights) - 1:\n"
            "                x = self.activation(x)\n"
            "        return x\n"))},
    "mlp_default_none": {"mlp_sol": mlp(
        "        self.activation = relu if activation is None else activation\n" + MODULE_LIST, (
            "        for layer in self.layers[:-1]:\n"
            "            x = self.activation(layer(x))\n"
            "        return self.layers[-1](x)\n")).replace("activation=relu", "activation=None")},
    "mlp_last_layer_apart": {"mlp_sol": mlp(MODULE_LIST, (
        "        *hidden, last = self.layers\n"
        "        for layer in hidden:\n"
        "            x = self.activation(layer(x))\n"
        "        return last(x)\n"))},
}


# The course cycle's "partly wrong" student (autograder course): answer cells replaced by mistakes.
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
