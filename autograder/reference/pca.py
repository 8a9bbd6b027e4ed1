"""Reference PCA and linear probe."""
from __future__ import annotations

import torch


def pca_fit(X: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    X = X.double()
    mean = X.mean(dim=0)
    _, _, Vh = torch.linalg.svd(X - mean, full_matrices=False)
    return mean, Vh[:k]


def pca_encode(X, mean, components):
    return (X.double() - mean.double()) @ components.double().T


def pca_decode(Z, mean, components):
    return Z.double() @ components.double() + mean.double()


def reconstruction_mse(X, X_hat) -> float:
    return float(((X.double() - X_hat.double()) ** 2).mean())


def explained_variance_ratio(X, mean, components):
    Xc = X.double() - mean.double()
    total = (Xc ** 2).sum()
    return ((Xc @ components.double().T) ** 2).sum(dim=0) / total


def linear_probe(Z_train, y_train, Z_test, y_test, epochs: int = 50, lr: float = 0.1, seed: int = 0,
                 batch_size: int = 256) -> float:
    """Softmax regression on standardised codes, mini-batch SGD with momentum; test accuracy."""
    generator = torch.Generator().manual_seed(seed)
    Z_train, Z_test = Z_train.float(), Z_test.float()
    mu, sd = Z_train.mean(0), Z_train.std(0).clamp_min(1e-6)
    Z_train, Z_test = (Z_train - mu) / sd, (Z_test - mu) / sd
    torch.manual_seed(seed)
    layer = torch.nn.Linear(Z_train.shape[1], 10)
    optimizer = torch.optim.SGD(layer.parameters(), lr=lr, momentum=0.9)
    n = len(Z_train)
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            loss = torch.nn.functional.cross_entropy(layer(Z_train[idx]), y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        return float((layer(Z_test).argmax(1) == y_test).float().mean())
