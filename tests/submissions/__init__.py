"""Sample student code per notebook: common mistakes and correct alternatives.

Each module names its NOTEBOOK, the check cells that grade functions (FUNCTION_CELLS), and two
tables keyed by a case name:

* BUGGY: (answer cells to replace {solution grade_id: source}, check cells that must lose points)
  every other function cell must keep full marks;
* ALTERNATIVES: answer cells to replace; every function cell must keep full marks.
"""
