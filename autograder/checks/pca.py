"""Hidden checks for part 1, ``01_pca_encoder.ipynb``: PCA as an encoder, and the linear probe.

They run on the trusted side: the student's functions are called in the kernel with grader-held data and
answer with tensors and numbers, which are compared here with the reference. Held-out digits that only
measure a result (the test half of ``mnist_split``) never enter the kernel.
"""
from __future__ import annotations

import math

import pytest
import torch

from autograder.heldout import notebook_digits
from autograder.heldout.pca import clusters, mnist_split, random_basis, synthetic
from autograder.reference import pca as ref
from autograder.studentcode import (StudentError, as_float, call, call_pure, expect_finite, expect_shape, get,
                                max_abs_diff, plain, type_name)


def student_fit(ns, X, k):
    result = call_pure(ns, "pca_fit", X, k, changed="its input X", hint="use X - mean, not X -= mean.")
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise StudentError(f"`pca_fit` should return a pair (mean, components), found {type_name(result)}"
                           + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "") + ".")
    mean, comps = plain(result[0], "pca_fit(...)[0] (mean)"), plain(result[1], "pca_fit(...)[1] (components)")
    return mean, comps


def _fit_checked(ns, X, k):
    mean, comps = student_fit(ns, X, k)
    d = X.shape[1]
    expect_shape(mean, (d,), "mean", "the mean of X over its rows (dim=0)")
    expect_shape(comps, (k, d), "components", "one principal direction per row, [k, d]; "
                 "torch.linalg.svd returns them as the rows of Vh")
    expect_finite(mean, "mean")
    expect_finite(comps, "components")
    return mean.double(), comps.double()


# ---------------------------------------------------------------- pca_fit
@pytest.mark.points(1, cell="pca_fit")
def test_fit_shapes(ns):
    """returns (mean [d], components [k, d]) for several k"""
    X = synthetic()
    for k in (1, 3, 12):
        mean, comps = _fit_checked(ns, X, k)
        if not mean.is_floating_point() or not comps.is_floating_point():
            raise StudentError("mean and components should be floating-point tensors.")


@pytest.mark.points(1, cell="pca_fit")
def test_fit_mean(ns):
    """the mean is the data mean"""
    X = synthetic(seed=12)
    mean, _ = _fit_checked(ns, X, 3)
    err = max_abs_diff(mean, X.double().mean(0))
    assert err < 1e-4, (f"expected mean = X.mean(dim=0), found a largest difference of {err:.3g}. "
                        f"Hint: average over the samples (rows), not the features.")


@pytest.mark.points(1, cell="pca_fit")
def test_fit_orthonormal(ns):
    """components have orthonormal rows"""
    mean, comps = _fit_checked(ns, synthetic(seed=13), 5)
    err = max_abs_diff(comps @ comps.T, torch.eye(5, dtype=torch.float64))
    assert err < 1e-4, (f"expected components @ components.T = identity (orthonormal rows), found a largest "
                        f"deviation of {err:.3g}. Hint: take rows of Vh from the SVD (or eigenvectors), "
                        f"and don't scale them by the singular values.")


