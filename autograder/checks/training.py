"""Hidden checks for part 5, ``05_training_loop.ipynb``: the training loop, validation, reading curves.

Conventions the notebook states and the grader's models and loaders follow:

* every batch is a tuple or list whose FIRST item is the input ``x`` (``(x,)`` or ``(x, y)``); the
  target of an autoencoder is ``x`` itself: ``loss_fn(model(x), x)``;
* ``loss_fn`` uses ``reduction="mean"`` (``nn.MSELoss()``), so the per-sample mean of an epoch is
  ``sum(batch_loss * batch_size) / number_of_samples``.

The grader trains only tiny models on grader-held tensors here (milliseconds per check). Checks of
``fit`` and ``diagnose_fit`` run the student's function with the grader's own ``train_one_epoch``,
``evaluate`` and ``best_epoch`` in the namespace, so a mistake in those costs points once, on its own cell.
"""
from __future__ import annotations

import contextlib
import copy
import math
import operator

import pytest
import torch
from torch import nn
from torch.utils.data import Subset, TensorDataset

from autograder.heldout.training import (CountingSGD, Recorder, fit_data, linear_model, loader, randn, real_bank,
                                         synthetic_bank, uneven_data)
from autograder.reference import training as ref
from autograder.student import StudentError, as_float, call, get, plain

LABELS = ("underfitting", "overfitting", "just right")


# ---------------------------------------------------------------- grader-held models, data and loaders


