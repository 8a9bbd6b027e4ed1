"""The hidden side of the autoencoder unit: checks, notebook grading, nbgrader glue.

A check cell in a notebook calls :func:`grade` with its grade id and ``globals()``; the
value it returns is the cell's points. ``autograder grade NOTEBOOK`` grades one notebook
from the command line. Students never receive this package.
"""
from autograder.cell import grade

__all__ = ["grade"]
__version__ = "0.1.0"
