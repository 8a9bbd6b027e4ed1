"""Figures and fixtures more than one section uses, each measured or built once per run (``Bench.once``).

* the start of a ``python3`` kernel and ``autograder grade`` of an empty kit notebook (start-up, grading);
* one temporary nbgrader course with the assignment generated, and students' submissions in it
  (grading, class);
* the class those sections grade, and one class-grade run of it (class, cluster).
"""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from autograder.checkout import ASSIGNMENT
from autograder.tools import command
from bench.context import Bench, fmt_s, fmt_wall_cpu
from bench.measure import best_of, grading_env, say, student_kernel_env, timed
from bench.nbrun import read_nb


# ====================================================================== fixed costs
def kernel_start(b: Bench) -> dict:
    """Start a "python3" kernel, wait until it answers, shut it down: the start part, best of N."""

    def measure() -> dict:
        from jupyter_client.manager import start_new_kernel

        def once() -> float:
            start = time.perf_counter()
            km, kc = start_new_kernel(kernel_name="python3", startup_timeout=300, env=student_kernel_env())
            seconds = time.perf_counter() - start
            kc.stop_channels()
            km.shutdown_kernel(now=True)
            return seconds

        return best_of(b.repeats, once)

    return b.once("kernel_start", measure)


def empty_kit_notebook(folder: Path) -> Path:
    """A kit notebook with no cells (the kit's metadata, nothing to run): what ``autograder grade`` accepts
    as its own source."""
    import nbformat

    from autograder.cells import KIT_KEY
    from autograder.sync import KIT_METADATA

    nb = nbformat.v4.new_notebook()
    nb.metadata[KIT_KEY] = dict(KIT_METADATA)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "empty.ipynb"
    nbformat.write(nb, str(path))
    return path


def grade_empty_runs(b: Bench) -> dict:
    """`autograder grade` of 1 and of n empty kit notebooks in one run (n = 5, 3 in --quick), with grading
    kernels forked from the zygote and (not in --quick) started from scratch (AUTOGRADER_ZYGOTE=0), best of N
    each; and the CLI's own start-up (a missing file). Each further notebook's fixed cost is
    (t_n - t_1) / (n - 1)."""
    many = 3 if b.quick else 5

    def measure() -> dict:
        folder = Path(tempfile.mkdtemp(prefix="empty-", dir=b.tmp))
        paths = [empty_kit_notebook(folder / f"n{i}") for i in range(many)]
        out = {"cli_startup": best_of(b.repeats, lambda: timed(
            [*command("autograder"), "grade", str(folder / "missing.ipynb")], env=grading_env(), ok=(2,))[0])}
        kinds = (("zygote", "1"),) if b.quick else (("zygote", "1"), ("scratch", "0"))  # --quick: CI's minutes
        for kind, flag in kinds:
            env = dict(grading_env(), AUTOGRADER_ZYGOTE=flag)
            for count in (1, many):
                cmd = [*command("autograder"), "grade", *map(str, paths[:count]), "--source", str(paths[0]), "--json"]
                out[f"{kind}_{count}"] = best_of(b.repeats, lambda cmd=cmd, env=env: timed(cmd, env=env)[0])
            out[f"{kind}_per_notebook_s"] = (out[f"{kind}_{many}"]["min_s"] - out[f"{kind}_1"]["min_s"]) / (many - 1)
        out["grader_load_s"] = max(0.0, out["zygote_1"]["min_s"] - out["cli_startup"]["min_s"]
                                   - out["zygote_per_notebook_s"])
        return out

    return b.once("grade_empty_runs", measure)


# ====================================================================== the course
def course(b: Bench) -> dict:
    """One temporary nbgrader course (make_course + generate_assignment) for every grading figure."""

    def build() -> dict:
        from autograder.course import make_course

        root = b.tmp / "course"
        say(f"building a temporary course in {root}")
        made = make_course(root, only=[p.name for p in b.notebooks])
        seconds, _ = timed([*command("nbgrader"), "generate_assignment", ASSIGNMENT, "--force"], cwd=made,
                           env=grading_env())
        return {"root": made, "generate_assignment_s": seconds}

    return b.once("course", build)


