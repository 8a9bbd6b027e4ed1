"""``python -m autograder.calibrate`` (``make calibrate``): part 4's quality thresholds against the reference model.

Test MSE of PCA and of the reference autoencoder (:mod:`autograder.reference.autoencoder`) at latent
sizes 2 and 32, over seeds, under two training budgets, beside the thresholds the hidden checks apply:

* the **notebook budget**: the part-4 notebook's own training cell (grade id ``train_models``) run after
  its setup cell, with the reference model and trainer in place of the student's; seed *s* shifts every
  seed the cell sets by *s* (seed 0 is exactly the notebook). Judged as ``test_own_model_2_beats_pca`` and
  ``test_own_model_32_trained`` judge the notebook's ``ae_models``, on the grader's held-out digits;
* the **grader budget**: the quality check's recipe (``QUALITY_RECIPE``, :func:`_grader_quality`) at each
  latent size, split and init seeds shifted by *s* (seed 0 is exactly ``test_quality_beats_pca``).

The margin is the threshold minus the autoencoder's MSE on its worst seed: the room a correct student
has. Nothing here sets a threshold; recipes and bars are read from the checks and the notebook.

    python -m autograder.calibrate                 # 3 seeds
    python -m autograder.calibrate --seeds 1 --json quality.json
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import sys
import time
from pathlib import Path

from autograder.source import python_source

LATENT_SIZES = (2, 32)


# ---------------------------------------------------------------------------------- the two budgets
def part4_cells() -> dict | None:
    """The cells (by grade_id) of the solution notebook that trains the autoencoders; None while it doesn't exist."""
    import nbformat

    from autograder.cells import grade_id
    from autograder.checkout import SOLUTIONS

    for path in sorted(p for p in SOLUTIONS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts):
        cells = {grade_id(c): c for c in nbformat.read(str(path), as_version=4).cells}
        if "train_models" in cells and "setup" in cells:
            cells["__path__"] = path
            return cells
    return None


def _train_as_notebook(cells: dict, shift: int) -> tuple[dict, dict[int, float]]:
    """Run the notebook's setup and training cells with the reference model: (ae_models, seconds per model)."""
    import matplotlib.pyplot as plt

    from autograder.reference import autoencoder as ref
    from course_utils import data
    from course_utils import seed as seeding

    seconds: dict[int, float] = {}

    class Autoencoder(ref.Autoencoder):
        def __init__(self, latent_dim):
            super().__init__(latent_dim)
            self._calibrate_k = latent_dim

    def train_autoencoder(model, loader, epochs, lr=1e-3):
        start = time.perf_counter()
        history = ref.train_autoencoder(model, loader, epochs, lr)
        seconds[getattr(model, "_calibrate_k", len(seconds))] = time.perf_counter() - start
        return history

    def set_seed(seed=0, threads=None):
        return seeding.set_seed(seed + shift, threads)

    def make_loader(*tensors, seed=0, **kwargs):
        return data.make_loader(*tensors, seed=seed + shift, **kwargs)

    ns: dict = {"__name__": "__calibrate__"}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(python_source(cells["setup"].source), "<setup>", "exec"), ns)
        ns.update(Encoder=ref.Encoder, Decoder=ref.Decoder, Autoencoder=Autoencoder,
                  train_autoencoder=train_autoencoder, set_seed=set_seed, make_loader=make_loader)
        exec(compile(python_source(cells["train_models"].source), "<train_models>", "exec"), ns)
    plt.close("all")
    return ns["ae_models"], seconds


