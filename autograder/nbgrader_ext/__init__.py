"""nbgrader preprocessors of the kit, one concern per module, wired in ``nbgrader_config.py``.

Each acts on kit notebooks only (:mod:`autograder.nbgrader_ext.kit`); every other notebook of the
course goes through nbgrader exactly as without the kit.
"""
from autograder.nbgrader_ext.kit_execute import KitExecute
from autograder.nbgrader_ext.named_stubs import NamedClearSolutions
from autograder.nbgrader_ext.require_score import RequireScore
from autograder.nbgrader_ext.restore_cells import RestoreFromSource
from autograder.nbgrader_ext.rubric import ShowRubric
from autograder.nbgrader_ext.strip_feedback import StripFeedback

__all__ = ["KitExecute", "NamedClearSolutions", "RequireScore", "RestoreFromSource", "ShowRubric", "StripFeedback"]
