"""Which notebooks the kit's preprocessors act on: kit notebooks only, decided by the instructor's source.

A course that loads the kit's configuration keeps its other assignments exactly as nbgrader
handles them: every kit preprocessor asks :func:`kit_source` first (through :class:`KitPreprocessor`,
or itself where nbgrader's own class is extended) and leaves any notebook whose source notebook is not
a kit notebook (no ``autograder`` entry in its metadata) untouched. The source comes from the course's
``source`` folder, never from the student's copy.
"""
from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor

from autograder.cells import is_kit_notebook

_CACHE: dict[tuple[str, float], nbformat.NotebookNode | None] = {}


def course_directory(preprocessor):
    """The ``CourseDirectory`` of the nbgrader converter running ``preprocessor`` (its parent's parent), if any."""
    node = preprocessor
    for _ in range(8):
        if node is None:
            return None
        coursedir = getattr(node, "coursedir", None)
        if coursedir is not None:
            return coursedir
        node = getattr(node, "parent", None)
    return None


def source_path(config, resources, preprocessor=None) -> Path | None:
    """``<root>/<source_directory>/<assignment>/<notebook>.ipynb`` for the notebook being converted.

    The folders are the course's own, as nbgrader resolved them (a relative ``root``, a changed
    ``directory_structure``); without an nbgrader converter around, they are read from ``config``.
    """
    info = (resources or {}).get("nbgrader", {})
    if "assignment" not in info or "notebook" not in info:
        return None
    coursedir = course_directory(preprocessor)
    if coursedir is not None:
        folder = coursedir.format_path(coursedir.source_directory, ".", info["assignment"])
        return Path(folder) / f"{info['notebook']}.ipynb"
    source_dir = config.CourseDirectory.get("source_directory", "source")
    root = config.CourseDirectory.get("root", os.getcwd())
    return Path(root) / source_dir / info["assignment"] / f"{info['notebook']}.ipynb"


def kit_source(config, resources, preprocessor=None) -> nbformat.NotebookNode | None:
    """The source notebook when it is a kit notebook; None for every other notebook.

    ``preprocessor``: the kit preprocessor asking, to find the course's folders through its converter.
    """
    path = source_path(config, resources, preprocessor)
    if path is None or not path.is_file():
        return None
    key = (str(path), path.stat().st_mtime)
    if key not in _CACHE:
        nb = nbformat.read(str(path), as_version=4)
        _CACHE[key] = nb if is_kit_notebook(nb) else None
    return _CACHE[key]


class KitPreprocessor(NbGraderPreprocessor):
    """The gate of the kit's nbgrader preprocessors: :meth:`preprocess_kit` runs on kit notebooks only (their source
    is a kit notebook), and every other notebook passes through untouched. By default it preprocesses each cell
    (``preprocess_cell``), as nbgrader's own preprocessors do."""

    def preprocess(self, nb, resources):
        source = kit_source(self.config, resources, self)
        if source is None:
            return nb, resources
        return self.preprocess_kit(nb, resources, source)

    def preprocess_kit(self, nb, resources, source):
        return super().preprocess(nb, resources)
