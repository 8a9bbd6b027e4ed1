"""Hidden checks for part 4, ``04_autoencoder.ipynb``: the autoencoder on MNIST.

Grader-held data comes from MNIST's TEST split (the notebook trains on the training split only);
grader-made models, loaders and decoders are seeded inside each check. The quality check trains
the student's ``Autoencoder`` with the grader's own fixed recipe (``QUALITY_RECIPE``), so it judges
the architecture, not the student's training loop.

Measured on this machine (one torch thread, 2 cores shared with other work), with QUALITY_RECIPE at k = 2 on
split seeds 0 / 1 / 2 (the check itself uses seed 0): PCA's held-out MSE is 0.0557 / 0.0554 / 0.0559, so the
bar (QUALITY_RATIO x PCA) is 0.0529 / 0.0526 / 0.0531. The reference (784-256-k MLP) reaches
0.0488 / 0.0496 / 0.0487, at least 0.003 (6%) under the bar; a 784-512-128-k MLP 0.0433 / 0.0437 / 0.0449; a
small convolutional autoencoder 0.0453 / 0.0443 / 0.0452; a linear autoencoder 0.0566 / 0.0560 / 0.0568 and
one with only a sigmoid output 0.0554 / 0.0551 / 0.0555, at least 0.0025 over the bar. The grader's training
takes 3.4 s of CPU for the reference (5-8 s wall on the shared machine), 7-18 s wall for the convolutional one.

The textbook convolutional autoencoder (samples: ``textbook_conv_autoencoder``, 32/64 channels, a ReLU right after
the Linear that expands the code) sits on the plateau where every output pixel is ~0: 0.0646 here (it only leaves
the plateau in epoch 4; training loss 0.139, 0.132, 0.129, 0.097, 0.068) and 0.124 under the same recipe on the
notebook's own digits (course_utils.selfcheck.check_grader_budget), ~20 s of CPU. Failing messages carry the
diagnosis of course_utils.diagnose ("not learning" for it); the recipe's one home is course_utils.selfcheck.

The checks run on the trusted side. Everything that MEASURES a model (its error on held-out digits, beating PCA,
its codes for the probe table) is measured on the model's graph: the kernel exports the encoder and the decoder
as graphs of torch operations with their weights (:func:`autograder.inkernel.recipes.export`), and this side
evaluates them itself (:mod:`autograder.graph`) on digits that never enter the kernel. A decoder that remembers
what its encoder saw, or a "model" that hands back its input, cannot pass: whatever its forward pass did in Python
is frozen into the graph, and the graph's output must come from the code alone (the bottleneck is enforced by
evaluating the encoder and the decoder separately). Structural checks (shapes, ranges, the training loop) call the
student's code in the kernel and judge the data it returns; the training loop is judged by the weights it leaves,
recomputed here.
"""
from __future__ import annotations

import math
import time

import pytest
import torch

from autograder import graph as graphs
from autograder.checks import pca as part1
from autograder.heldout import mnist_flat
from autograder.heldout.autoencoder import held_out, images, notebook_digits
from autograder.heldout.pca import mnist_split
from autograder.inkernel import recipes
from autograder.reference import autoencoder as ref
from autograder.reference import pca as ref_pca
from autograder.remote import Handle, RemoteError
from autograder.source import calls_builtin
from autograder.studentcode import (CheckTimeout, StudentError, as_float, call, call_pure, expect_finite, expect_shape,
                                get, is_instance, plain, type_name)
from course_utils import selfcheck
from course_utils.diagnose import diagnose_training, mean_image_mse


LATENT_SIZES = (2, 8, 32)
MAX_PARAMETERS = 3_000_000
# The recipe's one home is course_utils.selfcheck.GRADER_RECIPE: students run the same loop on their own digits
# (check_grader_budget). Here it is applied to grader-held digits: split_seed picks them (and seeds the batch
# order, as order_seed does for students), n_test of them are held out.
QUALITY_RECIPE = dict(k=selfcheck.GRADER_RECIPE["k"], split_seed=selfcheck.GRADER_RECIPE["order_seed"],
                      n_train=selfcheck.GRADER_RECIPE["n_train"], n_test=2000,
                      epochs=selfcheck.GRADER_RECIPE["epochs"], lr=selfcheck.GRADER_RECIPE["lr"],
                      batch_size=selfcheck.GRADER_RECIPE["batch_size"], init_seed=selfcheck.GRADER_RECIPE["init_seed"])
QUALITY_RATIO = selfcheck.PCA_RATIO  # 0.95: the held-out MSE must be at most 95% of PCA's at the same latent size
# A held-out MSE at k = 2 below half of PCA's is beyond what any trained model reached here (the best, a
# 784-512-128-k MLP, 78% under the recipe; a well-trained model stays above 60%): the submission is flagged for a
# person, who looks for a model that knows the held-out digits instead of reconstructing them.
IMPLAUSIBLE_RATIO = 0.5
TRACE_BATCH = 200  # the batch a model is traced with, and evaluated in