def params_of(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def state_of(model: nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@contextlib.contextmanager
def graders_helpers(ns: dict, **functions):
    """Temporarily put the grader's functions in the student's namespace (restored afterwards).

    Also silences a ``tqdm`` progress bar that the notebook imported, so checks print nothing.
    """
    functions = dict(functions)
    if "tqdm" in ns:
        from tqdm import tqdm as _tqdm

        functions["tqdm"] = lambda *args, **kwargs: _tqdm(*args, **{**kwargs, "disable": True})
    missing = object()
    saved = {name: ns.get(name, missing) for name in functions}
    ns.update(functions)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                ns.pop(name, None)
            else:
                ns[name] = value


UNPACK_HINT = (" Hint: every batch is a tuple or list whose first item is x (make_loader(X) gives (x,), a "
               "dataset of (x, y) pairs gives [x, y]); take x = batch[0] and use x as the target.")


def call_loop(ns, name: str, *args):
    """Call a student's loop function; explain the usual batch-unpacking error."""
    try:
        with graders_helpers(ns):
            return call(ns, name, *args)
    except StudentError as exc:
        text = str(exc)
        if "unpack" in text or "too many values" in text:
            raise StudentError(text.split(" Hint:")[0] + UNPACK_HINT) from None
        raise


def close(a: float, b: float, rel: float = 1e-6) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


# ---------------------------------------------------------------- split_train_val
def _items(subset, name: str, dataset) -> list[int]:
    """The dataset items a student's subset holds, read through the real Subset class."""
    if not isinstance(subset, Subset):
        raise StudentError(f"`split_train_val` should return torch.utils.data.Subset objects, found "
                           f"{type(subset).__name__} for the {name} part. Hint: Subset(dataset, indices), or "
                           f"torch.utils.data.random_split.")
    if subset.dataset is not dataset:
        raise StudentError(f"the {name} Subset should index into the dataset it was given (its .dataset is "
                           f"another object). Hint: Subset(dataset, indices).")
    try:
        n = Subset.__len__(subset)
        return [int(plain(Subset.__getitem__(subset, j)[0], f"{name} item")) for j in range(n)]
    except StudentError:
        raise
    except Exception as exc:
        raise StudentError(f"could not read the {name} Subset's items ({type(exc).__name__}: {exc}). Hint: its "
                           f"indices should be whole numbers in range(len(dataset)).") from None


def student_split(ns, n: int, fraction: float, seed: int):
    dataset = TensorDataset(torch.arange(n))
    result = call(ns, "split_train_val", dataset, fraction, seed)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise StudentError("`split_train_val` should return a pair (train_subset, val_subset), found "
                           f"{type(result).__name__}.")
    return _items(result[0], "training", dataset), _items(result[1], "validation", dataset)


SPLIT_CASES = ((10, 0.2), (101, 0.25), (1000, 0.1), (300, 1 / 3), (57, 0.5))


@pytest.mark.points(1, cell="split_train_val")
def test_split_returns_subsets(ns):
    """returns two torch Subsets of the dataset it was given"""
    student_split(ns, 20, 0.25, seed=0)


@pytest.mark.points(1, cell="split_train_val")
def test_split_sizes(ns):
    """the validation part holds val_fraction of the items, the training part the rest"""
    for n, fraction in SPLIT_CASES:
        train, val = student_split(ns, n, fraction, seed=3)
        expected = fraction * n
        if abs(len(val) - expected) > 1 or len(train) + len(val) != n:
            swapped = abs(len(train) - expected) <= 1
            raise StudentError(
                f"with {n} items and val_fraction={fraction:.3g}, expected about {expected:.1f} validation and "
                f"{n - expected:.1f} training items, found {len(val)} and {len(train)}."
                + (" Hint: the SECOND subset is the validation one." if swapped else
                   " Hint: n_val = int(val_fraction * len(dataset)); the rest is for training."))


@pytest.mark.points(1, cell="split_train_val")
def test_split_disjoint_covering(ns):
    """no item in both parts, none repeated, none left out"""
    for n, fraction in SPLIT_CASES:
        train, val = student_split(ns, n, fraction, seed=5)
        both = set(train) & set(val)
        assert not both, (f"expected disjoint parts, found {len(both)} item(s) (e.g. {sorted(both)[:3]}) in both the "
                          f"training and the validation subset. Hint: shuffle the indices ONCE and cut the "
                          f"permutation in two.")
        assert len(set(train)) == len(train) and len(set(val)) == len(val), \
            "expected every item at most once in each part, found repeated items. Hint: use a permutation."
        missing = set(range(n)) - set(train) - set(val)
        assert not missing, (f"expected every item in one of the parts, found {len(missing)} left out (of {n}). "
                             f"Hint: the training part is everything the validation part doesn't take.")


@pytest.mark.points(1, cell="split_train_val")
def test_split_seeded(ns):
    """the same seed gives the same random split, another seed a different one"""
    n = 200
    first = student_split(ns, n, 0.25, seed=7)
    torch.manual_seed(1234)
    torch.rand(17)
    again = student_split(ns, n, 0.25, seed=7)
    assert first == again, ("expected the same split for the same seed, found a different one after the global "
                            "random state changed. Hint: draw the permutation from "
                            "torch.Generator().manual_seed(seed).")
    others = [student_split(ns, n, 0.25, seed=s)[1] for s in (8, 9)]
    assert any(sorted(o) != sorted(first[1]) for o in others), \
        "expected different seeds to give different splits, found the same validation items for seeds 7, 8, 9."
    contiguous = [list(range(n - 50, n)), list(range(50))]
    assert sorted(first[1]) not in contiguous, ("expected a random split, found the first or last 50 items as "
                                                "the validation set. Hint: shuffle the indices with the seed.")


# ---------------------------------------------------------------- train_one_epoch
def _student_epoch(ns, model, data_loader, loss_fn, optimizer) -> float:
    value = call_loop(ns, "train_one_epoch", model, data_loader, loss_fn, optimizer)
    return as_float(value, "train_one_epoch")


def _reference_epoch(model, data_loader, lr: float):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    value = ref.train_one_epoch(model, data_loader, nn.MSELoss(), optimizer)
    return value, params_of(model)


def _without_zero_grad(model, data_loader, lr: float) -> torch.Tensor:
    """What the parameters become when the gradients are never cleared (for the hint)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for batch in data_loader:
        x = batch[0]
        nn.MSELoss()(model(x), x).backward()
        optimizer.step()
    return params_of(model)


@pytest.mark.points(1, cell="train_one_epoch")
def test_train_returns_float(ns):
    """returns the epoch's loss as a finite Python float"""
    X = randn(12, 5, seed=100)
    model = linear_model(seed=101)
    _student_epoch(ns, model, loader(X, batch_size=4), nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0.01))


@pytest.mark.points(1, cell="train_one_epoch")
def test_train_one_step_per_batch(ns):
    """takes exactly one optimizer step per batch"""
    X = randn(13, 5, seed=110)
    model = linear_model(seed=111)
    optimizer = CountingSGD(model.parameters(), lr=0.1)
    before = params_of(model).clone()
    _student_epoch(ns, model, loader(X, batch_size=4), nn.MSELoss(), optimizer)
    assert optimizer.steps == 4, (
        f"expected one optimizer.step() per batch (4 batches), found {optimizer.steps}."
        + (" Hint: after loss.backward(), call optimizer.step() to update the weights." if optimizer.steps == 0
           else " Hint: step inside the loop over batches, once per batch."))
    assert not torch.equal(params_of(model), before), "the model's parameters did not change during the epoch."


@pytest.mark.points(1, cell="train_one_epoch")
def test_train_clears_gradients(ns):
    """clears the gradients before every step: the weights match plain SGD batch by batch"""
    X = randn(13, 5, seed=120)
    lr = 0.1
    model = linear_model(seed=121)
    _student_epoch(ns, model, loader(X, batch_size=4), nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=lr))
    _, expected = _reference_epoch(linear_model(seed=121), loader(X, batch_size=4), lr)
    found = params_of(model)
    err = float((found - expected).abs().max())
    if err < 1e-9 * (1 + float(expected.abs().max())):
        return
    hint = " Hint: the loss is loss_fn(model(x), x), then zero_grad, backward, step, once per batch."
    if torch.allclose(found, _without_zero_grad(linear_model(seed=121), loader(X, batch_size=4), lr), atol=1e-9):
        hint = (" Hint: the gradients piled up from batch to batch: call optimizer.zero_grad() before "
                "loss.backward() in every step.")
    elif torch.equal(found, params_of(linear_model(seed=121))):
        hint = " Hint: the weights never changed: call optimizer.step() after loss.backward()."
    raise AssertionError(f"after one epoch of SGD (lr={lr}) on 4 batches, expected the grader's weights, found a "
                         f"largest difference of {err:.3g}.{hint}")


