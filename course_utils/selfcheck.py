"""Self-checks: every bar the grader holds a trained model to, measured on your own data before you submit.

The hidden checks judge some exercises by what a model *achieves*: the grader retrains your
``Autoencoder`` with a fixed recipe, measures your trained models on digits you never see, reads your
loss curves. Each of those bars has a self-check here that measures the same thing on your own data and
prints one line per bar: the target, your figure, the margin, and how far the grader's own figure
typically is from yours (it uses other digits, so the two never agree exactly). When a bar is missed, a
diagnosis (:mod:`course_utils.diagnose`) says whether the model is not learning, learning too slowly
for the budget, or learning with the wrong capacity, and what to try.

Self-checks never stop *Restart & Run All*: a missed bar prints a warning (⚠) and the notebook goes on.
They return a :class:`Bar` (or a list of them) so you can look at the numbers.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping

from course_utils.visible_checks import CheckFailed
from course_utils.diagnose import NOT_LEARNING, Diagnosis, diagnose_training, mean_image_mse

#: The grader's fixed recipe for retraining your Autoencoder (part 4, hidden check ``ae_quality``): a fresh
#: ``Autoencoder(k)`` made right after ``torch.manual_seed(init_seed)``, ``epochs`` passes of Adam (``lr``) on
#: the mean squared error over mini-batches of ``batch_size`` flat digits, drawn in an order seeded by
#: ``order_seed``. The grader runs it on ``n_train`` digits of its own and measures 2,000 others.
GRADER_RECIPE = dict(k=2, n_train=8000, epochs=5, lr=2e-3, batch_size=64, init_seed=100, order_seed=0)
#: The autoencoder has to beat PCA with the same number of latent numbers by 5%: MSE <= 0.95 x PCA's.
PCA_RATIO = 0.95

#: How far the grader's figure typically is from the one a self-check measures on your data, for a model
#: that is the same either way (measured on the course's reference and alternative models, see
#: tests/test_selfchecks.py). Stated in every self-check line.
TYPICAL_GAP = {
    "budget": 0.002,         # MSE margin: the grader's retraining (its digits) vs. the recipe on yours (measured: <= 0.0016)
    "own_model": 0.0010,     # MSE: your trained model on the grader's held-out digits vs. on X_test
    "probe": 0.0,            # accuracy: the grader reads your table as it is
    "fit": 0.03,             # MSE / linear floor: the grader's targets vs. the course's (measured: <= 0.029)
    "curves": 0.005,         # the grader reruns your notebook: the same curves, up to rounding
}

TICK, WARN = "\u2714", "\u26a0"


# ---------------------------------------------------------------------------------------------- a bar
@dataclass
class Bar:
    """One bar of a self-check: your figure against the target, the margin, and what the grader will see."""

    name: str
    value: float
    target: float
    higher_is_better: bool = False
    gap: float = 0.0
    diagnosis: Diagnosis | None = None
    extra: list[str] = field(default_factory=list)
    grader: str = "The grader measures this on its own data; its margin typically differs from yours by up to {gap}."
    override: bool | None = None  # the verdict, when the bar is one figure of a rule with several

    @property
    def passed(self) -> bool:
        if self.override is not None:
            return self.override
        return self.value >= self.target if self.higher_is_better else self.value <= self.target

    @property
    def margin(self) -> float:
        """How far inside the bar (positive) or outside it (negative) your figure is."""
        return self.value - self.target if self.higher_is_better else self.target - self.value

    @property
    def close(self) -> bool:
        """Inside the bar, but by less than the grader's figure usually differs from yours."""
        return self.passed and 0 <= self.margin < self.gap

    @property
    def ok(self) -> bool:
        return self.passed and not self.close

    def lines(self, fmt: str = ".4f") -> list[str]:
        op = ">=" if self.higher_is_better else "<="
        share = abs(self.margin) / abs(self.target) if self.target else float("inf")
        rel = f" ({share:.0%} of the target)" if share <= 1 else ""
        if self.passed and self.margin < 0:
            verdict = "passes by the rule's other condition (below)"
        elif not self.passed and self.margin >= 0:
            verdict = "inside this target, but the rule's other condition fails (below)"
        else:
            verdict = (f"passes by {self.margin:{fmt}}{rel}" if self.passed else f"misses by {-self.margin:{fmt}}{rel}")
        head = f"{self.name}: target {op} {self.target:{fmt}}, yours {self.value:{fmt}}: {verdict}"
        out = [f"{TICK if self.ok else WARN} {head}."]
        if self.grader:
            out.append("    " + self.grader.format(gap=format(self.gap, fmt)))
        if self.close:
            out.append(f"    Close call: your margin is smaller than that difference, so the hidden check may go "
                       f"either way. Aim for a margin of at least {self.gap:{fmt}}.")
        elif not self.passed:
            out.append("    The grader's hidden check for this bar will almost certainly fail too.")
        out += [f"    {line}" for line in self.extra]
        if self.diagnosis is not None and not self.ok:
            out += ["    " + line for line in self.diagnosis.text().splitlines()]
            if self.diagnosis.kind == NOT_LEARNING and self.gap:
                out.append("    (A model that does not learn reliably can land far from the grader's figure, much "
                           "further than the usual difference above: one run may leave the plateau and another not.)")
        return out

    def report(self, fmt: str = ".4f") -> "Bar":
        print("\n".join(self.lines(fmt)))
        return self


