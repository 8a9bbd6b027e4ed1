"""Which notebooks the kit's preprocessors act on: kit notebooks only, decided by the instructor's source.

A course that loads the kit's configuration keeps its other assignments exactly as nbgrader
handles them: every kit preprocessor asks :func:`kit_source` first and leaves any notebook whose
source notebook is not a kit notebook (no ``autograder`` entry in its metadata) untouched. The
source comes from the course's ``source`` folder, never from the student's copy.
"""
from __future__ import annotations

import os
from pathlib import Path

import nbformat

from autograder.cells import is_kit_notebook

_CACHE: dict[tuple[str, float], nbformat.NotebookNode | None] = {}


def source_path(config, resources) -> Path | None:
    """``<root>/<source_directory>/<assignment>/<notebook>.ipynb`` for the notebook being converted."""
    info = (resources or {}).get("nbgrader", {})
    if "assignment" not in info or "notebook" not in info:
        return None
    source_dir = config.CourseDirectory.get("source_directory", "source")
    root = config.CourseDirectory.get("root", os.getcwd())
    return Path(root) / source_dir / info["assignment"] / f"{info['notebook']}.ipynb"


def kit_source(config, resources) -> nbformat.NotebookNode | None:
    """The source notebook when it is a kit notebook; None for every other notebook."""
    path = source_path(config, resources)
    if path is None or not path.is_file():
        return None
    key = (str(path), path.stat().st_mtime)
    if key not in _CACHE:
        nb = nbformat.read(str(path), as_version=4)
        _CACHE[key] = nb if is_kit_notebook(nb) else None
    return _CACHE[key]
