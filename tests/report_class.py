"""A small class for the class report's tests: part 2 (linear layers) handed in by 14 students.

Each student writes the three answers of ``02_linear_layers.ipynb`` in their own words, except:

* ``bo`` and ``cal`` are near-copies: cal took bo's code, renamed every variable, swapped the order
  of the helper and the function in two cells and rewrote the comments;
* ``ivy`` hands in the release untouched; ``lu`` hands in late, one answer still blank;
* ``jo`` is correct but reads the environment (the static audit flags it);
* ``kim``'s notebook is broken after collection (it cannot be graded);
* ``max`` is enrolled and never hands in.

``ada``, ``dee``, ``eli``, ``fay`` and ``jo`` are distinct correct solutions: the report must not
rank any pair of them among the suspiciously similar ones.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat

from tests.kit import RELEASE_NOTEBOOKS, SOLUTION_NOTEBOOKS, read

NOTEBOOK = "02_linear_layers.ipynb"
FORWARD = ("def linear_forward(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:\n"
           '    """x [..., in], weight [out, in], bias [out] -> [..., out]"""\n')
LINEAR = ("class Linear(torch.nn.Module):\n"
          '    """A fully connected layer: y = x @ weight.T + bias, for inputs [..., in_features]."""\n\n'
          "    def __init__(self, in_features: int, out_features: int):\n"
          "        super().__init__()\n"
          "        self.in_features, self.out_features = in_features, out_features\n"
          "        # .weight [out, in] and .bias [out]: nn.Parameters drawn from U(-1/sqrt(in), 1/sqrt(in))\n")
FORWARD_METHOD = ("\n    def forward(self, x: torch.Tensor) -> torch.Tensor:\n"
                  "        return linear_forward(x, self.weight, self.bias)\n")
COMPOSE = ("def compose_linear(first: Linear, second: Linear) -> Linear:\n"
           '    """One Linear layer equal to second(first(x)) for every x."""\n')


def answers(forward: str, init: str, compose: str, method: str = FORWARD_METHOD, before_class: str = "",
            after_class: str = "") -> dict[str, str]:
    return {"linear_forward_sol": FORWARD + forward,
            "linear_layer_sol": before_class + LINEAR + init + method + after_class,
            "compose_linear_sol": compose}


BO = answers(
    "    # flatten the leading dimensions, multiply, then put them back\n"
    "    leading = x.shape[:-1]\n"
    "    flat = x.reshape(-1, x.shape[-1])\n"
    "    product = torch.addmm(bias, flat, weight.t())\n"
    "    return product.reshape(*leading, weight.shape[0])\n",
    "        limit = in_features ** -0.5  # the bound of the uniform draw\n"
    "        self.weight = torch.nn.Parameter(_uniform((out_features, in_features), limit))\n"
    "        self.bias = torch.nn.Parameter(_uniform((out_features,), limit))\n",
    "def _combined_parameters(first, second):\n"
    '    """W2 W1 and W2 b1 + b2, detached from the graph."""\n'
    "    w_one, b_one = first.weight.detach(), first.bias.detach()\n"
    "    w_two, b_two = second.weight.detach(), second.bias.detach()\n"
    "    return w_two @ w_one, torch.mv(w_two, b_one) + b_two\n\n\n"
    + COMPOSE +
    "    n_inputs, n_outputs = first.in_features, second.out_features\n"
    "    merged_weight, merged_bias = _combined_parameters(first, second)\n"
    "    merged = Linear(n_inputs, n_outputs)\n"
    "    with torch.no_grad():\n"
    "        merged.weight.copy_(merged_weight)\n"
    "        merged.bias.copy_(merged_bias)\n"
    "    return merged\n",
    before_class="def _uniform(shape, bound):\n"
                 '    """A tensor of the given shape drawn from U(-bound, bound)."""\n'
                 "    return torch.empty(*shape).uniform_(-bound, bound)\n\n\n")

# cal: bo's code with every name changed, helpers moved after their users, other comments.
CAL = answers(
    "    # keep the batch shape aside, do a 2-D product, reshape back\n"
    "    batch_shape = x.shape[:-1]\n"
    "    rows = x.reshape(-1, x.shape[-1])\n"
    "    result = torch.addmm(bias, rows, weight.t())\n"
    "    return result.reshape(*batch_shape, weight.shape[0])\n",
    "        scale = in_features ** -0.5  # 1 / sqrt(fan in)\n"
    "        self.weight = torch.nn.Parameter(_draw((out_features, in_features), scale))\n"
    "        self.bias = torch.nn.Parameter(_draw((out_features,), scale))\n",
    COMPOSE +
    "    fan_in, fan_out = first.in_features, second.out_features\n"
    "    new_w, new_b = _fold(first, second)\n"
    "    layer = Linear(fan_in, fan_out)\n"
    "    with torch.no_grad():\n"
    "        layer.weight.copy_(new_w)\n"
    "        layer.bias.copy_(new_b)\n"
    "    return layer\n\n\n"
    "def _fold(first, second):\n"
    '    """Folds the two layers into one weight and bias."""\n'
    "    a, c = first.weight.detach(), first.bias.detach()\n"
    "    d, e = second.weight.detach(), second.bias.detach()\n"
    "    return d @ a, torch.mv(d, c) + e\n",
    after_class="\n\ndef _draw(shape, bound):\n"
                '    """uniform samples in [-bound, bound]"""\n'
                "    return torch.empty(*shape).uniform_(-bound, bound)\n")

DEE = answers(
    "    return torch.einsum('...i,oi->...o', x, weight) + bias\n",
    "        bound = 1 / math.sqrt(in_features)\n"
    "        self.weight = torch.nn.Parameter(torch.empty(out_features, in_features))\n"
    "        self.bias = torch.nn.Parameter(torch.empty(out_features))\n"
    "        torch.nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))\n"
    "        torch.nn.init.uniform_(self.bias, -bound, bound)\n",
    COMPOSE +
    "    combined = Linear(first.weight.shape[1], second.weight.shape[0])\n"
    "    W1, b1, W2, b2 = (p.detach() for p in (first.weight, first.bias, second.weight, second.bias))\n"
    "    combined.weight = torch.nn.Parameter(W2 @ W1)\n"
    "    combined.bias = torch.nn.Parameter(W2 @ b1 + b2)\n"
    "    return combined\n")

ELI = answers(
    "    return bias + torch.matmul(x, weight.transpose(-1, -2))\n",
    "        bound = 1 / math.sqrt(in_features)\n"
    "        self.register_parameter('weight', torch.nn.Parameter(\n"
    "            torch.empty(out_features, in_features).uniform_(-bound, bound)))\n"
    "        self.register_parameter('bias', torch.nn.Parameter(\n"
    "            torch.empty(out_features).uniform_(-bound, bound)))\n",
    COMPOSE +
    "    n_in = first.weight.shape[1]\n"
    "    probe = Linear(n_in, second.weight.shape[0])\n"
    "    with torch.no_grad():\n"
    "        offset = second(first(torch.zeros(n_in)))\n"
    "        slope = (second(first(torch.eye(n_in))) - offset).T\n"
    "        probe.weight.copy_(slope)\n"
    "        probe.bias.copy_(offset)\n"
    "    return probe\n")

FAY = answers(
    "    y = (x.unsqueeze(-2) * weight).sum(dim=-1)\n"
    "    return y + bias\n",
    "        std = 1.0 / in_features ** 0.5\n"
    "        w = torch.rand(out_features, in_features) * (2 * std) - std\n"
    "        b = torch.rand(out_features) * (2 * std) - std\n"
    "        self.weight = torch.nn.Parameter(w)\n"
    "        self.bias = torch.nn.Parameter(b)\n",
    COMPOSE +
    "    out = Linear(first.in_features, second.out_features)\n"
    "    W = torch.matmul(second.weight.data, first.weight.data)\n"
    "    b = torch.matmul(second.weight.data, first.bias.data) + second.bias.data\n"
    "    out.weight.data = W.clone()\n"
    "    out.bias.data = b.clone()\n"
    "    return out\n")

JO = answers(
    "    return (weight @ x.unsqueeze(-1)).squeeze(-1) + bias\n",
    "        k = math.sqrt(1.0 / in_features)\n"
    "        sampler = torch.distributions.Uniform(-k, k)\n"
    "        self.weight = torch.nn.Parameter(sampler.sample((out_features, in_features)))\n"
    "        self.bias = torch.nn.Parameter(sampler.sample((out_features,)))\n",
    COMPOSE +
    "    fused = Linear(first.in_features, second.out_features)\n"
    "    with torch.no_grad():\n"
    "        fused.weight[:] = second.weight.mm(first.weight)\n"
    "        fused.bias[:] = second.weight.mv(first.bias).add(second.bias)\n"
    "    return fused\n")
JO_EXTRA = 'import os\nprint("graded as", os.environ.get("USER", "nobody"))\n'

GUS = answers(  # wrong: the weight is not transposed; normal draws; the layers composed the wrong way round
    "    return x @ weight + bias\n",
    "        s = 1 / math.sqrt(in_features)\n"
    "        self.weight = torch.nn.Parameter(torch.randn(out_features, in_features) * s)\n"
    "        self.bias = torch.nn.Parameter(torch.randn(out_features) * s)\n",
    COMPOSE +
    "    c = Linear(first.weight.shape[1], second.weight.shape[0])\n"
    "    with torch.no_grad():\n"
    "        c.weight.copy_(first.weight.T @ second.weight.T)\n"
    "        c.bias.copy_(first.bias @ second.weight.T + second.bias)\n"
    "    return c\n")

HAL = answers(  # the layer's weights are plain tensors; the composition forgets the second bias
    "    out = x.matmul(weight.T)\n"
    "    out += bias\n"
    "    return out\n",
    "        r = 1 / math.sqrt(in_features)\n"
    "        self.weight = ((2 * torch.rand(out_features, in_features) - 1) * r).requires_grad_()\n"
    "        self.bias = ((2 * torch.rand(out_features) - 1) * r).requires_grad_()\n",
    COMPOSE +
    "    both = Linear(first.weight.shape[1], second.weight.shape[0])\n"
    "    with torch.no_grad():\n"
    "        both.weight.copy_(second.weight @ first.weight)\n"
    "        both.bias.copy_(second.weight @ first.bias)\n"
    "    return both\n")

NED = answers(  # calls F.linear; draws from U(0, bound); returns a Sequential
    "    return torch.nn.functional.linear(x, weight, bias)\n",
    "        top = 1 / math.sqrt(in_features)\n"
    "        self.weight = torch.nn.Parameter(torch.rand(out_features, in_features) * top)\n"
    "        self.bias = torch.nn.Parameter(torch.rand(out_features) * top)\n",
    COMPOSE + "    return torch.nn.Sequential(first, second)\n")

LU = {  # right forward pass, a zero bias, compose_linear left blank (as released)
    "linear_forward_sol": FORWARD + "    return torch.tensordot(x, weight, dims=([-1], [1])) + bias\n",
    "linear_layer_sol": LINEAR + (
        "        half_width = 1 / math.sqrt(in_features)\n"
        "        self.weight = torch.nn.Parameter(\n"
        "            torch.rand(out_features, in_features) * 2 * half_width - half_width)\n"
        "        self.bias = torch.nn.Parameter(torch.zeros(out_features))\n") + FORWARD_METHOD,
}

# student -> (answer cells or "solution"/"release", extra cell source or None)
STUDENTS = {
    "ada": ("solution", None), "bo": (BO, None), "cal": (CAL, None), "dee": (DEE, None), "eli": (ELI, None),
    "fay": (FAY, None), "gus": (GUS, None), "hal": (HAL, None), "ivy": ("release", None), "jo": (JO, JO_EXTRA),
    "kim": (DEE, None), "lu": (LU, None), "ned": (NED, None),
}
NOT_SUBMITTED = ["max"]
COPIES = ("bo", "cal")
DISTINCT_CORRECT = ["ada", "dee", "eli", "fay", "jo"]
FLAGGED, UNGRADABLE, LATE = "jo", "kim", "lu"
DUE, LATE_TIMESTAMP = "2031-01-01 00:00:00 UTC", "2031-01-02 09:30:00.000000 UTC"


def notebook_for(student: str) -> nbformat.NotebookNode:
    spec, extra = STUDENTS[student]
    if spec == "release":
        return read(RELEASE_NOTEBOOKS / NOTEBOOK)
    nb = read(SOLUTION_NOTEBOOKS / NOTEBOOK)
    if spec != "solution":
        release = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in read(RELEASE_NOTEBOOKS / NOTEBOOK).cells}
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid and gid in release and cell.metadata["nbgrader"].get("solution"):
                cell.source = spec.get(gid, release[gid])
    if extra:
        nb.cells.insert(len(nb.cells) - 1, nbformat.v4.new_code_cell(extra))
    return nb


def build_class(root: Path, timeout: int = 1800) -> tuple[Path, subprocess.CompletedProcess]:
    """Release part 2, have every student fetch and submit, collect, break kim's notebook, make lu late,
    then `autograder class-grade -j 2` and nbgrader's feedback. Returns the course and class-grade's run."""
    from nbgrader.api import Gradebook
    from nbgrader.utils import parse_utc

    from autograder.course import ASSIGNMENT, COURSE_ID, make_course, make_student, nbgrader

    course = make_course(root / "course", only=[NOTEBOOK])
    nbgrader("generate_assignment", ASSIGNMENT, "--force", cwd=course)  # creates the gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id=COURSE_ID) as gb:  # one process, not 15
        gb.update_or_create_assignment(ASSIGNMENT, duedate=parse_utc(DUE))
        for student in [*STUDENTS, *NOT_SUBMITTED]:
            gb.update_or_create_student(student, first_name=student.title(), last_name="Student")
    nbgrader("release_assignment", ASSIGNMENT, "--force", cwd=course)
    for student in STUDENTS:
        home = make_student(root / "students" / student, student, course / "exchange")
        nbgrader("fetch_assignment", ASSIGNMENT, cwd=home)
        nbformat.write(notebook_for(student), str(home / ASSIGNMENT / NOTEBOOK))
        nbgrader("submit", ASSIGNMENT, cwd=home)
    nbgrader("collect", ASSIGNMENT, cwd=course)
    submitted = course / "submitted"
    (submitted / UNGRADABLE / ASSIGNMENT / NOTEBOOK).write_text('{"cells": [ this is not a notebook')
    (submitted / LATE / ASSIGNMENT / "timestamp.txt").write_text(LATE_TIMESTAMP)
    command = [sys.executable, "-m", "autograder.cli", "class-grade", str(course), ASSIGNMENT, "-j", "2"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    for _ in range(3):  # in a shared working tree someone may edit the grader mid-run: grade those again
        again = disturbed(course)
        if not again:
            break
        subprocess.run(command + [x for s in again for x in ("--student", s)], capture_output=True, timeout=timeout)
    nbgrader("generate_feedback", ASSIGNMENT, "--force", cwd=course, check=False)  # kim has nothing to show
    return course, proc


DISTURBED = "the grader's files are not the ones grading started with"


def disturbed(course: Path) -> list[str]:
    """Students whose grading the executor refused because the grader's files changed while it ran (an
    engineer editing autograder/ in the same tree), from class-grade.json."""
    import json

    path = course / "reports" / "autoencoders" / "class-grade.json"
    outcomes = json.loads(path.read_text()) if path.exists() else []
    return [o["student"] for o in outcomes if any(DISTURBED in line for line in o.get("review") or [])]
