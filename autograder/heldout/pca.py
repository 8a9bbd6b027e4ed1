"""Grader-held data for part 1's hidden checks (01_pca_encoder.ipynb): synthetic clouds and MNIST subsets."""
from __future__ import annotations

import torch

from autograder.heldout import mnist_flat


SCALES = torch.tensor([9.0, 6.5, 4.8, 3.4, 2.4, 1.7, 1.2, 0.8, 0.55, 0.35, 0.2, 0.1], dtype=torch.float64)


def synthetic(n: int = 400, seed: int = 11, dtype=torch.float32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    d = len(SCALES)
    Q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    X = (torch.randn(n, d, generator=g, dtype=torch.float64) * SCALES) @ Q.T
    X = X + 3.0 * torch.randn(d, generator=g, dtype=torch.float64) + 2.0
    return X.to(dtype)


def random_basis(d: int, k: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    mean = torch.randn(d, generator=g, dtype=torch.float64) * 2 + 1
    return mean, Q[:, :k].T.contiguous()


def mnist_split(seed: int, n_train: int = 1500, n_test: int = 600):
    """A grader-held MNIST subset: drawn from the test split, which notebooks never fit on."""
    X, y = mnist_flat("test", n=n_train + n_test, seed=10_000 + seed)
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(X), generator=g)
    tr, te = order[:n_train], order[n_train:]
    return X[tr], y[tr], X[te], y[te]


def clusters(n: int, k: int, seed: int, spread: float = 0.3):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(10, k, generator=g) * 4
    y = torch.randint(0, 10, (n,), generator=g)
    return centres[y] + spread * torch.randn(n, k, generator=g), y
