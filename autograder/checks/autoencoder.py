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
"""
from __future__ import annotations

import contextlib
import math
import time

import pytest
import torch
from torch import nn

from autograder.checks import pca as part1
from autograder.heldout import mnist_flat
from autograder.heldout.autoencoder import held_out, images
from autograder.heldout.pca import mnist_split
from autograder.reference import autoencoder as ref
from autograder.reference import pca as ref_pca
from autograder.student import StudentError, as_float, call, expect_finite, expect_shape, get, plain
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


# ---------------------------------------------------------------- helpers


def _module(ns, name: str, *args, **kwargs) -> nn.Module:
    torch.manual_seed(kwargs.pop("seed", 0))
    obj = call(ns, name, *args, **kwargs)
    if not isinstance(obj, nn.Module):
        raise StudentError(f"expected `{name}(...)` to build a torch.nn.Module, found {type(obj).__name__}. "
                           f"Hint: subclass nn.Module and call super().__init__() first.")
    try:
        obj.cpu()
    except Exception:
        pass
    return obj


def _forward(module: nn.Module, name: str, x: torch.Tensor, what: str) -> torch.Tensor:
    with torch.no_grad():
        out = plain(call(module, name, x), what)
    expect_finite(out, what)
    return out


def n_parameters(module: nn.Module) -> int:
    return sum(int(p.numel()) for p in module.parameters())


def _submodule(model: nn.Module, attr: str) -> nn.Module:
    part = getattr(model, attr, None)
    if not isinstance(part, nn.Module):
        raise StudentError(f"expected `Autoencoder(...).{attr}` to be an nn.Module, found "
                           f"{type(part).__name__}. Hint: set self.{attr} = "
                           f"{'Encoder' if attr == 'encoder' else 'Decoder'}(latent_dim) in __init__.")
    return part


def _device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    raise StudentError("the model has no parameters. Hint: build its layers in __init__.")


@contextlib.contextmanager
def _eval_mode(model: nn.Module):
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def bottleneck_reconstruction(model: nn.Module, X: torch.Tensor, k: int, batch: int = 1000) -> torch.Tensor:
    """decoder(encoder(x)) of the student's model, [n, 784], in eval mode, on the model's device."""
    encoder, decoder = _submodule(model, "encoder"), _submodule(model, "decoder")
    device = _device(model)
    outs = []
    with _eval_mode(model), torch.no_grad():
        for start in range(0, len(X), batch):
            x = X[start:start + batch].to(device)
            z = plain(call(encoder, "Encoder.forward", x), "model.encoder(x)")
            expect_shape(z, (len(x), k), "model.encoder(x)", "one code of latent_dim numbers per digit")
            out = plain(call(decoder, "Decoder.forward", z.to(device)), "model.decoder(z)")
            if out.numel() != len(x) * 784:
                raise StudentError(f"`model.decoder(z)` should give 784 pixels per code, found shape "
                                   f"{tuple(out.shape)}.")
            outs.append(out.reshape(len(x), 784))
    out = torch.cat(outs)
    expect_finite(out, "model.decoder(model.encoder(x))")
    return out


def mse(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a.double() - b.double()) ** 2).mean())


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
        with _eval_mode(model):
            out = _forward(model, "Autoencoder.forward", X, f"Autoencoder({k})(x)")
            through = bottleneck_reconstruction(model, X, k)
        err = float((out.reshape(12, 784).double() - through.double()).abs().max()) if out.numel() == 12 * 784 \
            else math.inf
        assert err < 1e-5, (f"expected Autoencoder({k})(x) to equal decoder(encoder(x)), found a largest "
                            f"difference of {err:.3g}. Hint: forward should only encode, decode and reshape.")


@pytest.mark.points(1, cell="autoencoder")
def test_autoencoder_deterministic_in_eval(ns):
    """in eval() mode the same input gives the same reconstruction"""
    X = images(20, seed=6, flat=False)
    model = _module(ns, "Autoencoder", 8)
    model.eval()
    a = _forward(model, "Autoencoder.forward", X, "Autoencoder(8)(x)")
    b = _forward(model, "Autoencoder.forward", X, "Autoencoder(8)(x)")
    err = float((a.double() - b.double()).abs().max()) if a.shape == b.shape else math.inf
    assert err == 0.0, (f"expected two calls in eval() mode to agree, found a largest difference of {err:.3g}. "
                        f"Hint: no random noise in forward outside training (nn.Dropout is fine: eval() turns "
                        f"it off).")


class _Forbidden(Exception):
    pass


@contextlib.contextmanager
def _no_loading():
    """Make every way of loading saved weights fail loudly while the student's model is built."""
    import torch.hub

    used = []

    def refuse(name):
        def stub(*args, **kwargs):
            used.append(name)
            raise _Forbidden(f"{name} is not allowed here")
        return stub

    targets = [(torch, "load"), (torch.hub, "load"), (torch.hub, "load_state_dict_from_url"),
               (torch.jit, "load"), (nn.Module, "load_state_dict")]
    saved = [(obj, attr, getattr(obj, attr)) for obj, attr in targets]
    try:
        for obj, attr, _ in saved:
            setattr(obj, attr, refuse(f"{getattr(obj, '__name__', obj)}.{attr}"))
        yield used
    finally:
        for obj, attr, original in saved:
            setattr(obj, attr, original)


