"""The kit's nbgrader settings: safe to load in a whole course (``load_subconfig`` from the course's config).

Each setting below swaps one of nbgrader's own preprocessors for the kit's subclass, or adds a kit
preprocessor, at the same place in nbgrader's default lists. The kit's preprocessors act on kit
notebooks only (a source notebook whose metadata has an ``autograder`` entry); every other
notebook in the course is generated, autograded and given feedback exactly as by plain nbgrader.
Nothing here sets folders, the course id, time limits or file filters: those stay the course's.
See docs/existing-course.md, "Using the kit in an existing course".
"""
c = get_config()  # noqa: F821 (provided by nbgrader)

# generate_assignment: in kit notebooks, blanks raise NotImplementedError naming their function.
c.GenerateAssignment.preprocessors = [
    "nbgrader.preprocessors.IncludeHeaderFooter",
    "nbgrader.preprocessors.InstantiateTests",
    "nbgrader.preprocessors.LockCells",
    "autograder.nbgrader_ext.NamedClearSolutions",  # nbgrader's ClearSolutions
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.CheckCellMetadata",
    "nbgrader.preprocessors.ComputeChecksums",
    "nbgrader.preprocessors.SaveCells",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbgrader.preprocessors.ClearMarkScheme",
    "nbgrader.preprocessors.ComputeChecksums",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# autograde, sanitize step: a kit notebook's protected cells are restored from the source first.
c.Autograde.sanitize_preprocessors = [
    "autograder.nbgrader_ext.RestoreFromSource",  # added
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# autograde, grading step: kit notebooks run on the kit's trusted executor (verified check cells,
# restart after a hung or crashing cell, memory cap); a kit check cell without a valid score scores 0.
c.Autograde.autograde_preprocessors = [
    "autograder.nbgrader_ext.KitExecute",  # nbgrader's Execute
    "autograder.nbgrader_ext.RequireScore",  # added
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
    "autograder.nbgrader_ext.ShowRubric",  # added
]

# generate_feedback: a kit notebook's feedback keeps each check's message and loses the grader's code.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "autograder.nbgrader_ext.StripFeedback",  # added
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