# ---------------------------------------------------------------------------------------------- the recipe
def _batches_loss(out, x):
    return ((out.reshape(x.shape) - x) ** 2).mean()


def train_with_recipe(model, X_train, recipe: Mapping = GRADER_RECIPE, forward: Callable | None = None,
                      error: type[Exception] = ValueError, progress: bool = False) -> list[float]:
    """Train ``model`` with the grader's recipe on flat digits ``X_train [n, 784]``; the mean loss per epoch.

    Exactly the loop the grader runs (``forward(model, x)`` defaults to ``model(x)``): a seeded order of
    mini-batches, Adam, the MSE between the reconstruction and the batch, ``zero_grad`` every step.
    """
    import torch

    seed = recipe["split_seed"] if "split_seed" in recipe else recipe.get("order_seed", 0)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe["lr"])
    forward = forward or (lambda m, x: m(x))
    history = []
    epochs = range(recipe["epochs"])
    if progress:
        from tqdm.auto import tqdm

        epochs = tqdm(epochs, desc="grader's recipe", unit="epoch", leave=False)
    model.train()
    for _ in epochs:
        order = torch.randperm(len(X_train), generator=generator)
        total = 0.0
        for start in range(0, len(X_train), recipe["batch_size"]):
            x = X_train[order[start:start + recipe["batch_size"]]]
            out = forward(model, x)
            if not isinstance(out, torch.Tensor) or out.numel() != x.numel():
                raise error(f"expected Autoencoder(x) to be a tensor of x's shape {tuple(x.shape)}, found "
                            f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}.")
            if not out.requires_grad:
                raise error("the reconstruction does not depend on the model's parameters (no gradient flows "
                            "back). Hint: don't detach or rebuild the output in forward.")
            loss = _batches_loss(out, x)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(x)
        history.append(total / len(X_train))
        if progress:
            epochs.set_postfix(loss=f"{history[-1]:.4f}")
    model.eval()
    return history


def _flat(X):
    return X.reshape(len(X), -1)


def _reconstruct(model, X, batch: int = 1000):
    import torch

    device = next(model.parameters()).device
    model.eval()
    with torch.no_grad():
        return torch.cat([model(X[i:i + batch].to(device)).reshape(len(X[i:i + batch]), -1).cpu()
                          for i in range(0, len(X), batch)])


def _mse(a, b) -> float:
    return float(((a.double() - b.double()) ** 2).mean())


