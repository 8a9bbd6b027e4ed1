"""Keep the grader away from students on one machine: their own Python environment, their own unix account.

* :func:`build_student_env` makes ``<root>/student-env``, the environment every student's server and
  kernel runs in. The kit's student distribution (``student/``: ``course_utils`` alone) is installed
  into it with pip; the third-party libraries (torch, JupyterLab, nbgrader's Assignments panel...)
  come from the kit's environment as a plain library path, which runs none of its ``.pth`` hooks,
  so the kit's own packages (``autograder``) are not importable there. Its ``python3`` kernel is
  the ordinary ipykernel of that environment. (On Kubernetes the student image is built from the
  student distribution the same way: ``pip install ./student jupyterhub jupyterlab nbgrader``.)
* :func:`secure_grader_files` makes the grader's code and the solutions readable by their owner and
  one staff group only (root in ``demo`` mode), so a student's kernel cannot read them either.
* :func:`ensure_student_account` is the unprivileged unix account that runs students' servers in
  ``demo`` mode when the hub runs as root (``--mode unix`` runs each as their own account).
"""
from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

KIT = Path(__file__).resolve().parent.parent
STUDENT_ACCOUNT = "autoencoders-student"
# What students must never read: the hidden checks and references, and the solutions.
GRADER_PATHS = ("autograder", "solutions")


def build_student_env(root: Path, python: str = sys.executable) -> Path:
    """``<root>/student-env`` with the student distribution in it (rebuilt when the kit's student package changes)."""
    env = Path(root) / "student-env"
    stamp = env / "kit-student.json"
    wanted = {"student": _tree_stamp(KIT / "student") + _tree_stamp(KIT / "course_utils"), "python": python}
    if stamp.is_file() and json.loads(stamp.read_text()) == wanted:
        return env
    if env.exists():
        shutil.rmtree(env)
    subprocess.run([python, "-m", "venv", "--without-pip", str(env)], check=True)
    site = Path(subprocess.run([str(env / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               check=True, capture_output=True, text=True).stdout.strip())
    # The kit environment's libraries, as a plain path: no .pth file of it runs, so its editable kit
    # packages stay out.
    (site / "kit-libraries.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile", "--target", str(site),
                    str(KIT / "student")], check=True)
    kernels = env / "share" / "jupyter" / "kernels" / "python3"
    kernels.mkdir(parents=True, exist_ok=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(env / "bin" / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (course)", "language": "python"}, indent=1) + "\n")
    _readable_by_all(env)
    stamp.write_text(json.dumps(wanted) + "\n")
    return env


def _tree_stamp(folder: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "egg-info" not in str(path) and "__pycache__" not in str(path):
            digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


def _readable_by_all(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            mode = path.stat().st_mode
            os.chmod(path, mode | 0o444 | (0o111 if path.is_dir() or mode & 0o100 else 0))


def secure_grader_files(kit: Path = KIT, group: str | None = None) -> list[Path]:
    """The grader's code and the solutions: owner (and ``group``) only; nobody else can read them."""
    gid = grp.getgrnam(group).gr_gid if group else -1
    secured = []
    for name in GRADER_PATHS:
        top = Path(kit) / name
        if not top.exists():
            continue
        for path in [top, *top.rglob("*")]:
            if path.is_symlink():
                continue
            if gid != -1:
                os.chown(path, -1, gid)
            os.chmod(path, 0o750 if path.is_dir() else 0o640)
        secured.append(top)
    return secured


def ensure_student_account(name: str = STUDENT_ACCOUNT) -> pwd.struct_passwd:
    """An unprivileged system account for students' servers (created when missing; needs root)."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell",
                    shutil.which("nologin") or "/usr/sbin/nologin", name], check=True)
    return pwd.getpwnam(name)


def reachable_by_others(paths: list[Path]) -> list[Path]:
    """Let other accounts traverse (never list) every folder above ``paths``: the students' account must reach
    the Python installation and the libraries its environment uses (pyenv keeps Python under /root, mode 700).
    Returns the folders changed."""
    changed = []
    for path in paths:
        for folder in [*reversed(Path(path).resolve().parents), Path(path).resolve()]:
            if folder.is_dir() and not folder.stat().st_mode & 0o001:
                os.chmod(folder, folder.stat().st_mode | 0o001)
                changed.append(folder)
    return changed


def ensure_group(name: str, members: list[str]) -> None:
    """A unix group holding ``members`` (created when missing; needs root)."""
    try:
        grp.getgrnam(name)
    except KeyError:
        subprocess.run(["groupadd", "--system", name], check=True)
    for member in members:
        subprocess.run(["usermod", "--append", "--groups", name, member], check=True)