@pytest.mark.points(1, cell="train_one_epoch")
def test_train_in_training_mode(ns):
    """runs the model in training mode (even when it arrives in eval mode), with gradients on"""
    X = randn(12, 5, seed=130)
    model = Recorder(seed=131)
    model.eval()
    _student_epoch(ns, model, loader(X, batch_size=4), nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0.01))
    calls = list(model.calls)
    assert len(calls) >= 3, f"expected a forward pass on each of the 3 batches, found {len(calls)} forward passes."
    in_eval = sum(1 for training, _ in calls if not training)
    assert in_eval == 0, (f"expected every forward pass of train_one_epoch in training mode, found {in_eval} of "
                          f"{len(calls)} in eval mode (dropout and batch norm then behave as at test time). Hint: "
                          f"call model.train() at the start: evaluate() leaves the model in eval mode.")
    no_grad = sum(1 for _, grad in calls if not grad)
    assert no_grad == 0, (f"expected gradients to be on while training, found {no_grad} forward passes under "
                          f"torch.no_grad().")


@pytest.mark.points(1, cell="train_one_epoch")
def test_train_per_sample_mean(ns):
    """returns the mean loss per sample, right when the last batch is smaller"""
    X = uneven_data(seed=140)  # 10 samples in batches of 4, 4, 2: the last two have a large loss
    model = linear_model(seed=141)
    value = _student_epoch(ns, model, loader(X, batch_size=4), nn.MSELoss(),
                           torch.optim.SGD(model.parameters(), lr=0.0))
    with torch.no_grad():
        m = linear_model(seed=141)
        per_batch = [float(nn.MSELoss()(m(X[i:i + 4]), X[i:i + 4])) for i in (0, 4, 8)]
    expected = (4 * per_batch[0] + 4 * per_batch[1] + 2 * per_batch[2]) / 10
    hint = ""
    if close(value, sum(per_batch) / 3, 1e-5):
        hint = (" Hint: that is the mean of the batch means; weight each batch by its size: "
                "sum(loss.item() * len(x)) / number of samples.")
    elif close(value, sum(per_batch), 1e-5) or close(value, 4 * per_batch[0] + 4 * per_batch[1] + 2 * per_batch[2],
                                                     1e-5):
        hint = " Hint: divide the total by the number of samples."
    assert close(value, expected, 1e-6), (f"on 10 samples in batches of 4, 4 and 2 (learning rate 0), expected a "
                                          f"per-sample mean loss of {expected:.6g}, found {value:.6g}.{hint}")


