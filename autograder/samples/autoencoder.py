"""Part 4 (the autoencoder): mistakes students make, and correct answers written differently."""
NOTEBOOK = "04_autoencoder.ipynb"
# ae_vs_pca and ae_probe_results need the notebook's trained models: the course cycle and `autograder grade`
# cover them. ae_quality trains a model (a few seconds per case with one thread).
FUNCTION_CELLS = ["encoder_decoder", "autoencoder", "train_autoencoder", "ae_quality", "ae_linear_probe",
                  "latent_traversal"]


def _enc_dec(encoder_layers: str, decoder_layers: str, encoder_forward: str = "self.net(x)") -> str:
    return (
        "class Encoder(nn.Module):\n"
        "    def __init__(self, latent_dim, input_dim=784, hidden_dim=256):\n"
        "        super().__init__()\n"
        f"        self.net = nn.Sequential({encoder_layers})\n"
        "    def forward(self, x):\n"
        f"        return {encoder_forward}\n\n"
        "class Decoder(nn.Module):\n"
        "    def __init__(self, latent_dim, output_dim=784, hidden_dim=256):\n"
        "        super().__init__()\n"
        f"        self.net = nn.Sequential({decoder_layers})\n"
        "    def forward(self, z):\n"
        "        return self.net(z)\n")


ENC = "nn.Flatten(), nn.Linear(input_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, latent_dim)"
DEC = "nn.Linear(latent_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, output_dim), nn.Sigmoid()"


def _autoencoder(forward: str, init_extra: str = "") -> str:
    return (
        "class Autoencoder(nn.Module):\n"
        "    def __init__(self, latent_dim):\n"
        "        super().__init__()\n"
        "        self.encoder = Encoder(latent_dim)\n"
        "        self.decoder = Decoder(latent_dim)\n"
        f"{init_extra}"
        "    def forward(self, x):\n"
        f"        return {forward}\n")


TRAIN_HEAD = (
    "def train_autoencoder(model, loader, epochs, lr=1e-3):\n"
    "    optimizer = torch.optim.Adam(model.parameters(), lr=lr)\n"
    "    history = []\n"
    "    for epoch in range(epochs):\n"
    "        losses = []\n")


def _train(body: str, tail: str = "        history.append(sum(losses) / len(losses))\n") -> str:
    return TRAIN_HEAD + body + tail + "    return history\n"


STEP = ("        for batch in loader:\n"
        "            x = batch[0]\n"
        "            loss = F.mse_loss(model(x), x)\n"
        "            optimizer.zero_grad()\n"
        "            loss.backward()\n")

TRAVERSAL_HEAD = "def latent_traversal(decoder, z, dim, values):\n"

