"""The hidden side of the autoencoder unit: checks, the trusted executor, nbgrader glue.

Students never receive this package: their environment holds only ``course_utils`` (student/).
A check cell in a notebook is one line; the kit's executor (:mod:`autograder.executor`) runs the
cell's hidden checks (:mod:`autograder.checks`, pytest test functions) in its own, trusted process: they
call the student's code in the grading kernel and get data back (:mod:`autograder.remote`), and the
executor writes the score nbgrader reads. What runs inside the kernel is :mod:`autograder.inkernel` alone.
``autograder grade NOTEBOOK`` grades one notebook from the command line.

Importing the package is cheap (no torch): nbgrader loads it with every command's config.
"""

__version__ = "0.2.0"
