"""Grader-held digits for part 4's hidden checks (04_autoencoder.ipynb)."""
from __future__ import annotations

import torch

from autograder.heldout import mnist_flat, notebook_digits  # noqa: F401 (the notebook's digits, for part 4's checks)


def images(n: int, seed: int, flat: bool = True) -> torch.Tensor:
    """n MNIST training digits in [0, 1], [n, 784] or [n, 1, 28, 28]: inputs for the checks of shapes and
    structure, which the kernel gets (the test digits that measure a model never enter the kernel)."""
    X, _ = mnist_flat("train", n=n, seed=20_000 + seed)
    return X if flat else X.reshape(n, 1, 28, 28)


def held_out():
    """Grader-held test digits, and the notebook's training subset for PCA (the notebook never sees these test
    digits during training: it trains on the training split)."""
    X_train, _ = mnist_flat("train", n=10_000, seed=0)
    X_held, _ = mnist_flat("test", n=2000, seed=40_000)
    return X_train, X_held
