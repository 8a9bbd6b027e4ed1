"""Instructors' and TAs' nbgrader settings: the formgrader works on the course directory.

The hub sets ``COURSE_DIRECTORY`` for graders' servers (the instructor's course folder, which
``deploy/standup.py`` made); that folder's own ``nbgrader_config.py`` loads the kit's
``nbgrader_config.py`` (source ``solutions/``, release ``assignments/``, the kit's preprocessors
and limits), so the formgrader and ``nbgrader`` run in a terminal there agree.
"""
import os

c = get_config()  # noqa: F821 (provided by traitlets)

course = os.environ.get("COURSE_DIRECTORY")
if course:
    course_config = os.path.join(course, "nbgrader_config.py")
    if not os.path.isfile(course_config):
        # load_subconfig ignores a missing file silently; a grader without the kit's settings
        # would release notebooks with their solutions and grade without the kit's rules.
        raise FileNotFoundError(f"the course directory {course} has no nbgrader_config.py: run deploy/standup.py")
    c.CourseDirectory.root = course
    load_subconfig(course_config)  # noqa: F821 (provided by traitlets)