BUGGY = {
    "linear_autoencoder_no_activations": ({"encoder_decoder_sol": _enc_dec(
        "nn.Flatten(), nn.Linear(input_dim, hidden_dim), nn.Linear(hidden_dim, latent_dim)",
        "nn.Linear(latent_dim, hidden_dim), nn.Linear(hidden_dim, output_dim)")},
        {"encoder_decoder", "ae_quality"}),
    "linear_autoencoder_sigmoid_output_only": ({"encoder_decoder_sol": _enc_dec(
        "nn.Flatten(), nn.Linear(input_dim, hidden_dim), nn.Linear(hidden_dim, latent_dim)",
        "nn.Linear(latent_dim, hidden_dim), nn.Linear(hidden_dim, output_dim), nn.Sigmoid()")},
        {"ae_quality"}),
    "decoder_without_squashing": ({"encoder_decoder_sol": _enc_dec(
        ENC, "nn.Linear(latent_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, output_dim)")},
        {"encoder_decoder"}),
    "encoder_ignores_latent_dim": ({"encoder_decoder_sol": _enc_dec(
        "nn.Flatten(), nn.Linear(input_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, 2)", DEC)},
        {"encoder_decoder", "autoencoder"}),
    "encoder_needs_flat_input": ({"encoder_decoder_sol": _enc_dec(
        "nn.Linear(input_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, latent_dim)", DEC)},
        {"encoder_decoder", "autoencoder"}),
    "autoencoder_returns_flat": ({"autoencoder_sol": _autoencoder("self.decoder(self.encoder(x))")},
                                 {"autoencoder"}),
    "autoencoder_skip_connection": ({"autoencoder_sol": _autoencoder(
        "(self.decoder(self.encoder(x)).reshape(x.shape) + x) / 2")}, {"autoencoder"}),
    "autoencoder_loads_fixed_weights": ({"autoencoder_sol": _autoencoder(
        "self.decoder(self.encoder(x)).reshape(x.shape)",
        "        g = torch.Generator().manual_seed(1234)\n"
        "        self.load_state_dict({name: torch.randn(p.shape, generator=g) * 0.05\n"
        "                              for name, p in self.state_dict().items()})\n")}, {"autoencoder"}),
    "train_never_steps": ({"train_autoencoder_sol": _train(
        STEP + "            losses.append(loss.item())\n")}, {"train_autoencoder"}),
    "train_ignores_lr": ({"train_autoencoder_sol": _train(
        STEP + "            optimizer.step()\n            losses.append(loss.item())\n").replace(
        "lr=lr)", "lr=1e-3)")}, {"train_autoencoder"}),
    "train_sums_batch_losses": ({"train_autoencoder_sol": _train(
        STEP + "            optimizer.step()\n            losses.append(loss.item())\n",
        "        history.append(sum(losses))\n")}, {"train_autoencoder"}),
    "train_returns_batch_losses": ({"train_autoencoder_sol": _train(
        STEP + "            optimizer.step()\n            history.append(loss.item())\n", "")},
        {"train_autoencoder"}),
    "train_returns_tensors": ({"train_autoencoder_sol": _train(
        STEP + "            optimizer.step()\n            losses.append(loss.detach())\n")},
        {"train_autoencoder"}),
    "train_expects_unlabelled_batches": ({"train_autoencoder_sol": _train(
        STEP.replace("        for batch in loader:\n            x = batch[0]\n", "        for (x,) in loader:\n")
        + "            optimizer.step()\n            losses.append(loss.item())\n")}, {"train_autoencoder"}),
    "traversal_mutates_z": ({"latent_traversal_sol": TRAVERSAL_HEAD + (
        "    images = []\n"
        "    for v in values:\n"
        "        z[dim] = v\n"
        "        with torch.no_grad():\n"
        "            images.append(decoder(z[None]).reshape(28, 28))\n"
        "    return torch.stack(images)\n")}, {"latent_traversal"}),
    "traversal_adds_value": ({"latent_traversal_sol": TRAVERSAL_HEAD + (
        "    codes = z.repeat(len(values), 1)\n"
        "    codes[:, dim] += torch.as_tensor(values, dtype=z.dtype)\n"
        "    with torch.no_grad():\n"
        "        return decoder(codes).reshape(len(values), 28, 28)\n")}, {"latent_traversal"}),
    "traversal_sets_every_coordinate": ({"latent_traversal_sol": TRAVERSAL_HEAD + (
        "    codes = torch.as_tensor(values, dtype=z.dtype)[:, None].repeat(1, len(z))\n"
        "    with torch.no_grad():\n"
        "        return decoder(codes).reshape(len(values), 28, 28)\n")}, {"latent_traversal"}),
    "traversal_flat_output": ({"latent_traversal_sol": TRAVERSAL_HEAD + (
        "    codes = z.repeat(len(values), 1)\n"
        "    codes[:, dim] = torch.as_tensor(values, dtype=z.dtype)\n"
        "    with torch.no_grad():\n"
        "        return decoder(codes)\n")}, {"latent_traversal"}),
    "probe_constant": ({"ae_linear_probe_sol": (
        "def linear_probe(Z_train, y_train, Z_test, y_test, epochs=50, lr=0.1):\n    return 0.9\n")},
        {"ae_linear_probe"}),
}

# The convolutional autoencoder of many tutorials, typed as a student would (PyTorch's default padding=0):
# two stride-2 convolutions (32 and 64 channels) and a Linear to the code; the decoder mirrors them with
# ConvTranspose2d and ends in a sigmoid. Under the grader's budget (and the notebook's) it sits on the plateau
# where every output pixel is ~0 (MSE ~0.115-0.13, worse than the average digit's 0.068): "not learning".
CONV_TEXTBOOK = (
    "class Encoder(nn.Module):\n"
    "    def __init__(self, latent_dim, input_dim=784):\n"
    "        super().__init__()\n"
    "        self.conv = nn.Sequential(\n"
    "            nn.Conv2d(1, 32, 3, stride=2), nn.ReLU(),       # 28 -> 13\n"
    "            nn.Conv2d(32, 64, 3, stride=2), nn.ReLU())      # 13 -> 6\n"
    "        self.fc = nn.Linear(64 * 6 * 6, latent_dim)\n"
    "    def forward(self, x):\n"
    "        return self.fc(self.conv(x.reshape(-1, 1, 28, 28)).flatten(1))\n\n"
    "class Decoder(nn.Module):\n"
    "    def __init__(self, latent_dim, output_dim=784):\n"
    "        super().__init__()\n"
    "        self.fc = nn.Linear(latent_dim, 64 * 6 * 6)\n"
    "        self.deconv = nn.Sequential(\n"
    "            nn.ConvTranspose2d(64, 32, 3, stride=2), nn.ReLU(),                       # 6 -> 13\n"
    "            nn.ConvTranspose2d(32, 1, 3, stride=2, output_padding=1), nn.Sigmoid())   # 13 -> 28\n"
    "    def forward(self, z):\n"
    "        h = torch.relu(self.fc(z)).reshape(-1, 64, 6, 6)\n"
    "        return self.deconv(h).flatten(1)\n")

