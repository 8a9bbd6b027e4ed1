"""The students' loop: every bar the grader holds a trained model to has a visible self-check.

* the self-checks pass (no warning) on every solution notebook, in the notebook's own run;
* they warn on the sample mistakes that fail the matching hidden check, and the hidden check's
  message carries the same diagnosis (course_utils.diagnose): the textbook convolutional autoencoder
  is "not learning" on both sides;
* the grader's recipe and bars have one home (course_utils.selfcheck), and their values did not move.
"""
from __future__ import annotations

import contextlib
import io

import pytest
import torch

from autograder import samples
from autograder.pytest_plugin import check_notebook
from autograder.remote import LocalChannel, Remote
from course_utils import diagnose, selfcheck
from tests.kit import SOLUTION_NOTEBOOKS, read, run_notebook, sample_notebook

WARN, TICK = selfcheck.WARN, selfcheck.TICK
SELF_CHECKS = {  # notebook -> its self-check cells (grade ids)
    "03_activations.ipynb": ["act_ex5_selfcheck"],
    "04_autoencoder.ipynb": ["quality_selfcheck", "vs_pca_selfcheck", "probe_selfcheck"],
    "05_training_loop.ipynb": ["tr_curves_selfcheck"],
}


def _module(name):
    return next(m for m in samples.modules() if m.__name__.endswith("." + name))


def _namespace(notebook: str, replace: dict, cells: list[str], prelude: str) -> dict:
    """The namespace of a few answer cells of a solution notebook (some swapped for a sample's)."""
    sources = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in read(SOLUTION_NOTEBOOKS / notebook).cells}
    ns: dict = {"__name__": "__main__"}
    exec(prelude, ns)
    for gid in cells:
        exec(replace.get(gid, sources[gid]), ns)
    return ns


def _quiet(fn, *args, **kwargs):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = fn(*args, **kwargs)
    return result, out.getvalue()


# ---------------------------------------------------------------------------------------------- one home
def test_grader_recipe_and_bars_have_one_home_and_did_not_move():
    from autograder.checks import activations, autoencoder

    r, g = autoencoder.QUALITY_RECIPE, selfcheck.GRADER_RECIPE
    assert r == dict(k=2, split_seed=0, n_train=8000, n_test=2000, epochs=5, lr=2e-3, batch_size=64, init_seed=100)
    assert {key: r[key] for key in ("k", "n_train", "epochs", "lr", "batch_size", "init_seed")} == \
        {key: g[key] for key in ("k", "n_train", "epochs", "lr", "batch_size", "init_seed")}
    assert r["split_seed"] == g["order_seed"]
    assert autoencoder.QUALITY_RATIO == selfcheck.PCA_RATIO == 0.95
    assert (activations.FIT_STEPS, activations.FIT_LR, activations.FIT_RATIO) == (400, 0.01, 0.1)
    assert autoencoder.LATENT_SIZES == (2, 8, 32)
    for name in ("QUALITY_RECIPE", "QUALITY_RATIO", "LATENT_SIZES", "grader_run", "pca_test_mse",
                 "bottleneck_reconstruction", "mse"):
        assert hasattr(autoencoder, name)
    # the student's copy holds no grader-held data: nothing in it reads the test split or the heldout module
    import inspect

    text = inspect.getsource(selfcheck)
    assert "heldout" not in text and "mnist_split" not in text and '"test"' not in text


