"""Grader-held digits for part 4's hidden checks (04_autoencoder.ipynb)."""
from __future__ import annotations

import torch

from autograder.heldout import mnist_flat


def images(n: int, seed: int, flat: bool = True) -> torch.Tensor:
    """n grader-held MNIST test digits in [0, 1], [n, 784] or [n, 1, 28, 28]."""
    X, _ = mnist_flat("test", n=n, seed=20_000 + seed)
    return X if flat else X.reshape(n, 1, 28, 28)


def held_out():
    """Grader-held test digits, and the notebook's training subset for PCA (the notebook never sees these test
    digits during training: it trains on the training split)."""
    X_train, _ = mnist_flat("train", n=10_000, seed=0)
    X_held, _ = mnist_flat("test", n=2000, seed=40_000)
    return X_train, X_held
