#!/usr/bin/env python3
"""Stand the autoencoder course up on one machine, then run its JupyterHub.

    python deploy/standup.py --root /srv/autoencoders-hub --instructor alice --grader tom \\
        --student ada --student ben --port 8000

What it does (every step is idempotent: run it again to restart the hub on the same course):

1. checks that the proxy is installed (``bash deploy/install-test-deps.sh`` or
   ``npm install --prefix deploy``) and that this Python has jupyterhub, nbgrader and the kit;
2. writes ``<root>/course-hub.json`` (roster, ports, paths), which ``deploy/jupyterhub_config.py`` reads;
3. makes the nbgrader exchange ``<root>/exchange`` (mode 1777);
4. makes the course directory in the instructor's home: a copy of this kit's ``solutions/`` (only
   the notebooks named by ``--notebook`` when given) and an ``nbgrader_config.py`` that loads the
   kit's ``nbgrader_config.py`` (kept when it exists: the instructor's edits survive; pass
   ``--refresh-solutions`` to copy the kit's notebooks again);
5. in ``demo`` mode, makes every user's home under ``<root>/home``, links each TA's home to the
   course directory, and gives each user a password (``<root>/hub/demo-passwords.json``, mode 600,
   printed once; ``COURSE_HUB_DEMO_PASSWORD`` sets one password for everyone instead);
6. builds the students' Python environment ``<root>/student-env`` from the kit's student
   distribution (``course_utils`` alone: students' kernels cannot import the grader), and makes the
   grader's code and the solutions unreadable to students (``deploy/isolation.py``): in ``demo`` mode
   run as root, students' servers run as the unprivileged account ``autoencoders-student``; in
   ``unix`` mode, as their own accounts, with the grader readable by the ``--staff-group`` only;
7. runs ``jupyterhub -f deploy/jupyterhub_config.py`` in ``<root>/hub`` (this process becomes the
   hub; ``--prepare-only`` stops before).

``--mode unix`` is for real unix accounts (PAM logins, one unix user per person, run as root): the
course directory goes to ``/home/<instructor>/<course_id>`` and belongs to the instructor.
"""
from __future__ import annotations

import argparse
import json
import os
import pwd
import secrets
import sysconfig
import shutil
import sys
from pathlib import Path

DEPLOY = Path(__file__).resolve().parent
KIT = DEPLOY.parent
DEFAULT_COURSE_ID = "autoencoders-unit"

COURSE_CONFIG = '''"""nbgrader settings of the course {course_id!r} (written by deploy/standup.py; edit freely).

The kit's nbgrader_config.py (loaded below) swaps in the kit's preprocessors, which act on kit
notebooks only, and sets nothing else. This file sets the course's own: its id, its folders (the
source solutions/, the release assignments/) and its gradebook. The exchange comes from the global
config the hub gives every server (deploy/jupyter/global/nbgrader_config.py); the grading limits
from environment variables (autograder/limits.py, docs/ta-guide.md).
"""
import os

c = get_config()  # noqa: F821

load_subconfig({kit_config!r})  # noqa: F821

here = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.root = here
c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.source_directory = "solutions"  # the kit's notebooks, as standup.py copied them
c.CourseDirectory.release_directory = "assignments"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(here, "gradebook.db")
'''


def fail(message: str) -> None:
    sys.exit(f"standup: {message}")