#: The benchmark's class cycles through these kinds of submission.
CLASS_KINDS = ("full marks", "partly wrong", "full marks", "untouched release")


def class_students(b: Bench) -> dict[str, str]:
    """The benchmark's class of ``b.students`` ({student: kind}), submitted once into the shared course: the class
    and cluster sections grade the same submissions."""

    def build() -> dict[str, str]:
        root, names = course(b)["root"], [p.name for p in b.notebooks]
        students = {f"class{i + 1:02d}": CLASS_KINDS[i % len(CLASS_KINDS)] for i in range(b.students)}
        for student, kind in students.items():
            add_submission(root, student, kind, names)
        return students

    return b.once("class_students", build)


def grade_class(b: Bench, section: str, label: str, options: list[str]) -> dict:
    """`autograder class-grade --fresh` of the whole class with ``options`` (``-j N`` or ``--scheduler ADDR``):
    its wall and CPU time, throughput, outcomes and the workers that graded."""
    import statistics

    students = class_students(b)
    say(f"class-grade {label} ({len(students)} students)")
    cmd = [*command("autograder"), "class-grade", str(course(b)["root"]), ASSIGNMENT, "--json", "--fresh", *options]
    for student in students:
        cmd += ["--student", student]
    wall, proc = timed(cmd, env=grading_env(), ok=(0, 1))
    outcomes = json.loads(proc.stdout.strip().splitlines()[-1])
    per = [o["seconds"] for o in outcomes]
    run = {"wall_s": wall, "cpu_s": proc.cpu_s, "per_minute": 60 * len(students) / wall,
           "graded": sum(o["ok"] for o in outcomes), "failed": sum(not o["ok"] for o in outcomes),
           "student_median_s": statistics.median(per) if per else None, "student_max_s": max(per) if per else None,
           "workers": sorted({o["worker"] for o in outcomes if o.get("worker")}),
           "scores": {o["student"]: o["score"] for o in outcomes}}
    b.row(section, f"{label}: wall time; submissions per minute",
          f"{fmt_wall_cpu(wall, proc.cpu_s)}; {run['per_minute']:.2f}")
    b.row(section, f"{label}: graded / failed; one student's median (max)",
          f"{run['graded']} / {run['failed']}; {fmt_s(run['student_median_s'])} ({fmt_s(run['student_max_s'])})")
    return run


def release_folder(course_root: Path) -> Path:
    """Where `nbgrader generate_assignment` put the student version."""
    from autograder.coursedir import layout

    return layout(course_root).release(ASSIGNMENT)


def add_submission(course_root: Path, student: str, kind: str, names: list[str]) -> None:
    """Put a student's notebooks straight into submitted/ (what `nbgrader collect` leaves there)."""
    import nbformat

    from autograder.course import full_marks_notebook, partly_wrong_notebook
    from autograder.coursedir import layout

    folder = layout(course_root).submitted(student, ASSIGNMENT)
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        if kind == "full marks":
            nb = full_marks_notebook(name)
        elif kind == "partly wrong":
            nb = partly_wrong_notebook(name)
        elif kind == "untouched release":
            nb = read_nb(release_folder(course_root) / name)
        else:
            raise ValueError(kind)
        nbformat.write(nb, str(folder / name))


def gradebook_score(course_root: Path, student: str) -> tuple[float, float]:
    """(score, max score) of a student's submission, from the course's gradebook."""
    from autograder.classgrade import gradebook_score as score
    from autograder.coursedir import layout

    return score(layout(course_root), ASSIGNMENT, student)


def review_lines(course_root: Path, student: str) -> list[str]:
    """What a TA would be told to look at in a student's autograded notebooks (cells not graded, audit flags)."""
    from autograder.coursedir import layout
    from autograder.review import review_folder

    folder = layout(course_root).autograded(student, ASSIGNMENT)
    return [line for review in review_folder(folder) for line in review.lines()]
