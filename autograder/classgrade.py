"""``autograder class-grade COURSE ASSIGNMENT``: autograde a whole class, the notebooks executed on Dask.

Two steps, one code path whether the cluster is local or not:

1. **Execute** (the expensive part) on a Dask cluster: the running one named by ``--scheduler``, or a
   local one with ``-j`` workers. Each kit notebook a student submitted is restored from the course's
   source on this machine and sent, with the student's other files, to a worker, which runs it on the
   kit's trusted executor (:mod:`autograder.distributed`). A worker that dies mid-notebook has the
   notebook retried on another one (Dask's own rescheduling). Dask gives up on a notebook once workers
   died ``allowed-failures`` times while it was on them, running *or queued*: so a notebook Dask gives
   up on is graded again alone, after everything else, on a worker holding no other task, and only a
   notebook that kills that worker too (every time Dask retries it) is reported as not graded. A
   neighbour's crash never fails an honest student.
   Executed notebooks are kept in ``COURSE/.autograder/executions/``: a re-run executes only what
   changed (another submission, another grader).
2. **Record**, on this machine, where nbgrader is the authority: one ``nbgrader autograde --student S
   --force`` per student (``-j`` at once), whose executor takes the outputs the workers computed. It writes
   the gradebook (sqlite, or the course's ``db_url``), ``autograded/`` and the late penalties exactly as a
   local autograde does, once per student. Ctrl-C keeps every grade already written.

At the end: a table (graded or not and why, the score, the worker, what needs review), the outcomes as
``COURSE/reports/ASSIGNMENT/class-grade.json``, and the class report. Exit code 1 when a student could
not be graded, 2 when nothing could be graded (no submissions, a scheduler that cannot be reached, a worker
that cannot load the grader).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from autograder import limits
from autograder.coursedir import CourseConfigError, CourseLayout, outcomes_path
from autograder.coursedir import layout as course_layout
from autograder.results import CannotGrade
from autograder.tools import tool_env, venv_bin


@dataclass
class StudentOutcome:
    student: str
    ok: bool
    seconds: float
    score: float | None = None
    max_score: float | None = None
    reason: str = ""
    review: list[str] = field(default_factory=list)  # audit flags and cells not graded (tampering suspected)
    worker: str = ""  # the Dask worker(s) that executed the student's notebooks
    alone: list[str] = field(default_factory=list)  # notebooks graded again alone after their workers died


def gradebook_score(layout: CourseLayout, assignment: str, student: str) -> tuple[float, float]:
    """(score, max score) of a student's submission of ``assignment``, from the course's gradebook."""
    with layout.gradebook() as gb:
        sub = gb.find_submission(assignment, student)
        return float(sub.score), float(sub.max_score)


# ---------------------------------------------------------------------------------------- the cluster
def connect(scheduler: str | None, jobs: int):
    """A Dask client: on the running scheduler, or on a local cluster of ``jobs`` one-thread workers."""
    import logging

    from distributed import Client, LocalCluster

    logging.getLogger("distributed").setLevel(logging.ERROR)  # the table says what went wrong, once
    if scheduler:
        try:
            return Client(scheduler, timeout="15s", set_as_default=False), None
        except (OSError, TimeoutError) as exc:
            raise CannotGrade(f"cannot reach the Dask scheduler at {scheduler} ({type(exc).__name__}: "
                              f"{str(exc)[:160]}); nothing was changed") from None
    cluster = LocalCluster(n_workers=max(1, jobs), threads_per_worker=1, processes=True, dashboard_address=None,
                           memory_limit=0, silence_logs=40)
    return Client(cluster, set_as_default=False), cluster


def check_workers(client) -> None:
    """Every worker must load the grader and its data before anything is graded."""
    from autograder.distributed import worker_check

    workers = list(client.scheduler_info()["workers"])
    if not workers:
        raise CannotGrade("the Dask cluster has no workers")
    problems = {address: problem for address, problem in client.run(worker_check).items() if problem}
    if problems:
        address, problem = next(iter(problems.items()))
        raise CannotGrade(f"{len(problems)} of {len(workers)} Dask worker(s) cannot load the grader or its data "
                          f"(e.g. {address}: {problem}); install the kit there (pip install ./student '.[grade]') "
                          f"and set COURSE_DATA_DIR")


# ---------------------------------------------------------------------------------------- step 2: record
def record_student(layout: CourseLayout, assignment: str, student: str, timeout: float,
                   fingerprints, results_dir: Path, worker: str = "", alone: list[str] | None = None) -> StudentOutcome:
    """``nbgrader autograde --student S --force`` with the workers' executions: nbgrader writes the grades."""
    start = time.perf_counter()
    cmd = [venv_bin("nbgrader"), "autograde", assignment, "--student", student, "--force",
           f"--KitExecute.expected_code={fingerprints.code}", f"--KitExecute.expected_data={fingerprints.data}",
           f"--KitExecute.results_dir={results_dir}", f"--CourseDirectory.db_url={layout.db_url}"]
    proc = subprocess.Popen(cmd, cwd=layout.root, env=tool_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return StudentOutcome(student, False, time.perf_counter() - start, worker=worker,
                              reason=f"nbgrader took longer than {timeout:g} s and was stopped")
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        errors = [line for line in out.splitlines() if "ERROR" in line or "Error" in line]
        return StudentOutcome(student, False, seconds, worker=worker,
                              reason=(errors[-1] if errors else out.strip()[-200:])[:300])
    try:
        score, max_score = gradebook_score(layout, assignment, student)
    except Exception as exc:
        return StudentOutcome(student, False, seconds, worker=worker, reason=f"graded, but no grade found: {exc}")
    from autograder.review import review_folder

    review = [line for r in review_folder(layout.autograded(student, assignment)) for line in r.lines()]
    return StudentOutcome(student, True, seconds, score, max_score, review=review, worker=worker,
                          alone=list(alone or []))


# ---------------------------------------------------------------------------------------- step 1: execute
@dataclass
class _Student:
    name: str
    pending: set = field(default_factory=set)  # notebooks still executing
    workers: set = field(default_factory=set)
    error: str = ""
    suspects: dict = field(default_factory=dict)  # notebook -> job, whose workers died while it was on them
    alone: list = field(default_factory=list)  # notebooks graded again alone


def _failure(exc: BaseException) -> str:
    if _killed_worker(exc):
        return ("it killed every Dask worker that ran it, alone on the worker each time (Dask's allowed-failures "
                "tries): the notebook kills the process that grades it")
    return f"executing it failed: {type(exc).__name__}: {str(exc)[:200]}"


def _killed_worker(exc: BaseException) -> bool:
    from distributed import KilledWorker

    return isinstance(exc, KilledWorker)


class ClassGrading:
    """One class-grade run: submits every notebook, records each student as soon as their notebooks are done."""

    retries = 1  # a task that raises is tried once more; a worker that dies is Dask's own rescheduling

    def __init__(self, layout: CourseLayout, assignment: str, client, jobs: int, timeout: float, progress: bool,
                 fresh: bool = False):
        from autograder.distributed import ResultStore
        from autograder.fingerprint import Fingerprints

        self.layout, self.course, self.assignment, self.client = layout, layout.root, assignment, client
        self.timeout, self.progress, self.fresh = timeout, progress, fresh
        self.fingerprints = Fingerprints()
        self.store = ResultStore.for_course(self.course, assignment)
        self.pool = ThreadPoolExecutor(max_workers=max(1, jobs))
        self.students: dict[str, _Student] = {}
        self.outcomes: list[StudentOutcome] = []
        self.recording = []

    def run(self, names: list[str]) -> list[StudentOutcome]:
        from distributed import as_completed
        from tqdm.auto import tqdm

        futures = self._submit(names)
        self.bar = tqdm(total=len(names), desc=f"grading {self.assignment}", unit="student",
                        disable=not self.progress, file=sys.stderr)
        try:
            for name in [n for n, s in self.students.items() if not s.pending]:
                self._record(name)
            for future in as_completed(futures, loop=self.client.loop):
                self._collect(future)
            self._grade_alone(futures)
            for recorded in self.recording:
                self.outcomes.append(recorded.result())
        except KeyboardInterrupt:
            for future in futures:
                future.cancel()
            self.pool.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            self.bar.close()
        self.pool.shutdown()
        return sorted(self.outcomes, key=lambda o: o.student)

    def _grade_alone(self, running: list) -> None:
        """Every notebook Dask gave up on, again, one at a time after all the others: the only task on the cluster,
        so a worker that dies now died of it (``running`` holds it, for Ctrl-C to cancel)."""
        for name, student in self.students.items():
            for job in list(student.suspects.values()):
                running[:] = [self._submit_job(name, job, alone=True)]
                self._collect(running[0])

    def _submit(self, names: list[str]) -> list:
        from autograder.distributed import prepare_jobs

        futures = []
        for name in names:
            student = self.students[name] = _Student(name)
            try:
                jobs = prepare_jobs(self.layout, self.assignment, name, self.fingerprints.code)
            except Exception as exc:  # an unreadable notebook: nbgrader will say why when it records the student
                jobs = []
                student.error = f"could not be prepared: {type(exc).__name__}: {str(exc)[:200]}"
            for job in jobs:
                stored = None if self.fresh else self.store.load(name, job.notebook)
                if stored is not None and stored.key == job.key and stored.nb:
                    student.workers.add(stored.worker)
                    continue  # executed already, in an earlier run of the same submission and grader
                student.pending.add(job.notebook)
                futures.append(self._submit_job(name, job))
        return futures

    def _submit_job(self, name: str, job, alone: bool = False):
        from autograder.distributed import execute_job

        key = f"autograder-{'alone-' if alone else ''}{job.key[:16]}-{name}-{job.notebook}"
        future = self.client.submit(execute_job, job, self.fingerprints.code, pure=False, retries=self.retries,
                                    key=key)
        future.autograder_job = (name, job, alone)
        return future

    def _collect(self, future) -> None:
        from autograder.distributed import StoredResult

        name, job, alone = future.autograder_job
        notebook, student = job.notebook, self.students[name]
        try:
            result = future.result()
            self.store.save(name, notebook, StoredResult(job.key, result["nb"], result["notes"], result["worker"],
                                                         result["seconds"]))
            student.workers.add(result["worker"])
            student.alone += [notebook] if alone else []
        except Exception as exc:
            if _killed_worker(exc) and not alone:  # perhaps only queued where a neighbour killed the worker
                student.suspects[notebook] = job
                return
            student.error = student.error or f"{notebook}: {_failure(exc)}"
        student.suspects.pop(notebook, None)
        student.pending.discard(notebook)
        if not student.pending:
            self._record(name)

    def _record(self, name: str) -> None:
        student = self.students[name]
        worker = ", ".join(sorted(w for w in student.workers if w))
        if student.error and "could not be prepared" not in student.error:
            self.outcomes.append(StudentOutcome(name, False, 0.0, reason=student.error, worker=worker,
                                                alone=student.alone))
            self.bar.update(1)
            return
        recording = self.pool.submit(record_student, self.layout, self.assignment, name, self.timeout,
                                     self.fingerprints, self.store.folder, worker, student.alone)
        recording.add_done_callback(lambda _: self.bar.update(1))
        self.recording.append(recording)


def class_grade(course: Path, assignment: str, jobs: int = 1, timeout: float | None = None,
                students: list[str] | None = None, db_url: str | None = None, progress: bool = True,
                scheduler: str | None = None, fresh: bool = False) -> tuple[int, list[StudentOutcome]]:
    try:
        layout = course_layout(course, db_url)
    except CourseConfigError as exc:
        print(f"autograder class-grade: not grading: {exc}", file=sys.stderr)
        return 2, []
    names = students or layout.submitted_students(assignment)
    if not names:
        print(f"autograder class-grade: no submissions of {assignment!r} in "
              f"{layout.folder(layout.submitted_directory, '*', assignment)} "
              f"(run `nbgrader collect {assignment}` first)", file=sys.stderr)
        return 2, []
    timeout = timeout or float(limits.NOTEBOOK_TIMEOUT) * 2
    client = cluster = None
    try:
        client, cluster = connect(scheduler, jobs)
        check_workers(client)
        grading = ClassGrading(layout, assignment, client, jobs if scheduler is None else max(jobs, 2), timeout,
                               progress, fresh)
        outcomes = grading.run(names)
    except CannotGrade as exc:
        print(f"autograder class-grade: not grading: {exc}", file=sys.stderr)
        return 2, []
    except KeyboardInterrupt:
        print("\ninterrupted: the grades already written are kept; re-run to grade the rest", file=sys.stderr)
        return 130, []
    finally:
        for thing in (client, cluster):
            if thing is not None:
                try:
                    thing.close()
                except Exception:
                    pass
    save_outcomes(layout.root, assignment, outcomes)
    return (1 if any(not o.ok for o in outcomes) else 0), outcomes


def save_outcomes(course: Path, assignment: str, outcomes: list[StudentOutcome]) -> Path:
    """``COURSE/reports/ASSIGNMENT/class-grade.json``: who was graded and why not (merged with earlier runs)."""
    path = outcomes_path(course, assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        known = {o["student"]: o for o in json.loads(path.read_text())}
    except (OSError, ValueError, KeyError, TypeError):
        known = {}
    known.update({o.student: asdict(o) for o in outcomes})
    path.write_text(json.dumps([known[s] for s in sorted(known)], indent=1) + "\n")
    return path


def table(outcomes: list[StudentOutcome]) -> str:
    lines = [f"{'student':<20} {'status':<8} {'score':>14} {'time':>7}  {'worker':<22} {'review':<17} reason",
             "-" * 110]
    for o in outcomes:
        score = f"{o.score:g} / {o.max_score:g}" if o.ok else "-"
        review = f"NEEDS REVIEW ({len(o.review)})" if o.review else ""
        worker = o.worker if len(o.worker) <= 22 else o.worker[:19] + "..."
        reason = o.reason or (f"graded again alone ({', '.join(o.alone)}): a Dask worker died while it waited "
                              f"there" if o.alone else "")
        lines.append(f"{o.student:<20} {'graded' if o.ok else 'FAILED':<8} {score:>14} {o.seconds:>6.0f}s  "
                     f"{worker:<22} {review:<17} {reason}")
    graded = sum(o.ok for o in outcomes)
    flagged = [o for o in outcomes if o.review]
    lines.append(f"{graded} graded, {len(outcomes) - graded} failed, {len(flagged)} need review")
    for o in flagged:
        lines.append(f"\n{o.student} needs review (the score stands until a person decides):")
        lines.extend(f"  {line}" for line in o.review)
    return "\n".join(lines)


def main(args) -> int:
    code, outcomes = class_grade(Path(args.course), args.assignment, jobs=args.jobs, timeout=args.student_timeout,
                                 students=args.student or None, progress=not args.json,
                                 scheduler=getattr(args, "scheduler", None), fresh=getattr(args, "fresh", False))
    if args.json:
        print(json.dumps([asdict(o) for o in outcomes]))
    elif outcomes:
        print(table(outcomes))
    if outcomes:
        try:
            from autograder.classreport import build_report

            print(f"report: {build_report(Path(args.course), args.assignment)}", file=sys.stderr if args.json else
                  sys.stdout)
        except Exception as exc:  # the report never changes what grading did
            print(f"(the class report could not be written: {type(exc).__name__}: {str(exc)[:200]})", file=sys.stderr)
    return code
