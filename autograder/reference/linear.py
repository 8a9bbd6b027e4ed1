"""Reference linear layer math for part 2 (plain matmul: never ``F.linear``, which the checks watch for)."""
from __future__ import annotations

import math

import torch


def linear_forward(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """x [..., in], weight [out, in], bias [out] -> [..., out]."""
    return torch.matmul(x, weight.transpose(0, 1)) + bias


def compose(w1: torch.Tensor, b1: torch.Tensor, w2: torch.Tensor, b2: torch.Tensor):
    """(weight, bias) of x -> second(first(x)) for first = (w1, b1), second = (w2, b2)."""
    return w2 @ w1, w2 @ b1 + b2


def init_bound(in_features: int) -> float:
    return 1.0 / math.sqrt(in_features)


def uniform_ks(samples: torch.Tensor, bound: float) -> float:
    """Kolmogorov-Smirnov distance between ``samples`` and U(-bound, bound)."""
    u = ((samples.double().flatten() / bound + 1) / 2).sort().values
    n = len(u)
    upper = torch.arange(1, n + 1, dtype=torch.float64) / n
    lower = torch.arange(0, n, dtype=torch.float64) / n
    return float(torch.maximum((upper - u).abs(), (u - lower).abs()).max())
