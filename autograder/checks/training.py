"""Hidden checks for part 5, ``05_training_loop.ipynb``: the training loop, validation, reading curves.

Conventions the notebook states and the grader's models and loaders follow:

* every batch is a tuple or list whose FIRST item is the input ``x`` (``(x,)`` or ``(x, y)``); the
  target of an autoencoder is ``x`` itself: ``loss_fn(model(x), x)``;
* ``loss_fn`` uses ``reduction="mean"`` (``nn.MSELoss()``), so the per-sample mean of an epoch is
  ``sum(batch_loss * batch_size) / number_of_samples``.

They run on the trusted side. The grader's tiny models, loaders and optimizers are built in the kernel from
public pieces (``torch.nn.Linear`` and the recipes' instruments, with grader-chosen weights sent as inputs), the
student's loop runs there on them, and what it did comes back as data: the model's parameters and buffers
(the ``state`` recipe), the returned losses, a subset's item positions. Each verdict compares that data with
what this side computes itself on identical copies (the same instrument classes, :mod:`autograder.heldout.
training`). What the instruments record (``Recorder.calls``, ``CountingSGD.steps``) is evidence: it may fail a
check or sharpen its hint, never pass one. "evaluate runs under no_grad", which no data shows, is read from the
student's source (:mod:`autograder.source`).

Nothing of the grader is put into the student's namespace: ``fit`` is judged against the student's OWN
``train_one_epoch`` and ``evaluate`` called in sequence on an identical copy (when fit's source uses them), or
against this side's reference, and ``diagnose_fit`` against the notebook's rule with the best epoch the student's
OWN ``best_epoch`` gives (when diagnose_fit's source uses it), or with the true one, so a mistake in one exercise
costs points once, on its own cell. The three experiments'
histories count only as far as this side can recompute them: each final validation loss must agree with this
side's own evaluation of the trained model (exported as a graph) on the validation digits, taken from the
grader's copy of MNIST.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from autograder import graph as graphs
from autograder import source
from autograder.heldout.training import (RECORDER_PARAMETERS, fit_data, linear_model, linear_weights, loader, randn,
                                         real_bank, recorder, recorder_weights, synthetic_bank, uneven_data)
from autograder.reference import training as ref
from autograder.remote import BadReply, Handle, RemoteError
from autograder.studentcode import (CheckTimeout, StudentError, as_float, call, get, is_instance, remote_failure,
                                type_name)


LABELS = ("underfitting", "overfitting", "just right")


# ---------------------------------------------------------------- grader-held models, data and loaders, in the kernel
def k_linear(ns, seed: int):
    """The kernel's copy of :func:`linear_model`: ``nn.Linear(5, 5).double()`` with the grader's weights."""
    model = ns.call({"path": "torch.nn.Linear"}, 5, 5)
    model.method("double")
    ns.recipe("load_state", model, linear_weights(seed=seed))
    return model


def k_recorder(ns, seed: int, mode: str, statistics: bool = False):
    """The kernel's copy of :func:`recorder` (the same instrument class), in ``mode`` ("train" or "eval")."""
    model = ns.recipe("instrument", "Recorder", 5, 8)
    ns.recipe("load_state", model, recorder_weights(seed=seed, statistics=statistics))
    model.method(mode)
    return model


def k_loader(ns, *tensors, batch_size: int):
    return ns.recipe("loader", *tensors, batch_size=batch_size)


def k_optimizer(ns, model, lr: float, kind: str = "SGD"):
    return ns.recipe("optimizer", model, kind, lr)


def k_mse(ns):
    return ns.call({"path": "torch.nn.MSELoss"})


@dataclass
class State:
    """A kernel module's tensors, as data: by name, as ``state_dict`` names them."""

    params: dict
    buffers: dict
    grads: dict

    def vector(self, names) -> torch.Tensor:
        return torch.cat([self.params[n].detach().double().reshape(-1) for n in names])


def k_state(ns, model, expect: nn.Module) -> State:
    """The parameters, buffers and gradients of a kernel module that should have ``expect``'s layout."""
    st = ns.recipe("state", model)
    try:
        params = {str(n): t for n, t in st["params"]}
        buffers = {str(n): t for n, t in st["buffers"]}
        grads = {str(n): g for n, g in st["grads"]}
    except (TypeError, KeyError, ValueError):
        raise BadReply("the model's state is not a list of named tensors") from None
    for name, p in list(expect.named_parameters()) + list(expect.named_buffers()):
        found = params.get(name, buffers.get(name))
        if not isinstance(found, torch.Tensor) or found.shape != p.shape or found.dtype != p.dtype:
            shown = (f"a {str(found.dtype).removeprefix('torch.')} tensor of shape {tuple(found.shape)}"
                     if isinstance(found, torch.Tensor) else "none")
            raise StudentError(f"after your code ran, the model's {name} should still be a "
                               f"{str(p.dtype).removeprefix('torch.')} tensor of shape {tuple(p.shape)}, found "
                               f"{shown}. Hint: train the model you were given as it is: don't replace its layers "
                               f"or change its dtype.")
    return State(params, buffers, grads)


