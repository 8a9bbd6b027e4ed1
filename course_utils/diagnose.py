"""Why did a training run fall short? One diagnosis, used by the visible self-checks and the grader alike.

A model that misses a quality bar does so for one of three reasons, and each has its own fixes:

* **not learning**: the loss ends at or above the *baseline*, what the best constant prediction gives
  (for an autoencoder: predicting the average digit for every input). Look at the learning rate, an
  output layer that saturates (a sigmoid pushed to 0 or 1 has no gradient, and the ReLUs before it die),
  and ``optimizer.zero_grad()``.
* **learning, but too slowly for the budget**: the loss is below the baseline and still falling fast
  at the last epoch (or step). It would get there with more training, but the budget is fixed.
* **learning, but the capacity is wrong**: the loss has flattened out above the bar. The model cannot
  represent anything better: no nonlinearity between its linear layers, too few units, or a bottleneck
  that loses what it needs.

:func:`diagnose_training` decides which, from the loss history, the baseline and (optionally) what the
model outputs; the hints of the visible checks and of the hidden checks both come from it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

NOT_LEARNING = "not learning"
TOO_SLOW = "learning too slowly for the budget"
CAPACITY = "learning, but the capacity is wrong"
FINE = "learning"

#: "At or above the baseline": within 2% of it counts as not learning.
BASELINE_TOLERANCE = 0.98
#: "Still falling fast": the last tenth of training (at least its last epoch) lowered the loss by more than this.
FAST_FALL = 0.05

_LABEL = {NOT_LEARNING: "NOT LEARNING", TOO_SLOW: "LEARNING TOO SLOWLY FOR THE BUDGET",
          CAPACITY: "LEARNING, BUT THE CAPACITY IS WRONG", FINE: "LEARNING"}


@dataclass
class Diagnosis:
    """What went wrong with a training run (``kind``), the facts behind it and what to try."""

    kind: str
    facts: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return _LABEL.get(self.kind, self.kind.upper())

    def text(self, indent: str = "  ") -> str:
        lines = [f"Diagnosis: {self.label}. " + " ".join(self.facts)]
        if self.fixes:
            lines.append(f"{indent}What to try:")
            lines += [f"{indent}- {fix}" for fix in self.fixes]
        return "\n".join(lines)

    def short(self) -> str:
        """One line for a hint: the diagnosis, its first fact and its first fix."""
        first = self.facts[0] if self.facts else ""
        fix = f" Try first: {self.fixes[0]}" if self.fixes else ""
        return f"Diagnosis: {self.label}. {first}{fix}"

    def __str__(self) -> str:
        return self.text()


# ---------------------------------------------------------------------------------------------- helpers
def mean_image_mse(X_fit, X_eval=None) -> float:
    """The MSE of predicting the mean of ``X_fit`` (the average digit) for every row of ``X_eval``.

    Any model that learns anything beats it: it is the autoencoder's baseline.
    """
    import torch

    X_fit = torch.as_tensor(X_fit).reshape(len(X_fit), -1).double()
    X_eval = X_fit if X_eval is None else torch.as_tensor(X_eval).reshape(len(X_eval), -1).double()
    return float(((X_eval - X_fit.mean(0)) ** 2).mean())


def recent_fall(history: Sequence[float]) -> float | None:
    """By how much (a fraction) the loss fell over the last tenth of training, at least its last step."""
    values = [float(v) for v in history or ()]
    if len(values) < 2:
        return None
    back = max(1, len(values) // 10)
    before, last = values[-1 - back], values[-1]
    return (before - last) / before if before > 0 else None


def output_facts(outputs, inputs) -> dict:
    """How the model's outputs look next to its inputs: how much they vary across inputs, and their range."""
    import torch

    out = torch.as_tensor(outputs).detach().reshape(len(outputs), -1).double().cpu()
    x = torch.as_tensor(inputs).detach().reshape(len(inputs), -1).double().cpu()
    data_spread = float(x.std(0).mean()) or 1.0
    return {"variation": float(out.std(0).mean()) / data_spread, "mean": float(out.mean()),
            "low": float((out < 0.01).double().mean()), "high": float((out > 0.99).double().mean())}


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%" if abs(x) >= 0.01 else f"{100 * x:.1f}%"


