"""Students' nbgrader settings: each student submits under their own hub name.

nbgrader takes the student id from the unix user. On one machine with a local process spawner
every server runs as the same unix user, so without this every submission would land as the same
student. The hub sets ``JUPYTERHUB_USER`` in each server; with one unix user per student (PAM, or
a pod per student on Kubernetes) the two names are the same and this line changes nothing.
"""
import getpass
import os

c = get_config()  # noqa: F821 (provided by traitlets)

c.CourseDirectory.student_id = os.environ.get("JUPYTERHUB_USER") or getpass.getuser()
