"""Where a course keeps things: the one place the kit builds a course's paths and finds its gradebook.

nbgrader is the authority on a course's layout: its ``CourseDirectory`` settings (``submitted_directory``,
``autograded_directory``, ``feedback_directory``, ``source_directory``, ``release_directory``,
``directory_structure``, ``db_url``, ``root``), read from the course's ``nbgrader_config.py`` and Jupyter's
config folders. :func:`layout` asks nbgrader itself for them (``NbGrader().initialize()`` in a short-lived
process whose working directory is the course, as every nbgrader command the kit runs), once per course and
process, and every path then comes from nbgrader's own ``CourseDirectory.format_path``. No other module of the
kit names ``submitted/``, ``autograded/``, ``feedback/`` or ``gradebook.db``.
"""
from __future__ import annotations

import functools
import glob
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

SETTINGS = ("root", "directory_structure", "source_directory", "release_directory", "submitted_directory",
            "autograded_directory", "feedback_directory", "db_url")

PROBE = f"""\
import json, logging
logging.disable(logging.CRITICAL)
from nbgrader.apps import NbGrader
app = NbGrader()
app.initialize([])
print(json.dumps({{k: getattr(app.coursedir, k) for k in {SETTINGS!r}}}))
"""


class CourseConfigError(Exception):
    """nbgrader could not read the course's configuration: the reason is one line for the TA."""


@dataclass(frozen=True)
class CourseLayout:
    """A course's folders and gradebook, as its nbgrader configuration says."""

    root: Path
    directory_structure: str
    source_directory: str
    release_directory: str
    submitted_directory: str
    autograded_directory: str
    feedback_directory: str
    db_url: str

    @functools.cached_property
    def _coursedir(self):
        from nbgrader.coursedir import CourseDirectory

        return CourseDirectory(root=str(self.root), directory_structure=self.directory_structure)

    def folder(self, step: str, student: str, assignment: str) -> Path:
        """nbgrader's ``format_path``: ``step`` is a folder setting's value (e.g. ``self.submitted_directory``)."""
        return Path(self._coursedir.format_path(step, student, assignment))

    def source(self, assignment: str) -> Path:
        return self.folder(self.source_directory, ".", assignment)

    def release(self, assignment: str) -> Path:
        return self.folder(self.release_directory, ".", assignment)

    def submitted(self, student: str, assignment: str) -> Path:
        return self.folder(self.submitted_directory, student, assignment)

    def autograded(self, student: str, assignment: str) -> Path:
        return self.folder(self.autograded_directory, student, assignment)

    def feedback(self, student: str, assignment: str) -> Path:
        return self.folder(self.feedback_directory, student, assignment)

    def students(self, step: str, assignment: str) -> list[str]:
        """The students with a folder for ``assignment`` under ``step`` (as nbgrader's own converters find them)."""
        pattern = self._coursedir.format_path(step, "*", assignment)
        regex = re.compile(self._coursedir.format_path(step, "(?P<student_id>[^/]+)", assignment, escape=True) + "$")
        found = {m.group("student_id") for path in glob.glob(pattern)
                 if Path(path).is_dir() and (m := regex.match(path))}
        return sorted(found)

    def submitted_students(self, assignment: str) -> list[str]:
        return self.students(self.submitted_directory, assignment)

    def gradebook(self, course_id: str = ""):
        """nbgrader's ``Gradebook`` on the course's database (a context manager)."""
        from nbgrader.api import Gradebook

        return Gradebook(self.db_url, course_id=course_id) if course_id else Gradebook(self.db_url)


def _absolute(url: str, root: Path) -> str:
    """A relative sqlite path in the course's config is relative to the course, where nbgrader runs."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        return prefix + str((root / url[len(prefix):]).resolve())
    return url


@functools.lru_cache(maxsize=16)
def _read(course: str) -> tuple:
    from autograder.tools import tool_env, venv_bin

    try:
        proc = subprocess.run([venv_bin("python"), "-c", PROBE], cwd=course, env=tool_env(), capture_output=True,
                              text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CourseConfigError(f"cannot read the nbgrader configuration of {course}: {exc}") from None
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        detail = (proc.stderr.strip().splitlines() or ["no output"])[-1][:300]
        raise CourseConfigError(f"nbgrader cannot read the configuration of {course}: {detail}")
    values = json.loads(lines[-1])
    return tuple(values[k] for k in SETTINGS)


def layout(course: Path | str, db_url: str | None = None) -> CourseLayout:
    """The course's layout from its nbgrader configuration; ``db_url`` (a command's option) overrides the config."""
    course = Path(course).resolve()
    values = dict(zip(SETTINGS, _read(str(course))))
    root = Path(values.pop("root"))
    url = _absolute(db_url or values.pop("db_url"), root)
    values.pop("db_url", None)
    return CourseLayout(root=root, db_url=url, **values)


# The kit's own folders in a course (nbgrader knows nothing of them).
def reports_folder(course: Path | str, assignment: str) -> Path:
    """``COURSE/reports/ASSIGNMENT/``: the class report, its CSV and class-grade's outcomes."""
    return Path(course) / "reports" / assignment


def outcomes_path(course: Path | str, assignment: str) -> Path:
    """class-grade's outcomes: who was graded, and why not."""
    return reports_folder(course, assignment) / "class-grade.json"


def executions_folder(course: Path | str, assignment: str) -> Path:
    """``COURSE/.autograder/executions/ASSIGNMENT/``: the notebooks class-grade's workers executed."""
    return Path(course) / ".autograder" / "executions" / assignment
