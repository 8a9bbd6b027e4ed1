"""The suite shares its expensive fixtures (a class graded once, a Dask cluster, a hub) within an xdist group:
`--dist loadgroup` must send a group's tests to one worker. pytest 9.2 stores node ids where pytest-xdist 3.8
cannot add the group to them, and the groups silently spread over the workers (each building the fixture again:
18 minutes of CI). This fails when that happens."""
import os
import subprocess
import sys

TESTS = '''
import os, pytest

@pytest.mark.xdist_group("one")
@pytest.mark.parametrize("i", range(6))
def test_grouped(i):
    with open(os.environ["WORKERS_LOG"], "a") as f:
        f.write(os.environ["PYTEST_XDIST_WORKER"] + "\\n")
'''


def test_a_group_runs_on_one_worker(tmp_path):
    (tmp_path / "test_grouped.py").write_text(TESTS)
    log = tmp_path / "workers.log"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadgroup",
                           "-q", "-o", "addopts=", "test_grouped.py"], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "WORKERS_LOG": str(log)}, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    workers = log.read_text().split()
    assert len(workers) == 6 and len(set(workers)) == 1, f"one group ran on workers {sorted(set(workers))}"
