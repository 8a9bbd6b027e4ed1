"""deploy/isolation.py: the grader's files are unreadable to students' unix accounts (as `--mode unix` sets them up)."""
import grp
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.kit import REPO

sys.path.insert(0, str(REPO / "deploy"))
from isolation import GRADER_PATHS, reachable_by_others, secure_grader_files  # noqa: E402



def _read_as(user: str, path: Path) -> str:
    """Try to read a file as another unix account: 'read', or the error's name."""
    probe = ("import sys\ntry:\n    open(sys.argv[1]).read()\n    print('read')\n"
             "except Exception as exc:\n    print(type(exc).__name__)\n")
    return subprocess.run(["/usr/bin/python3", "-c", probe, str(path)], user=user, group="nogroup", extra_groups=[],
                          capture_output=True, text=True,
                          timeout=60).stdout.strip()


def test_students_cannot_read_the_grader_but_staff_can(tmp_path):
    assert os.geteuid() == 0, "this test changes owners and reads as another account: run it as root (CI does)"
    kit = tmp_path / "kit"
    for name in GRADER_PATHS:
        shutil.copytree(REPO / name, kit / name, ignore=shutil.ignore_patterns("__pycache__"))
    (kit / "student").mkdir()
    (kit / "student" / "README.md").write_text("course_utils lives here\n")
    reachable_by_others([kit])
    staff = grp.getgrgid(os.getgid()).gr_name  # a group the test's own account is in
    secured = secure_grader_files(kit, staff)
    assert sorted(p.name for p in secured) == sorted(GRADER_PATHS)
    checks = kit / "autograder" / "checks" / "pca.py"
    solution = kit / "solutions" / "autoencoders" / "01_pca_encoder.ipynb"
    for path in (checks, solution):
        assert _read_as("nobody", path) == "PermissionError", path
        assert path.stat().st_mode & 0o007 == 0 and path.stat().st_gid == grp.getgrnam(staff).gr_gid
    assert _read_as("nobody", kit / "student" / "README.md") == "read"  # the rest of the kit stays readable