# ---------------------------------------------------------------------------------------------- the diagnosis
def diagnose_training(history: Sequence[float] | None, baseline: float, *, final: float | None = None,
                      target: float | None = None, outputs=None, inputs=None, what: str = "loss",
                      baseline_name: str = "predicting the average digit for every input",
                      budget: str = "the budget", loop_is_fixed: bool = False,
                      loop: str = "the grader's loop (Adam at lr 0.002, zero_grad every step)",
                      linear_floor: float | None = None, not_learning_fixes: Sequence[str] | None = None,
                      capacity_fixes: Sequence[str] = (), slow_fixes: Sequence[str] = ()) -> Diagnosis:
    """Which of the three failures a training run shows, with the facts and the fixes.

    ``history``: the loss after each epoch (or step), oldest first; ``baseline``: the loss of the best
    constant prediction (:func:`mean_image_mse` for an autoencoder); ``final``: the figure being judged
    (say, an error on held-out digits; by default the last loss); ``target``: the bar it has to reach;
    ``outputs`` and ``inputs``: what the trained model returns for some inputs (optional: it sharpens the
    facts). ``loop_is_fixed`` says the training loop is the grader's (``loop`` describes it: learning rate and
    ``zero_grad`` are right by construction, so the model is the suspect). ``linear_floor``: the best error
    any linear model reaches (a model stuck there is linear: a capacity problem). ``not_learning_fixes``,
    ``capacity_fixes`` and ``slow_fixes`` replace the general advice with advice for this exercise.
    """
    values = [float(v) for v in history or ()]
    final = values[-1] if final is None and values else final
    if final is None:
        raise ValueError("diagnose_training needs a loss history or a final figure")
    run = _Run(values, final, baseline, target, what, baseline_name, budget, loop_is_fixed, loop,
               recent_fall(values),
               output_facts(outputs, inputs) if outputs is not None and inputs is not None else None)
    if linear_floor is not None and final >= BASELINE_TOLERANCE * linear_floor and \
            (final < BASELINE_TOLERANCE * baseline or linear_floor >= BASELINE_TOLERANCE * baseline):
        return _stuck_at_linear(run, linear_floor, capacity_fixes)
    stuck = sum(v >= BASELINE_TOLERANCE * baseline for v in values)
    plateau = len(values) >= 3 and stuck > len(values) / 2 and (target is None or final > target)
    if final >= BASELINE_TOLERANCE * baseline or plateau:
        return _not_learning(run, stuck, not_learning_fixes)
    if run.fall is not None and run.fall > FAST_FALL:
        return _too_slow(run, slow_fixes)
    return _flat_out(run, capacity_fixes)


@dataclass
class _Run:
    """What :func:`diagnose_training` was told of a run, and the two facts it works out first."""

    values: list
    final: float
    baseline: float
    target: float | None
    what: str
    baseline_name: str
    budget: str
    loop_is_fixed: bool
    loop: str
    fall: float | None  # recent_fall of the history
    looks: dict | None  # output_facts, when outputs and inputs were given

    @property
    def unit(self) -> str:
        return "tenth" if len(self.values) >= 20 else "epoch"


def _stuck_at_linear(run: _Run, linear_floor: float, capacity_fixes: Sequence[str]) -> Diagnosis:
    facts = [f"The {run.what} ends at {run.final:.4f}, no better than the best linear fit ({linear_floor:.4f}): the "
             f"network behaves as one linear map, however long it trains."]
    if run.target is not None:
        facts.append(f"The target is {run.target:.4f}.")
    return Diagnosis(CAPACITY, facts, list(capacity_fixes) or [
        "A nonlinearity between the linear layers: without one a stack of linear layers is one linear map."])


OUTPUT_FIX = ("The output layer saturates: the sigmoid's inputs are pushed far below 0, it outputs ~0 with a "
              "gradient of ~0, and the ReLU units feeding it die, so nothing can move again. In a "
              "convolutional decoder the usual culprit is the ReLU right after the Linear that expands the "
              "code: with only k inputs, most of its units end up negative for every code. Remove that ReLU "
              "(the ConvTranspose2d layers after it keep theirs), or put a small hidden layer between the "
              "code and it (Linear(k, 64), ReLU, Linear(64, ...)). Then look at model(x).min() and .max() "
              "after a few hundred steps.")
LR_FIX = ("The learning rate: too large and the first steps throw the weights where the units die or the "
          "loss jumps about; too small and the loss barely moves. Adam between 1e-3 and 3e-3 suits "
          "these models.")
