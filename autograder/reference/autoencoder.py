"""Reference autoencoder (part 4) and the grader's own fixed training recipe."""
from __future__ import annotations

import torch
from torch import nn


class Encoder(nn.Module):
    """[n, 1, 28, 28] or [n, 784] -> [n, latent_dim]: one hidden ReLU layer."""

    def __init__(self, latent_dim: int, input_dim: int = 784, hidden_dim: int = 256):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(input_dim, hidden_dim), nn.ReLU(),
                                 nn.Linear(hidden_dim, latent_dim))

    def forward(self, x):
        return self.net(x)


class Decoder(nn.Module):
    """[n, latent_dim] -> [n, 784] in [0, 1]."""

    def __init__(self, latent_dim: int, output_dim: int = 784, hidden_dim: int = 256):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, output_dim),
                                 nn.Sigmoid())

    def forward(self, z):
        return self.net(z)


class Autoencoder(nn.Module):
    def __init__(self, latent_dim: int):
        super().__init__()
        self.encoder = Encoder(latent_dim)
        self.decoder = Decoder(latent_dim)

    def forward(self, x):
        return self.decoder(self.encoder(x)).reshape(x.shape)


def batches(loader):
    """The images of each batch, whether the loader yields (x,) or (x, y)."""
    for batch in loader:
        yield batch[0] if isinstance(batch, (tuple, list)) else batch


def train_autoencoder(model, loader, epochs: int, lr: float = 1e-3) -> list[float]:
    device = next(model.parameters()).device
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    model.train()
    for _ in range(epochs):
        total, count = 0.0, 0
        for x in batches(loader):
            x = x.to(device)
            loss = nn.functional.mse_loss(model(x), x)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(x)
            count += len(x)
        history.append(total / count)
    return history


def latent_traversal(decoder, z: torch.Tensor, dim: int, values) -> torch.Tensor:
    values = torch.as_tensor(values, dtype=z.dtype, device=z.device).flatten()
    codes = z.detach().reshape(1, -1).repeat(len(values), 1)
    codes[:, dim] = values
    with torch.no_grad():
        return decoder(codes).reshape(len(values), 28, 28)
