"""Put back deleted, edited, duplicated or stripped check cells before nbgrader's own checks.

nbgrader's ``OverwriteCells.add_missing_cells`` re-inserts a deleted grade cell after the
source cell that preceded it, but looks that neighbour up among grade and solution cells only:
when the neighbour is a locked cell (a visible-check cell, say), nbgrader raises ``KeyError``
and the student is not graded at all. This preprocessor runs first in the sanitize step and
restores the submission from the source notebook with :func:`autograder.restore.restore`, so
nbgrader's own steps then find every cell where it belongs.
"""
from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from autograder.restore import restore


class RestoreFromSource(Preprocessor):
    """Restore protected cells from ``<source_directory>/<assignment>/<notebook>.ipynb``."""

    enabled = Bool(True, help="nbconvert preprocessors are off unless enabled").tag(config=True)

    def source_path(self, resources) -> Path:
        info = resources.get("nbgrader", {})
        source_dir = self.config.CourseDirectory.get("source_directory", "source")
        root = self.config.CourseDirectory.get("root", os.getcwd())
        return Path(root) / source_dir / info["assignment"] / f"{info['notebook']}.ipynb"

    def preprocess(self, nb, resources):
        try:
            path = self.source_path(resources)
        except KeyError:
            return nb, resources
        if not path.is_file():
            self.log.warning("No source notebook at %s: leaving the cells to nbgrader", path)
            return nb, resources
        restored, notes = restore(nb, nbformat.read(str(path), as_version=4))
        for note in notes:
            self.log.warning("%s: %s", resources["nbgrader"].get("student", "?"), note)
        return restored, resources