@pytest.mark.points(1, cell="autoencoder")
def test_autoencoder_fresh_weights(ns):
    """a new Autoencoder starts from fresh random weights (nothing loaded), within 3,000,000 parameters"""
    X = images(8, seed=7)
    states = []
    with _no_loading() as used:
        for seed in (1, 2):
            try:
                model = _module(ns, "Autoencoder", 8, seed=seed)
                _forward(model, "Autoencoder.forward", X, "Autoencoder(8)(x)")
            except StudentError:
                if used:
                    break
                raise
            states.append([plain(p, "parameter").clone() for p in model.parameters()])
    assert not used, (f"expected the model to start from random weights, found a call to {used[0]}. Hint: build "
                      f"the layers in __init__ and let training set the weights; don't load saved ones.")
    a, b = states
    assert a and any(p.numel() for p in a), "expected the autoencoder to have trainable parameters, found none."
    same = all(x.shape == y.shape and torch.equal(x, y) for x, y in zip(a, b))
    assert not same, ("expected different random weights for different seeds, found identical ones. Hint: "
                      "initialise the layers randomly (nn.Linear does) instead of setting fixed values.")
    total = sum(int(p.numel()) for p in a)
    assert total <= MAX_PARAMETERS, f"expected at most {MAX_PARAMETERS:,} parameters, found {total:,}."


# ---------------------------------------------------------------- train_autoencoder
def _train_setup(seed: int, n: int = 1024, with_labels: bool = True, batch_size: int = 128):
    from course_utils.data import make_loader

    X, y = mnist_flat("test", n=n, seed=30_000 + seed)
    torch.manual_seed(seed)
    model = ref.Autoencoder(8)
    loader = make_loader(X, y, batch_size=batch_size, seed=seed) if with_labels else \
        make_loader(X, batch_size=batch_size, seed=seed)
    return model, loader, X


def _history(ns, model, loader, epochs, **kwargs) -> list[float]:
    result = call(ns, "train_autoencoder", model, loader, epochs, **kwargs)
    if not isinstance(result, (list, tuple)):
        raise StudentError(f"`train_autoencoder` should return a list of floats (one per epoch), found "
                           f"{type(result).__name__}.")
    if len(result) != epochs:
        raise StudentError(f"expected one loss per epoch ({epochs} values for epochs={epochs}), found "
                           f"{len(result)}. Hint: append the epoch's mean loss once, after its last batch.")
    return [as_float(v, f"train_autoencoder(...)[{i}]") for i, v in enumerate(result)]


def _snapshot(model):
    return [p.detach().clone() for p in model.parameters()]


def _current_mse(model, X) -> float:
    with _eval_mode(model), torch.no_grad():
        return mse(model(X), X)