def notebook_budget(seed: int) -> dict[int, dict]:
    """The notebook's training cell on the reference Autoencoder, every seed in it shifted by ``seed`` (seed 0
    is exactly the notebook); judged as the grader judges the notebook's own ``ae_models``."""
    from autograder.checks import autoencoder as checks
    from autograder.heldout.autoencoder import held_out

    models, seconds = _train_as_notebook(part4_cells(), seed)
    X_train, X_held = held_out()
    out = {}
    for k in LATENT_SIZES:
        if k not in models:
            continue
        pca = checks.pca_test_mse(X_train, X_held, k)
        # the bars of test_own_model_2_beats_pca and test_own_model_32_trained
        bar = checks.QUALITY_RATIO * pca if k == 2 else checks.pca_test_mse(X_train, X_held, k // 2)
        rule = f"{checks.QUALITY_RATIO:g} x PCA({k})" if k == 2 else f"PCA({k // 2})"
        out[k] = {"ae_mse": checks.mse(_reconstruction(models[k], X_held), X_held),
                  "pca_mse": pca, "threshold": bar, "rule": rule, "train_s": seconds.get(k)}
    return out


def grader_budget(seed: int) -> dict[int, dict]:
    """The grader's quality recipe (QUALITY_RECIPE) at each latent size, on split seed ``seed`` (and init seed
    shifted by it: seed 0 is exactly the check). The grader judges latent size QUALITY_RECIPE["k"] only."""
    from autograder.checks import autoencoder as checks
    from autograder.reference import autoencoder as ref

    base = checks.QUALITY_RECIPE
    out = {}
    for k in LATENT_SIZES:
        recipe = dict(base, k=k, split_seed=base["split_seed"] + seed, init_seed=base["init_seed"] + seed)
        ae, pca, secs = _grader_quality(ref.Autoencoder, recipe)
        judged = k == base["k"]
        out[k] = {"ae_mse": ae, "pca_mse": pca, "threshold": checks.QUALITY_RATIO * pca if judged else None,
                  "rule": f"{checks.QUALITY_RATIO:g} x PCA({k})" if judged else "not judged by the grader",
                  "train_s": secs}
    return out


def _reconstruction(model, X):
    """decoder(encoder(X)) of a model in this process (the reference: calibration runs no student code)."""
    import torch

    model.eval()
    with torch.no_grad():
        return model.decoder(model.encoder(X)).reshape(len(X), 784)


def _grader_quality(make_model, recipe) -> tuple[float, float, float]:
    """The quality check's figures for a model in this process: (held-out MSE, PCA's at the same k, seconds)."""
    import torch

    from autograder.checks import autoencoder as checks
    from course_utils import selfcheck

    X_tr, X_te = checks.quality_split(recipe)
    torch.manual_seed(recipe["init_seed"])
    model = make_model(recipe["k"])
    started = time.perf_counter()
    selfcheck.train_with_recipe(model, X_tr, recipe)
    seconds = time.perf_counter() - started
    return (checks.mse(_reconstruction(model, X_te), X_te), checks.pca_test_mse(X_tr, X_te, recipe["k"]), seconds)


BUDGETS = {"notebook": notebook_budget, "grader": grader_budget}


def budget_descriptions(cells: dict | None) -> dict[str, str]:
    from autograder.checks import autoencoder as checks

    r = checks.QUALITY_RECIPE
    return {
        "notebook": (f"the training cell of {cells['__path__'].name}, reference model, judged on the grader's "
                     f"held-out digits" if cells else "no part-4 notebook yet"),
        "grader": (f"QUALITY_RECIPE: {r['n_train']} train / {r['n_test']} held-out digits, Adam {r['lr']:g}, "
                   f"batch {r['batch_size']}, {r['epochs']} epochs"),
    }


# ---------------------------------------------------------------------------------- figures
def summarize(per: list[dict]) -> dict:
    """One latent size over the seeds: means, worst seed, the smallest margin to the threshold."""
    ae = [p["ae_mse"] for p in per]
    pca = [p["pca_mse"] for p in per]
    limits_ = [p["threshold"] for p in per]
    margins = None if None in limits_ else [t - a for t, a in zip(limits_, ae)]
    timed = [p["train_s"] for p in per if p["train_s"] is not None]
    return {"ae_mse": ae, "pca_mse": pca, "threshold": limits_, "rule": per[0]["rule"],
            "ae_mse_mean": statistics.mean(ae), "ae_mse_worst": max(ae), "pca_mse_mean": statistics.mean(pca),
            "ae_over_pca": statistics.mean(ae) / statistics.mean(pca),
            "margin_min": None if margins is None else min(margins),
            "margin_rel_min": None if margins is None else min(m / t for m, t in zip(margins, limits_)),
            "train_s_mean": statistics.mean(timed) if timed else None}


def calibrate(seeds: list[int], progress=None) -> dict:
    """Both budgets over ``seeds``: {"seeds", "budgets": {name: {"describe", "latent": {k: summary}}}}."""
    from autograder import limits
    from course_utils.threads import cap_torch_threads

    cap_torch_threads(limits.TORCH_THREADS)
    cells = part4_cells()
    described = budget_descriptions(cells)
    out = {"seeds": list(seeds), "budgets": {}}
    for name, run in BUDGETS.items():
        if name == "notebook" and cells is None:
            out["budgets"][name] = {"skipped": "no solution notebook with a 'train_models' cell yet"}
            continue
        runs = []
        for seed in seeds:
            if progress:
                progress(f"{name} budget, seed {seed}")
            runs.append(run(seed))
        latent = {str(k): summarize([r[k] for r in runs]) for k in LATENT_SIZES if all(k in r for r in runs)}
        out["budgets"][name] = {"describe": described[name], "latent": latent}
    return out


def _fmt_s(x: float) -> str:
    return f"{x:.2f} s" if x < 10 else f"{x:.1f} s"


def rows(figures: dict) -> list[tuple[str, str | None]]:
    """(label, value) lines of the table; value None: a heading of its own."""
    lines: list[tuple[str, str | None]] = []
    for name, budget in figures["budgets"].items():
        if "skipped" in budget:
            lines.append((f"{name} budget: skipped, {budget['skipped']}", None))
            continue
        lines.append((f"{name} budget: {budget['describe']}", None))
        for k, row in budget["latent"].items():
            ae = row["ae_mse"]
            spread = f" [{min(ae):.4f}..{max(ae):.4f}]" if len(ae) > 1 else ""
            lines.append((f"  k={k}: PCA / autoencoder test MSE (mean{' [range]' if spread else ''})",
                          f"{row['pca_mse_mean']:.4f} / {row['ae_mse_mean']:.4f}{spread}"))
            if row["margin_min"] is None:
                lines.append((f"  k={k}: grader's threshold", row["rule"]))
            else:
                lines.append((f"  k={k}: threshold ({row['rule']}); smallest margin",
                              f"{statistics.mean(row['threshold']):.4f}; {row['margin_min']:+.4f} "
                              f"({100 * row['margin_rel_min']:.0f}%)"))
            if row["train_s_mean"] is not None:
                lines.append((f"  k={k}: training time per model", _fmt_s(row["train_s_mean"])))
    return lines


def print_table(figures: dict, out=sys.stdout) -> None:
    lines = rows(figures)
    width = max([len(label) for label, value in lines if value is not None] + [20]) + 2
    vwidth = max([len(value) for _, value in lines if value is not None] + [10]) + 2
    for label, value in lines:
        print(label if value is None else f"{label:<{width}}{value:>{vwidth}}", file=out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m autograder.calibrate",
                                description="Part 4's quality thresholds against the reference autoencoder.")
    p.add_argument("--seeds", type=int, default=3, help="seeds per budget (default 3)")
    p.add_argument("--json", help="also write every figure to this JSON file")
    args = p.parse_args(argv)
    from autograder import limits

    limits.configure_process()
    started = time.perf_counter()
    figures = calibrate(list(range(max(1, args.seeds))),
                        progress=lambda text: print(f"[calibrate] {text}", file=sys.stderr, flush=True))
    figures["total_s"] = time.perf_counter() - started
    print(f"\nmodel quality over {len(figures['seeds'])} seed(s), torch threads {limits.TORCH_THREADS}; "
          f"took {figures['total_s']:.0f} s\n")
    print_table(figures)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1) + "\n")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