def params_of(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def parameter_names(model: nn.Module) -> list[str]:
    return [n for n, _ in model.named_parameters()]


def same(found: torch.Tensor, expected: torch.Tensor, rel: float = 1e-9) -> bool:
    """Equal up to float64 rounding (both sides ran the same operations on the same numbers)."""
    return found.shape == expected.shape and float((found - expected).abs().max()) <= rel * (
        1 + float(expected.abs().max()))


def evidence(handle, attribute: str):
    """An instrument's recording (evidence: a reading that is missing or odd is ignored, never a pass)."""
    try:
        return handle.attr(attribute)
    except RemoteError as exc:
        if exc.kind == "timeout":
            raise CheckTimeout(exc.message) from None
        return None


def recorded_calls(model) -> list[tuple[bool, bool]] | None:
    """The Recorder's (training, grad_enabled) pairs, or None when the recording cannot be read."""
    calls = evidence(model, "calls")
    if not isinstance(calls, list) or not all(isinstance(c, (tuple, list)) and len(c) == 2 and
                                              all(type(v) is bool for v in c) for c in calls):
        return None
    return [(c[0], c[1]) for c in calls]


UNPACK_HINT = (" Hint: every batch is a tuple or list whose first item is x (make_loader(X) gives (x,), a "
               "dataset of (x, y) pairs gives [x, y]); take x = batch[0] and use x as the target.")


def call_loop(ns, name: str, *args):
    """Call a student's loop function; explain the usual batch-unpacking error."""
    try:
        return call(ns, name, *args)
    except StudentError as exc:
        text = str(exc)
        if "unpack" in text or "too many values" in text:
            raise StudentError(text.split(" Hint:")[0] + UNPACK_HINT) from None
        raise


def close(a: float, b: float, rel: float = 1e-6) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


def short_type(value) -> str:
    return type_name(value).rsplit(".", 1)[-1]


# ---------------------------------------------------------------- split_train_val
SUBSET = "torch.utils.data.dataset.Subset"


def _items(ns, subset, name: str, dataset, n: int) -> list[int]:
    """The dataset items a student's subset holds (the dataset holds 0 … n-1: an item is its position), as data.

    That it is a Subset of the very dataset it was given is the kernel's word: it can only fail the check.
    """
    if not (isinstance(subset, Handle) and subset.is_a(SUBSET)):
        raise StudentError(f"`split_train_val` should return torch.utils.data.Subset objects, found "
                           f"{short_type(subset)} for the {name} part. Hint: Subset(dataset, indices), or "
                           f"torch.utils.data.random_split.")
    try:
        info = ns.recipe("subset_indices", subset)
    except RemoteError as exc:
        if exc.kind == "timeout":
            raise CheckTimeout(exc.message) from None
        raise StudentError(f"could not read the {name} Subset's items ({exc}). Hint: its indices should be whole "
                           f"numbers in range(len(dataset)).") from None
    base = info.get("dataset") if isinstance(info, dict) else None
    if not isinstance(base, Handle) or info.get("depth") != 1 or base.number != dataset.number:
        raise StudentError(f"the {name} Subset should index into the dataset it was given (its .dataset is "
                           f"another object). Hint: Subset(dataset, indices).")
    positions = info.get("indices")
    if not isinstance(positions, torch.Tensor) or positions.dim() != 1 or positions.dtype != torch.int64:
        raise BadReply("a subset's positions did not come back as integers")
    items = positions.tolist()
    outside = [i for i in items if not -n <= i < n]
    if outside:
        raise StudentError(f"could not read the {name} Subset's items (IndexError: index {outside[0]} is out of "
                           f"range for {n} items). Hint: its indices should be whole numbers in range(len(dataset)).")
    return [i % n for i in items]


def student_split(ns, n: int, fraction: float, seed: int):
    dataset = ns.call({"path": "torch.utils.data.TensorDataset"}, torch.arange(n))
    result = call(ns, "split_train_val", dataset, fraction, seed)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise StudentError("`split_train_val` should return a pair (train_subset, val_subset), found "
                           f"{short_type(result)}.")
    return _items(ns, result[0], "training", dataset, n), _items(ns, result[1], "validation", dataset, n)


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
    ns.call({"path": "torch.manual_seed"}, 1234)  # the kernel's global random state moves on
    ns.call({"path": "torch.rand"}, 17)
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
def _student_epoch(ns, model, data_loader, optimizer) -> float:
    value = call_loop(ns, "train_one_epoch", model, data_loader, k_mse(ns), optimizer)
    return as_float(value, "train_one_epoch")


def _reference_epoch(seed: int, X, lr: float, zero_grad: bool = True) -> tuple[float, torch.Tensor]:
    """This side's epoch of plain SGD on its copy (without clearing the gradients: for the hints)."""
    model = linear_model(seed=seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    if zero_grad:
        value = ref.train_one_epoch(model, loader(X, batch_size=4), nn.MSELoss(), optimizer)
        return value, params_of(model)
    for batch in loader(X, batch_size=4):
        x = batch[0]
        nn.MSELoss()(model(x), x).backward()
        optimizer.step()
    return math.nan, params_of(model)


@pytest.mark.points(1, cell="train_one_epoch")
def test_train_returns_float(ns):
    """returns the epoch's loss as a finite Python float"""
    X = randn(12, 5, seed=100)
    model = k_linear(ns, seed=101)
    _student_epoch(ns, model, k_loader(ns, X, batch_size=4), k_optimizer(ns, model, 0.01))


@pytest.mark.points(1, cell="train_one_epoch")
def test_train_one_step_per_batch(ns):
    """takes exactly one optimizer step per batch"""
    X = randn(13, 5, seed=110)
    lr = 0.1
    model = k_linear(ns, seed=111)
    optimizer = k_optimizer(ns, model, lr, "CountingSGD")
    _student_epoch(ns, model, k_loader(ns, X, batch_size=4), optimizer)
    steps = evidence(optimizer, "steps")
    if type(steps) is int:
        assert steps == 4, (
            f"expected one optimizer.step() per batch (4 batches), found {steps}."
            + (" Hint: after loss.backward(), call optimizer.step() to update the weights." if steps == 0
               else " Hint: step inside the loop over batches, once per batch."))
    found = k_state(ns, model, linear_model(seed=111)).vector(["weight", "bias"])
    assert not torch.equal(found, params_of(linear_model(seed=111))), \
        "the model's parameters did not change during the epoch."
    # The weights of 4 steps, one per batch, whether the gradients were cleared before each (the reference) or not
    # (that mistake is train_one_epoch's other check): what one step per batch leaves, in the data.
    four_steps = [_reference_epoch(111, X, lr, zero_grad)[1] for zero_grad in (True, False)]
    assert any(same(found, weights) for weights in four_steps), (
        "expected the weights that one optimizer.step() per batch (4 batches) gives, found weights that no run of "
        "4 SGD steps on these batches leaves. Hint: step inside the loop over batches, once per batch, after "
        "loss.backward().")


@pytest.mark.points(1, cell="train_one_epoch")
def test_train_clears_gradients(ns):
    """clears the gradients before every step: the weights match plain SGD batch by batch"""
    X = randn(13, 5, seed=120)
    lr = 0.1
    model = k_linear(ns, seed=121)
    _student_epoch(ns, model, k_loader(ns, X, batch_size=4), k_optimizer(ns, model, lr))
    found = k_state(ns, model, linear_model(seed=121)).vector(["weight", "bias"])
    _, expected = _reference_epoch(121, X, lr)
    err = float((found - expected).abs().max())
    if err < 1e-9 * (1 + float(expected.abs().max())):
        return
    hint = " Hint: the loss is loss_fn(model(x), x), then zero_grad, backward, step, once per batch."
    if torch.allclose(found, _reference_epoch(121, X, lr, zero_grad=False)[1], atol=1e-9):
        hint = (" Hint: the gradients piled up from batch to batch: call optimizer.zero_grad() before "
                "loss.backward() in every step.")
    elif torch.equal(found, params_of(linear_model(seed=121))):
        hint = " Hint: the weights never changed: call optimizer.step() after loss.backward()."
    raise AssertionError(f"after one epoch of SGD (lr={lr}) on 4 batches, expected the grader's weights, found a "
                         f"largest difference of {err:.3g}.{hint}")


BATCH_NORM_STATISTICS = ("norm.running_mean", "norm.running_var", "norm.num_batches_tracked")


def _recorder_epoch(X, lr: float, zero_grad: bool, step: bool) -> nn.Module:
    """This side's epoch on its copy of the training-mode check's Recorder (arriving in eval mode, dropout at p=0):
    the reference loop (``zero_grad`` and ``step``), or one that never clears the gradients, or never steps."""
    model = recorder(seed=131)
    model.drop.p = 0.0
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for batch in loader(X, batch_size=4):
        x = batch[0]
        loss = nn.MSELoss()(model(x), x)
        if zero_grad:
            optimizer.zero_grad()
        loss.backward()
        if step:
            optimizer.step()
    return model


def _same_statistics(found: dict, model: nn.Module) -> bool:
    expected = dict(model.named_buffers())
    return int(found["norm.num_batches_tracked"]) == int(expected["norm.num_batches_tracked"]) and all(
        same(found[name].double(), expected[name].double()) for name in BATCH_NORM_STATISTICS[:2])


def _same_gradients(grads: dict, model: nn.Module) -> bool:
    return all(isinstance(grads.get(n), torch.Tensor) and p.grad is not None and
               same(grads[n].double().reshape(-1), p.grad.reshape(-1)) for n, p in model.named_parameters())


@pytest.mark.points(1, cell="train_one_epoch")
def test_train_in_training_mode(ns):
    """runs the model in training mode (even when it arrives in eval mode), with gradients on"""
    # The Recorder arrives in eval mode, its dropout set to p=0 (in both copies) so that the whole epoch replays
    # exactly here: training mode stays visible in the data through batch norm, which normalises with the batch's
    # statistics and updates its running statistics only in training mode, and "gradients on" through the weights
    # SGD leaves (or, for a loop that never steps, the gradients backward left). Each of the loop's other mistakes
    # (no zero_grad, no step) is charged by its own check, so each is accepted here when the mode was right.
    X = randn(12, 5, seed=130)
    lr = 0.1
    model = k_recorder(ns, 131, mode="eval")
    ns.recipe("lookup", model, "drop").method("__setattr__", "p", 0.0)
    _student_epoch(ns, model, k_loader(ns, X, batch_size=4), k_optimizer(ns, model, lr))
    calls = recorded_calls(model)
    if calls is not None:
        assert len(calls) >= 3, f"expected a forward pass on each of the 3 batches, found {len(calls)} forward passes."
        in_eval = sum(1 for training, _ in calls if not training)
        assert in_eval == 0, (f"expected every forward pass of train_one_epoch in training mode, found {in_eval} of "
                              f"{len(calls)} in eval mode (dropout and batch norm then behave as at test time). Hint: "
                              f"call model.train() at the start: evaluate() leaves the model in eval mode.")
        no_grad = sum(1 for _, grad in calls if not grad)
        assert no_grad == 0, (f"expected gradients to be on while training, found {no_grad} forward passes under "
                              f"torch.no_grad().")
    state = k_state(ns, model, recorder(seed=131))
    weights = state.vector(RECORDER_PARAMETERS)
    stepped = [_recorder_epoch(X, lr, zero_grad, step=True) for zero_grad in (True, False)]
    if any(same(weights, params_of(m)) and _same_statistics(state.buffers, m) for m in stepped):
        return
    unstepped = [_recorder_epoch(X, lr, zero_grad, step=False) for zero_grad in (True, False)]
    if same(weights, params_of(unstepped[0])) and _same_statistics(state.buffers, unstepped[0]) and any(
            _same_gradients(state.grads, m) for m in unstepped):
        return
    updates = int(state.buffers["norm.num_batches_tracked"])
    if updates == 0:
        raise AssertionError("expected batch norm's running statistics to be updated by each of the 3 batches "
                             "(training mode), found them untouched. Hint: the model stayed in eval mode: call "
                             "model.train() at the start of the epoch (evaluate() leaves the model in eval mode).")
    if same(weights, params_of(unstepped[0])) and not any(_same_gradients(state.grads, m) for m in unstepped):
        raise AssertionError("expected gradients to be on while training, found no step taken and no gradients "
                             "left by backward. Hint: the forward pass and the loss must not be under "
                             "torch.no_grad(): loss.backward() needs their graph.")
    raise AssertionError(f"expected the model trained in training mode, one forward pass per batch (3 batches), found "
                         f"batch norm's running statistics updated {updates} time(s) and weights that no such epoch "
                         f"leaves. Hint: model.train() at the start of the epoch, then for each batch one forward "
                         f"pass, zero_grad, backward and step.")


@pytest.mark.points(1, cell="train_one_epoch")
def test_train_per_sample_mean(ns):
    """returns the mean loss per sample, right when the last batch is smaller"""
    X = uneven_data(seed=140)  # 10 samples in batches of 4, 4, 2: the last two have a large loss
    model = k_linear(ns, seed=141)
    value = _student_epoch(ns, model, k_loader(ns, X, batch_size=4), k_optimizer(ns, model, 0.0))
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
    expected, weights = _reference_epoch(152, X, lr)
    for with_labels in (False, True):
        model = k_linear(ns, seed=152)
        data = k_loader(ns, X, Y, batch_size=4) if with_labels else k_loader(ns, X, batch_size=4)
        value = _student_epoch(ns, model, data, k_optimizer(ns, model, lr))
        found = k_state(ns, model, linear_model(seed=152)).vector(["weight", "bias"])
        fmt = "(x, y)" if with_labels else "(x,)"
        ok = close(value, expected, 1e-6) and torch.allclose(found, weights, atol=1e-9)
        assert ok, (f"with {fmt} batches, expected an epoch loss of {expected:.6g} and the grader's weights, "
                    f"found {value:.6g}." + (" Hint: an autoencoder's target is its input x = batch[0], not "
                                             "batch[1]." if with_labels else ""))


# ---------------------------------------------------------------- evaluate
def _student_eval(ns, model, data_loader) -> float:
    return as_float(call_loop(ns, "evaluate", model, data_loader, k_mse(ns)), "evaluate")


@pytest.mark.points(1, cell="evaluate")
def test_evaluate_per_sample_mean(ns):
    """returns the mean loss per sample, right when the last batch is smaller"""
    X = uneven_data(seed=200)
    value = _student_eval(ns, k_linear(ns, seed=201), k_loader(ns, X, batch_size=4))
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
    # The loss of eval mode is deterministic (batch norm on the grader's running statistics, no dropout), and this
    # side computes it on its copy; in training mode, batch statistics and dropout's draws give another number.
    X = randn(12, 5, seed=210)
    model = k_recorder(ns, 211, mode="train", statistics=True)
    value = _student_eval(ns, model, k_loader(ns, X, batch_size=5))
    calls = recorded_calls(model)
    if calls is not None:
        assert calls, "expected evaluate to run the model on the batches, found no forward pass."
        in_train = sum(1 for training, _ in calls if training)
        assert in_train == 0, (f"expected every forward pass of evaluate in eval mode, found {in_train} of "
                               f"{len(calls)} in training mode (dropout was on). Hint: call model.eval() first.")
    expected = ref.evaluate(recorder(seed=211, statistics=True), loader(X, batch_size=5), nn.MSELoss())
    assert close(value, expected, 1e-6), (f"on a model with dropout and batch norm, expected {expected:.6g}, "
                                          f"found {value:.6g}.")


@pytest.mark.points(1, cell="evaluate")
def test_evaluate_no_grad(ns):
    """builds no autograd graph (runs under torch.no_grad)"""
    X = randn(12, 5, seed=220)
    model = k_recorder(ns, 221, mode="train")
    _student_eval(ns, model, k_loader(ns, X, batch_size=5))
    hint = "Hint: wrap the loop in `with torch.no_grad():` (it saves memory and time)."
    assert source.runs_without_gradients(ns.cells, "evaluate"), (
        f"expected evaluate to run without gradients, found no `with torch.no_grad():` (or torch.inference_mode()) "
        f"around the model's forward pass in evaluate or in the functions it calls. {hint}")
    calls = recorded_calls(model)
    if calls is not None:
        with_grad = sum(1 for _, grad in calls if grad)
        assert calls and with_grad == 0, (
            f"expected evaluate to run without gradients, found {with_grad} of {len(calls)} forward passes "
            f"building an autograd graph. {hint}")


@pytest.mark.points(1, cell="evaluate")
def test_evaluate_leaves_model_unchanged(ns):
    """leaves the weights, batch-norm statistics and gradients as they were"""
    X = randn(12, 5, seed=230, scale=2.0) + 1.0
    model = k_recorder(ns, 231, mode="train")
    _student_eval(ns, model, k_loader(ns, X, batch_size=5))
    before = recorder(seed=231)
    state = k_state(ns, model, before)
    after = {**state.params, **state.buffers}
    changed = [k for k, v in before.state_dict().items() if not torch.equal(after[k], v)]
    assert not changed, (f"expected evaluate to leave the model as it was, found {', '.join(changed[:3])} changed."
                         + (" Hint: in training mode batch norm updates its running statistics; call model.eval()."
                            if any("running" in k or "num_batches" in k for k in changed) else
                            " Hint: evaluate must not take optimizer steps."))
    with_grad = [n for n in parameter_names(before) if state.grads.get(n) is not None]
    assert not with_grad, (f"expected no gradients after evaluate, found .grad set on {', '.join(with_grad[:3])}. "
                           f"Hint: evaluate never calls backward().")


# ---------------------------------------------------------------- fit
FIT_FORMATS = ("(x,)", "(x, y)")


@dataclass
class Run:
    """One run of ``epochs`` epochs: the losses as returned (floats, or what the student's functions return) and
    the final weights."""

    train_loss: list
    val_loss: list
    weights: torch.Tensor


def _fit_tensors(fmt: str, val_on_train: bool = False):
    X_train, X_val = fit_data()
    if val_on_train:
        X_val = X_train
    if fmt == "(x,)":
        return (X_train,), (X_val,)
    return (X_train, torch.arange(len(X_train))), (X_val, torch.arange(len(X_val)))


def _reference_run(seed: int, lr: float, epochs: int, fmt: str, val_on_train: bool = False) -> Run:
    """This side's reference fit on its own copy."""
    train, val = _fit_tensors(fmt, val_on_train)
    model = linear_model(seed=seed)
    history = ref.fit(model, loader(*train, batch_size=5), loader(*val, batch_size=3), nn.MSELoss(),
                      torch.optim.SGD(model.parameters(), lr=lr), epochs)
    return Run(history["train_loss"], history["val_loss"], params_of(model))


def _kernel_copy(ns, seed: int, lr: float, fmt: str, val_on_train: bool = False):
    train, val = _fit_tensors(fmt, val_on_train)
    model = k_linear(ns, seed)
    return (model, k_loader(ns, *train, batch_size=5), k_loader(ns, *val, batch_size=3), k_mse(ns),
            k_optimizer(ns, model, lr))


def _own_run(ns, seed: int, lr: float, epochs: int, fmt: str, val_on_train: bool = False) -> Run:
    """The student's OWN train_one_epoch and evaluate, called in sequence on an identical copy in the kernel: what
    their fit should give (so a mistake in those two is not charged again here)."""
    model, train_loader, val_loader, loss_fn, optimizer = _kernel_copy(ns, seed, lr, fmt, val_on_train)
    train_loss, val_loss = [], []
    for _ in range(epochs):
        train_loss.append(call_loop(ns, "train_one_epoch", model, train_loader, loss_fn, optimizer))
        val_loss.append(call_loop(ns, "evaluate", model, val_loader, loss_fn))
    return Run(train_loss, val_loss, k_state(ns, model, linear_model(seed=seed)).vector(["weight", "bias"]))


@dataclass
class FitCase:
    found: dict  # the student's fit, read: {"train_loss": [floats], "val_loss": [floats]}
    weights: torch.Tensor  # the weights fit left
    own: Run | None  # the student's own functions in sequence (None when they do not run)
    reference: Run
    fmt: str
    seed: int
    lr: float
    epochs: int
    calls: frozenset = frozenset()  # which of train_one_epoch and evaluate fit's source uses

    def runs(self, helper: str) -> list[Run]:
        """What fit may give, judged on what ``helper`` produces: the student's own sequence (when fit uses that
        function: a fit that does not call it is not excused by it), and this side's reference."""
        own = [self.own] if self.own is not None and helper in self.calls else []
        return own + [self.reference]

    def expected(self, helper: str) -> Run:
        return self.runs(helper)[0]

    def source(self, helper: str) -> str:
        if self.expected(helper) is self.reference:
            return ""
        agree = _losses_match(self.reference.train_loss + self.reference.val_loss,
                              self.own.train_loss + self.own.val_loss)
        return "" if agree else " (what your own train_one_epoch and evaluate give when called in sequence)"


def _number(value):
    """A loss as the student's functions return it: a float, or a 0-d real tensor (their train_one_epoch's own
    mistake, not fit's); None for anything else."""
    if type(value) in (int, float) and type(value) is not bool:
        return float(value)
    if isinstance(value, torch.Tensor) and value.dim() == 0 and value.is_floating_point():
        return float(value)
    return None


def _fit_case(ns, seed: int, lr: float, epochs: int) -> FitCase:
    own, problems, fmt = None, [], FIT_FORMATS[0]
    for candidate in FIT_FORMATS:  # the batch format the student's own functions run on ((x,) first)
        try:
            own, fmt = _own_run(ns, seed, lr, epochs, candidate), candidate
            break
        except StudentError as exc:
            problems.append(str(exc))
    reference = _reference_run(seed, lr, epochs, fmt)
    model, train_loader, val_loader, loss_fn, optimizer = _kernel_copy(ns, seed, lr, fmt)
    try:
        history = call(ns, "fit", model, train_loader, val_loader, loss_fn, optimizer, epochs)
    except StudentError as exc:
        if own is None:
            raise StudentError(f"{exc} Note: fit is graded with your own train_one_epoch and evaluate, which failed "
                               f"when the grader called them the same way ({problems[0].split(' Hint:')[0]}): "
                               f"finish them too.") from None
        raise
    tensors_ok = {key: own is not None and any(isinstance(v, torch.Tensor) for v in getattr(own, key))
                  for key in ("train_loss", "val_loss")}
    found = read_history(history, "fit(...)", epochs, tensors_ok)
    weights = k_state(ns, model, linear_model(seed=seed)).vector(["weight", "bias"])
    uses = source.read(ns.cells, "fit").names
    return FitCase(found, weights, own, reference, fmt, seed, lr, epochs,
                   frozenset(h for h in ("train_one_epoch", "evaluate") if h in uses))


def read_history(history, name: str, epochs: int | None = None, tensors_ok: dict | None = None) -> dict:
    """A student's history as {"train_loss": [floats], "val_loss": [floats]}, or a clear failure.

    ``tensors_ok[key]``: the student's own train_one_epoch (or evaluate) returns 0-d tensors, so fit may keep them.
    """
    if not isinstance(history, dict):
        raise StudentError(f"`{name}` should be a dict {{'train_loss': [...], 'val_loss': [...]}}, found "
                           f"{short_type(history)}.")
    out = {}
    for key in ("train_loss", "val_loss"):
        if key not in history:
            raise StudentError(f"`{name}` should have the key {key!r}, found keys {sorted(map(str, history))}.")
        values = history[key]
        if not isinstance(values, (list, tuple)):
            raise StudentError(f"`{name}[{key!r}]` should be a list of floats, found {short_type(values)}.")
        allow = bool(tensors_ok and tensors_ok.get(key))
        out[key] = [_loss(v, f"{name}[{key!r}][{i}]", allow) for i, v in enumerate(values)]
        if epochs is not None and len(out[key]) != epochs:
            raise StudentError(f"`{name}[{key!r}]` should have one value per epoch ({epochs}), found "
                               f"{len(out[key])}.")
    return out


def _loss(value, name: str, tensor_ok: bool) -> float:
    number = _number(value) if tensor_ok and isinstance(value, torch.Tensor) else None
    return number if number is not None and math.isfinite(number) else as_float(value, name)


def _losses_match(found: list, expected: list) -> bool:
    numbers = [_number(v) for v in expected]
    return len(found) == len(numbers) and all(b is not None and close(a, b, 1e-6) for a, b in zip(found, numbers))


def _rounded(values: list, digits: int) -> list:
    return [round(_number(v), digits) if _number(v) is not None else v for v in values]


@pytest.mark.points(1, cell="fit")
def test_fit_history_lengths(ns):
    """returns {"train_loss": [...], "val_loss": [...]} with one float per epoch"""
    for epochs in (1, 4):
        _fit_case(ns, seed=310, lr=0.05, epochs=epochs)


@pytest.mark.points(1, cell="fit")
def test_fit_validates_on_val_loader(ns):
    """measures the validation loss on the validation loader after each epoch"""
    case = _fit_case(ns, seed=320, lr=0.05, epochs=3)
    found = case.found["val_loss"]
    if any(_losses_match(found, run.val_loss) for run in case.runs("evaluate")):
        return
    on_train = [_reference_run(case.seed, case.lr, case.epochs, case.fmt, val_on_train=True).val_loss]
    if case.expected("evaluate") is case.own:
        on_train.append(_own_run(ns, case.seed, case.lr, case.epochs, case.fmt, val_on_train=True).val_loss)
    hint = (" Hint: those are losses on the TRAINING loader; evaluate on val_loader."
            if any(_losses_match(found, losses) for losses in on_train) else
            " Hint: after each epoch's train_one_epoch, append evaluate(model, val_loader, loss_fn).")
    raise AssertionError(f"expected validation losses {_rounded(case.expected('evaluate').val_loss, 4)}"
                         f"{case.source('evaluate')}, found {[round(v, 4) for v in found]}.{hint}")


@pytest.mark.points(1, cell="fit")
def test_fit_trains_each_epoch(ns):
    """trains one epoch at a time: training losses and final weights match the grader's"""
    case = _fit_case(ns, seed=330, lr=0.05, epochs=4)
    runs = case.runs("train_one_epoch")
    if any(_losses_match(case.found["train_loss"], run.train_loss) and float((case.weights - run.weights).abs().max())
           < 1e-9 for run in runs):
        return
    expected = case.expected("train_one_epoch")
    assert any(_losses_match(case.found["train_loss"], run.train_loss) for run in runs), (
        f"expected training losses {_rounded(expected.train_loss, 5)} (what train_one_epoch returns each epoch), "
        f"found {[round(v, 5) for v in case.found['train_loss']]}.")
    err = min(float((case.weights - run.weights).abs().max()) for run in runs)
    raise AssertionError(f"after fit, expected the weights of {case.epochs} epochs of training, found a largest "
                         f"difference of {err:.3g}. Hint: train the model you were given with the optimizer you "
                         f"were given, once per epoch.")


# ---------------------------------------------------------------- a bank of clear curves
def _index(ns, value):
    """The whole number a student's result stands for, as Python's list indexing reads it (``operator.index``:
    an int, a bool, a numpy integer, a 0-d integer tensor); None when it is none of those."""
    if type(value) in (int, bool):
        return int(value)
    if isinstance(value, torch.Tensor):
        return int(value) if value.dim() == 0 and not value.is_floating_point() and not value.is_complex() else None
    if isinstance(value, Handle) and value.type.startswith("numpy."):
        try:
            number = value.method("__index__")
        except RemoteError as exc:
            if exc.kind == "timeout":
                raise CheckTimeout(exc.message) from None
            return None
        return number if type(number) is int else None
    return None


def _as_epoch(ns, value, name: str) -> int:
    if type(value) is bool or not (type(value) is int or (isinstance(value, Handle) and
                                                          value.type.startswith("numpy."))):
        raise StudentError(f"`{name}` should return a Python int, found {short_type(value)}. Hint: int(...) "
                           f"or .item() turns a 0-d tensor into one.")
    number = _index(ns, value)
    if number is None:
        raise StudentError(f"`{name}` should return a whole number, found a {value.type_name}.")
    return number


def _student_best(ns, history) -> int:
    return _as_epoch(ns, call(ns, "best_epoch", history), "best_epoch")


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


def _best_for_rule(ns, history) -> tuple[int | None, str]:
    """The best epoch the student's own best_epoch gives for ``history``, as diagnose_fit's rule would use it
    (``val[best]``): (the index, "") or (None, why the rule cannot use it)."""
    n = len(history["val_loss"])
    try:
        value = call(ns, "best_epoch", history)
    except StudentError as exc:
        return None, f"your best_epoch fails on it ({str(exc).split(' Hint:')[0]})"
    index = _index(ns, value)
    if index is None or not -n <= index < n:
        shown = index if index is not None else short_type(value)
        return None, f"your best_epoch returns {shown}, which is not an epoch of this {n}-epoch curve"
    return index, ""


def _student_diagnosis(ns, history, excusable: bool):
    """The student's label for ``history``; None when it failed where the rule cannot be applied with their own
    best_epoch (``excusable``: that mistake is best_epoch's, charged there)."""
    fn = get(ns, "diagnose_fit")
    try:
        value = fn(history)
    except RemoteError as exc:
        if exc.kind == "timeout":
            raise CheckTimeout(exc.message) from None
        if excusable and exc.kind == "raised":
            return None
        raise StudentError(remote_failure(exc, "diagnose_fit")) from None
    if type(value) is not str or value not in LABELS:
        shown = repr(value) if type(value) in (str, int, float, bool) or value is None else f"a {short_type(value)}"
        raise StudentError(f"`diagnose_fit` should return one of the strings {', '.join(map(repr, LABELS))}, found "
                           f"{shown}.")
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


def _diagnose_bank(ns, bank, label) -> tuple[int, list[str]]:
    """Judge the student's diagnose_fit on the bank's clear ``label`` curves: (how many were judged, why the others
    could not be). A label is right when the notebook's rule gives it with the true best epoch, or, for a
    diagnose_fit whose source uses best_epoch (as the rule says), with the best epoch the student's own best_epoch
    returns: a mistake there is charged to best_epoch only."""
    judged, skipped = 0, []
    uses_best_epoch = "best_epoch" in source.read(ns.cells, "diagnose_fit").names
    for expected, history in bank:
        if expected != label:
            continue
        best, why = _best_for_rule(ns, history) if uses_best_epoch else (ref.best_epoch(history), "")
        found = _student_diagnosis(ns, history, excusable=best is None)
        if found is None:
            skipped.append(why)
            continue
        with_theirs = ref.diagnose_with_best(history, best) if best is not None else expected
        if found in (expected, with_theirs):
            judged += 1
            continue
        also = (f" (or {with_theirs!r}, what the rule gives with epoch {best}, the best epoch your best_epoch "
                f"returns)" if with_theirs != expected else "")
        raise AssertionError(f"on a clear {expected} curve ({_describe(history)}), expected {expected!r}{also}, "
                             f"found {found!r}. Hint: {HINTS[expected]}.")
    return judged, skipped


def _require_judged(judged: int, skipped: list[str], what: str) -> None:
    if not judged:
        raise StudentError(f"could not check diagnose_fit on {what}: it raised an error on every one, where the "
                           f"rule cannot be applied with your own best_epoch ({skipped[0] if skipped else '?'}). "
                           f"Hint: fix best_epoch first (its checks say how); diagnose_fit is graded with it.")


@pytest.mark.points(1, cell="diagnose_fit")
def test_diagnose_overfitting(ns):
    """recognises overfitting: validation loss rising after its minimum while training loss falls"""
    _require_judged(*_diagnose_bank(ns, synthetic_bank(), "overfitting"), "the clear overfitting curves")


@pytest.mark.points(1, cell="diagnose_fit")
def test_diagnose_underfitting(ns):
    """recognises underfitting: still improving fast at the end, or hardly learned"""
    _require_judged(*_diagnose_bank(ns, synthetic_bank(), "underfitting"), "the clear underfitting curves")


@pytest.mark.points(1, cell="diagnose_fit")
def test_diagnose_just_right(ns):
    """recognises a good fit: both curves flattened, validation at its minimum"""
    _require_judged(*_diagnose_bank(ns, synthetic_bank(), "just right"), "the clear just-right curves")


@pytest.mark.points(1, cell="diagnose_fit")
def test_diagnose_real_curves(ns):
    """diagnoses real MNIST autoencoder curves correctly"""
    judged, skipped = 0, []
    for label in LABELS:
        count, why = _diagnose_bank(ns, real_bank(), label)
        judged, skipped = judged + count, skipped + why
    _require_judged(judged, skipped, "the real curves")


# ---------------------------------------------------------------- the student's own three experiments
OWN = {"underfit_history": "underfitting", "overfit_history": "overfitting", "good_history": "just right"}
MODELS = {"underfit_history": "underfit_model", "overfit_history": "overfit_model", "good_history": "good_model"}
POOL_SIZE = 1_500  # the setup cell's digits: load_mnist_flat("train", n=1_500, seed=0)
EXPORT_BATCH = 100
#: How closely a history's last validation loss must agree with this side's evaluation of the trained model on
#: the same digits. Both are the mean squared error of the same float32 model on the same 500 digits; they differ
#: only by float32 rounding in the order of the sums (about 1e-7 relative, measured; 1e-6 at worst): 1e-3 leaves a
#: wide margin for that, and a number typed in, kept from another run or from a model trained on afterwards agrees
#: that closely only by copying it from this very model.
FINAL_VAL_TOLERANCE = 1e-3


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


def _validation_digits(ns) -> torch.Tensor:
    """The digits ``val_loader`` validates on, from the grader's own copy of MNIST: which of ``pool``'s digits they
    are is read from the kernel (positions, as data); their pixels are the grader's."""
    from autograder.heldout import mnist_flat

    val_loader = get(ns, "val_loader", kind="DataLoader")
    pool = get(ns, "pool", kind="dataset")
    hint = (" Hint: keep the notebook's val_loader = loader_for(val_set, ...), with val_set from "
            "split_train_val(pool, ...).")
    try:
        info = ns.recipe("subset_indices", ns.recipe("lookup", val_loader, "dataset"))
    except RemoteError as exc:
        if exc.kind == "timeout":
            raise CheckTimeout(exc.message) from None
        raise StudentError(f"could not read which digits `val_loader` holds ({exc}).{hint}") from None
    base = info.get("dataset") if isinstance(info, dict) else None
    if not isinstance(base, Handle) or not isinstance(pool, Handle) or base.number != pool.number:
        raise StudentError(f"could not tell which digits `val_loader` holds: expected a Subset of `pool` (the grader "
                           f"evaluates each experiment's model on them itself).{hint}")
    positions = info.get("indices")
    if info.get("depth") == 0:
        positions = torch.arange(POOL_SIZE)
    if not isinstance(positions, torch.Tensor) or positions.dim() != 1 or positions.dtype != torch.int64 or \
            not len(positions) or bool(((positions < -POOL_SIZE) | (positions >= POOL_SIZE)).any()):
        raise StudentError(f"could not read which digits `val_loader` holds (expected positions in "
                           f"range({POOL_SIZE})).{hint}")
    X_pool, _ = mnist_flat("train", n=POOL_SIZE, seed=0)
    return X_pool[positions % POOL_SIZE]


def recomputed_val_loss(ns, name: str) -> float:
    """The validation loss of the experiment's trained model, evaluated here: its forward pass exported as a graph
    (:mod:`autograder.graph`) and run on the validation digits of the grader's own copy."""
    model_name = MODELS[name]
    model = get(ns, model_name, kind="model")
    if not is_instance(model):
        raise StudentError(f"expected `{model_name}` to be the torch model its experiment returned, found "
                           f"{short_type(model)}. Hint: keep `{model_name}, {name} = experiment(...)`.")
    X_val = _validation_digits(ns)
    example = torch.zeros(EXPORT_BATCH, X_val.shape[1])
    try:
        graph = graphs.load(ns.recipe("export", model, example))
        graph.check(example)
        X_hat = graph(X_val)
    except graphs.GraphError as exc:
        raise StudentError(f"could not evaluate `{model_name}` on the validation digits: {exc}") from None
    except RemoteError as exc:
        if exc.kind == "timeout":
            raise CheckTimeout(exc.message) from None
        raise StudentError(f"could not trace `{model_name}`'s forward pass on a batch of {EXPORT_BATCH} digits "
                           f"({exc}).") from None
    if tuple(X_hat.shape) != tuple(X_val.shape):
        raise StudentError(f"`{model_name}` should reconstruct the digits ({tuple(X_val.shape)}), found an output "
                           f"of shape {tuple(X_hat.shape)}.")
    return graphs.mse(X_hat, X_val)


def own_recomputed(ns, name: str, history: dict) -> None:
    """The history counts only as far as this side can recompute it: its last validation loss must be the trained
    model's, evaluated here."""
    value = recomputed_val_loss(ns, name)
    found = history["val_loss"][-1]
    assert math.isclose(found, value, rel_tol=FINAL_VAL_TOLERANCE), (
        f"the last validation loss of `{name}` is {found:.6g}, but the grader evaluated `{MODELS[name]}` on the "
        f"validation digits itself and found {value:.6g}. Hint: keep what fit returned, and don't train the model "
        f"again after its experiment (rerun the notebook from the top).")


@pytest.mark.points(1, cell="own_curves")
def test_own_histories_recorded(ns):
    """the three experiments' histories exist, as fit returns them: finite, one value per epoch"""
    for name in OWN:
        own_recomputed(ns, name, own_history(ns, name))


def _curve_diagnosis(history: dict) -> str:
    """Why an experiment's curves are off, when its training itself failed (course_utils.diagnose): not learning
    (the training loss never got below predicting the average digit) or still falling fast."""
    from autograder.heldout import mnist_flat
    from course_utils.diagnose import NOT_LEARNING, TOO_SLOW, diagnose_training, mean_image_mse

    try:
        pool, _ = mnist_flat("train", n=POOL_SIZE, seed=0)  # the notebook's 1,500 digits, from the grader's own copy
        diagnosis = diagnose_training(history["train_loss"], mean_image_mse(pool), what="training loss",
                                      budget="the experiment's epochs")
    except Exception:
        return ""
    return "\n" + diagnosis.text() if diagnosis.kind in (NOT_LEARNING, TOO_SLOW) else ""


def overfits(history: dict) -> None:
    """The rule overfit_history must meet (the notebook's self-check applies the same one)."""
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


def underfits(history: dict) -> None:
    found = ref.diagnose_fit(history)
    assert found == "underfitting", (f"expected underfit_history to be underfitting, but by the notebook's rule it "
                                     f"is {found!r} ({_describe(history)})." + _curve_diagnosis(history))


def just_right(history: dict) -> None:
    found = ref.diagnose_fit(history)
    assert found == "just right", (f"expected good_history to be just right, but by the notebook's rule it is "
                                   f"{found!r} ({_describe(history)})." + _curve_diagnosis(history))


CURVE_RULES = {"underfit_history": underfits, "overfit_history": overfits, "good_history": just_right}


@pytest.mark.points(1, cell="own_curves")
def test_own_overfit_really_overfits(ns):
    """overfit_history overfits: validation lowest before the end and >10% above that at the end, training falling"""
    history = own_history(ns, "overfit_history")
    overfits(history)
    own_recomputed(ns, "overfit_history", history)


@pytest.mark.points(1, cell="own_curves")
def test_own_underfit(ns):
    """underfit_history is underfitting by the notebook's rule"""
    history = own_history(ns, "underfit_history")
    underfits(history)
    own_recomputed(ns, "underfit_history", history)


@pytest.mark.points(1, cell="own_curves")
def test_own_good(ns):
    """good_history is just right by the notebook's rule"""
    history = own_history(ns, "good_history")
    just_right(history)
    own_recomputed(ns, "good_history", history)
