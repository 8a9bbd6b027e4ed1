"""nbgrader preprocessors of the kit, one concern per module, wired in ``nbgrader_config.py``."""
from autograder.nbgrader_ext.named_stubs import NamedClearSolutions
from autograder.nbgrader_ext.require_score import RequireScore
from autograder.nbgrader_ext.resilient_execute import ResilientExecute
from autograder.nbgrader_ext.restore_cells import RestoreFromSource
from autograder.nbgrader_ext.strip_feedback import StripFeedback

__all__ = ["NamedClearSolutions", "RequireScore", "ResilientExecute", "RestoreFromSource", "StripFeedback"]