# ---------------------------------------------------------------- helpers
def _module(ns, name: str, *args, **kwargs) -> Handle:
    """A new student ``name(*args)`` in the kernel, built right after torch.manual_seed(seed)."""
    ns.call({"path": "torch.manual_seed"}, kwargs.pop("seed", 0))
    obj = call(ns, name, *args, **kwargs)
    if not is_instance(obj):
        raise StudentError(f"expected `{name}(...)` to build a torch.nn.Module, found {type_name(obj)}. "
                           f"Hint: subclass nn.Module and call super().__init__() first.")
    try:
        obj.method("cpu")
    except RemoteError:
        pass
    return obj


def _forward(module: Handle, name: str, x: torch.Tensor, what: str) -> torch.Tensor:
    out = plain(call(module, name, x), what)
    expect_finite(out, what)
    return out


def _state(module: Handle) -> dict:
    try:
        return module.remote.recipe("state", module)
    except RemoteError as exc:
        raise StudentError(f"the grader could not read the model's parameters ({exc}).") from None


def n_parameters(module: Handle) -> int:
    return sum(int(t.numel()) for _, t in _state(module)["params"] if isinstance(t, torch.Tensor))


def _submodule(model: Handle, attr: str) -> Handle:
    try:
        part = model.attr(attr)
    except RemoteError:
        part = None
    if not isinstance(part, Handle) or not is_instance(part):
        raise StudentError(f"expected `Autoencoder(...).{attr}` to be an nn.Module, found "
                           f"{type_name(part) if part is not None else 'none'}. Hint: set self.{attr} = "
                           f"{'Encoder' if attr == 'encoder' else 'Decoder'}(latent_dim) in __init__.")
    return part


def _set_mode(model: Handle, training: bool) -> None:
    try:
        model.method("train", training)
    except RemoteError as exc:
        raise StudentError(f"`model.train({training})` failed: {exc}. Hint: don't override train() or eval().") from None


# ---------------------------------------------------------------- models as graphs, measured here
def model_graph(part: Handle, example: torch.Tensor, what: str) -> tuple[graphs.Graph, tuple]:
    """``part``'s forward pass (eval mode) as a graph, checked on shapes: (the graph, its output's shape)."""
    try:
        data = part.remote.recipe("export", part, example)
    except RemoteError as exc:
        if exc.kind == "timeout":
            raise CheckTimeout(exc.message) from None
        raise StudentError(
            f"the grader evaluates `{what}` as a graph of torch operations, and its forward pass could not be traced "
            f"({exc.type}: {exc.message[:200]}). Hint: in forward, use torch operations on tensors only: no .item(), "
            f".tolist(), NumPy, or Python decisions on tensor values.") from None
    try:
        g = graphs.load(data)
        shape = tuple(g.check(example))
    except graphs.GraphError as exc:
        raise StudentError(f"`{what}`: {exc}") from None
    return g, shape


def model_graphs(model: Handle, k: int) -> tuple[graphs.Graph, graphs.Graph]:
    """The encoder and the decoder of a student's model, each as its own graph (the bottleneck between them)."""
    encoder, decoder = _submodule(model, "encoder"), _submodule(model, "decoder")
    g_enc, shape = model_graph(encoder, images(TRACE_BATCH, seed=8), "model.encoder")
    if shape != (TRACE_BATCH, k):
        raise StudentError(f"`model.encoder(x)` should give one code of {k} numbers per digit, shape "
                           f"{(TRACE_BATCH, k)}, found {shape}.")
    codes = torch.randn(TRACE_BATCH, k, generator=torch.Generator().manual_seed(9))
    g_dec, shape = model_graph(decoder, codes, "model.decoder")
    if math.prod(shape) != TRACE_BATCH * 784:
        raise StudentError(f"`model.decoder(z)` should give 784 pixels per code, found shape {shape}.")
    return g_enc, g_dec


def reconstruct(pair: tuple[graphs.Graph, graphs.Graph], X: torch.Tensor, k: int) -> torch.Tensor:
    """decoder(encoder(X)) [n, 784], computed here from the two graphs."""
    g_enc, g_dec = pair
    try:
        Z = g_enc(X)
        expect_shape(Z, (len(X), k), "model.encoder(x)", "one code of latent_dim numbers per digit")
        out = g_dec(Z.float()).reshape(len(X), 784)
    except graphs.GraphError as exc:
        raise StudentError(str(exc)) from None
    expect_finite(out, "model.decoder(model.encoder(x))")
    return out


def bottleneck_reconstruction(model: Handle, X: torch.Tensor, k: int) -> torch.Tensor:
    """The student's model's reconstruction of digits that never enter the kernel."""
    return reconstruct(model_graphs(model, k), X, k)


def codes_of(model: Handle, X: torch.Tensor, k: int) -> torch.Tensor:
    """The student's encoder's codes of X [n, k], computed here from its graph."""
    g_enc, _ = model_graphs(model, k)
    Z = g_enc(X)
    expect_shape(Z, (len(X), k), "model.encoder(X)")
    return Z.float()


def mse(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a.double() - b.double()) ** 2).mean())


def flag_if_implausible(ns, got: float, pca: float, what: str) -> None:
    if got < IMPLAUSIBLE_RATIO * pca:
        ns.review(f"{what} reaches a held-out MSE of {got:.4f} at k = 2, below {IMPLAUSIBLE_RATIO:.0%} of PCA's "
                  f"{pca:.4f}: trained models stay above 60%. Look for a model that knows the held-out digits "
                  f"(a lookup of stored images) instead of reconstructing them.")