def test_diagnosis_tells_the_three_failures_apart():
    baseline = 0.068
    stuck = diagnose.diagnose_training([0.14, 0.133, 0.131, 0.131, 0.131], baseline, final=0.115, target=0.053)
    assert stuck.kind == diagnose.NOT_LEARNING and "NOT LEARNING" in stuck.text()
    assert any("zero_grad" in fix for fix in stuck.fixes) and any("learning rate" in fix for fix in stuck.fixes)
    assert any("saturates" in fix for fix in stuck.fixes)
    slow = diagnose.diagnose_training([0.09, 0.075, 0.066, 0.06, 0.055], baseline, final=0.056, target=0.053)
    assert slow.kind == diagnose.TOO_SLOW and "still falling fast" in slow.text()
    flat = diagnose.diagnose_training([0.0667, 0.0581, 0.0568, 0.0564, 0.0563], baseline, final=0.0566,
                                      target=0.0529)
    assert flat.kind == diagnose.CAPACITY and "nonlinearity" in flat.text()
    linear = diagnose.diagnose_training([0.8, 0.7, 0.68, 0.68], 0.88, final=0.68, target=0.068, linear_floor=0.68)
    assert linear.kind == diagnose.CAPACITY and "linear" in linear.text()
    black = torch.zeros(50, 784)
    digits = torch.rand(50, 784)
    saturated = diagnose.diagnose_training([0.2, 0.12, 0.115], baseline, final=0.115, outputs=black, inputs=digits,
                                           loop_is_fixed=True)
    assert "almost black" in saturated.text() and saturated.fixes[0].startswith("The output layer saturates")
    assert not any(fix.startswith("zero_grad") for fix in saturated.fixes)  # the grader's loop zeroes them


# ---------------------------------------------------------------------------------------------- part 4
def test_textbook_conv_autoencoder_warns_in_its_own_run_and_is_not_learning_when_graded(tmp_path, mnist_available):
    """The convolutional autoencoder of many tutorials: the student's own run warns, grading says why."""
    module = _module("autoencoder")
    replace, losing = module.BUGGY["textbook_conv_autoencoder"]
    outputs: dict = {}
    tallies = check_notebook(sample_notebook(module, replace, tmp_path), cells="all",
                             only=["ae_quality", "ae_vs_pca", "ae_probe_results"], outputs=outputs)
    for cell in losing:
        assert tallies[cell].points < tallies[cell].max_points, f"{cell} kept full marks"
    quality = [m for _, _, _, passed, m in tallies["ae_quality"].checks if not passed]
    assert quality and "Diagnosis: NOT LEARNING" in quality[0] and "saturates" in quality[0], quality
    probe = [m for _, _, _, passed, m in tallies["ae_probe_results"].checks if not passed]
    assert any("Diagnosis: NOT LEARNING" in m for m in probe), probe
    failed = {name: m for name, _, _, passed, m in tallies["ae_vs_pca"].checks if not passed}
    assert "Diagnosis: NOT LEARNING" in failed.get("test_own_model_2_beats_pca", ""), failed
    # the student saw it coming: every self-check of part 4 warned in the notebook's own run
    seen = outputs["quality_selfcheck"]
    assert seen.startswith(WARN) and "Diagnosis: NOT LEARNING" in seen and "almost black" in seen, seen
    assert "target <= " in seen and "yours" in seen and "misses by" in seen and "of its own" in seen
    assert WARN in outputs["vs_pca_selfcheck"] and "NOT LEARNING" in outputs["vs_pca_selfcheck"]
    assert WARN in outputs["probe_selfcheck"]


QUALITY_MISTAKES = [name for name, (_, losing) in _module("autoencoder").BUGGY.items() if "ae_quality" in losing]


@pytest.mark.parametrize("case", QUALITY_MISTAKES)
def test_grader_budget_self_check_warns_on_mistakes_that_fail_ae_quality(case, mnist_available):
    from course_utils import load_mnist_flat

    module = _module("autoencoder")
    replace, _ = module.BUGGY[case]
    ns = _namespace(module.NOTEBOOK, replace, ["pca_helper_sol", "encoder_decoder_sol", "autoencoder_sol"],
                    "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n")
    X_train, _ = load_mnist_flat("train", n=10_000, seed=0)
    X_test, _ = load_mnist_flat("test", n=2_000, seed=0)
    mean, comps = ns["pca_fit"](X_train[:8000], 2)
    pca = float(((ns["pca_decode"](ns["pca_encode"](X_test, mean, comps), mean, comps) - X_test) ** 2).mean())
    bar, printed = _quiet(selfcheck.check_grader_budget, ns["Autoencoder"], X_train, X_test, pca, progress=False)
    assert not bar.ok and printed.startswith(WARN), printed
    assert "Diagnosis:" in printed and "What to try" in printed