@pytest.mark.points(1, cell="train_autoencoder")
def test_train_returns_history(ns):
    """returns one Python float per epoch, for loaders of (x,) and of (x, y) batches"""
    for with_labels in (False, True):
        model, loader, _ = _train_setup(seed=1, n=512, with_labels=with_labels)
        history = _history(ns, model, loader, 2)
        assert all(v > 0 for v in history), f"expected positive mean squared errors, found {history}."


@pytest.mark.points(1, cell="train_autoencoder")
def test_train_loss_goes_down(ns):
    """on a grader-held loader the loss goes down epoch by epoch, and the model really improves"""
    model, loader, X = _train_setup(seed=2)
    before = _current_mse(model, X)
    history = _history(ns, model, loader, 3)
    assert all(b < a for a, b in zip(history, history[1:])), (
        f"expected the epoch losses to go down, found {[round(v, 4) for v in history]}. Hint: every batch: "
        f"zero the gradients, compute the loss, backward, then optimizer.step().")
    after = _current_mse(model, X)
    assert after < 0.8 * before, (f"expected training to lower the model's error on its data, found {before:.4f} "
                                  f"before and {after:.4f} after 3 epochs.")


@pytest.mark.points(1, cell="train_autoencoder")
def test_train_steps_the_optimizer(ns):
    """the parameters change (Adam steps with the given lr) and stay put with lr = 0"""
    model, loader, _ = _train_setup(seed=3, n=256)
    start = _snapshot(model)
    _history(ns, model, loader, 1)
    moved = max(float((p.detach() - q).abs().max()) for p, q in zip(model.parameters(), start))
    assert moved > 0, ("expected the parameters to change during training, found them unchanged. Hint: build "
                       "the optimizer on model.parameters() and call optimizer.step() after loss.backward().")
    model, loader, _ = _train_setup(seed=3, n=256)
    start = _snapshot(model)
    _history(ns, model, loader, 1, lr=0.0)
    moved = max(float((p.detach() - q).abs().max()) for p, q in zip(model.parameters(), start))
    assert moved == 0, (f"with lr=0 the parameters still moved (by up to {moved:.3g}). Hint: pass lr to the "
                        f"optimizer: torch.optim.Adam(model.parameters(), lr=lr).")


@pytest.mark.points(1, cell="train_autoencoder")
def test_train_reports_mean_loss(ns):
    """each reported value is the epoch's mean MSE per pixel (checked against the model's error)"""
    model, loader, X = _train_setup(seed=4)
    before = _current_mse(model, X)
    history = _history(ns, model, loader, 2)
    after = _current_mse(model, X)
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


def train_with_recipe(model: nn.Module, X_tr: torch.Tensor, recipe=QUALITY_RECIPE, name="Autoencoder.forward"
                      ) -> list[float]:
    """The grader's fixed recipe (course_utils.selfcheck.train_with_recipe, the loop students run too) on flat
    digits [n, 784], every call of the student's model through ``call``; the mean loss of each epoch."""
    return selfcheck.train_with_recipe(model, X_tr, recipe, forward=lambda m, x: call(m, name, x), error=StudentError)


def grader_run(make_model, recipe=QUALITY_RECIPE) -> dict:
    """Train a fresh ``make_model(k)`` with the recipe on grader-held digits: every figure of the run."""
    X_tr, X_te = quality_split(recipe)
    k = recipe["k"]
    torch.manual_seed(recipe["init_seed"])
    model = make_model(k)
    if not isinstance(model, nn.Module):
        raise StudentError(f"expected `Autoencoder(...)` to build a torch.nn.Module, found {type(model).__name__}.")
    if not 0 < n_parameters(model) <= MAX_PARAMETERS:
        raise StudentError(f"expected between 1 and {MAX_PARAMETERS:,} trainable parameters, found "
                           f"{n_parameters(model):,}.")
    _submodule(model, "encoder")
    _submodule(model, "decoder")
    started = time.perf_counter()
    history = train_with_recipe(model, X_tr, recipe)
    seconds = time.perf_counter() - started
    X_hat = bottleneck_reconstruction(model, X_te, k)
    return {"mse": mse(X_hat, X_te), "pca": pca_test_mse(X_tr, X_te, k), "seconds": seconds, "history": history,
            "X_train": X_tr, "X_test": X_te, "X_hat": X_hat}