@contextlib.contextmanager
def _own_rng():
    """Seed torch inside, and leave the notebook's random state as it was."""
    import torch

    with torch.random.fork_rng(devices=[]):
        yield


# ---------------------------------------------------------------------------------------------- part 4
AE_CAPACITY_FIXES = (
    "A nonlinearity (nn.ReLU) between the linear layers of the encoder and of the decoder: without one, an "
    "autoencoder can at best match PCA, never beat it.",
    "A hidden layer of a few hundred units on each side (784-256-k, as the notebook suggests).")


def check_grader_budget(make_model: Callable, X_train, X_test, pca_mse: float,
                        recipe: Mapping = GRADER_RECIPE, progress: bool = True) -> Bar:
    """The grader's retraining check (``ae_quality``), run on your own digits; about 5-20 s on a laptop CPU.

    Trains a fresh ``make_model(k)`` (your ``Autoencoder``) with :data:`GRADER_RECIPE` on the first
    ``n_train`` rows of ``X_train``, and compares its MSE on ``X_test`` with ``PCA_RATIO`` times
    ``pca_mse``, PCA's test MSE with ``k`` components fitted on the same rows. Run it again whenever you
    change the architecture: it is the grader's recipe, on your data.
    """
    import torch

    k = recipe["k"]
    X_tr = _flat(X_train[:recipe["n_train"]]).float().cpu()
    X_te = _flat(X_test).float().cpu()
    started = time.perf_counter()
    try:
        with _own_rng():
            torch.manual_seed(recipe["init_seed"])
            model = make_model(k)
            history = train_with_recipe(model, X_tr, recipe, progress=progress)
        X_hat = _reconstruct(model, X_te)
    except NotImplementedError as exc:
        raise CheckFailed(f"{exc.args[0] if exc.args else 'a blank'} is not implemented yet: fill in the blanks "
                          f"marked 'YOUR CODE HERE' and run their cells again.") from None
    except Exception as exc:  # the recipe could not even run: say why, and let the notebook go on
        print(f"{WARN} grader's recipe on your digits: could not train Autoencoder({k}): {type(exc).__name__}: "
              f"{exc}\n    The grader's hidden check (ae_quality) will fail too. Hint: run Autoencoder({k}) on "
              f"X_train[:64] and look at what it returns.")
        return Bar("grader's recipe on your digits", float("inf"), PCA_RATIO * pca_mse)
    seconds = time.perf_counter() - started
    value = _mse(X_hat, X_te)
    bar = Bar(f"grader's recipe on your digits (Autoencoder({k}), {recipe['epochs']} epochs on "
              f"{len(X_tr):,} digits, Adam {recipe['lr']:g}): test MSE vs {PCA_RATIO:.0%} of PCA's {pca_mse:.4f}",
              value, PCA_RATIO * pca_mse, gap=TYPICAL_GAP["budget"],
              grader="The grader runs this recipe on 8,000 + 2,000 digits of its own; on the course's models its margin "
                     "was within {gap} of the one measured here.")
    bar.extra.append(f"Training took {seconds:.0f} s; its loss per epoch: "
                     + ", ".join(f"{v:.4f}" for v in history) + ".")
    if not bar.ok:
        bar.diagnosis = diagnose_training(
            history, mean_image_mse(X_tr, X_te), final=value, target=bar.target, outputs=X_hat[:500],
            inputs=X_te[:500], what="test MSE", budget="the grader's budget (5 epochs)", loop_is_fixed=True,
            capacity_fixes=AE_CAPACITY_FIXES)
    bar.history, bar.seconds = history, seconds
    return bar.report()


