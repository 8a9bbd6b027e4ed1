"""Reference training loop, validation and curve reading for part 5 (``05_training_loop.ipynb``).

Conventions (the notebook states them too):

* every batch is a tuple or list whose FIRST item is the input ``x``; anything after it (labels)
  is ignored, and the target of an autoencoder is ``x`` itself: ``loss_fn(model(x), x)``;
* ``loss_fn`` averages over the batch (``reduction="mean"``), so an epoch's per-sample mean is
  ``sum(batch_loss * batch_size) / number_of_samples``.
"""
from __future__ import annotations

import torch

#: diagnose_fit's thresholds, as the notebook states them.
OVERFIT_RISE = 1.10      # final validation loss more than 10% above its minimum
STILL_FALLING = 0.05     # validation loss fell by more than 5% over the last quarter of the epochs
HARDLY_LEARNED = 0.5     # final training loss above half the first epoch's


def inputs(batch) -> torch.Tensor:
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def train_one_epoch(model, loader, loss_fn, optimizer) -> float:
    model.train()
    total, count = 0.0, 0
    for batch in loader:
        x = inputs(batch)
        loss = loss_fn(model(x), x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(x)
        count += len(x)
    return total / count


def evaluate(model, loader, loss_fn) -> float:
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in loader:
            x = inputs(batch)
            total += loss_fn(model(x), x).item() * len(x)
            count += len(x)
    return total / count


def fit(model, train_loader, val_loader, loss_fn, optimizer, epochs: int) -> dict:
    history = {"train_loss": [], "val_loss": []}
    for _ in range(epochs):
        history["train_loss"].append(train_one_epoch(model, train_loader, loss_fn, optimizer))
        history["val_loss"].append(evaluate(model, val_loader, loss_fn))
    return history


def best_epoch(history: dict) -> int:
    val = list(history["val_loss"])
    return min(range(len(val)), key=val.__getitem__)


def diagnose_fit(history: dict) -> str:
    return diagnose_with_best(history, best_epoch(history))


def diagnose_with_best(history: dict, best: int) -> str:
    """The rule of diagnose_fit with ``best`` as the best epoch (as the notebook's rule takes it from the student's
    own ``best_epoch``); ``best`` indexes the lists as Python does (a negative one counts from the end)."""
    train, val = list(history["train_loss"]), list(history["val_loss"])
    if val[-1] > OVERFIT_RISE * val[best] and train[-1] < train[best]:
        return "overfitting"
    quarter = max(1, len(val) // 4)
    still_falling = val[-1] < (1 - STILL_FALLING) * val[-1 - quarter]
    hardly_learned = train[-1] > HARDLY_LEARNED * train[0]
    if still_falling or hardly_learned:
        return "underfitting"
    return "just right"


def features(history: dict) -> dict:
    """The numbers diagnose_fit looks at, for messages and for choosing clear cases."""
    train, val = list(history["train_loss"]), list(history["val_loss"])
    best = best_epoch(history)
    quarter = max(1, len(val) // 4)
    return {"best": best, "epochs": len(val), "rise": val[-1] / val[best],
            "recent_drop": 1 - val[-1] / val[-1 - quarter], "learned": train[-1] / train[0],
            "train_fell_after_best": train[-1] < train[best]}