_PCA_CACHE: dict = {}


def pca_basis(X: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """PCA's mean and top-k directions of X (float64), from the 784 x 784 scatter matrix; cached per data set."""
    X = X.reshape(len(X), -1).double()
    key = (tuple(X.shape), float(X.sum()), float((X * torch.arange(X.shape[1], dtype=X.dtype)).sum()))
    if key not in _PCA_CACHE:
        mean = X.mean(dim=0)
        Xc = X - mean
        _, vectors = torch.linalg.eigh(Xc.T @ Xc)
        _PCA_CACHE.clear()
        _PCA_CACHE[key] = (mean, vectors.flip(1).T.contiguous())
    mean, rows = _PCA_CACHE[key]
    return mean, rows[:k]


def pca_test_mse(X_train: torch.Tensor, X_test: torch.Tensor, k: int) -> float:
    mean, comps = pca_basis(X_train, k)
    return ref_pca.reconstruction_mse(X_test, ref_pca.pca_decode(ref_pca.pca_encode(X_test, mean, comps), mean,
                                                                 comps))


# ---------------------------------------------------------------- Encoder / Decoder
@pytest.mark.points(1, cell="encoder_decoder")
def test_encoder_shapes(ns):
    """Encoder(k) maps [n, 784] and [n, 1, 28, 28] digits to [n, k] codes, for k = 2, 8, 32"""
    X = images(16, seed=1)
    for k in LATENT_SIZES:
        enc = _module(ns, "Encoder", k) if k != 8 else _module(ns, "Encoder", k, input_dim=784)
        for x, layout in ((X, "[n, 784]"), (X.reshape(16, 1, 28, 28), "[n, 1, 28, 28]")):
            z = _forward(enc, "Encoder.forward", x, f"Encoder({k})(x)")
            expect_shape(z, (16, k), f"Encoder({k})(x) for x of shape {layout}",
                         "the last layer should have latent_dim outputs (use the argument, not a fixed number); "
                         "flatten image-shaped input first (nn.Flatten() or x.reshape(len(x), -1))")


@pytest.mark.points(1, cell="encoder_decoder")
def test_decoder_shapes(ns):
    """Decoder(k) maps [n, k] codes to [n, 784] images, for k = 2, 8, 32"""
    g = torch.Generator().manual_seed(2)
    for k in LATENT_SIZES:
        dec = _module(ns, "Decoder", k) if k != 8 else _module(ns, "Decoder", k, output_dim=784)
        out = _forward(dec, "Decoder.forward", torch.randn(16, k, generator=g), f"Decoder({k})(z)")
        expect_shape(out, (16, 784), f"Decoder({k})(z) for z of shape (16, {k})",
                     "the first layer should take latent_dim inputs and the last give 784 outputs")


@pytest.mark.points(1, cell="encoder_decoder")
def test_decoder_range(ns):
    """decoder outputs lie in [0, 1], like the pixels, even for codes far from the data"""
    g = torch.Generator().manual_seed(3)
    for k in (2, 32):
        dec = _module(ns, "Decoder", k, seed=k)
        for scale in (1.0, 30.0):
            out = _forward(dec, "Decoder.forward", scale * torch.randn(64, k, generator=g), f"Decoder({k})(z)")
            lo, hi = float(out.min()), float(out.max())
            assert lo >= 0.0 and hi <= 1.0, (
                f"expected every decoded pixel in [0, 1], found values from {lo:.3g} to {hi:.3g} for codes of "
                f"scale {scale:g}. Hint: end the decoder with nn.Sigmoid(), which squashes any number into "
                f"(0, 1).")


@pytest.mark.points(1, cell="encoder_decoder")
def test_parameter_ceiling(ns):
    """Encoder(32) and Decoder(32) together have at most 3,000,000 parameters (they train on a CPU)"""
    total = n_parameters(_module(ns, "Encoder", 32)) + n_parameters(_module(ns, "Decoder", 32))
    assert total > 0, "expected the encoder and decoder to have trainable parameters, found none."
    assert total <= MAX_PARAMETERS, (
        f"expected at most {MAX_PARAMETERS:,} parameters, found {total:,}. Hint: hidden layers of a few hundred "
        f"units are plenty for MNIST (784-256-k has about 200,000 per half).")


# ---------------------------------------------------------------- Autoencoder
@pytest.mark.points(1, cell="autoencoder")
def test_autoencoder_shapes(ns):
    """Autoencoder(k) has .encoder and .decoder and reconstructs x with x's shape (both layouts, k = 2, 8, 32)"""
    X = images(12, seed=4)
    for k in LATENT_SIZES:
        model = _module(ns, "Autoencoder", k)
        _submodule(model, "encoder")
        _submodule(model, "decoder")
        for x in (X, X.reshape(12, 1, 28, 28)):
            out = _forward(model, "Autoencoder.forward", x, f"Autoencoder({k})(x)")
            expect_shape(out, tuple(x.shape), f"Autoencoder({k})(x) for x of shape {tuple(x.shape)}",
                         "reshape the decoder's [n, 784] output back to x.shape")


@pytest.mark.points(1, cell="autoencoder")
def test_autoencoder_goes_through_bottleneck(ns):
    """the reconstruction is decoder(encoder(x)), through a code of latent_dim numbers"""
    X = images(12, seed=5)
    for k in (2, 8):
        model = _module(ns, "Autoencoder", k)
        _set_mode(model, False)
        out = _forward(model, "Autoencoder.forward", X, f"Autoencoder({k})(x)")
        through = reconstruct(model_graphs(model, k), X, k)
        err = float((out.reshape(12, 784).double() - through.double()).abs().max()) if out.numel() == 12 * 784 \
            else math.inf
        assert err < 1e-5, (f"expected Autoencoder({k})(x) to equal decoder(encoder(x)), found a largest "
                            f"difference of {err:.3g}. Hint: forward should only encode, decode and reshape.")


@pytest.mark.points(1, cell="autoencoder")
def test_autoencoder_deterministic_in_eval(ns):
    """in eval() mode the same input gives the same reconstruction"""
    X = images(20, seed=6, flat=False)
    model = _module(ns, "Autoencoder", 8)
    _set_mode(model, False)
    a = _forward(model, "Autoencoder.forward", X, "Autoencoder(8)(x)")
    b = _forward(model, "Autoencoder.forward", X, "Autoencoder(8)(x)")
    err = float((a.double() - b.double()).abs().max()) if a.shape == b.shape else math.inf
    assert err == 0.0, (f"expected two calls in eval() mode to agree, found a largest difference of {err:.3g}. "
                        f"Hint: no random noise in forward outside training (nn.Dropout is fine: eval() turns "
                        f"it off).")


LOADING = {"load", "load_state_dict", "load_state_dict_from_url", "from_pretrained", "hub", "urlopen", "urlretrieve"}


@pytest.mark.points(1, cell="autoencoder")
def test_autoencoder_fresh_weights(ns):
    """a new Autoencoder starts from fresh random weights (nothing loaded), within 3,000,000 parameters"""
    used = calls_builtin(ns.cells, "Autoencoder", LOADING)
    assert not used, (f"expected the model to start from random weights, found {used[0]} in the code that builds "
                      f"it. Hint: build the layers in __init__ and let training set the weights; don't load saved "
                      f"ones.")
    X = images(8, seed=7)
    states = []
    for seed in (1, 2):
        model = _module(ns, "Autoencoder", 8, seed=seed)
        _forward(model, "Autoencoder.forward", X, "Autoencoder(8)(x)")
        states.append([t for _, t in _state(model)["params"] if isinstance(t, torch.Tensor)])
    a, b = states
    assert a and any(p.numel() for p in a), "expected the autoencoder to have trainable parameters, found none."
    same = len(a) == len(b) and all(x.shape == y.shape and torch.equal(x, y) for x, y in zip(a, b))
    assert not same, ("expected different random weights for different seeds, found identical ones. Hint: "
                      "initialise the layers randomly (nn.Linear does) instead of setting fixed values.")
    total = sum(int(p.numel()) for p in a)
    assert total <= MAX_PARAMETERS, f"expected at most {MAX_PARAMETERS:,} parameters, found {total:,}."


# ---------------------------------------------------------------- train_autoencoder
# The grader's model for the loop's checks: a small MLP autoencoder built in the kernel from torch's layers, with
# the same weights as this side's copy, so the weights the student's loop leaves can be judged here.
GRADERS_MODEL = [["Linear", 784, 256], ["ReLU"], ["Linear", 256, 8], ["Linear", 8, 256], ["ReLU"],
                 ["Linear", 256, 784], ["Sigmoid"]]


def _train_setup(ns, seed: int, n: int = 1024, with_labels: bool = True, batch_size: int = 128):
    """(the model in the kernel, this side's copy of it, the loader in the kernel, the digits)."""
    X, y = mnist_flat("test", n=n, seed=30_000 + seed)
    torch.manual_seed(seed)
    local = recipes.sequential(GRADERS_MODEL)
    model = ns.recipe("sequential", GRADERS_MODEL)
    ns.recipe("load_state", model, {name: t for name, t in local.state_dict().items()})
    make_loader = ns.path("course_utils.data.make_loader")
    loader = make_loader(X, y, batch_size=batch_size, seed=seed) if with_labels else \
        make_loader(X, batch_size=batch_size, seed=seed)
    return model, local, loader, X


def _history(ns, model, loader, epochs, **kwargs) -> list[float]:
    result = call(ns, "train_autoencoder", model, loader, epochs, **kwargs)
    if not isinstance(result, (list, tuple)):
        raise StudentError(f"`train_autoencoder` should return a list of floats (one per epoch), found "
                           f"{type_name(result)}.")
    if len(result) != epochs:
        raise StudentError(f"expected one loss per epoch ({epochs} values for epochs={epochs}), found "
                           f"{len(result)}. Hint: append the epoch's mean loss once, after its last batch.")
    return [as_float(v, f"train_autoencoder(...)[{i}]") for i, v in enumerate(result)]


def _weights(model: Handle) -> list[torch.Tensor]:
    return [t for _, t in _state(model)["params"]]


def _pulled(model: Handle, local) -> torch.nn.Module:
    """This side's copy with the weights the kernel's model has now."""
    params = dict(_state(model)["params"])
    with torch.no_grad():
        for name, p in local.named_parameters():
            if not isinstance(params.get(name), torch.Tensor) or params[name].shape != p.shape:
                raise StudentError("training replaced the model's layers. Hint: train the model you were given.")
            p.copy_(params[name])
    return local


def _current_mse(local, X) -> float:
    local.eval()
    with torch.no_grad():
        return mse(local(X), X)


@pytest.mark.points(1, cell="train_autoencoder")
def test_train_returns_history(ns):
    """returns one Python float per epoch, for loaders of (x,) and of (x, y) batches"""
    for with_labels in (False, True):
        model, _, loader, _ = _train_setup(ns, seed=1, n=512, with_labels=with_labels)
        history = _history(ns, model, loader, 2)
        assert all(v > 0 for v in history), f"expected positive mean squared errors, found {history}."


@pytest.mark.points(1, cell="train_autoencoder")
def test_train_loss_goes_down(ns):
    """on a grader-held loader the loss goes down epoch by epoch, and the model really improves"""
    model, local, loader, X = _train_setup(ns, seed=2)
    before = _current_mse(local, X)
    history = _history(ns, model, loader, 3)
    assert all(b < a for a, b in zip(history, history[1:])), (
        f"expected the epoch losses to go down, found {[round(v, 4) for v in history]}. Hint: every batch: "
        f"zero the gradients, compute the loss, backward, then optimizer.step().")
    after = _current_mse(_pulled(model, local), X)
    assert after < 0.8 * before, (f"expected training to lower the model's error on its data, found {before:.4f} "
                                  f"before and {after:.4f} after 3 epochs.")


@pytest.mark.points(1, cell="train_autoencoder")
def test_train_steps_the_optimizer(ns):
    """the parameters change (Adam steps with the given lr) and stay put with lr = 0"""
    model, _, loader, _ = _train_setup(ns, seed=3, n=256)
    start = _weights(model)
    _history(ns, model, loader, 1)
    moved = max(float((p - q).abs().max()) for p, q in zip(_weights(model), start))
    assert moved > 0, ("expected the parameters to change during training, found them unchanged. Hint: build "
                       "the optimizer on model.parameters() and call optimizer.step() after loss.backward().")
    model, _, loader, _ = _train_setup(ns, seed=3, n=256)
    start = _weights(model)
    _history(ns, model, loader, 1, lr=0.0)
    moved = max(float((p - q).abs().max()) for p, q in zip(_weights(model), start))
    assert moved == 0, (f"with lr=0 the parameters still moved (by up to {moved:.3g}). Hint: pass lr to the "
                        f"optimizer: torch.optim.Adam(model.parameters(), lr=lr).")


@pytest.mark.points(1, cell="train_autoencoder")
def test_train_reports_mean_loss(ns):
    """each reported value is the epoch's mean MSE per pixel (checked against the model's error)"""
    model, local, loader, X = _train_setup(ns, seed=4)
    before = _current_mse(local, X)
    history = _history(ns, model, loader, 2)
    after = _current_mse(_pulled(model, local), X)
    # The last epoch's mean lies a little above the error after training (measured: about 1.4 times it).
    assert 0.7 * after <= history[-1] <= 2.0 * after, (
        f"expected the last epoch's loss near the model's mean squared error ({after:.4f} after training), found "
        f"{history[-1]:.4f}. Hint: average F.mse_loss over the epoch's batches (a mean, not a sum).")
    assert history[0] <= 1.5 * before, (f"expected the first epoch's loss below {1.5 * before:.4f} (the error "
                                        f"before training is {before:.4f}), found {history[0]:.4f}.")


# ---------------------------------------------------------------- quality: the grader trains the student's model
def quality_split(r=QUALITY_RECIPE):
    X_tr, _, X_te, _ = mnist_split(r["split_seed"], n_train=r["n_train"], n_test=r["n_test"])
    return X_tr, X_te


def grader_run(ns, make_model, recipe=QUALITY_RECIPE) -> dict:
    """Train a fresh ``make_model(k)`` in the kernel with the recipe on grader-held digits, then measure its graph
    here on held-out digits the kernel never sees: every figure of the run."""
    X_tr, X_te = quality_split(recipe)
    k = recipe["k"]
    model = make_model(k)
    if not 0 < n_parameters(model) <= MAX_PARAMETERS:
        raise StudentError(f"expected between 1 and {MAX_PARAMETERS:,} trainable parameters, found "
                           f"{n_parameters(model):,}.")
    _submodule(model, "encoder")
    _submodule(model, "decoder")
    started = time.perf_counter()
    try:
        history = ns.call({"path": "course_utils.selfcheck.train_with_recipe"}, model, X_tr, dict(recipe))
    except RemoteError as exc:
        if exc.kind == "timeout":
            raise CheckTimeout(exc.message) from None
        raise StudentError(exc.message if exc.type == "ValueError" else
                           f"training Autoencoder({k}) with the grader's recipe failed: {exc}") from None
    seconds = time.perf_counter() - started
    if not isinstance(history, list) or not all(type(v) is float for v in history):
        history = None  # only the diagnosis reads it
    X_hat = bottleneck_reconstruction(model, X_te, k)
    return {"mse": mse(X_hat, X_te), "pca": pca_test_mse(X_tr, X_te, k), "seconds": seconds, "history": history,
            "X_train": X_tr, "X_test": X_te, "X_hat": X_hat}


AE_CAPACITY_FIXES = selfcheck.AE_CAPACITY_FIXES


def _diagnosis(history, X_fit, X_eval, X_hat, final, target, budget, loop_is_fixed=False) -> str:
    """The diagnosis of a trained autoencoder that misses a bar (course_utils.diagnose), as message lines."""
    try:
        diagnosis = diagnose_training(history, mean_image_mse(X_fit, X_eval), final=final, target=target,
                                      outputs=X_hat[:500], inputs=X_eval[:500], what="held-out MSE", budget=budget,
                                      loop_is_fixed=loop_is_fixed, capacity_fixes=AE_CAPACITY_FIXES)
    except Exception:  # a history the notebook mangled: the bar's own message still stands
        return ""
    return "\n" + diagnosis.text()


def _own_history(ns, k: int):
    """The notebook's loss history for ae_models[k] (``histories[k]``), if it kept one: only for the diagnosis."""
    histories = ns.get("histories")
    if type(histories) is not dict or type(histories.get(k)) not in (list, tuple):
        return None
    values = histories[k]
    if not values or not all(type(v) in (float, int) for v in values):
        return None
    return [float(v) for v in values]


@pytest.mark.points(3, cell="ae_quality")
@pytest.mark.timeout(120)
def test_quality_beats_pca(ns):
    """trained by the grader (fixed recipe, held-out digits), Autoencoder(2) beats PCA with 2 components by 5%"""
    r = QUALITY_RECIPE
    run = grader_run(ns, lambda k: _module(ns, "Autoencoder", k, seed=r["init_seed"]))
    got, pca, seconds = run["mse"], run["pca"], run["seconds"]
    bar = QUALITY_RATIO * pca
    flag_if_implausible(ns, got, pca, "Autoencoder(2) trained with the grader's recipe")
    assert got <= bar, (
        f"the grader trained Autoencoder(2) for {r['epochs']} epochs on {r['n_train']:,} digits (Adam, lr "
        f"{r['lr']:g}, batch {r['batch_size']}, {seconds:.0f} s); expected a held-out MSE of at most {bar:.4f} "
        f"(95% of PCA's {pca:.4f} with 2 components), found {got:.4f}."
        + _diagnosis(run["history"], run["X_train"], run["X_test"], run["X_hat"], got, bar,
                     "the grader's budget (5 epochs)", loop_is_fixed=True)
        + "\nThe same recipe runs on your own digits in the notebook: check_grader_budget(Autoencoder, ...) in "
          "section 3.")


# ---------------------------------------------------------------- the student's own trained models
def _own_models(ns) -> dict:
    models = get(ns, "ae_models", kind="dict")
    if not isinstance(models, dict):
        raise StudentError(f"expected `ae_models` to be a dict {{latent_dim: trained Autoencoder}}, found "
                           f"{type_name(models)}.")
    missing = [k for k in (2, 32) if k not in models]
    if missing:
        raise StudentError(f"expected `ae_models` to have the keys 2 and 32, missing {missing}. Hint: run the cell "
                           f"that trains them (section 3); it needs Encoder, Decoder, Autoencoder and "
                           f"train_autoencoder to work.")
    for k in (2, 32):
        if not is_instance(models[k]):
            raise StudentError(f"expected `ae_models[{k}]` to be a trained Autoencoder, found "
                               f"{type_name(models[k])}.")
    return models


@pytest.mark.points(2, cell="ae_vs_pca")
def test_own_model_2_beats_pca(ns):
    """the notebook's trained 2-D autoencoder beats PCA with 2 components by 5% on held-out test digits"""
    model = _own_models(ns)[2]
    X_train, X_held = held_out()
    X_hat = bottleneck_reconstruction(model, X_held, 2)
    got = mse(X_hat, X_held)
    pca = pca_test_mse(X_train, X_held, 2)
    flag_if_implausible(ns, got, pca, "ae_models[2]")
    assert got <= QUALITY_RATIO * pca, (
        f"expected `ae_models[2]` to reach a held-out MSE of at most {QUALITY_RATIO * pca:.4f} (95% of PCA's "
        f"{pca:.4f}), found {got:.4f}."
        + (_diagnosis(_own_history(ns, 2), X_train, X_held, X_hat, got, QUALITY_RATIO * pca,
                      "the notebook's budget (5 epochs)")
           or " Hint: train it for the epochs the notebook gives, with a nonlinear encoder and decoder."))


@pytest.mark.points(1, cell="ae_vs_pca")
def test_own_model_32_trained(ns):
    """the notebook's trained 32-D autoencoder beats PCA with 16 components on held-out test digits"""
    model = _own_models(ns)[32]
    X_train, X_held = held_out()
    X_hat = bottleneck_reconstruction(model, X_held, 32)
    got = mse(X_hat, X_held)
    pca16 = pca_test_mse(X_train, X_held, 16)
    assert got <= pca16, (f"expected `ae_models[32]` to reconstruct held-out digits at least as well as PCA with "
                          f"half as many numbers (16 components, MSE {pca16:.4f}), found {got:.4f}."
                          + (_diagnosis(_own_history(ns, 32), X_train, X_held, X_hat, got, pca16,
                                        "the notebook's budget (5 epochs)")
                             or " Hint: is it trained? A wide single hidden layer trains fastest at this size."))


def _table(ns, name: str) -> dict:
    table = get(ns, name, kind="dict")
    if not isinstance(table, dict):
        raise StudentError(f"expected `{name}` to be a dict {{(model, k): value}}, found {type_name(table)}.")
    keys = [(m, k) for m in ("ae", "pca") for k in (2, 32)]
    missing = [key for key in keys if key not in table]
    if missing:
        raise StudentError(f"expected `{name}` to have the keys {keys}, missing {missing}. Hint: run the cell that "
                           f"fills it, after the cells that train `ae_models`.")
    return {key: as_float(table[key], f"{name}[{key}]") for key in keys}


@pytest.mark.points(1, cell="ae_vs_pca")
def test_mse_table_reproduces(ns):
    """the notebook's MSE table holds its own models' test errors, and the autoencoder wins at k = 2"""
    table = _table(ns, "mse_ae_vs_pca")
    models = _own_models(ns)
    X_train, _, X_test, _ = notebook_digits()
    for k in (2, 32):
        expected = {"ae": mse(bottleneck_reconstruction(models[k], X_test, k), X_test),
                    "pca": pca_test_mse(X_train, X_test, k)}
        for m, value in expected.items():
            assert math.isclose(table[(m, k)], value, rel_tol=0.05, abs_tol=1e-4), (
                f"`mse_ae_vs_pca[({m!r}, {k})]` is {table[(m, k)]:.4f}, but the notebook's "
                f"{'model' if m == 'ae' else 'PCA'} gives {value:.4f} on X_test. Hint: fill the table from "
                f"the models, don't type the numbers in.")
    assert table[("ae", 2)] < table[("pca", 2)], (
        f"expected the autoencoder to beat PCA at k = 2, found {table[('ae', 2)]:.4f} vs {table[('pca', 2)]:.4f}.")


# ---------------------------------------------------------------- linear_probe (part 1's contract, reused)
@pytest.mark.points(0.5, cell="ae_linear_probe")
def test_probe_returns_accuracy(ns):
    """returns a Python float in [0, 1], for codes of any width (k = 1 included)"""
    part1.test_probe_returns_accuracy(ns)


@pytest.mark.points(0.5, cell="ae_linear_probe")
def test_probe_separable(ns):
    """near-perfect accuracy on well-separated codes"""
    part1.test_probe_separable(ns)


@pytest.mark.points(0.5, cell="ae_linear_probe")
def test_probe_uses_training_labels_only(ns):
    """learns from the training codes only (no peeking at the test labels)"""
    part1.test_probe_uses_training_labels_only(ns)


@pytest.mark.points(0.5, cell="ae_linear_probe")
def test_probe_mnist(ns):
    """on PCA codes of MNIST, within 0.05 of the grader's probe on three seeds"""
    part1.test_probe_mnist(ns)


# ---------------------------------------------------------------- probe results in the notebook
PROBE_TOLERANCE = 0.03
RECOMPUTED_MARGIN = part1.PROBE_MARGIN + PROBE_TOLERANCE


@pytest.mark.points(1, cell="ae_probe_results")
def test_probe_table_reproduces(ns):
    """the probe accuracies come from the notebook's own probe on its own AE and PCA codes"""
    table = _table(ns, "probe_ae_vs_pca")
    models = _own_models(ns)
    X_train, y_train, X_test, y_test = notebook_digits()
    for k in (2, 32):
        mean, comps = pca_basis(X_train, k)
        codes = {"ae": (codes_of(models[k], X_train, k), codes_of(models[k], X_test, k)),
                 "pca": (ref_pca.pca_encode(X_train, mean, comps).float(),
                         ref_pca.pca_encode(X_test, mean, comps).float())}
        for m, (Z_tr, Z_te) in codes.items():
            graders = ref_pca.linear_probe(Z_tr, y_train, Z_te, y_test, seed=0)
            what = "autoencoder" if m == "ae" else "PCA"
            assert abs(table[(m, k)] - graders) <= RECOMPUTED_MARGIN, (
                f"`probe_ae_vs_pca[({m!r}, {k})]` is {table[(m, k)]:.3f}, but on the notebook's {k}-D {what} codes "
                f"the grader's probe reaches {graders:.3f}. Hint: fill the table with linear_probe's results on "
                f"ae_models[{k}].encoder codes; don't type them in.")
            ns.call({"path": "torch.manual_seed"}, 0)
            acc = as_float(call(ns, "linear_probe", Z_tr, y_train, Z_te, y_test), "linear_probe")
            assert abs(acc - table[(m, k)]) <= PROBE_TOLERANCE, (
                f"`probe_ae_vs_pca[({m!r}, {k})]` is {table[(m, k)]:.3f}, but your linear_probe on the notebook's "
                f"{k}-D {what} codes gives {acc:.3f}. Hint: fill the table with linear_probe's results on "
                f"ae_models[{k}].encoder codes; don't type them in.")


@pytest.mark.points(1, cell="ae_probe_results")
def test_probe_table_ordering(ns):
    """at latent size 2 the autoencoder's codes carry more label information than PCA's"""
    t = _table(ns, "probe_ae_vs_pca")
    if not t[("ae", 2)] > t[("pca", 2)]:
        why = ""
        try:
            model = _own_models(ns)[2]
            X_train, X_held = held_out()
            X_hat = bottleneck_reconstruction(model, X_held, 2)
            why = _diagnosis(_own_history(ns, 2), X_train, X_held, X_hat, mse(X_hat, X_held), None,
                             "the notebook's budget (5 epochs)")
        except StudentError:
            pass
        raise AssertionError(
            f"expected the 2-D autoencoder codes to beat 2-D PCA codes on the probe, found {t[('ae', 2)]:.3f} vs "
            f"{t[('pca', 2)]:.3f}. The probe can only read what the codes hold: look at how well ae_models[2] "
            f"reconstructs." + (why or " Hint: is ae_models[2] trained?"))
    assert all(0.1 < t[(m, 32)] <= 1 for m in ("ae", "pca")), \
        f"expected accuracies well above chance (0.1) at k = 32, found {t[('ae', 32)]:.3f} and {t[('pca', 32)]:.3f}."


# ---------------------------------------------------------------- latent_traversal
def _decoder(ns, k: int, seed: int, image_shaped: bool = False):
    """A grader-made decoder that remembers the codes it is given: (the one in the kernel, this side's twin)."""
    g = torch.Generator().manual_seed(seed)
    weight, bias = torch.randn(784, k, generator=g) * 0.5, torch.randn(784, generator=g) * 0.1
    twin = recipes.model_class("RecordingDecoder")(weight, bias, image_shaped)
    return ns.recipe("instrument", "RecordingDecoder", weight, bias, image_shaped), twin


def _traverse(ns, decoder, z, dim, values) -> torch.Tensor:
    out = call_pure(ns, "latent_traversal", decoder, z, dim, values, changed="z",
                    hint="work on a copy (z.clone() or z.repeat(...)), never assign into z itself.")
    return plain(out, "latent_traversal")


@pytest.mark.points(1, cell="latent_traversal")
def test_traversal_shape(ns):
    """returns [len(values), 28, 28] for lists and tensors of values, flat or image-shaped decoders"""
    g = torch.Generator().manual_seed(51)
    for k, values, shaped in ((2, [-2.0, 0.0, 2.0], False), (5, torch.linspace(-3, 3, 7), True)):
        decoder, _ = _decoder(ns, k, seed=52, image_shaped=shaped)
        out = _traverse(ns, decoder, torch.randn(k, generator=g), 1, values)
        expect_shape(out, (len(values), 28, 28), "latent_traversal(...)",
                     "one 28 x 28 image per value: reshape the decoder's output")
        expect_finite(out, "latent_traversal(...)")


@pytest.mark.points(1, cell="latent_traversal")
def test_traversal_varies_one_coordinate(ns):
    """decodes copies of z with only coordinate `dim` set to each value (through a grader-made decoder)"""
    g = torch.Generator().manual_seed(53)
    k, dim = 6, 4
    z = torch.randn(k, generator=g)
    values = torch.linspace(-2.5, 2.5, 5)
    decoder, twin = _decoder(ns, k, seed=54)
    out = _traverse(ns, decoder, z, dim, values)
    expect_shape(out, (5, 28, 28), "latent_traversal(...)")
    calls = decoder.attr("calls")  # what the kernel says the decoder was given: only sharpens the hint
    if isinstance(calls, list) and calls and all(isinstance(c, torch.Tensor) for c in calls):
        codes = torch.cat([c.reshape(-1, k) for c in calls]) if all(c.numel() % k == 0 for c in calls) else None
        expected_codes = z.repeat(5, 1)
        expected_codes[:, dim] = values
        if codes is not None and codes.shape == expected_codes.shape:
            others = [j for j in range(k) if j != dim]
            err = float((codes[:, others] - expected_codes[:, others]).abs().max())
            assert err < 1e-5, (f"expected every coordinate except dim={dim} to stay at z's value, found one off by "
                                f"{err:.3g}. Hint: start each code as a copy of z and set only code[dim].")
            err = float((codes[:, dim] - values).abs().max())
            assert err < 1e-5, (f"expected coordinate dim={dim} to take each of the values in turn, found it off "
                                f"by {err:.3g}. Hint: set it to the value (=), don't add it (+=).")
    expected = ref.latent_traversal(twin, z, dim, values)
    err = float((out.double() - expected.double()).abs().max())
    assert err < 1e-5, (f"expected the decoded images of z with coordinate {dim} set to each value, found a largest "
                        f"pixel difference of {err:.3g}. Hint: decode a batch of copies of z, one per value.")


@pytest.mark.points(1, cell="latent_traversal")
def test_traversal_leaves_z_alone(ns):
    """leaves z unchanged, and works for a 2-D code (dim 0)"""
    z = torch.tensor([0.7, -1.3])
    decoder, twin = _decoder(ns, 2, seed=55)
    out = _traverse(ns, decoder, z, 0, [-1.0, 1.0])
    expected = ref.latent_traversal(twin, z, 0, [-1.0, 1.0])
    expect_shape(out, (2, 28, 28), "latent_traversal(...)")
    err = float((out.double() - expected.double()).abs().max())
    assert err < 1e-5, f"expected the reference traversal along dim 0, found a largest difference of {err:.3g}."