def check_tools() -> None:
    chp = DEPLOY / "node_modules" / ".bin" / "configurable-http-proxy"
    if not chp.exists() and not shutil.which("configurable-http-proxy"):
        fail(f"configurable-http-proxy is not installed: run `bash {DEPLOY / 'install-test-deps.sh'}` "
             f"(or `npm install --prefix {DEPLOY}`)")
    missing = []
    for module in ("jupyterhub", "nbgrader", "jupyterlab", "autograder", "course_utils"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        fail(f"{sys.executable} cannot import {', '.join(missing)}: install the kit with "
             f"`pip install -e '{KIT}[dev]'` and `bash {DEPLOY / 'install-test-deps.sh'}`")
    if not (KIT / "nbgrader_config.py").is_file() or not (KIT / "solutions").is_dir():
        fail(f"{KIT} is not the course kit (no nbgrader_config.py or solutions/)")


def copy_solutions(dest: Path, notebooks: list[str] | None, refresh: bool) -> list[str]:
    """Copy the kit's solutions/ into the course; return the notebooks the course has."""
    src = KIT / "solutions"
    if dest.exists() and not refresh:
        return sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*.ipynb"))
    copied = []
    for nb in sorted(src.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in nb.parts or (notebooks and nb.name not in notebooks):
            continue
        target = dest / nb.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(nb, target)
        copied.append(nb.relative_to(src).as_posix())
    unknown = set(notebooks or ()) - {Path(c).name for c in copied}
    if unknown:
        fail(f"no notebook named {', '.join(sorted(unknown))} in {src}")
    if not copied:
        fail(f"no notebooks in {src}")
    return copied


def demo_accounts(root: Path, args, users: list[str], course_dir: Path) -> None:
    """Demo mode: a home for every user under ``<root>/home``, each TA's linked to the course, and passwords."""
    for user in users:
        (root / "home" / user).mkdir(parents=True, exist_ok=True)
    for ta in args.grader:
        link = root / "home" / ta / args.course_id
        if not link.exists():
            link.symlink_to(course_dir, target_is_directory=True)
    passwords_file = root / "hub" / "demo-passwords.json"
    passwords = json.loads(passwords_file.read_text()) if passwords_file.exists() else {}
    shared = os.environ.get("COURSE_HUB_DEMO_PASSWORD")
    new = {u: shared or passwords.get(u) or secrets.token_urlsafe(9) for u in users}
    if new != passwords:
        passwords_file.touch(mode=0o600)
        os.chmod(passwords_file, 0o600)
        passwords_file.write_text(json.dumps(new, indent=2) + "\n")
        if not shared:
            print(f"demo passwords (also in {passwords_file}):")
            for user, pw in new.items():
                print(f"  {user:<16} {pw}")


def give_to_instructor(instructor: str, course_dir: Path) -> None:
    """Unix mode: the course directory belongs to the (first) instructor's account."""
    try:
        owner = pwd.getpwnam(instructor)
    except KeyError:
        fail(f"--mode unix needs a unix account named {instructor!r}")
    for path in [course_dir, *course_dir.rglob("*")]:
        os.chown(path, owner.pw_uid, owner.pw_gid)


def prepare(args) -> dict:
    root = Path(args.root).resolve()
    users = [*args.instructor, *args.grader, *args.student]
    if not args.instructor:
        fail("name at least one --instructor")
    if len(set(users)) != len(users):
        fail("a user is named twice in the roster")
    demo = args.mode == "demo"
    home_template = str(root / "home" / "{username}") if demo else "/home/{username}"
    course_dir = Path(home_template.format(username=args.instructor[0])) / args.course_id
    settings = {
        "mode": args.mode,
        "course_id": args.course_id,
        "kit": str(KIT),
        "ip": args.ip, "port": args.port, "hub_port": args.hub_port, "proxy_api_port": args.proxy_api_port,
        "instructors": args.instructor, "graders": args.grader, "students": args.student,
        "home_template": home_template,
        "course_dir": str(course_dir),
        "exchange": str(root / "exchange"),
        "data_dir": args.data_dir or os.environ.get("COURSE_DATA_DIR", ""),
    }
    (root / "hub").mkdir(parents=True, exist_ok=True)
    (root / "course-hub.json").write_text(json.dumps(settings, indent=2) + "\n")

    exchange = root / "exchange"
    exchange.mkdir(exist_ok=True)
    os.chmod(exchange, 0o1777)  # everyone may write, nobody may delete others' files

    course_dir.mkdir(parents=True, exist_ok=True)
    notebooks = copy_solutions(course_dir / "solutions", args.notebook, args.refresh_solutions)
    config = course_dir / "nbgrader_config.py"
    if not config.exists():
        config.write_text(COURSE_CONFIG.format(course_id=args.course_id, kit_config=str(KIT / "nbgrader_config.py")))

    if demo:
        demo_accounts(root, args, users, course_dir)
    else:
        give_to_instructor(args.instructor[0], course_dir)
    isolate(args, settings, root, course_dir, users)
    (root / "course-hub.json").write_text(json.dumps(settings, indent=2) + "\n")
    print(f"course {args.course_id}: {len(notebooks)} notebook(s) in {course_dir / 'solutions'}; "
          f"exchange {exchange}; hub at http://{args.ip}:{args.port}/", flush=True)
    return settings


def isolate(args, settings: dict, root: Path, course_dir: Path, users: list[str]) -> None:
    """Students get their own environment; as root, they also lose read access to the grader's files."""
    sys.path.insert(0, str(DEPLOY))
    from isolation import (build_student_env, ensure_group, ensure_student_account, reachable_by_others,
                           secure_grader_files)

    settings["student_env"] = str(build_student_env(root))
    settings["kit_jupyter_path"] = str(Path(sys.prefix) / "share" / "jupyter")
    settings["kit_config_path"] = str(Path(sys.prefix) / "etc" / "jupyter")
    settings["student_account"] = ""
    if os.geteuid() != 0:
        print("standup: not root: every server runs as this user, so students' kernels can still read the grader's "
              "files (they cannot import it)", file=sys.stderr)
        return
    if args.mode == "unix":
        ensure_group(args.staff_group, [*args.instructor, *args.grader])
        secure_grader_files(KIT, args.staff_group)
        return
    account = ensure_student_account()
    settings["student_account"] = account.pw_name
    for folder in reachable_by_others([Path(sys.base_prefix), Path(sysconfig.get_path("purelib")),
                                       Path(settings["student_env"])]):
        print(f"standup: {folder} may now be traversed by other accounts (the students' account runs Python there)")
    secure_grader_files(KIT)
    for folder, mode in ((root, 0o755), (root / "home", 0o755), (root / "hub", 0o700)):
        os.chmod(folder, mode)  # students reach their homes and their environment, never the hub's secrets
    for user in users:
        home = root / "home" / user
        owner = account if user in args.student else pwd.getpwuid(os.geteuid())
        for path in [home, *home.rglob("*")]:
            if not path.is_symlink():
                os.chown(path, owner.pw_uid, owner.pw_gid)
        os.chmod(home, 0o700)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", default=os.environ.get("COURSE_HUB_ROOT", "/srv/autoencoders-hub"),
                   help="state folder of the course hub (default: $COURSE_HUB_ROOT or /srv/autoencoders-hub)")
    p.add_argument("--mode", choices=["demo", "unix"], default="demo",
                   help="demo: per-user passwords, students' servers as one unprivileged account (as root); "
                        "unix: PAM and one unix account per user")
    p.add_argument("--staff-group", default="autoencoders-staff",
                   help="--mode unix: the unix group of instructors and TAs, the only ones who may read the grader")
    p.add_argument("--course-id", default=DEFAULT_COURSE_ID)
    p.add_argument("--instructor", action="append", default=[], help="hub admin with the formgrader (repeat)")
    p.add_argument("--grader", action="append", default=[], help="TA with the formgrader (repeat)")
    p.add_argument("--student", action="append", default=[], help="student (repeat)")
    p.add_argument("--ip", default="127.0.0.1", help="address the proxy listens on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="public port (default 8000)")
    p.add_argument("--hub-port", type=int, default=8081, help="the hub's internal port (default 8081)")
    p.add_argument("--proxy-api-port", type=int, default=8001, help="the proxy's API port (default 8001)")
    p.add_argument("--data-dir", help="a folder holding MNIST/raw for every user (default: $COURSE_DATA_DIR)")
    p.add_argument("--notebook", action="append", help="put only this solutions notebook in the course (repeat)")
    p.add_argument("--refresh-solutions", action="store_true", help="copy the kit's solutions/ into the course again")
    p.add_argument("--prepare-only", action="store_true", help="lay the course out, do not start the hub")
    args = p.parse_args(argv)

    check_tools()
    prepare(args)
    if args.prepare_only:
        return 0
    hub_dir = Path(args.root).resolve() / "hub"
    env = dict(os.environ, COURSE_HUB_ROOT=str(Path(args.root).resolve()))
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", os.defpath)
    os.chdir(hub_dir)
    cmd = [sys.executable, "-m", "jupyterhub", "-f", str(DEPLOY / "jupyterhub_config.py")]
    os.execve(sys.executable, cmd, env)  # this process becomes the hub (same pid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