@pytest.mark.points(1, cell="train_one_epoch")
def test_train_batch_formats(ns):
    """accepts (x,) and (x, y) batches and reconstructs x, ignoring y"""
    X = randn(11, 5, seed=150)
    Y = randn(11, 5, seed=151, scale=3.0)  # same shape as X, so using it as the target runs but is wrong
    lr = 0.05
    for with_labels in (False, True):
        model = linear_model(seed=152)
        data = loader(X, Y, batch_size=4) if with_labels else loader(X, batch_size=4)
        value = _student_epoch(ns, model, data, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=lr))
        expected, weights = _reference_epoch(linear_model(seed=152), loader(X, batch_size=4), lr)
        fmt = "(x, y)" if with_labels else "(x,)"
        ok = close(value, expected, 1e-6) and torch.allclose(params_of(model), weights, atol=1e-9)
        assert ok, (f"with {fmt} batches, expected an epoch loss of {expected:.6g} and the grader's weights, "
                    f"found {value:.6g}." + (" Hint: an autoencoder's target is its input x = batch[0], not "
                                             "batch[1]." if with_labels else ""))


# ---------------------------------------------------------------- evaluate
def _student_eval(ns, model, data_loader) -> float:
    return as_float(call_loop(ns, "evaluate", model, data_loader, nn.MSELoss()), "evaluate")


@pytest.mark.points(1, cell="evaluate")
def test_evaluate_per_sample_mean(ns):
    """returns the mean loss per sample, right when the last batch is smaller"""
    X = uneven_data(seed=200)
    value = _student_eval(ns, linear_model(seed=201), loader(X, batch_size=4))
    with torch.no_grad():
        m = linear_model(seed=201)
        per_batch = [float(nn.MSELoss()(m(X[i:i + 4]), X[i:i + 4])) for i in (0, 4, 8)]
    expected = ref.evaluate(linear_model(seed=201), loader(X, batch_size=4), nn.MSELoss())
    hint = (" Hint: that is the mean of the batch means; weight each batch by its size."
            if close(value, sum(per_batch) / 3, 1e-5) else "")
    assert close(value, expected, 1e-6), (f"on 10 samples in batches of 4, 4 and 2, expected a per-sample mean "
                                          f"loss of {expected:.6g}, found {value:.6g}.{hint}")


@pytest.mark.points(1, cell="evaluate")
def test_evaluate_eval_mode(ns):
    """puts the model in eval mode (dropout off, batch norm on running statistics)"""
    X = randn(12, 5, seed=210)
    model = Recorder(seed=211)
    model.train()
    value = _student_eval(ns, model, loader(X, batch_size=5))
    calls = list(model.calls)
    assert calls, "expected evaluate to run the model on the batches, found no forward pass."
    in_train = sum(1 for training, _ in calls if training)
    assert in_train == 0, (f"expected every forward pass of evaluate in eval mode, found {in_train} of "
                           f"{len(calls)} in training mode (dropout was on). Hint: call model.eval() first.")
    expected = ref.evaluate(Recorder(seed=211), loader(X, batch_size=5), nn.MSELoss())
    assert close(value, expected, 1e-6), (f"on a model with dropout and batch norm, expected {expected:.6g}, "
                                          f"found {value:.6g}.")


@pytest.mark.points(1, cell="evaluate")
def test_evaluate_no_grad(ns):
    """builds no autograd graph (runs under torch.no_grad)"""
    X = randn(12, 5, seed=220)
    model = Recorder(seed=221)
    _student_eval(ns, model, loader(X, batch_size=5))
    with_grad = sum(1 for _, grad in model.calls if grad)
    assert model.calls and with_grad == 0, (
        f"expected evaluate to run without gradients, found {with_grad} of {len(model.calls)} forward passes "
        f"building an autograd graph. Hint: wrap the loop in `with torch.no_grad():` (it saves memory and time).")


@pytest.mark.points(1, cell="evaluate")
def test_evaluate_leaves_model_unchanged(ns):
    """leaves the weights, batch-norm statistics and gradients as they were"""
    X = randn(12, 5, seed=230, scale=2.0) + 1.0
    model = Recorder(seed=231)
    model.train()
    before = state_of(model)
    _student_eval(ns, model, loader(X, batch_size=5))
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert not changed, (f"expected evaluate to leave the model as it was, found {', '.join(changed[:3])} changed."
                         + (" Hint: in training mode batch norm updates its running statistics; call model.eval()."
                            if any("running" in k or "num_batches" in k for k in changed) else
                            " Hint: evaluate must not take optimizer steps."))
    with_grad = [n for n, p in model.named_parameters() if p.grad is not None]
    assert not with_grad, (f"expected no gradients after evaluate, found .grad set on {', '.join(with_grad[:3])}. "
                           f"Hint: evaluate never calls backward().")


