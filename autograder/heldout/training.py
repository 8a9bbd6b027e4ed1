"""Grader-held models, data, loaders and loss curves for part 5's hidden checks (05_training_loop.ipynb)."""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def randn(*shape, seed: int, scale: float = 1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64) * scale


def linear_model(d: int = 5, seed: int = 0) -> nn.Module:
    """A float64 affine map d -> d with grader-chosen weights: deterministic, so runs compare exactly."""
    model = nn.Linear(d, d).double()
    with torch.no_grad():
        model.weight.copy_(randn(d, d, seed=seed, scale=0.4))
        model.bias.copy_(randn(d, seed=seed + 1, scale=0.2))
    return model


class Recorder(nn.Module):
    """Linear -> BatchNorm -> ReLU -> Dropout -> Linear that records how each forward pass ran.

    ``calls`` gets one ``(training, grad_enabled)`` pair per forward pass. Dropout and batch
    norm make training mode visible in the outputs too, and batch norm's running statistics
    change whenever it sees a batch in training mode.
    """

    def __init__(self, d: int = 5, hidden: int = 8, seed: int = 0):
        super().__init__()
        self.inp, self.norm = nn.Linear(d, hidden), nn.BatchNorm1d(hidden)
        self.drop, self.out = nn.Dropout(0.5), nn.Linear(hidden, d)
        self.double()
        with torch.no_grad():
            for i, p in enumerate(self.parameters()):
                p.copy_(randn(*p.shape, seed=seed + i, scale=0.5))
        self.calls: list[tuple[bool, bool]] = []

    def forward(self, x):
        self.calls.append((bool(self.training), bool(torch._C.is_grad_enabled())))
        return self.out(self.drop(torch.relu(self.norm(self.inp(x)))))


class CountingSGD(torch.optim.SGD):
    """Plain SGD that counts its steps and its gradient clearings."""

    def __init__(self, params, lr):
        super().__init__(params, lr=lr)
        self.steps = 0
        self.clears = 0

    def step(self, closure=None):
        self.steps += 1
        return super().step(closure)

    def zero_grad(self, set_to_none: bool = True):
        self.clears += 1
        return super().zero_grad(set_to_none)


def loader(*tensors, batch_size: int) -> DataLoader:
    """Batches in a fixed order: lists ``[x]`` or ``[x, y]`` as DataLoader builds them."""
    return DataLoader(TensorDataset(*tensors), batch_size=batch_size, shuffle=False)


def uneven_data(n: int = 10, d: int = 5, seed: int = 0) -> torch.Tensor:
    """Inputs whose losses differ a lot between the first samples and the last two."""
    X = randn(n, d, seed=seed, scale=0.1)
    X[-2:] = randn(2, d, seed=seed + 7, scale=6.0)
    return X


def fit_data():
    X_train = randn(12, 5, seed=300, scale=0.2)
    X_val = randn(7, 5, seed=301, scale=8.0) + 3.0  # far larger losses: validation can't be confused
    return X_train, X_val


def noisy(values: torch.Tensor, g: torch.Generator, scale: float = 0.004) -> list[float]:
    return (values * (1 + scale * torch.randn(len(values), generator=g, dtype=torch.float64))).tolist()


def synthetic_bank(seed: int = 505) -> list[tuple[str, dict]]:
    """(label, history) pairs: each clear under the notebook's rule, with wide margins."""
    g = torch.Generator().manual_seed(seed)
    bank = []
    for epochs, scale, turn, rise in ((30, 0.1, 0.3, 0.6), (60, 0.05, 0.45, 0.4), (120, 0.02, 0.25, 0.9),
                                      (200, 0.08, 0.35, 0.5)):
        t = torch.arange(epochs, dtype=torch.float64)
        train = scale * (0.03 + 0.97 * torch.exp(-t / (epochs / 6)))
        t0 = turn * epochs
        val = scale * 0.3 * (1 + 2.5 * torch.exp(-t / (t0 / 3)) + rise * (torch.clamp(t - t0, min=0) /
                                                                           (epochs - t0)) ** 1.5)
        bank.append(("overfitting", {"train_loss": noisy(train, g), "val_loss": noisy(val, g)}))
    for epochs, scale, gap in ((20, 0.07, 1.1), (40, 0.03, 1.3), (100, 0.2, 1.05), (12, 0.5, 1.2)):
        t = torch.arange(epochs, dtype=torch.float64)
        train = scale * (0.1 + 0.9 * torch.exp(-t / (epochs / 10)))
        val = gap * scale * (0.1 + 0.6 * torch.exp(-t / (epochs / 10)))
        bank.append(("just right", {"train_loss": noisy(train, g, 0.002), "val_loss": noisy(val, g, 0.002)}))
    for epochs, scale in ((50, 0.04), (36, 0.1)):                  # flattened, then a slight (2%) rise
        t = torch.arange(epochs, dtype=torch.float64)
        train = scale * (0.1 + 0.9 * torch.exp(-t / (epochs / 8)))
        val = scale * (0.15 + 0.6 * torch.exp(-t / (epochs / 8)) + 0.004 * torch.clamp(t - 0.6 * epochs, min=0)
                       / (0.4 * epochs))
        bank.append(("just right", {"train_loss": noisy(train, g, 0.002), "val_loss": noisy(val, g, 0.002)}))
    for epochs, scale, tau in ((10, 0.1, 6.0), (30, 0.05, 25.0), (80, 0.2, 60.0)):   # still falling steeply
        t = torch.arange(epochs, dtype=torch.float64)
        train = scale * (0.05 + 0.95 * torch.exp(-t / tau))
        val = 0.95 * scale * (0.05 + 0.95 * torch.exp(-(t + 1) / tau))
        bank.append(("underfitting", {"train_loss": noisy(train, g, 0.002), "val_loss": noisy(val, g, 0.002)}))
    for epochs, scale in ((15, 0.23), (50, 0.09)):                                    # hardly learned: flat, high
        t = torch.arange(epochs, dtype=torch.float64)
        train = scale * (1 - 0.06 * t / epochs)
        val = scale * (1 - 0.05 * t / epochs)
        bank.append(("underfitting", {"train_loss": noisy(train, g, 0.002), "val_loss": noisy(val, g, 0.002)}))
    return bank


def real_bank() -> list[tuple[str, dict]]:
    from autograder.reference.training_curves import CURVES

    return [(label, {"train_loss": list(h["train_loss"]), "val_loss": list(h["val_loss"])}) for label, h in CURVES]
