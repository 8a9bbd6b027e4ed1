"""Grader-held models, data, loaders and loss curves for part 5's hidden checks (05_training_loop.ipynb)."""
from __future__ import annotations

import torch
from torch import nn

from autograder.inkernel.recipes import loader, model_class  # noqa: F401  (one home for both sides' instruments)


def randn(*shape, seed: int, scale: float = 1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64) * scale


LINEAR_SCALE, RECORDER_SCALE = 0.4, 0.5


def linear_weights(d: int = 5, seed: int = 0) -> dict:
    """Grader-chosen float64 weights of an affine map d -> d (an ``nn.Linear(d, d).double()``), by attribute path."""
    return {"weight": randn(d, d, seed=seed, scale=LINEAR_SCALE), "bias": randn(d, seed=seed + 1, scale=0.2)}


def linear_model(d: int = 5, seed: int = 0) -> nn.Module:
    """The trusted side's copy: the affine map with :func:`linear_weights` (deterministic, so runs compare exactly)."""
    model = nn.Linear(d, d).double()
    load(model, linear_weights(d, seed))
    return model


RECORDER_PARAMETERS = ("inp.weight", "inp.bias", "norm.weight", "norm.bias", "out.weight", "out.bias")


def recorder_weights(d: int = 5, hidden: int = 8, seed: int = 0, statistics: bool = False) -> dict:
    """Grader-chosen tensors of a :class:`Recorder` (Linear -> BatchNorm -> ReLU -> Dropout -> Linear, float64),
    by attribute path; with ``statistics``, batch norm's running mean and variance too (else 0 and 1)."""
    shapes = {"inp.weight": (hidden, d), "inp.bias": (hidden,), "norm.weight": (hidden,), "norm.bias": (hidden,),
              "out.weight": (d, hidden), "out.bias": (d,)}
    tensors = {name: randn(*shapes[name], seed=seed + i, scale=RECORDER_SCALE)
               for i, name in enumerate(RECORDER_PARAMETERS)}
    if statistics:
        tensors["norm.running_mean"] = randn(hidden, seed=seed + 50, scale=0.3)
        tensors["norm.running_var"] = 0.5 + randn(hidden, seed=seed + 51, scale=0.2).abs()
    return tensors


def recorder(d: int = 5, hidden: int = 8, seed: int = 0, statistics: bool = False) -> nn.Module:
    """The trusted side's copy of the kernel's instrument, the same class (:func:`recipes.model_class`)."""
    model = model_class("Recorder")(d, hidden)
    load(model, recorder_weights(d, hidden, seed, statistics))
    return model


def load(model: nn.Module, tensors: dict) -> None:
    """Copy tensors into a module by attribute path, as the kernel's ``load_state`` recipe does."""
    with torch.no_grad():
        for path, value in tensors.items():
            target = model
            for part in path.split("."):
                target = getattr(target, part)
            target.copy_(value)


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
    # Underfitting curves whose last epoch is not their lowest (a noisy last value): the checks of diagnose_fit judge
    # it with the student's own best_epoch, and an epoch past the end (an off-by-one best_epoch on a curve lowest at
    # its last epoch) cannot be read; these keep every category gradable through a best_epoch that is slightly off.
    t = torch.arange(24, dtype=torch.float64)                                          # still falling, last uptick
    train = 0.12 * (0.05 + 0.95 * torch.exp(-t / 12))
    val = noisy(0.95 * 0.12 * (0.05 + 0.95 * torch.exp(-(t + 1) / 12)), g, 0.002)
    val[-1] = val[-2] * 1.006
    bank.append(("underfitting", {"train_loss": noisy(train, g, 0.002), "val_loss": val}))
    t = torch.arange(16, dtype=torch.float64)                                          # hardly learned, lowest at 13
    train = 0.2 * (1 - 0.03 * t / 16)
    val = noisy(0.2 * (1 - 0.02 * t / 16), g, 0.001)
    val[13] = min(val) * 0.99
    bank.append(("underfitting", {"train_loss": noisy(train, g, 0.002), "val_loss": val}))
    return bank


def real_bank() -> list[tuple[str, dict]]:
    from autograder.reference.training_curves import CURVES

    return [(label, {"train_loss": list(h["train_loss"]), "val_loss": list(h["val_loss"])}) for label, h in CURVES]