ZERO_GRAD_FIX = ("zero_grad: call optimizer.zero_grad() once per batch, before loss.backward(); without it "
                 "the gradients of every earlier batch pile up.")


def _not_learning(run: _Run, stuck: int, not_learning_fixes: Sequence[str] | None) -> Diagnosis:
    values, final, baseline = run.values, run.final, run.baseline
    if final >= BASELINE_TOLERANCE * baseline:
        facts = [f"The {run.what} ends at {final:.4f}, at or above {baseline:.4f}, which is what "
                 f"{run.baseline_name} gives (the baseline): the model has learned nothing useful."]
    else:
        facts = [f"The {run.what} ends at {final:.4f}, only a little below {baseline:.4f}, which is what "
                 f"{run.baseline_name} gives (the baseline): for {stuck} of its {len(values)} "
                 f"{'epochs' if len(values) < 20 else 'steps'} the training loss stayed there or above (within 2%), "
                 f"and it only started to learn at the very end. A run like this may leave that plateau "
                 f"in time or not, by chance."]
    if values and len(values) > 1:
        facts.append("Its training loss went " + ", ".join(f"{v:.4f}" for v in values[:8])
                     + (", ..." if len(values) > 8 else "") + (f", {values[-1]:.4f}." if len(values) > 8 else "."))
    looks = run.looks
    dark, bright = looks is not None and looks["mean"] < 0.05, looks is not None and looks["mean"] > 0.95
    saturated = looks is not None and looks["variation"] < 0.05 and (dark or bright)
    if looks is not None and looks["variation"] < 0.05:
        colour = (f"almost black (mean pixel {looks['mean']:.2f})" if dark else
                  f"almost white (mean pixel {looks['mean']:.2f})" if bright else
                  f"a flat grey (mean pixel {looks['mean']:.2f})")
        facts.append(f"It returns the same output for every input, {colour}.")
    if not_learning_fixes is not None:
        return Diagnosis(NOT_LEARNING, facts, list(not_learning_fixes))
    lr_fix = LR_FIX if not run.loop_is_fixed else (
        f"The learning rate and zero_grad are not the problem here: this is {run.loop}. So the model is "
        f"what fails to learn at that rate: a saturated output (see the other point), a deep stack of "
        f"ReLUs whose units die in the first steps, or a model that only learns at a smaller rate.")
    fixes = [OUTPUT_FIX, lr_fix] if saturated else [lr_fix, OUTPUT_FIX]
    return Diagnosis(NOT_LEARNING, facts, fixes if run.loop_is_fixed else fixes + [ZERO_GRAD_FIX])


def _too_slow(run: _Run, slow_fixes: Sequence[str]) -> Diagnosis:
    facts = [f"The {run.what} ends at {run.final:.4f}, below the baseline {run.baseline:.4f}, so it learns; but the "
             f"training loss was still falling fast at the end ({_pct(run.fall)} in the last {run.unit}, to "
             f"{run.values[-1]:.4f}): it would keep improving with more training, and {run.budget} is fixed."]
    fixes = list(slow_fixes) or [
        "A model that learns faster: fewer layers (or wider ones), no heavy regularisation (dropout, "
        "weight decay) while it has to learn quickly.",
        "In your own loop: a somewhat larger learning rate, or more epochs."]
    if run.loop_is_fixed:
        fixes = [f for f in fixes if not f.startswith("In your own loop")]
    return Diagnosis(TOO_SLOW, facts, fixes)


def _flat_out(run: _Run, capacity_fixes: Sequence[str]) -> Diagnosis:
    final, target = run.final, run.target
    facts = [f"The {run.what} ends at {final:.4f}, below the baseline {run.baseline:.4f}, and the training loss has "
             f"flattened out ({_pct(run.fall or 0.0)} in the last {run.unit}): more training would not change "
             f"much."]
    if target is not None and final > target:
        facts.append(f"It stops {final - target:.4f} above the target {target:.4f}: the model cannot represent "
                     f"anything better.")
    fixes = list(capacity_fixes) or [
        "A nonlinearity (nn.ReLU) between the linear layers: without one a stack of linear layers is one linear "
        "map, and an autoencoder can at best match PCA.",
        "More capacity: a hidden layer of a few hundred units in both the encoder and the decoder."]
    return Diagnosis(CAPACITY if target is None or final > target else FINE, facts, fixes)