# ---------------------------------------------------------------- fit
def _student_fit(ns, model, train_loader, val_loader, lr: float, epochs: int) -> dict:
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    with graders_helpers(ns, train_one_epoch=ref.train_one_epoch, evaluate=ref.evaluate):
        history = call(ns, "fit", model, train_loader, val_loader, nn.MSELoss(), optimizer, epochs)
    return read_history(history, "fit(...)", epochs)


def read_history(history, name: str, epochs: int | None = None) -> dict:
    """A student's history as {"train_loss": [floats], "val_loss": [floats]}, or a clear failure."""
    if not isinstance(history, dict):
        raise StudentError(f"`{name}` should be a dict {{'train_loss': [...], 'val_loss': [...]}}, found "
                           f"{type(history).__name__}.")
    out = {}
    for key in ("train_loss", "val_loss"):
        if key not in history:
            raise StudentError(f"`{name}` should have the key {key!r}, found keys {sorted(map(str, history))}.")
        values = history[key]
        if not isinstance(values, (list, tuple)):
            raise StudentError(f"`{name}[{key!r}]` should be a list of floats, found {type(values).__name__}.")
        out[key] = [as_float(v, f"{name}[{key!r}][{i}]") for i, v in enumerate(values)]
        if epochs is not None and len(out[key]) != epochs:
            raise StudentError(f"`{name}[{key!r}]` should have one value per epoch ({epochs}), found "
                               f"{len(out[key])}.")
    return out


@pytest.mark.points(1, cell="fit")
def test_fit_history_lengths(ns):
    """returns {"train_loss": [...], "val_loss": [...]} with one float per epoch"""
    X_train, X_val = fit_data()
    for epochs in (1, 4):
        _student_fit(ns, linear_model(seed=310), loader(X_train, batch_size=5), loader(X_val, batch_size=3),
                     0.05, epochs)


@pytest.mark.points(1, cell="fit")
def test_fit_validates_on_val_loader(ns):
    """measures the validation loss on the validation loader after each epoch"""
    X_train, X_val = fit_data()
    lr, epochs = 0.05, 3
    found = _student_fit(ns, linear_model(seed=320), loader(X_train, batch_size=5), loader(X_val, batch_size=3),
                         lr, epochs)
    model = linear_model(seed=320)
    expected = ref.fit(model, loader(X_train, batch_size=5), loader(X_val, batch_size=3), nn.MSELoss(),
                       torch.optim.SGD(model.parameters(), lr=lr), epochs)
    if all(close(a, b, 1e-6) for a, b in zip(found["val_loss"], expected["val_loss"])):
        return
    model = linear_model(seed=320)
    on_train = ref.fit(model, loader(X_train, batch_size=5), loader(X_train, batch_size=5), nn.MSELoss(),
                       torch.optim.SGD(model.parameters(), lr=lr), epochs)["val_loss"]
    hint = (" Hint: those are losses on the TRAINING loader; evaluate on val_loader."
            if all(close(a, b, 1e-6) for a, b in zip(found["val_loss"], on_train)) else
            " Hint: after each epoch's train_one_epoch, append evaluate(model, val_loader, loss_fn).")
    raise AssertionError(f"expected validation losses {[round(v, 4) for v in expected['val_loss']]}, found "
                         f"{[round(v, 4) for v in found['val_loss']]}.{hint}")


@pytest.mark.points(1, cell="fit")
def test_fit_trains_each_epoch(ns):
    """trains one epoch at a time: training losses and final weights match the grader's"""
    X_train, X_val = fit_data()
    lr, epochs = 0.05, 4
    model = linear_model(seed=330)
    found = _student_fit(ns, model, loader(X_train, batch_size=5), loader(X_val, batch_size=3), lr, epochs)
    reference = linear_model(seed=330)
    expected = ref.fit(reference, loader(X_train, batch_size=5), loader(X_val, batch_size=3), nn.MSELoss(),
                       torch.optim.SGD(reference.parameters(), lr=lr), epochs)
    assert all(close(a, b, 1e-6) for a, b in zip(found["train_loss"], expected["train_loss"])), (
        f"expected training losses {[round(v, 5) for v in expected['train_loss']]} (what train_one_epoch returns "
        f"each epoch), found {[round(v, 5) for v in found['train_loss']]}.")
    err = float((params_of(model) - params_of(reference)).abs().max())
    assert err < 1e-9, (f"after fit, expected the weights of {epochs} epochs of training, found a largest "
                        f"difference of {err:.3g}. Hint: train the model you were given with the optimizer you "
                        f"were given, once per epoch.")


