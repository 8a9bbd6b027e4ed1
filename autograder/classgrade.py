"""``autograder class-grade COURSE_DIR ASSIGNMENT``: autograde a whole class through nbgrader.

* A pre-check first: the kernel nbgrader will use must import ``autograder`` (otherwise every
  student would silently score 0 and nbgrader would still exit 0).
* Each student is graded by their own ``nbgrader autograde --student S --force`` process, under
  a wall-time limit, so one broken notebook never stops the others; ``-j N`` runs N at once.
* Grades are written to the gradebook student by student: an interrupted run keeps every grade
  already written, and re-running gives the same grades (``--force`` regrades from the submission).
* The end-of-run table says, per student, graded or failed and why; the exit code is 1 when any
  student could not be graded, 2 when nothing could be graded at all.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from autograder import limits
from autograder.course import tool_env, venv_bin


@dataclass
class StudentOutcome:
    student: str
    ok: bool
    seconds: float
    score: float | None = None
    max_score: float | None = None
    reason: str = ""
    review: list[str] = field(default_factory=list)  # audit flags and cells not graded (tampering suspected)


def kernel_precheck() -> str:
    """'' when a grading kernel can load the grader and its data here; otherwise what is wrong."""
    probe = "from autograder import heldout, incell, kernel, registry; registry.table(); heldout.preload()"
    python = str(Path(venv_bin("nbgrader")).parent / "python")
    try:
        # From a neutral folder and isolated, as the executor starts grading kernels.
        proc = subprocess.run([python, "-I", "-c", probe], capture_output=True, text=True, timeout=300, env=tool_env(),
                              cwd=tempfile.gettempdir())
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"the grading Python ({python}) could not be started: {exc}"
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return (f"a grading kernel could not load the grader or its data ({last[:300]}); install the kit in "
                f"{Path(python).parent.parent} (pip install ./student '.[grade]') and set COURSE_DATA_DIR")
    return ""


def submitted_students(course: Path, assignment: str) -> list[str]:
    folder = course / "submitted"
    return sorted(p.parent.name for p in folder.glob(f"*/{assignment}") if p.is_dir())


def _scores(course: Path, assignment: str, student: str, db_url: str | None) -> tuple[float, float]:
    from nbgrader.api import Gradebook

    url = db_url or f"sqlite:///{course / 'gradebook.db'}"
    with Gradebook(url) as gb:
        sub = gb.find_submission(assignment, student)
        return float(sub.score), float(sub.max_score)


def grade_student(course: Path, assignment: str, student: str, timeout: float, db_url: str | None = None,
                  fingerprints=None) -> StudentOutcome:
    start = time.perf_counter()
    cmd = [venv_bin("nbgrader"), "autograde", assignment, "--student", student, "--force"]
    if fingerprints is not None:  # what the grader's files and the data were before any student's code ran
        cmd += [f"--KitExecute.expected_code={fingerprints.code}", f"--KitExecute.expected_data={fingerprints.data}"]
    if db_url:
        cmd.append(f"--CourseDirectory.db_url={db_url}")
    proc = subprocess.Popen(cmd, cwd=course, env=tool_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return StudentOutcome(student, False, time.perf_counter() - start,
                              reason=f"took longer than {timeout:g} s and was stopped")
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        errors = [line for line in out.splitlines() if "ERROR" in line or "Error" in line]
        return StudentOutcome(student, False, seconds, reason=(errors[-1] if errors else out.strip()[-200:])[:300])
    try:
        score, max_score = _scores(course, assignment, student, db_url)
    except Exception as exc:
        return StudentOutcome(student, False, seconds, reason=f"graded, but no grade found: {exc}")
    from autograder.review import review_folder

    review = [line for r in review_folder(course / "autograded" / student / assignment) for line in r.lines()]
    return StudentOutcome(student, True, seconds, score, max_score, review=review)


def class_grade(course: Path, assignment: str, jobs: int = 1, timeout: float | None = None,
                students: list[str] | None = None, db_url: str | None = None, progress: bool = True
                ) -> tuple[int, list[StudentOutcome]]:
    course = Path(course).resolve()
    problem = kernel_precheck()
    if problem:
        print(f"autograder class-grade: not grading: {problem}", file=sys.stderr)
        return 2, []
    students = students or submitted_students(course, assignment)
    if not students:
        print(f"autograder class-grade: no submissions of {assignment!r} in {course / 'submitted'} "
              f"(run `nbgrader collect {assignment}` first)", file=sys.stderr)
        return 2, []
    timeout = timeout or float(limits.NOTEBOOK_TIMEOUT) * 2
    from autograder.executor import Fingerprints

    fingerprints = Fingerprints()
    outcomes: list[StudentOutcome] = []
    from tqdm.auto import tqdm

    bar = tqdm(total=len(students), desc=f"grading {assignment}", unit="student", disable=not progress,
               file=sys.stderr)
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    futures = {pool.submit(grade_student, course, assignment, s, timeout, db_url, fingerprints): s for s in students}
    try:
        for future in as_completed(futures):
            outcomes.append(future.result())
            bar.update(1)
    except KeyboardInterrupt:
        for future in futures:
            future.cancel()
        print("\ninterrupted: the grades already written are kept; re-run to grade the rest", file=sys.stderr)
        pool.shutdown(wait=False, cancel_futures=True)
        bar.close()
        return 130, sorted(outcomes, key=lambda o: o.student)
    pool.shutdown()
    bar.close()
    outcomes.sort(key=lambda o: o.student)
    failed = [o for o in outcomes if not o.ok]
    return (1 if failed else 0), outcomes


def table(outcomes: list[StudentOutcome]) -> str:
    lines = [f"{'student':<20} {'status':<8} {'score':>14} {'time':>7}  {'review':<14} reason", "-" * 86]
    for o in outcomes:
        score = f"{o.score:g} / {o.max_score:g}" if o.ok else "-"
        review = f"NEEDS REVIEW ({len(o.review)})" if o.review else ""
        lines.append(f"{o.student:<20} {'graded' if o.ok else 'FAILED':<8} {score:>14} {o.seconds:>6.0f}s  "
                     f"{review:<14} {o.reason}")
    graded = sum(o.ok for o in outcomes)
    flagged = [o for o in outcomes if o.review]
    lines.append(f"{graded} graded, {len(outcomes) - graded} failed, {len(flagged)} need review")
    for o in flagged:
        lines.append(f"\n{o.student} needs review (the score stands until a person decides):")
        lines.extend(f"  {line}" for line in o.review)
    return "\n".join(lines)


def main(args) -> int:
    code, outcomes = class_grade(Path(args.course), args.assignment, jobs=args.jobs, timeout=args.timeout,
                                 students=args.student or None, progress=not args.json)
    if args.json:
        print(json.dumps([o.__dict__ for o in outcomes]))
    elif outcomes:
        print(table(outcomes))
    return code