def grader_quality(make_model, recipe=QUALITY_RECIPE) -> tuple[float, float, float]:
    """Train a fresh ``make_model(k)`` with the recipe: (held-out MSE, PCA's at the same k, seconds)."""
    run = grader_run(make_model, recipe)
    return run["mse"], run["pca"], run["seconds"]


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
    if not values or not all(type(v) in (float, int) for v in values):  # plain numbers only: no student code runs
        return None
    return [float(v) for v in values]


@pytest.mark.points(3, cell="ae_quality")
@pytest.mark.timeout(120)
def test_quality_beats_pca(ns):
    """trained by the grader (fixed recipe, held-out digits), Autoencoder(2) beats PCA with 2 components by 5%"""
    r = QUALITY_RECIPE
    run = grader_run(lambda k: _module(ns, "Autoencoder", k, seed=r["init_seed"]))
    got, pca, seconds = run["mse"], run["pca"], run["seconds"]
    bar = QUALITY_RATIO * pca
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
                           f"{type(models).__name__}.")
    missing = [k for k in (2, 32) if k not in models]
    if missing:
        raise StudentError(f"expected `ae_models` to have the keys 2 and 32, missing {missing}. Hint: run the cell "
                           f"that trains them (section 3); it needs Encoder, Decoder, Autoencoder and "
                           f"train_autoencoder to work.")
    for k in (2, 32):
        if not isinstance(models[k], nn.Module):
            raise StudentError(f"expected `ae_models[{k}]` to be a trained Autoencoder, found "
                               f"{type(models[k]).__name__}.")
    return models


@pytest.mark.points(2, cell="ae_vs_pca")
def test_own_model_2_beats_pca(ns):
    """the notebook's trained 2-D autoencoder beats PCA with 2 components by 5% on held-out test digits"""
    model = _own_models(ns)[2]
    X_train, X_held = held_out()
    X_hat = bottleneck_reconstruction(model, X_held, 2)
    got = mse(X_hat, X_held)
    pca = pca_test_mse(X_train, X_held, 2)
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
        raise StudentError(f"expected `{name}` to be a dict {{(model, k): value}}, found {type(table).__name__}.")
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
    X_train = plain(get(ns, "X_train", "tensor"), "X_train")
    X_test = plain(get(ns, "X_test", "tensor"), "X_test").reshape(-1, 784)
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


def _codes(model, X, k):
    encoder = _submodule(model, "encoder")
    device = _device(model)
    with _eval_mode(model), torch.no_grad():
        Z = plain(call(encoder, "Encoder.forward", X.to(device)), "model.encoder(X)")
    expect_shape(Z, (len(X), k), "model.encoder(X)")
    return Z.float()


@pytest.mark.points(1, cell="ae_probe_results")
def test_probe_table_reproduces(ns):
    """the probe accuracies come from the notebook's own probe on its own AE and PCA codes"""
    table = _table(ns, "probe_ae_vs_pca")
    models = _own_models(ns)
    X_train = plain(get(ns, "X_train", "tensor"), "X_train").reshape(-1, 784)
    X_test = plain(get(ns, "X_test", "tensor"), "X_test").reshape(-1, 784)
    y_train = plain(get(ns, "y_train", "tensor"), "y_train")
    y_test = plain(get(ns, "y_test", "tensor"), "y_test")
    for k in (2, 32):
        mean, comps = pca_basis(X_train, k)
        codes = {"ae": (_codes(models[k], X_train, k), _codes(models[k], X_test, k)),
                 "pca": (ref_pca.pca_encode(X_train, mean, comps).float(),
                         ref_pca.pca_encode(X_test, mean, comps).float())}
        for m, (Z_tr, Z_te) in codes.items():
            torch.manual_seed(0)
            acc = as_float(call(ns, "linear_probe", Z_tr, y_train, Z_te, y_test), "linear_probe")
            assert abs(acc - table[(m, k)]) <= PROBE_TOLERANCE, (
                f"`probe_ae_vs_pca[({m!r}, {k})]` is {table[(m, k)]:.3f}, but your linear_probe on the notebook's "
                f"{k}-D {'autoencoder' if m == 'ae' else 'PCA'} codes gives {acc:.3f}. Hint: fill the table with "
                f"linear_probe's results on ae_models[{k}].encoder codes; don't type them in.")


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
class RecordingDecoder(nn.Module):
    """A grader-made decoder that remembers every code it is given."""

    def __init__(self, k: int, seed: int, image_shaped: bool = False):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.weight = nn.Parameter(torch.randn(784, k, generator=g) * 0.5)
        self.bias = nn.Parameter(torch.randn(784, generator=g) * 0.1)
        self.image_shaped = image_shaped
        self.calls: list[torch.Tensor] = []

    def forward(self, z):
        self.calls.append(plain(z, "the code given to the decoder").clone())
        out = torch.sigmoid(z @ self.weight.T + self.bias)
        return out.reshape(*out.shape[:-1], 1, 28, 28) if self.image_shaped else out