# ---------------------------------------------------------------- a bank of clear curves


def _as_epoch(value, name: str) -> int:
    if isinstance(value, bool) or not (type(value) is int or type(value).__module__ == "numpy"):
        raise StudentError(f"`{name}` should return a Python int, found {type(value).__name__}. Hint: int(...) "
                           f"or .item() turns a 0-d tensor into one.")
    try:
        return int(operator.index(value))
    except TypeError:
        raise StudentError(f"`{name}` should return a whole number, found {value!r}.") from None


def _student_best(ns, history) -> int:
    copy_in = copy.deepcopy(history)
    return _as_epoch(call(ns, "best_epoch", copy_in), "best_epoch")


@pytest.mark.points(1, cell="best_epoch")
def test_best_epoch_bank(ns):
    """the 0-based epoch of the lowest validation loss, on a bank of curves"""
    for label, history in synthetic_bank() + real_bank():
        expected, found = ref.best_epoch(history), _student_best(ns, history)
        if found != expected:
            n = len(history["val_loss"])
            hint = (" Hint: epochs count from 0 (the first epoch is epoch 0), like list indices."
                    if found == expected + 1 else
                    " Hint: look for the lowest VALIDATION loss, not the training loss." if
                    found == ref.best_epoch({"val_loss": history["train_loss"]}) else
                    " Hint: return the position of the smallest value of history['val_loss'].")
            raise AssertionError(f"on a {n}-epoch {label} curve, expected best epoch {expected}, found {found}.{hint}")


@pytest.mark.points(1, cell="best_epoch")
def test_best_epoch_edges(ns):
    """the minimum at the first epoch, at the last epoch, and a single epoch"""
    cases = [([0.2, 0.3, 0.4, 0.35], 0), ([0.5, 0.4, 0.3, 0.2, 0.1], 4), ([0.7], 0), ([0.3, 0.1, 0.2, 0.5, 0.6], 1)]
    for val, expected in cases:
        history = {"train_loss": [v * 0.9 for v in val], "val_loss": val}
        found = _student_best(ns, history)
        assert found == expected, (f"for validation losses {val}, expected best epoch {expected} (0-based), found "
                                   f"{found}." + (" Hint: epochs count from 0." if found == expected + 1 else ""))


def _student_diagnosis(ns, history) -> str:
    with graders_helpers(ns, best_epoch=ref.best_epoch):
        value = call(ns, "diagnose_fit", copy.deepcopy(history))
    if type(value) is not str or value not in LABELS:
        raise StudentError(f"`diagnose_fit` should return one of the strings {', '.join(map(repr, LABELS))}, found "
                           f"{value!r}.")
    return value


def _describe(history) -> str:
    f = ref.features(history)
    return (f"{f['epochs']} epochs, best epoch {f['best']}, final validation loss {f['rise']:.2f}x its minimum, "
            f"validation changed by {-f['recent_drop']:+.0%} over the last quarter, final training loss "
            f"{f['learned']:.2f}x the first")


HINTS = {
    "overfitting": "validation loss more than 10% above its minimum at the end while training loss kept "
                   "falling: that is overfitting",
    "underfitting": "a model still improving fast when training stopped (or one that hardly learned) is "
                    "underfitting",
    "just right": "curves that flattened, validation close to its minimum, is just right",
}


def _diagnose_bank(ns, bank, label):
    for expected, history in bank:
        if expected != label:
            continue
        found = _student_diagnosis(ns, history)
        assert found == expected, (f"on a clear {expected} curve ({_describe(history)}), expected {expected!r}, "
                                   f"found {found!r}. Hint: {HINTS[expected]}.")


@pytest.mark.points(1, cell="diagnose_fit")
def test_diagnose_overfitting(ns):
    """recognises overfitting: validation loss rising after its minimum while training loss falls"""
    _diagnose_bank(ns, synthetic_bank(), "overfitting")


@pytest.mark.points(1, cell="diagnose_fit")
def test_diagnose_underfitting(ns):
    """recognises underfitting: still improving fast at the end, or hardly learned"""
    _diagnose_bank(ns, synthetic_bank(), "underfitting")