def check_models_vs_pca(ae_models: Mapping, X_train, X_test, mse_table: Mapping, pca16_mse: float,
                        histories: Mapping | None = None) -> list[Bar]:
    """Your two trained autoencoders against the bars of the hidden check ``ae_vs_pca``, on ``X_test``.

    The grader measures the same models on 2,000 held-out digits you never see: ``ae_models[2]`` must
    reach at most 95% of PCA's MSE with 2 components, ``ae_models[32]`` at most PCA's with 16.
    """
    X_te = _flat(X_test).float()
    baseline = mean_image_mse(X_train, X_te)
    bars = []
    for k, target, what in ((2, PCA_RATIO * mse_table[("pca", 2)], f"{PCA_RATIO:.0%} of PCA's with 2 components"),
                            (32, pca16_mse, "PCA's with 16 components")):
        X_hat = _reconstruct(ae_models[k], X_te)
        value = _mse(X_hat, X_te)
        bar = Bar(f"ae_models[{k}] test MSE vs {what}", value, target, gap=TYPICAL_GAP["own_model"],
                  grader="The grader measures this model on 2,000 held-out digits of its own; on the course's models "
                         "its margin was within {gap} of yours.")
        if not bar.ok:
            history = (histories or {}).get(k)
            bar.diagnosis = diagnose_training(
                history, baseline, final=value, target=target, outputs=X_hat[:500], inputs=X_te[:500],
                what="test MSE", budget="the notebook's budget (5 epochs)", capacity_fixes=AE_CAPACITY_FIXES)
        bars.append(bar.report())
    return bars


def check_probe_results(probe_table: Mapping, ae_models: Mapping | None = None, X_train=None, X_test=None,
                        histories: Mapping | None = None) -> list[Bar]:
    """The bars of the hidden check ``ae_probe_results``: at k = 2 the probe reads the label better off your
    autoencoder's codes than off PCA's, and at k = 32 both are well above chance (0.1)."""
    gap = TYPICAL_GAP["probe"]
    note = ("The grader reads these same accuracies from your table (no other data), and re-runs your probe on your "
            "codes with the same seed to confirm them: it accepts a difference of up to 0.03.")
    bars = [Bar("probe accuracy on 2-D autoencoder codes vs on 2-D PCA codes", probe_table[("ae", 2)],
                probe_table[("pca", 2)], higher_is_better=True, gap=gap, grader=note)]
    for m, name in (("ae", "autoencoder"), ("pca", "PCA")):
        bars.append(Bar(f"probe accuracy on 32-D {name} codes vs chance", probe_table[(m, 32)], 0.1,
                        higher_is_better=True, gap=gap, grader=note))
    if not bars[0].ok and ae_models is not None and X_train is not None and X_test is not None:
        X_te = _flat(X_test).float()
        X_hat = _reconstruct(ae_models[2], X_te)
        bars[0].diagnosis = diagnose_training(
            (histories or {}).get(2), mean_image_mse(X_train, X_te), final=_mse(X_hat, X_te),
            target=None, outputs=X_hat[:500], inputs=X_te[:500], what="test MSE of ae_models[2]",
            budget="the notebook's budget (5 epochs)", capacity_fixes=AE_CAPACITY_FIXES)
        bars[0].extra.append("The probe can only read what the codes hold: if ae_models[2] reconstructs no better "
                             "than PCA, its codes carry no more about the digit either.")
    for bar in bars:
        bar.report(".3f")
    return bars


# ---------------------------------------------------------------------------------------------- part 3
#: The grader's budget for the MLP (hidden check ``mlp``): ``MLP(sizes, torch.tanh)``, seeded with
#: ``torch.manual_seed(i)`` for the i-th target, ``steps`` full-batch Adam steps at ``lr`` on the mean squared
#: error. It must end below ``ratio`` times the best MSE any linear network reaches on the same data.
FIT_RECIPE = dict(steps=400, lr=0.01, ratio=0.1)
MLP_CAPACITY_FIXES = (
    "Apply the activation between every pair of layers (and not after the last): without it the MLP is one "
    "linear map and ends at the linear floor.",
    "Keep every layer: one Linear per pair of consecutive sizes, in a nn.ModuleList, all applied in forward.")


