"""Put back deleted, edited, duplicated or stripped check cells before nbgrader's own checks.

nbgrader's ``OverwriteCells.add_missing_cells`` re-inserts a deleted grade cell after the
source cell that preceded it, but looks that neighbour up among grade and solution cells only:
when the neighbour is a locked cell (a visible-check cell, say), nbgrader raises ``KeyError``
and the student is not graded at all. For kit notebooks, this preprocessor runs first in the
sanitize step and restores the submission from the source notebook with
:func:`autograder.restore.restore`, so nbgrader's own steps then find every cell where it belongs.
Other notebooks pass through untouched.
"""
from __future__ import annotations


from autograder.nbgrader_ext.kit import KitPreprocessor
from autograder.restore import restore


class RestoreFromSource(KitPreprocessor):
    """Restore a kit notebook's protected cells from ``<source_directory>/<assignment>/<notebook>.ipynb``."""

    def preprocess_kit(self, nb, resources, source):
        restored, notes = restore(nb, source)
        for note in notes:
            self.log.warning("%s: %s", resources["nbgrader"].get("student", "?"), note)
        return restored, resources