def _traverse(ns, decoder, z, dim, values) -> torch.Tensor:
    z_before = z.clone()
    out = plain(call(ns, "latent_traversal", decoder, z, dim, values), "latent_traversal")
    if not torch.equal(z, z_before):
        raise StudentError("`latent_traversal` changed z in place. Hint: work on a copy (z.clone() or "
                           "z.repeat(...)), never assign into z itself.")
    return out


@pytest.mark.points(1, cell="latent_traversal")
def test_traversal_shape(ns):
    """returns [len(values), 28, 28] for lists and tensors of values, flat or image-shaped decoders"""
    g = torch.Generator().manual_seed(51)
    for k, values, shaped in ((2, [-2.0, 0.0, 2.0], False), (5, torch.linspace(-3, 3, 7), True)):
        out = _traverse(ns, RecordingDecoder(k, seed=52, image_shaped=shaped), torch.randn(k, generator=g), 1,
                        values)
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
    decoder = RecordingDecoder(k, seed=54)
    out = _traverse(ns, decoder, z, dim, values)
    expect_shape(out, (5, 28, 28), "latent_traversal(...)")
    if decoder.calls:
        codes = torch.cat([c.reshape(-1, k) for c in decoder.calls])
        expected_codes = z.repeat(5, 1)
        expected_codes[:, dim] = values
        if codes.shape == expected_codes.shape:
            others = [j for j in range(k) if j != dim]
            err = float((codes[:, others] - expected_codes[:, others]).abs().max())
            assert err < 1e-5, (f"expected every coordinate except dim={dim} to stay at z's value, found one off by "
                                f"{err:.3g}. Hint: start each code as a copy of z and set only code[dim].")
            err = float((codes[:, dim] - values).abs().max())
            assert err < 1e-5, (f"expected coordinate dim={dim} to take each of the values in turn, found it off "
                                f"by {err:.3g}. Hint: set it to the value (=), don't add it (+=).")
    expected = ref.latent_traversal(RecordingDecoder(k, seed=54), z, dim, values)
    err = float((out.double() - expected.double()).abs().max())
    assert err < 1e-5, (f"expected the decoded images of z with coordinate {dim} set to each value, found a largest "
                        f"pixel difference of {err:.3g}. Hint: decode a batch of copies of z, one per value.")


@pytest.mark.points(1, cell="latent_traversal")
def test_traversal_leaves_z_alone(ns):
    """leaves z unchanged, and works for a 2-D code (dim 0)"""
    z = torch.tensor([0.7, -1.3])
    out = _traverse(ns, RecordingDecoder(2, seed=55), z, 0, [-1.0, 1.0])
    expected = ref.latent_traversal(RecordingDecoder(2, seed=55), z, 0, [-1.0, 1.0])
    expect_shape(out, (2, 28, 28), "latent_traversal(...)")
    err = float((out.double() - expected.double()).abs().max())
    assert err < 1e-5, f"expected the reference traversal along dim 0, found a largest difference of {err:.3g}."
