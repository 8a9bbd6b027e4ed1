"""Part 3's references: an MLP's output from its parameters, the grader-held nonlinear targets and the best an
affine map can do on them. (The activations are compared with torch's own; the fit runs in the kernel as the
recipe ``fit_full_batch``, :mod:`autograder.inkernel.recipes`.)"""
from __future__ import annotations

import torch


def mlp_forward(params: list[tuple[torch.Tensor, torch.Tensor]], x: torch.Tensor, activation) -> torch.Tensor:
    """An MLP's output from its (weight [out, in], bias [out]) pairs, the activation between layers."""
    for i, (w, b) in enumerate(params):
        x = x @ w.T + b
        if i < len(params) - 1:
            x = activation(x)
    return x


# ---------------------------------------------------------------- grader-held nonlinear targets
def wiggle(seed: int = 0, n: int = 256):
    """1-D: sin(2x) + 0.3|x| on [-3, 3]."""
    g = torch.Generator().manual_seed(seed)
    x = torch.linspace(-3, 3, n).unsqueeze(1) + 0.01 * torch.randn(n, 1, generator=g)
    return x, torch.sin(2 * x) + 0.3 * x.abs()


def saddle(seed: int = 0, n: int = 400):
    """2-D: x1 * x2 on [-2, 2]^2 (uncorrelated with every affine function of the input)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 2, generator=g) * 4 - 2
    return x, x[:, :1] * x[:, 1:]


def best_affine_mse(x: torch.Tensor, y: torch.Tensor) -> float:
    """The lowest mean squared error ANY affine map (so any stack of linear layers) reaches on (x, y)."""
    A = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1).double()
    solution = torch.linalg.lstsq(A, y.double()).solution
    return float(((A @ solution - y.double()) ** 2).mean())