BUGGY["textbook_conv_autoencoder"] = ({"encoder_decoder_sol": CONV_TEXTBOOK}, {"ae_quality", "ae_vs_pca", "ae_probe_results"})

CONV = (
    "class Encoder(nn.Module):\n"
    "    def __init__(self, latent_dim, input_dim=784):\n"
    "        super().__init__()\n"
    "        self.net = nn.Sequential(\n"
    "            nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.LeakyReLU(),\n"
    "            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.LeakyReLU(), nn.Flatten(),\n"
    "            nn.Linear(32 * 7 * 7, 64), nn.LeakyReLU(), nn.Linear(64, latent_dim))\n"
    "    def forward(self, x):\n"
    "        return self.net(x.reshape(-1, 1, 28, 28))\n\n"
    "class Decoder(nn.Module):\n"
    "    def __init__(self, latent_dim, output_dim=784):\n"
    "        super().__init__()\n"
    "        self.net = nn.Sequential(\n"
    "            nn.Linear(latent_dim, 64), nn.LeakyReLU(), nn.Linear(64, 32 * 7 * 7), nn.LeakyReLU(),\n"
    "            nn.Unflatten(1, (32, 7, 7)),\n"
    "            nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1), nn.LeakyReLU(),\n"
    "            nn.ConvTranspose2d(16, 1, 4, stride=2, padding=1), nn.Sigmoid(), nn.Flatten())\n"
    "    def forward(self, z):\n"
    "        return self.net(z)\n")

ALTERNATIVES = {
    "convolutional_autoencoder": {"encoder_decoder_sol": CONV},
    "deeper_mlp_512_128": {"encoder_decoder_sol": _enc_dec(
        "nn.Flatten(), nn.Linear(input_dim, 512), nn.ReLU(), nn.Linear(512, 128), nn.ReLU(), "
        "nn.Linear(128, latent_dim)",
        "nn.Linear(latent_dim, 128), nn.ReLU(), nn.Linear(128, 512), nn.ReLU(), nn.Linear(512, output_dim), "
        "nn.Sigmoid()")},
    "narrow_mlp_with_dropout_and_clamp": {"encoder_decoder_sol": (
        "class Encoder(nn.Module):\n"
        "    def __init__(self, latent_dim, input_dim=784):\n"
        "        super().__init__()\n"
        "        self.hidden = nn.Linear(input_dim, 128)\n"
        "        self.drop = nn.Dropout(0.05)\n"
        "        self.out = nn.Linear(128, latent_dim)\n"
        "    def forward(self, x):\n"
        "        return self.out(self.drop(F.leaky_relu(self.hidden(x.flatten(1)))))\n\n"
        "class Decoder(nn.Module):\n"
        "    def __init__(self, latent_dim, output_dim=784):\n"
        "        super().__init__()\n"
        "        self.hidden = nn.Linear(latent_dim, 128)\n"
        "        self.out = nn.Linear(128, output_dim)\n"
        "    def forward(self, z):\n"
        "        return torch.sigmoid(self.out(torch.tanh(self.hidden(z)))).clamp(0, 1)\n")},
    "autoencoder_view_as": {"autoencoder_sol": (
        "class Autoencoder(nn.Module):\n"
        "    def __init__(self, latent_dim):\n"
        "        super().__init__()\n"
        "        self.encoder, self.decoder = Encoder(latent_dim), Decoder(latent_dim)\n"
        "    def forward(self, x):\n"
        "        flat = x.view(x.shape[0], -1)\n"
        "        return self.decoder(self.encoder(flat)).view_as(x)\n")},
    "train_mean_of_batch_means_mseloss": {"train_autoencoder_sol": (
        "def train_autoencoder(model, loader, epochs, lr=1e-3):\n"
        "    criterion = nn.MSELoss()\n"
        "    opt = torch.optim.Adam(model.parameters(), lr=lr)\n"
        "    history = []\n"
        "    for _ in tqdm(range(epochs)):\n"
        "        model.train()\n"
        "        batch_losses = []\n"
        "        for x, *labels in loader:\n"
        "            opt.zero_grad()\n"
        "            loss = criterion(model(x), x)\n"
        "            loss.backward()\n"
        "            opt.step()\n"
        "            batch_losses.append(loss.item())\n"
        "        history.append(float(torch.tensor(batch_losses).mean()))\n"
        "    return history\n")},
    "traversal_loop_and_stack": {"latent_traversal_sol": TRAVERSAL_HEAD + (
        "    images = []\n"
        "    for v in list(values):\n"
        "        code = z.clone()\n"
        "        code[dim] = float(v)\n"
        "        with torch.no_grad():\n"
        "            images.append(decoder(code.unsqueeze(0)).view(28, 28))\n"
        "    return torch.stack(images)\n")},
}


# The course cycle's "partly wrong" student (autograder course): answer cells replaced by mistakes.
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