@pytest.mark.points(1, cell="diagnose_fit")
def test_diagnose_just_right(ns):
    """recognises a good fit: both curves flattened, validation at its minimum"""
    _diagnose_bank(ns, synthetic_bank(), "just right")


@pytest.mark.points(1, cell="diagnose_fit")
def test_diagnose_real_curves(ns):
    """diagnoses real MNIST autoencoder curves correctly"""
    for label in LABELS:
        _diagnose_bank(ns, real_bank(), label)


# ---------------------------------------------------------------- the student's own three experiments
OWN = {"underfit_history": "underfitting", "overfit_history": "overfitting", "good_history": "just right"}


def own_history(ns, name: str) -> dict:
    history = read_history(get(ns, name, kind="dict"), name)
    n_train, n_val = len(history["train_loss"]), len(history["val_loss"])
    if n_train != n_val:
        raise StudentError(f"`{name}` should hold one training and one validation loss per epoch, found "
                           f"{n_train} and {n_val}. Hint: keep what fit returned.")
    if n_val < 5:
        raise StudentError(f"`{name}` should cover at least 5 epochs, found {n_val}.")
    if min(history["train_loss"] + history["val_loss"]) <= 0:
        raise StudentError(f"`{name}` holds a loss <= 0: squared-error losses are positive. Hint: keep what fit "
                           f"returned.")
    return history


@pytest.mark.points(1, cell="own_curves")
def test_own_histories_recorded(ns):
    """the three experiments' histories exist, as fit returns them: finite, one value per epoch"""
    for name in OWN:
        own_history(ns, name)


def _curve_diagnosis(history: dict) -> str:
    """Why an experiment's curves are off, when its training itself failed (course_utils.diagnose): not learning
    (the training loss never got below predicting the average digit) or still falling fast."""
    from autograder.heldout import mnist_flat
    from course_utils.diagnose import NOT_LEARNING, TOO_SLOW, diagnose_training, mean_image_mse

    try:
        pool, _ = mnist_flat("train", n=1500, seed=0)  # the notebook's 1,500 digits, from the grader's own copy
        diagnosis = diagnose_training(history["train_loss"], mean_image_mse(pool), what="training loss",
                                      budget="the experiment's epochs")
    except Exception:
        return ""
    return "\n" + diagnosis.text() if diagnosis.kind in (NOT_LEARNING, TOO_SLOW) else ""


@pytest.mark.points(1, cell="own_curves")
def test_own_overfit_really_overfits(ns):
    """overfit_history overfits: validation lowest before the end and >10% above that at the end, training falling"""
    history = own_history(ns, "overfit_history")
    train, val = history["train_loss"], history["val_loss"]
    best = ref.best_epoch(history)
    assert best < len(val) - 1, (f"expected the validation loss of overfit_history to reach its minimum before the "
                                 f"last epoch, found it lowest at the last epoch ({best}). Hint: train the large "
                                 f"network on few images for more epochs." + _curve_diagnosis(history))
    rise = val[-1] / val[best]
    assert rise > ref.OVERFIT_RISE, (
        f"expected the final validation loss of overfit_history more than {ref.OVERFIT_RISE - 1:.0%} above its "
        f"minimum (epoch {best}), found {rise - 1:.1%} above. Hint: more epochs, or fewer training images."
        + _curve_diagnosis(history))
    assert train[-1] < 0.9 * train[best], (
        f"expected the training loss of overfit_history to keep falling after the best epoch {best}, found "
        f"{train[best]:.4g} there and {train[-1]:.4g} at the end." + _curve_diagnosis(history))


@pytest.mark.points(1, cell="own_curves")
def test_own_underfit(ns):
    """underfit_history is underfitting by the notebook's rule"""
    history = own_history(ns, "underfit_history")
    found = ref.diagnose_fit(history)
    assert found == "underfitting", (f"expected underfit_history to be underfitting, but by the notebook's rule it "
                                     f"is {found!r} ({_describe(history)})." + _curve_diagnosis(history))


@pytest.mark.points(1, cell="own_curves")
def test_own_good(ns):
    """good_history is just right by the notebook's rule"""
    history = own_history(ns, "good_history")
    found = ref.diagnose_fit(history)
    assert found == "just right", (f"expected good_history to be just right, but by the notebook's rule it is "
                                   f"{found!r} ({_describe(history)})." + _curve_diagnosis(history))