def fit_targets():
    """Two nonlinear regression targets of the course (not the grader's): a curve and a saddle-shaped surface."""
    import torch

    g = torch.Generator().manual_seed(7)
    x1 = torch.linspace(-2, 2, 200).unsqueeze(1)
    curve = (x1, torch.sin(3 * x1) + 0.5 * x1 ** 2)
    x2 = torch.rand(400, 2, generator=g) * 4 - 2
    surface = (x2, (x2[:, :1] ** 2 - x2[:, 1:] ** 2) / 2)
    return {"curve sin(3x) + x^2/2": (curve, (1, 32, 32, 1)),
            "surface (x1^2 - x2^2)/2": (surface, (2, 32, 32, 1))}


def best_affine_mse(x, y) -> float:
    """The lowest MSE that ANY affine map (so any stack of linear layers) reaches on (x, y)."""
    import torch

    A = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1).double()
    solution = torch.linalg.lstsq(A, y.double()).solution
    return float(((A @ solution - y.double()) ** 2).mean())


def check_fit_budget(make_mlp: Callable, recipe: Mapping = FIT_RECIPE) -> list[Bar]:
    """The hidden check's fitting budget, on the course's own targets: ``make_mlp(sizes, torch.tanh)``
    trained ``steps`` full-batch Adam steps must end below ``ratio`` x the best linear fit's MSE."""
    import torch

    bars = []
    for i, (name, ((x, y), sizes)) in enumerate(fit_targets().items()):
        floor = best_affine_mse(x, y)
        what = (f"MLP({list(sizes)}, torch.tanh) after {recipe['steps']} Adam steps on the {name}: MSE / the best "
                f"linear fit's ({floor:.4f})")
        try:
            with _own_rng():
                torch.manual_seed(i)
                model = make_mlp(list(sizes), torch.tanh)
                optimizer = torch.optim.Adam(model.parameters(), lr=recipe["lr"])
                losses = []
                for _ in range(recipe["steps"]):
                    loss = ((model(x) - y) ** 2).mean()
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    losses.append(float(loss.detach()))
            with torch.no_grad():
                value = float(((model(x) - y) ** 2).mean())
        except NotImplementedError:
            raise CheckFailed("MLP is not implemented yet: fill in the blank marked 'YOUR CODE HERE' and run its cell "
                              "again.") from None
        except Exception as exc:  # the budget could not even run: say why, and let the notebook go on
            print(f"{WARN} {what}: could not train: {type(exc).__name__}: {exc}\n"
                  f"    The grader's hidden check will fail too. Hint: are the layers registered (nn.ModuleList), so "
                  f"that model.parameters() finds them?")
            bars.append(Bar(what, float("inf"), recipe["ratio"]))
            continue
        bar = Bar(what, value / floor, recipe["ratio"], gap=TYPICAL_GAP["fit"],
                  grader="The grader runs this budget on two targets of its own; on the course's MLPs its ratio was "
                         "within {gap} of the one measured here.")
        if not bar.ok:
            bar.diagnosis = diagnose_training(
                losses, float(((y - y.mean()) ** 2).mean()), final=value, target=recipe["ratio"] * floor, what="MSE",
                baseline_name="predicting the mean of the target everywhere", linear_floor=floor,
                budget=f"the budget ({recipe['steps']} steps)", loop_is_fixed=True,
                loop=f"the hidden check's loop (full-batch Adam at lr {recipe['lr']:g}, zero_grad every step)",
                not_learning_fixes=MLP_CAPACITY_FIXES, capacity_fixes=MLP_CAPACITY_FIXES)
        bars.append(bar.report())
    return bars


# ---------------------------------------------------------------------------------------------- part 5
#: The rule of part 5's Exercise 6, as the notebook states it (the grader reads your curves with it).
OVERFIT_RISE, STILL_FALLING, HARDLY_LEARNED = 0.10, 0.05, 0.5


