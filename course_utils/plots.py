"""The course's pictures: digit grids, reconstructions, latent scatters, traversals, curves.

Every function takes tensors or arrays, draws with matplotlib and returns the figure, so a
notebook can show it and a test can inspect it.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

DIGIT_COLORS = plt.get_cmap("tab10")


def _np(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _as_images(x) -> np.ndarray:
    """Anything holding n digits ([n, 784], [n, 28, 28], [n, 1, 28, 28]) as [n, 28, 28]."""
    arr = _np(x)
    return arr.reshape(-1, 28, 28)


def show_digits(images, labels=None, ncols: int = 10, title: str | None = None, size: float = 1.0):
    """A grid of digits, with their labels above them when given."""
    imgs = _as_images(images)
    n = len(imgs)
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.4 if title else 0)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(imgs[i], cmap="gray", vmin=0, vmax=1)
            if labels is not None:
                ax.set_title(str(int(_np(labels)[i])), fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def show_reconstructions(originals, reconstructions: Mapping[str, object], n: int = 8, size: float = 1.0):
    """Rows of digits: the originals on top, then one row per named reconstruction."""
    rows = {"original": originals, **reconstructions}
    fig, axes = plt.subplots(len(rows), n, figsize=(size * n, size * len(rows) + 0.2), squeeze=False)
    for r, (name, imgs) in enumerate(rows.items()):
        imgs = _as_images(imgs)
        for c in range(n):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(imgs):
                ax.imshow(np.clip(imgs[c], 0, 1), cmap="gray", vmin=0, vmax=1)
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    fig.tight_layout()
    return fig


def latent_scatter(Z, labels, ax=None, title: str | None = None, max_points: int = 5000, s: float = 3):
    """A 2-D representation as a scatter plot, one colour per digit, with a legend."""
    Z, labels = _np(Z), _np(labels).astype(int)
    if Z.ndim != 2 or Z.shape[1] < 2:
        raise ValueError(f"latent_scatter needs codes of shape [n, 2] (or wider), got {Z.shape}")
    Z, labels = Z[:max_points], labels[:max_points]
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 5))
    for digit in range(10):
        mask = labels == digit
        ax.scatter(Z[mask, 0], Z[mask, 1], s=s, color=DIGIT_COLORS(digit), label=str(digit), alpha=0.7)
    ax.set_xlabel("latent 1")
    ax.set_ylabel("latent 2")
    ax.legend(markerscale=4, fontsize=8, title="digit", loc="best", ncols=2)
    if title:
        ax.set_title(title)
    return ax.figure


def traversal_grid(images, row_labels: Sequence[str] | None = None, col_labels: Sequence[str] | None = None,
                   title: str | None = None, size: float = 0.9):
    """Decoded digits laid out as a grid: ``images [rows, cols, 28, 28]`` (or ``[cols, 28, 28]``)."""
    arr = _np(images)
    if arr.ndim == 3:
        arr = arr[None]
    arr = arr.reshape(arr.shape[0], arr.shape[1], 28, 28)
    rows, cols = arr.shape[:2]
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows + 0.3), squeeze=False)
    for r in range(rows):
        for c in range(cols):
            ax = axes[r, c]
            ax.imshow(np.clip(arr[r, c], 0, 1), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if row_labels is not None and c == 0:
                ax.set_ylabel(row_labels[r], rotation=0, ha="right", va="center", fontsize=8)
            if col_labels is not None and r == rows - 1:
                ax.set_xlabel(col_labels[c], fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_curves(x, curves: Mapping[str, Sequence[float]], xlabel: str, ylabel: str, title: str | None = None,
                logy: bool = False, ax=None, marker: str = "o"):
    """Several named curves over the same x values (for example error against k)."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for name, ys in curves.items():
        ax.plot(_np(x), _np(ys), marker=marker, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if len(curves) > 1:
        ax.legend()
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    return ax.figure


def plot_loss_curves(histories: Mapping[str, Mapping[str, Sequence[float]]], mark_best: bool = True,
                     logy: bool = True, size: float = 4.0):
    """One panel per experiment: training and validation loss per epoch, best epoch marked."""
    n = len(histories)
    fig, axes = plt.subplots(1, n, figsize=(size * n, size * 0.8), squeeze=False)
    for ax, (name, history) in zip(axes.flat, histories.items()):
        train, val = _np(history["train_loss"]), _np(history["val_loss"])
        epochs = np.arange(len(train))
        ax.plot(epochs, train, label="training")
        ax.plot(epochs, val, label="validation")
        if mark_best and len(val):
            best = int(np.argmin(val))
            ax.axvline(best, color="gray", ls="--", lw=1)
            ax.annotate(f"best epoch {best}", (best, val[best]), textcoords="offset points", xytext=(4, 8),
                        fontsize=8)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        if logy:
            ax.set_yscale("log")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_fits(x, y, fits: Mapping[str, object], title: str | None = None, ax=None, data_label: str = "data"):
    """1-D regression: the data as dots and each named fit as a curve over the same (sorted) x."""
    x, y = _np(x).reshape(-1), _np(y).reshape(-1)
    order = np.argsort(x)
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.scatter(x, y, s=8, color="gray", alpha=0.5, label=data_label)
    for name, fit in fits.items():
        ax.plot(x[order], _np(fit).reshape(-1)[order], lw=2, label=name)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    return ax.figure


def latent_plane(images, x_values, y_values, ax=None, title: str | None = None, xlabel: str = "latent 1",
                 ylabel: str = "latent 2"):
    """Digits decoded over a grid of a 2-D latent plane, drawn as one picture in latent coordinates.

    ``images [rows, cols, 28, 28]`` (or ``[rows, cols, 784]``): ``images[r, c]`` decodes the code
    ``(x_values[c], y_values[r])``. Both value lists must be increasing and evenly spaced; the top row
    of the picture is the largest ``y``, so it lines up with a scatter of the codes on the same axes.
    """
    arr = _np(images)
    rows, cols = arr.shape[:2]
    arr = np.clip(arr.reshape(rows, cols, 28, 28), 0, 1)[::-1]
    mosaic = arr.transpose(0, 2, 1, 3).reshape(rows * 28, cols * 28)
    x, y = _np(x_values).astype(float), _np(y_values).astype(float)
    dx = (x[-1] - x[0]) / (cols - 1) if cols > 1 else 1.0
    dy = (y[-1] - y[0]) / (rows - 1) if rows > 1 else 1.0
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.imshow(mosaic, cmap="gray", vmin=0, vmax=1, aspect="auto",
              extent=(x[0] - dx / 2, x[-1] + dx / 2, y[0] - dy / 2, y[-1] + dy / 2))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return ax.figure