def _principal_cosines(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """Cosines of the principal angles between the row spaces of A and B (both orthonormalised)."""
    qa, _ = torch.linalg.qr(A.T)
    qb, _ = torch.linalg.qr(B.T)
    return torch.linalg.svdvals(qa.T @ qb)


@pytest.mark.points(1, cell="pca_fit")
def test_fit_subspace(ns):
    """the components span the top-k principal subspace (sign-free)"""
    for seed, k in ((14, 2), (15, 4), (16, 7)):
        X = synthetic(seed=seed)
        _, comps = _fit_checked(ns, X, k)
        _, ref_comps = ref.pca_fit(X, k)
        cos = _principal_cosines(comps, ref_comps)
        worst = float(cos.min())
        assert worst > 1 - 1e-4, (
            f"expected the components to span the top-{k} principal subspace, found a principal angle of "
            f"{math.degrees(math.acos(max(-1.0, min(1.0, worst)))):.1f} degrees to it. Hint: centre X first, and "
            f"keep the directions of LARGEST variance.")


@pytest.mark.points(1, cell="pca_fit")
def test_fit_order(ns):
    """components are sorted by decreasing variance"""
    X = synthetic(seed=17)
    _, comps = _fit_checked(ns, X, 6)
    _, ref_comps = ref.pca_fit(X, 6)
    cos = (comps @ ref_comps.T).diagonal().abs()
    bad = [i for i in range(6) if cos[i] < 0.999]
    assert not bad, (f"expected component i to be the i-th direction of largest variance, found component "
                     f"{bad[0]} pointing elsewhere (|cosine| {float(cos[bad[0]]):.3f} with the reference). Hint: "
                     f"torch.linalg.svd sorts by decreasing singular value; torch.linalg.eigh sorts ascending.")


@pytest.mark.points(1, cell="pca_fit")
def test_fit_mnist_optimal(ns):
    """on held-out MNIST digits, reconstruction is within 1% of the best rank-k error"""
    X_tr, _, X_te, _ = mnist_split(seed=1)
    for k in (2, 8, 32):
        mean, comps = _fit_checked(ns, X_tr, k)
        _, ref_comps = ref.pca_fit(X_tr, k)
        ref_mean = X_tr.double().mean(0)
        mse = ref.reconstruction_mse(X_te, ref.pca_decode(ref.pca_encode(X_te, mean, comps), mean, comps))
        best = ref.reconstruction_mse(X_te, ref.pca_decode(ref.pca_encode(X_te, ref_mean, ref_comps), ref_mean,
                                                           ref_comps))
        assert mse <= best * 1.01, (f"expected a test MSE within 1% of the optimal rank-{k} reconstruction "
                                    f"({best:.5f}), found {mse:.5f} with your mean and components.")


@pytest.mark.points(1, cell="pca_fit")
def test_fit_dtypes(ns):
    """works for float32 and float64 input and leaves X unchanged"""
    for dtype in (torch.float32, torch.float64):
        X = synthetic(seed=18, dtype=dtype)
        _, comps = _fit_checked(ns, X, 3)
        _, ref_comps = ref.pca_fit(X, 3)
        worst = float(_principal_cosines(comps, ref_comps).min())
        assert worst > 1 - 1e-4, f"with {dtype} input, the components are not the top-3 principal directions."


# ---------------------------------------------------------------- pca_encode / pca_decode
def _encode(ns, X, mean, comps):
    Z = plain(call_pure(ns, "pca_encode", X, mean, comps), "pca_encode")
    expect_finite(Z, "pca_encode")
    return Z


def _decode(ns, Z, mean, comps):
    X_hat = plain(call_pure(ns, "pca_decode", Z, mean, comps), "pca_decode")
    expect_finite(X_hat, "pca_decode")
    return X_hat


@pytest.mark.points(1, cell="pca_encode")
def test_encode_values(ns):
    """codes are the centred data projected on the components"""
    g = torch.Generator().manual_seed(21)
    X = torch.randn(50, 12, generator=g, dtype=torch.float64) * 3 + 5
    mean, comps = random_basis(12, 4, seed=22)
    Z = _encode(ns, X, mean, comps)
    expect_shape(Z, (50, 4), "pca_encode(X, mean, components)", "codes are [n, k]")
    expected = ref.pca_encode(X, mean, comps)
    err = max_abs_diff(Z, expected)
    hint = " Hint: subtract the mean before projecting." if max_abs_diff(Z, X @ comps.T) < 1e-6 else \
        " Hint: Z = (X - mean) @ components.T."
    assert err < 1e-6 * (1 + float(expected.abs().max())), \
        f"expected codes (X - mean) @ components.T, found a largest difference of {err:.3g}.{hint}"


@pytest.mark.points(1, cell="pca_encode")
def test_encode_shapes(ns):
    """works for k = 1, float32 input, and leaves its inputs unchanged"""
    X = synthetic(n=30, seed=23)
    mean, comps = random_basis(12, 1, seed=24)
    Z = _encode(ns, X, mean.float(), comps.float())
    expect_shape(Z, (30, 1), "pca_encode with one component")
    err = max_abs_diff(Z, ref.pca_encode(X, mean.float(), comps.float()))
    assert err < 1e-3, f"with float32 input and k = 1, expected the reference codes, found a difference of {err:.3g}."


@pytest.mark.points(1, cell="pca_decode")
def test_decode_values(ns):
    """reconstruction is codes @ components + mean"""
    g = torch.Generator().manual_seed(31)
    Z = torch.randn(40, 3, generator=g, dtype=torch.float64)
    mean, comps = random_basis(12, 3, seed=32)
    X_hat = _decode(ns, Z, mean, comps)
    expect_shape(X_hat, (40, 12), "pca_decode(Z, mean, components)", "reconstructions are [n, d]")
    expected = ref.pca_decode(Z, mean, comps)
    err = max_abs_diff(X_hat, expected)
    hint = " Hint: add the mean back." if max_abs_diff(X_hat, Z @ comps) < 1e-6 else \
        " Hint: X_hat = Z @ components + mean."
    assert err < 1e-6 * (1 + float(expected.abs().max())), \
        f"expected Z @ components + mean, found a largest difference of {err:.3g}.{hint}"


@pytest.mark.points(1, cell="pca_decode")
def test_decode_roundtrip(ns):
    """with all d components, decode(encode(X)) gives X back"""
    X = synthetic(n=60, seed=33, dtype=torch.float64)
    mean, comps = ref.pca_fit(X, 12)
    X_back = _decode(ns, ref.pca_encode(X, mean, comps), mean, comps)
    expect_shape(X_back, tuple(X.shape), "pca_decode")
    err = max_abs_diff(X_back, X)
    assert err < 1e-6 * (1 + float(X.abs().max())), \
        f"expected a perfect reconstruction with k = d components, found a largest error of {err:.3g}."


# ---------------------------------------------------------------- reconstruction_mse
@pytest.mark.points(1, cell="reconstruction_mse")
def test_mse_value(ns):
    """the mean over every entry of the squared error"""
    g = torch.Generator().manual_seed(41)
    X, X_hat = torch.rand(37, 19, generator=g), torch.rand(37, 19, generator=g)
    value = as_float(call(ns, "reconstruction_mse", X, X_hat), "reconstruction_mse")
    expected = ref.reconstruction_mse(X, X_hat)
    hint = ""
    if math.isclose(value, expected * X.numel(), rel_tol=1e-4):
        hint = " Hint: that is the sum; take the mean over every entry."
    elif math.isclose(value, expected * X.shape[1], rel_tol=1e-4):
        hint = " Hint: that averages over rows only; average over every entry."
    assert math.isclose(value, expected, rel_tol=1e-5), f"expected {expected:.6f}, found {value:.6f}.{hint}"


@pytest.mark.points(1, cell="reconstruction_mse")
def test_mse_properties(ns):
    """a Python float, zero for a perfect reconstruction, inputs unchanged"""
    X = synthetic(n=20, seed=42)
    zero = as_float(call_pure(ns, "reconstruction_mse", X, X.clone(), changed="its input"), "reconstruction_mse")
    assert abs(zero) < 1e-12, f"expected 0.0 for identical inputs, found {zero}."
    value = as_float(call_pure(ns, "reconstruction_mse", X, X + 0.5, changed="its input"), "reconstruction_mse")
    assert math.isclose(value, 0.25, rel_tol=1e-5), f"expected 0.25 for an error of 0.5 everywhere, found {value}."


# ---------------------------------------------------------------- explained_variance_ratio
def _evr(ns, X, mean, comps, k):
    ratio = plain(call(ns, "explained_variance_ratio", X, mean, comps), "explained_variance_ratio")
    expect_shape(ratio, (k,), "explained_variance_ratio", "one share per component")
    expect_finite(ratio, "explained_variance_ratio")
    return ratio


@pytest.mark.points(1, cell="explained_variance_ratio")
def test_evr_values(ns):
    """each component's share of the total variance"""
    X = synthetic(seed=51, dtype=torch.float64)
    mean, comps = ref.pca_fit(X, 4)
    ratio = _evr(ns, X, mean, comps, 4)
    expected = ref.explained_variance_ratio(X, mean, comps)
    err = max_abs_diff(ratio, expected)
    assert err < 1e-5, (f"expected shares {[round(v, 4) for v in expected.tolist()]}, found "
                        f"{[round(v, 4) for v in ratio.tolist()]}. Hint: divide each component's variance by the "
                        f"TOTAL variance of X (all d directions), not by the sum over the k components.")


@pytest.mark.points(1, cell="explained_variance_ratio")
def test_evr_full(ns):
    """with all components the shares sum to 1 and decrease"""
    X = synthetic(seed=52)
    mean, comps = ref.pca_fit(X, 12)
    ratio = _evr(ns, X, mean.float(), comps.float(), 12)
    total = float(ratio.double().sum())
    assert abs(total - 1) < 1e-4, f"expected the shares of all d components to sum to 1, found {total:.6f}."
    assert bool((ratio[:-1] >= ratio[1:] - 1e-6).all()), "expected decreasing shares for sorted components."


# ---------------------------------------------------------------- linear_probe
def _probe(ns, *args, **kwargs) -> float:
    args = [a.clone() for a in args]
    value = as_float(call(ns, "linear_probe", *args, **kwargs), "linear_probe")
    assert 0.0 <= value <= 1.0, f"`linear_probe` should return an accuracy in [0, 1], found {value}."
    return value


@pytest.mark.points(1, cell="linear_probe")
def test_probe_returns_accuracy(ns):
    """returns a Python float in [0, 1], for codes of any width (k = 1 included)"""
    for k in (1, 3):
        Z, y = clusters(300, k, seed=60 + k)
        _probe(ns, Z[:200], y[:200], Z[200:], y[200:], epochs=5)


@pytest.mark.points(1, cell="linear_probe")
def test_probe_separable(ns):
    """near-perfect accuracy on well-separated codes"""
    Z, y = clusters(1200, 6, seed=62)
    acc = _probe(ns, Z[:800], y[:800], Z[800:], y[800:])
    assert acc >= 0.95, (f"expected at least 0.95 test accuracy on ten well-separated clusters, found {acc:.3f}. "
                         f"Hint: train a torch.nn.Linear(k, 10) with cross-entropy for the given epochs.")


@pytest.mark.points(1, cell="linear_probe")
def test_probe_uses_training_labels_only(ns):
    """learns from the training codes only (no peeking at the test labels)"""
    g = torch.Generator().manual_seed(63)
    Z_test, y_test = clusters(400, 6, seed=64)
    Z_train = torch.randn(400, 6, generator=g) * 4
    y_train = torch.randint(0, 10, (400,), generator=g)
    acc = _probe(ns, Z_train, y_train, Z_test, y_test)
    assert acc < 0.4, (f"trained on codes whose labels are pure noise, the probe still scored {acc:.2f} on the "
                       f"test set (chance is 0.1): it must be learning from the test labels. Hint: use y_test "
                       f"only to measure the accuracy at the end.")
    Z, y = clusters(600, 4, seed=65)
    shuffled = y[400:][torch.randperm(200, generator=g)]
    acc_true = _probe(ns, Z[:400], y[:400], Z[400:], y[400:])
    acc_wrong = _probe(ns, Z[:400], y[:400], Z[400:], shuffled)
    assert acc_true - acc_wrong > 0.5, (f"the accuracy barely changed when the test labels were shuffled "
                                        f"({acc_true:.2f} vs {acc_wrong:.2f}): it should compare the predictions "
                                        f"with y_test.")


PROBE_MARGIN = 0.05


@pytest.mark.points(1, cell="linear_probe")
def test_probe_mnist(ns):
    """on PCA codes of MNIST, within 0.05 of the grader's probe on three seeds"""
    for seed in (1, 2, 3):
        X_tr, y_tr, X_te, y_te = mnist_split(seed=seed, n_train=2000, n_test=800)
        mean, comps = ref.pca_fit(X_tr, 16)
        Z_tr, Z_te = ref.pca_encode(X_tr, mean, comps).float(), ref.pca_encode(X_te, mean, comps).float()
        torch.manual_seed(seed)
        acc = _probe(ns, Z_tr, y_tr, Z_te, y_te)
        expected = ref.linear_probe(Z_tr, y_tr, Z_te, y_te, seed=seed)
        assert acc >= expected - PROBE_MARGIN, (
            f"on 16 PCA components of MNIST (data seed {seed}), expected an accuracy of at least "
            f"{expected - PROBE_MARGIN:.3f} (the grader's probe reaches {expected:.3f}), found {acc:.3f}. Hint: "
            f"standardise the codes with the training mean and std, and use mini-batches.")


# ---------------------------------------------------------------- the student's own numbers
def _own_probe_table(ns) -> dict:
    table = get(ns, "probe_accuracy", kind="dict")
    if not isinstance(table, dict):
        raise StudentError(f"expected `probe_accuracy` to be a dict {{k: accuracy}}, found {type_name(table)}.")
    missing = [k for k in (2, 8, 32, 784) if k not in table]
    if missing:
        raise StudentError(f"expected `probe_accuracy` to have the keys 2, 8, 32 and 784, missing {missing}.")
    return {k: as_float(table[k], f"probe_accuracy[{k}]") for k in (2, 8, 32, 784)}


TABLE_TOLERANCE = 0.03  # the table against the student's own probe, rerun
RECOMPUTED_MARGIN = PROBE_MARGIN + TABLE_TOLERANCE  # the table against the grader's probe on the same codes


@pytest.mark.points(1, cell="probe_results")
def test_probe_table_reproduces(ns):
    """the notebook's probe accuracies come from its own probe on its own PCA codes"""
    table = _own_probe_table(ns)
    _, y_train, _, y_test = notebook_digits()
    for k in (2, 8):
        mean, comps = student_fit(ns, ns.ref("X_train"), k)
        Z_tr = plain(call(ns, "pca_encode", ns.ref("X_train"), mean, comps), "pca_encode").float()
        Z_te = plain(call(ns, "pca_encode", ns.ref("X_test"), mean, comps), "pca_encode").float()
        expect_shape(Z_tr, (len(y_train), k), "pca_encode(X_train, mean, components)")
        expect_shape(Z_te, (len(y_test), k), "pca_encode(X_test, mean, components)")
        graders = ref.linear_probe(Z_tr, y_train, Z_te, y_test, seed=0)
        assert abs(table[k] - graders) <= RECOMPUTED_MARGIN, (
            f"`probe_accuracy[{k}]` is {table[k]:.3f}, but on the {k}-component codes of your pca_fit the grader's "
            f"probe reaches {graders:.3f}. Hint: fill the table with linear_probe's results; don't type them in.")
        torch.manual_seed(0)
        recomputed = _probe(ns, Z_tr, y_train, Z_te, y_test)
        assert abs(recomputed - table[k]) <= TABLE_TOLERANCE, (
            f"`probe_accuracy[{k}]` is {table[k]:.3f}, but your linear_probe on the notebook's {k}-component PCA "
            f"codes gives {recomputed:.3f}. Hint: fill the table with linear_probe's results; don't type them in.")


@pytest.mark.points(1, cell="probe_results")
def test_probe_table_ordering(ns):
    """more components carry more label information: accuracy grows from k = 2 to 8 to 32"""
    t = _own_probe_table(ns)
    assert t[2] < t[8] < t[32], (f"expected accuracy to grow with k, found k=2: {t[2]:.3f}, k=8: {t[8]:.3f}, "
                                 f"k=32: {t[32]:.3f}.")
    assert t[32] > 0.8 and t[784] > 0.8, (f"expected above 0.8 with 32 components and with raw pixels, found "
                                          f"{t[32]:.3f} and {t[784]:.3f}.")
