NOTEBOOK = "01_pca_encoder.ipynb"
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
