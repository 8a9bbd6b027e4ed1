"""Grader-held MNIST, on the trusted side: both splits read once and kept in this process's memory.

The hidden checks take their digits from this in-memory copy; the grading kernel never sees it (it may read
the MNIST folder, never write it, and the digits the checks hold out never enter it). Subsets are the ones
``course_utils.data.load_mnist_flat`` gives for the same ``n`` and ``seed`` (one function makes both), so the
reference figures in the checks and the benchmark agree.
"""
from __future__ import annotations

import torch

_SPLITS: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}


def preload() -> None:
    from course_utils.data import mnist_tensors

    for split in ("train", "test"):
        if split not in _SPLITS:
            images, labels = mnist_tensors(split)
            _SPLITS[split] = (images.clone(), labels.clone())


def mnist_flat(split: str, n: int | None = None, seed: int = 0, flat: bool = True
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Like ``load_mnist_flat(split, n, seed, flat=flat)``, from the grader's own copy of the split."""
    from course_utils.data import float_subset

    preload()
    return float_subset(*_SPLITS[split], n, seed, flat)


def notebook_digits():
    """The digits and labels the notebooks' setup cells load (parts 1 and 4): 10,000 training digits and 2,000 test
    digits, seed 0, from the grader's own copy: (X_train, y_train, X_test, y_test)."""
    X_train, y_train = mnist_flat("train", n=10_000, seed=0)
    X_test, y_test = mnist_flat("test", n=2_000, seed=0)
    return X_train, y_train, X_test, y_test
