"""The hidden side of the autoencoder unit: checks, notebook grading, nbgrader glue.

A check cell in a notebook calls :func:`grade` with its grade id and ``globals()``; the
value it returns is the cell's points. ``autograder grade NOTEBOOK`` grades one notebook
from the command line. Students never receive this package.

Importing the package is cheap (no torch): nbgrader loads it with every command's config.
"""

__all__ = ["grade"]
__version__ = "0.1.0"


def grade(cell_id: str, namespace: dict) -> float:
    """Run the hidden checks of one cell against the notebook's ``globals()``; returns the points."""
    from autograder.cell import grade as run

    return run(cell_id, namespace)
