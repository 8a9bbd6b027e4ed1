"""The benchmark's sections, and the one list that names them.

A section is a module here that defines

* ``run(bench) -> dict``: measures, records its rows and targets on ``bench`` (:class:`bench.context.Bench`)
  and returns its figures (they become the section's entry in the JSON);
* ``NAME`` (optional): the section's name in ``--only``/``--skip``, the table and the JSON; the module's
  name when left out;
* its docstring's first line: what ``--help`` says about it.

Adding a section = adding its module and naming the module in :data:`MODULES` (the order they run in).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

#: The section modules, in the order they run.
MODULES = ("startup", "mnist", "notebooks", "grading", "classgrade", "cluster", "report")

#: Sections that left the benchmark: where they went.
MOVED = {"quality": "model quality is calibrated by `make calibrate` (python -m autograder.calibrate)"}


@dataclass(frozen=True)
class Section:
    name: str
    run: Callable
    about: str


def sections() -> list[Section]:
    """Every section, in order."""
    found = []
    for module_name in MODULES:
        module = importlib.import_module(f"{__name__}.{module_name}")
        about = (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else ""
        found.append(Section(getattr(module, "NAME", module_name), module.run, about))
    return found
