"""nbgrader configuration of the autoencoder unit. Every value here is deliberate; see README.

Run nbgrader commands from this folder (or load this file from a course's own config with
``c.merge(...)``/``load_subconfig``): ``solutions/`` is the source, ``assignments/`` the release.
"""
import os

from autograder import limits

c = get_config()  # noqa: F821 (provided by nbgrader)

c.CourseDirectory.course_id = os.environ.get("COURSE_ID", "autoencoders-unit")
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
# Only notebooks (and nothing a student must not see) are copied into the release.
# (and the exchange's own files: without them collect drops submission times and release_feedback fails)
c.CourseDirectory.include = ["*.ipynb", "timestamp.txt", "submission_secret.txt"]
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.py", "*.json"]

# Blanks raise NotImplementedError naming their function.
c.GenerateAssignment.preprocessors = [
    "nbgrader.preprocessors.IncludeHeaderFooter",
    "nbgrader.preprocessors.InstantiateTests",
    "nbgrader.preprocessors.LockCells",
    "autograder.nbgrader_ext.NamedClearSolutions",
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.CheckCellMetadata",
    "nbgrader.preprocessors.ComputeChecksums",
    "nbgrader.preprocessors.SaveCells",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbgrader.preprocessors.ClearMarkScheme",
    "nbgrader.preprocessors.ComputeChecksums",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.ClearSolutions.code_stub = {"python": '# YOUR CODE HERE\nraise NotImplementedError("Student exercise: {blank}")'}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Autograding: restore deleted test cells, keep grading after a hung cell, time limits, and a check
# cell that ends without a valid score scores 0 (nbgrader would give it full marks).
c.OverwriteCells.add_missing_cells = True
c.Autograde.sanitize_preprocessors = [
    "autograder.nbgrader_ext.RestoreFromSource",  # before nbgrader's own: see its docstring
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# ResilientExecute: a cell that hangs past its limit (even ignoring SIGINT) or kills the kernel gets an
# error; the kernel is restarted, earlier cells are replayed, and grading goes on with the next cell.
for name in ("Execute", "ResilientExecute"):
    c[name].timeout = limits.CELL_TIMEOUT
    c[name].interrupt_on_timeout = True
    c[name].raise_on_iopub_timeout = False
    c[name].iopub_timeout = 10
    c[name].extra_arguments = ["--IPKernelApp.log_level=ERROR"]
c.Autograde.autograde_preprocessors = [
    "autograder.nbgrader_ext.ResilientExecute",
    "autograder.nbgrader_ext.RequireScore",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# Feedback keeps each check's message and loses the grader's code and tracebacks.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "autograder.nbgrader_ext.StripFeedback",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