def curve_figures(history: Mapping) -> dict:
    """The numbers part 5's rule looks at in a pair of loss curves (one value per epoch in each)."""
    train, val = [float(v) for v in history["train_loss"]], [float(v) for v in history["val_loss"]]
    best = min(range(len(val)), key=val.__getitem__)
    q = max(1, len(val) // 4)
    return {"best": best, "last": len(val) - 1, "q": q,
            "rise": val[-1] / val[best] - 1,                      # validation at the end vs its minimum
            "train_at_end": train[-1] / train[best],              # training loss at the end vs at the best epoch
            "recent": 1 - val[-1] / val[-1 - q],                  # validation fall over the last quarter
            "learned": train[-1] / train[0]}                      # training loss at the end vs the first epoch's


def check_curves(underfit_history: Mapping, overfit_history: Mapping, good_history: Mapping,
                 baseline: float | None = None) -> list[Bar]:
    """The bars of the hidden check ``own_curves``, with the numbers the notebook's rule looks at.

    B must overfit: validation lowest before the end and more than 10% above that minimum at the end, while
    the training loss at the end is at least 10% below its value at the best epoch. A must read as
    underfitting and C as just right by the rule of Exercise 6. ``baseline`` (the MSE of predicting the
    average digit) lets a diagnosis say when an experiment is not learning at all.
    """
    gap = TYPICAL_GAP["curves"]
    note = "The grader reruns your notebook and reads these same curves (figures agree up to rounding)."
    bars: list[tuple[str, Bar, Mapping]] = []
    f = curve_figures(overfit_history)
    b1 = Bar(f"B overfits: validation loss at the end, above its minimum (epoch {f['best']} of {f['last']})",
             f["rise"], OVERFIT_RISE, higher_is_better=True, gap=gap, grader=note)
    b2 = Bar(f"B overfits: training loss at the end / at epoch {f['best']}", f["train_at_end"], 0.9, gap=gap, grader=note)
    bars += [("B", b1, overfit_history), ("B", b2, overfit_history)]

    f = curve_figures(underfit_history)
    overfit_rule = f["rise"] > OVERFIT_RISE and f["train_at_end"] < 1
    a = Bar("A underfits: training loss at the end / at the first epoch (or: validation still falling more than "
            "5% over the last quarter)", f["learned"], HARDLY_LEARNED, higher_is_better=True, gap=gap, grader=note)
    a.override = not overfit_rule and (f["recent"] > STILL_FALLING or f["learned"] > HARDLY_LEARNED)
    a.extra.append(f"validation fell {f['recent']:.1%} over its last {f['q']} epochs (the other sign of "
                   f"underfitting); it ends {f['rise']:+.1%} from its minimum"
                   + (" and training fell meanwhile: that reads as overfitting." if overfit_rule else "."))
    bars.append(("A", a, underfit_history))

    f = curve_figures(good_history)
    overfit_rule = f["rise"] > OVERFIT_RISE and f["train_at_end"] < 1
    c1 = Bar(f"C is just right: validation fall over its last {f['q']} epochs", f["recent"], STILL_FALLING, gap=gap, grader=note)
    c2 = Bar("C is just right: training loss at the end / at the first epoch", f["learned"], HARDLY_LEARNED, gap=gap, grader=note)
    c3 = Bar("C is just right: validation loss at the end, above its minimum", f["rise"], OVERFIT_RISE, gap=gap, grader=note)
    c3.override = not overfit_rule
    bars += [("C", c1, good_history), ("C", c2, good_history), ("C", c3, good_history)]
    for name, bar, history in bars:
        if not bar.ok and baseline is not None:
            bar.diagnosis = diagnose_training(history["train_loss"], baseline, what=f"training loss of {name}",
                                              budget="this experiment's epochs")
            if bar.diagnosis.kind != NOT_LEARNING:
                bar.diagnosis = None  # the curve's shape is the point here; only "not learning" adds something
        bar.report(".3f")
    return [bar for _, bar, _ in bars]