# ---------------------------------------------------------------------------------------------- part 3
MLP_CASES = ["solution"] + [n for n, (r, _) in _module("activations").BUGGY.items() if "mlp_sol" in r] + \
    [n for n, r in _module("activations").ALTERNATIVES.items() if "mlp_sol" in r]


@pytest.mark.parametrize("case", MLP_CASES)
def test_fit_self_check_warns_exactly_when_the_hidden_fit_check_fails(case):
    from autograder.checks import activations as hidden

    module = _module("activations")
    replace = module.BUGGY[case][0] if case in module.BUGGY else module.ALTERNATIVES.get(case, {})
    ns = _namespace(module.NOTEBOOK, replace, ["relu_sol", "leaky_relu_sol", "sigmoid_sol", "tanh_sol", "mlp_sol"],
                    "import math\nimport torch\nfrom typing import Callable, Sequence\n")
    try:  # the hidden check as the executor runs it, through the protocol (here without the kernel's process)
        hidden.test_mlp_fits_nonlinear(Remote(LocalChannel(ns)))
        hidden_passed = True
    except Exception:
        hidden_passed = False
    bars, printed = _quiet(selfcheck.check_fit_budget, ns["MLP"])
    assert all(bar.ok for bar in bars) == hidden_passed, printed
    assert (WARN in printed) != hidden_passed, printed


# ---------------------------------------------------------------------------------------------- part 5
def _own_ns(a, b, c):
    return {"underfit_history": a, "overfit_history": b, "good_history": c}


def test_curve_self_check_agrees_with_the_hidden_own_curves_checks():
    """Every labelled curve of the grader's banks, in each of the three roles: visible warns iff hidden fails."""
    from autograder.checks import training as hidden
    from autograder.heldout.training import real_bank, synthetic_bank

    bank = synthetic_bank() + real_bank()
    roles = {"underfit_history": lambda bars: bars[2:3], "overfit_history": lambda bars: bars[0:2],
             "good_history": lambda bars: bars[3:6]}
    default = {"underfit_history": next(h for lab, h in bank if lab == "underfitting"),
               "overfit_history": next(h for lab, h in bank if lab == "overfitting"),
               "good_history": next(h for lab, h in bank if lab == "just right")}
    checked = 0
    for role, pick in roles.items():
        for label, history in bank:
            ns = dict(default, **{role: history})
            try:  # the hidden checks' rule on the history (the checks also recompute its last point from the model)
                hidden.CURVE_RULES[role](hidden.own_history(ns, role))
                passed = True
            except Exception:
                passed = False
            bars, printed = _quiet(selfcheck.check_curves, ns["underfit_history"], ns["overfit_history"],
                                   ns["good_history"])
            assert all(bar.passed for bar in pick(bars)) == passed, (role, label, printed)
            checked += 1
    assert checked == 3 * len(bank)


def test_broken_training_loop_warns_in_part5_and_is_not_learning_when_graded(tmp_path, mnist_available):
    module = _module("training")
    replace, _ = module.BUGGY["train_forgets_step"]
    outputs: dict = {}
    tallies = check_notebook(sample_notebook(module, replace, tmp_path), cells="all", only=["own_curves"], outputs=outputs)
    failed = [m for _, _, _, passed, m in tallies["own_curves"].checks if not passed]
    assert failed and any("Diagnosis: NOT LEARNING" in m for m in failed), failed
    assert WARN in outputs["tr_curves_selfcheck"] and "NOT LEARNING" in outputs["tr_curves_selfcheck"]


# ---------------------------------------------------------------------------------------------- the solutions
@pytest.mark.slow
@pytest.mark.parametrize("notebook", sorted(SELF_CHECKS), ids=lambda n: n.split("_")[0])
def test_every_self_check_passes_on_the_solution(notebook, mnist_available):
    outputs: dict = {}
    _, errors = run_notebook(SOLUTION_NOTEBOOKS / notebook, outputs=outputs)
    assert not errors, errors
    for cell in SELF_CHECKS[notebook]:
        text = outputs[cell]
        assert TICK in text and WARN not in text, f"{cell}:\n{text}"
        assert "target" in text and "yours" in text and "passes by" in text
