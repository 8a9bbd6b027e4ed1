"""Every user's nbgrader settings for the course: the course id and the exchange.

This is the hub's *global* nbgrader config. In production it is ``/etc/jupyter/nbgrader_config.py``
in every single-user image (students', instructors' and TAs'); on one machine the hub hands it to
each server through ``JUPYTER_CONFIG_PATH`` (see ``deploy/jupyterhub_config.py``), so nothing is
written outside the course's folder. The hub sets both variables below for every server.
"""
import os

c = get_config()  # noqa: F821 (provided by traitlets)

c.CourseDirectory.course_id = os.environ.get("COURSE_ID", "autoencoders-unit")
# Where released assignments wait for students, and submissions wait for the graders. On one
# machine a folder writable by everyone (mode 1777); on Kubernetes a shared volume, or ngshare.
c.Exchange.root = os.environ.get("NBGRADER_EXCHANGE_ROOT", "/srv/nbgrader/exchange")
