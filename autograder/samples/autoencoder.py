NOTEBOOK = "04_autoencoder.ipynb"
PARTIAL_MISTAKES = {
    "encoder_decoder_sol": (
        "class Encoder(nn.Module):\n"
        "    def __init__(self, latent_dim: int, input_dim: int = 784, hidden_dim: int = 256):\n"
        "        super().__init__()\n"
        "        self.net = nn.Sequential(nn.Flatten(), nn.Linear(input_dim, hidden_dim), nn.ReLU(),\n"
        "                                 nn.Linear(hidden_dim, latent_dim))\n\n"
        "    def forward(self, x):\n"
        "        return self.net(x)\n\n\n"
        "class Decoder(nn.Module):\n"
        "    def __init__(self, latent_dim: int, output_dim: int = 784, hidden_dim: int = 256):\n"
        "        super().__init__()\n"
        "        # forgot the final nn.Sigmoid(): decoded pixels can leave [0, 1]\n"
        "        self.net = nn.Sequential(nn.Linear(latent_dim, hidden_dim), nn.ReLU(),\n"
        "                                 nn.Linear(hidden_dim, output_dim))\n\n"
        "    def forward(self, z):\n"
        "        return self.net(z)\n"
    ),
    "latent_traversal_sol": (
        "def latent_traversal(decoder, z: torch.Tensor, dim: int, values) -> torch.Tensor:\n"
        '    """Decode copies of z [latent_dim] with coordinate `dim` set to each value: [len(values), 28, 28]."""\n'
        "    # YOUR CODE HERE\n"
        '    raise NotImplementedError("Student exercise: latent_traversal")\n'
    ),
}
