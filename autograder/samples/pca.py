"""Part 1 (PCA): mistakes students make, and correct answers written differently."""
NOTEBOOK = "01_pca_encoder.ipynb"
FUNCTION_CELLS = ["pca_fit", "pca_encode", "pca_decode", "reconstruction_mse", "explained_variance_ratio",
                  "linear_probe"]

FIT_HEAD = "def pca_fit(X, k):\n"

BUGGY = {
    "no_centring": ({"pca_fit_sol": FIT_HEAD + (
        "    mean = X.mean(dim=0)\n"
        "    _, _, Vh = torch.linalg.svd(X, full_matrices=False)\n"
        "    return mean, Vh[:k]\n")}, {"pca_fit"}),
    "components_as_columns": ({"pca_fit_sol": FIT_HEAD + (
        "    mean = X.mean(dim=0)\n"
        "    _, _, Vh = torch.linalg.svd(X - mean, full_matrices=False)\n"
        "    return mean, Vh[:k].T\n")}, {"pca_fit"}),
    "ascending_order": ({"pca_fit_sol": FIT_HEAD + (
        "    mean = X.mean(dim=0)\n"
        "    evals, evecs = torch.linalg.eigh(torch.cov((X - mean).T))\n"
        "    return mean, evecs[:, :k].T\n")}, {"pca_fit"}),
    "scaled_by_singular_values": ({"pca_fit_sol": FIT_HEAD + (
        "    mean = X.mean(dim=0)\n"
        "    _, S, Vh = torch.linalg.svd(X - mean, full_matrices=False)\n"
        "    return mean, S[:k, None] * Vh[:k]\n")}, {"pca_fit"}),
    "encode_without_centring": ({"pca_encode_decode_sol": (
        "def pca_encode(X, mean, components):\n    return X @ components.T\n\n"
        "def pca_decode(Z, mean, components):\n    return Z @ components + mean\n")}, {"pca_encode"}),
    "decode_without_mean": ({"pca_encode_decode_sol": (
        "def pca_encode(X, mean, components):\n    return (X - mean) @ components.T\n\n"
        "def pca_decode(Z, mean, components):\n    return Z @ components\n")}, {"pca_decode"}),
    "mse_as_sum": ({"reconstruction_mse_sol": (
        "def reconstruction_mse(X, X_hat):\n    return float(((X - X_hat) ** 2).sum())\n")},
        {"reconstruction_mse"}),
    "mse_returns_tensor": ({"reconstruction_mse_sol": (
        "def reconstruction_mse(X, X_hat):\n    return ((X - X_hat) ** 2).mean()\n")}, {"reconstruction_mse"}),
    "evr_over_kept_components": ({"explained_variance_ratio_sol": (
        "def explained_variance_ratio(X, mean, components):\n"
        "    v = (((X - mean) @ components.T) ** 2).sum(0)\n    return v / v.sum()\n")},
        {"explained_variance_ratio"}),
    "probe_trains_on_test": ({"linear_probe_sol": (
        "def linear_probe(Z_train, y_train, Z_test, y_test, epochs=50, lr=0.1):\n"
        "    layer = torch.nn.Linear(Z_test.shape[1], 10)\n"
        "    opt = torch.optim.Adam(layer.parameters(), lr=0.05)\n"
        "    for _ in range(200):\n"
        "        loss = torch.nn.functional.cross_entropy(layer(Z_test.float()), y_test)\n"
        "        opt.zero_grad(); loss.backward(); opt.step()\n"
        "    return float((layer(Z_test.float()).argmax(1) == y_test).float().mean())\n")}, {"linear_probe"}),
    "probe_constant": ({"linear_probe_sol": (
        "def linear_probe(Z_train, y_train, Z_test, y_test, epochs=50, lr=0.1):\n    return 0.97\n")},
        {"linear_probe"}),
    "fit_returns_lying_objects": ({"pca_fit_sol": (
        "class Liar(torch.Tensor):\n"
        "    def __eq__(self, other): return True\n"
        "    def __ne__(self, other): return False\n"
        "def pca_fit(X, k):\n"
        "    return torch.zeros(X.shape[1]).as_subclass(Liar), torch.zeros(k, X.shape[1]).as_subclass(Liar)\n")},
        {"pca_fit"}),
    "fit_returns_numpy": ({"pca_fit_sol": FIT_HEAD + (
        "    import numpy as np\n"
        "    Xn = X.numpy(); mean = Xn.mean(0)\n"
        "    _, _, Vh = np.linalg.svd(Xn - mean, full_matrices=False)\n"
        "    return mean, Vh[:k]\n")}, {"pca_fit"}),
}

ALTERNATIVES = {
    "eigh_flipped": {"pca_fit_sol": FIT_HEAD + (
        "    mean = X.mean(dim=0)\n"
        "    Xc = (X - mean).double()\n"
        "    evals, evecs = torch.linalg.eigh(Xc.T @ Xc / (len(X) - 1))\n"
        "    return mean, evecs.flip(1)[:, :k].T.to(X.dtype)\n")},
    "svd_float64_negated_signs": {"pca_fit_sol": FIT_HEAD + (
        "    Xd = X.double()\n"
        "    mean = Xd.mean(dim=0)\n"
        "    _, _, Vh = torch.linalg.svd(Xd - mean, full_matrices=False)\n"
        "    return mean, -Vh[:k]\n")},
    "einsum_codes": {"pca_encode_decode_sol": (
        "def pca_encode(X, mean, components):\n    return torch.einsum('nd,kd->nk', X - mean, components)\n\n"
        "def pca_decode(Z, mean, components):\n    return torch.addmm(mean.expand(len(Z), -1), Z, components)\n")},
    "mse_with_functional": {"reconstruction_mse_sol": (
        "def reconstruction_mse(X, X_hat):\n    return torch.nn.functional.mse_loss(X_hat, X).item()\n")},
    "probe_adam_full_batch": {"linear_probe_sol": (
        "def linear_probe(Z_train, y_train, Z_test, y_test, epochs=50, lr=0.1):\n"
        "    mu, sd = Z_train.float().mean(0), Z_train.float().std(0) + 1e-6\n"
        "    A, B = (Z_train.float() - mu) / sd, (Z_test.float() - mu) / sd\n"
        "    layer = torch.nn.Linear(A.shape[1], 10)\n"
        "    opt = torch.optim.Adam(layer.parameters(), lr=0.05)\n"
        "    for _ in range(max(epochs, 1) * 4):\n"
        "        loss = torch.nn.functional.cross_entropy(layer(A), y_train)\n"
        "        opt.zero_grad(); loss.backward(); opt.step()\n"
        "    with torch.no_grad():\n"
        "        return (layer(B).argmax(1) == y_test).float().mean().item()\n")},
}


# The course cycle's "partly wrong" student (autograder course): answer cells replaced by mistakes.
PARTIAL_MISTAKES = {
    "pca_encode_decode_sol": (
        "def pca_encode(X, mean, components):\n"
        "    return (X - mean) @ components.T\n\n\n"
        "def pca_decode(Z, mean, components):\n"
        "    return Z @ components  # forgot to add the mean back\n"
    ),
    "linear_probe_sol": (
        "def linear_probe(Z_train, y_train, Z_test, y_test, epochs: int = 50, lr: float = 0.1) -> float:\n"
        "    # YOUR CODE HERE\n"
        '    raise NotImplementedError("Student exercise: linear_probe")\n'
    ),
}
