"""A real JupyterHub for tests: start the course hub, talk to it over HTTP, stop every process it made.

``CourseHub`` runs ``deploy/standup.py`` (which becomes the hub) on free ports in a fresh folder,
with a ``course-admin`` API token for the test. Every process the hub starts (the proxy, each
user's server, their kernels and nbgrader's grading kernels) inherits ``COURSE_HUB_RUN_ID``, a
value unique to this run; ``stop()`` ends the hub's process group, then every process that carries
the marker or that was seen below the hub, by pid and process group, even when the test failed.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import requests

from autograder.checkout import REPO
from autograder.tools import on_venv_path

DEPLOY = REPO / "deploy"
CHP = DEPLOY / "node_modules" / ".bin" / "configurable-http-proxy"
CHROMIUM = Path("/usr/bin/chromium")
INSTALL_HINT = "run `bash deploy/install-test-deps.sh` (the Makefile's test target does)"


def missing_dependencies() -> list[str]:
    """What the hub test needs and this machine lacks (empty when all is there)."""
    missing = []
    for module in ("jupyterhub", "playwright", "nbgrader", "jupyterlab"):
        try:
            __import__(module)
        except ImportError:
            missing.append(f"the Python package {module}")
    if not CHP.exists():
        missing.append(f"configurable-http-proxy (npm) in {CHP.parent}")
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (Debian's chromium)")
    return missing


def free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class HubError(AssertionError):
    pass


class UserClient:
    """One user's view of the hub: their API token, and requests to their own server."""

    def __init__(self, hub: "CourseHub", name: str, token: str):
        self.hub, self.name, self.token = hub, name, token
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {token}"
        # A new connection per request: the proxy closes a keep-alive connection after 5 idle seconds, and a
        # request sent on it at that moment is reset before the server ever sees it (a student's client idles
        # while the other student works).
        self.session.headers["Connection"] = "close"
        self.base = f"{hub.url}user/{name}/"

    def request(self, method: str, path: str, *, expect: int | tuple = 200, timeout: float = 120, **kw):
        r = self.session.request(method, self.base + path.lstrip("/"), timeout=timeout, **kw)
        codes = (expect,) if isinstance(expect, int) else expect
        if r.status_code not in codes:
            raise HubError(f"{self.name}: {method} {path} answered HTTP {r.status_code}, expected {codes}: "
                           f"{r.text[:800]}\n--- hub log ---\n{self.hub.log_tail()}")
        return r

    def json(self, method: str, path: str, **kw):
        return self.request(method, path, **kw).json()

    def nbgrader(self, method: str, path: str, timeout: float = 120, **kw) -> dict:
        """An nbgrader handler that answers {"success": ..., ...}; fails the test on success false."""
        data = self.json(method, path, timeout=timeout, **kw)
        if isinstance(data, dict) and data.get("success") is False:
            raise HubError(f"{self.name}: {method} {path} failed:\n{data.get('value') or data.get('log') or data}")
        return data

    # contents API
    def contents(self, path: str = "", **params):
        return self.json("GET", "api/contents/" + path.lstrip("/"), params=params)

    def read_notebook(self, path: str) -> dict:
        return self.contents(path, type="notebook", content=1)["content"]

    def write_notebook(self, path: str, nb: dict) -> None:
        self.request("PUT", "api/contents/" + path, json={"type": "notebook", "format": "json", "content": nb},
                     expect=(200, 201))

    def read_text(self, path: str) -> str:
        return self.contents(path, type="file", format="text", content=1)["content"]


class CourseHub:
    def __init__(self, root: Path, *, instructors, graders, students, notebooks=None, log_dir: Path | None = None):
        self.root = Path(root)
        self.roster = {"instructors": list(instructors), "graders": list(graders), "students": list(students)}
        self.notebooks = notebooks
        self.run_id = secrets.token_hex(8)
        self.admin_token = secrets.token_hex(24)
        self.port, self.hub_port, self.proxy_api_port = free_ports(3)
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = (log_dir or self.root) / "hub.log"
        self.proc: subprocess.Popen | None = None
        # pid -> (process group, start time) of every process seen below the hub or with the marker
        self.seen: dict[int, tuple[int, float]] = {}
        self.admin = requests.Session()
        self.admin.headers["Authorization"] = f"token {self.admin_token}"
        self.admin.headers["Connection"] = "close"  # as UserClient's: no idle keep-alive for the proxy to reset
        self.users: dict[str, UserClient] = {}

    # ---------------------------------------------------------------- start
    def env(self) -> dict:
        from autograder.limits import grading_env

        env = grading_env()
        env.update(COURSE_HUB_ADMIN_TOKEN=self.admin_token, COURSE_HUB_RUN_ID=self.run_id, PYTHONUNBUFFERED="1")
        env.setdefault("COURSE_CACHE_DIR", str(self.root / "cache"))
        on_venv_path(env)
        env.pop("COURSE_HUB_DEMO_PASSWORD", None)  # each user gets their own password
        return env

    def start(self, timeout: float = 120) -> None:
        cmd = [sys.executable, str(DEPLOY / "standup.py"), "--root", str(self.root), "--ip", "127.0.0.1",
               "--port", str(self.port), "--hub-port", str(self.hub_port),
               "--proxy-api-port", str(self.proxy_api_port)]
        for role, flag in (("instructors", "--instructor"), ("graders", "--grader"), ("students", "--student")):
            for name in self.roster[role]:
                cmd += [flag, name]
        for nb in self.notebooks or ():
            cmd += ["--notebook", nb]
        self.root.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise HubError(f"the hub exited with code {self.proc.returncode} while starting:\n{self.log_tail()}")
            try:
                if requests.get(self.url + "hub/api/", timeout=5).status_code == 200:
                    self.watch()
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise HubError(f"the hub did not answer on {self.url} within {timeout:g} s:\n{self.log_tail()}")

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no hub log)"

    def passwords(self) -> dict:
        return json.loads((self.root / "hub" / "demo-passwords.json").read_text())

    def settings(self) -> dict:
        return json.loads((self.root / "course-hub.json").read_text())

    # ---------------------------------------------------------------- hub REST API
    def api(self, method: str, path: str, expect=(200,), **kw):
        r = self.admin.request(method, self.url + "hub/api/" + path.lstrip("/"), timeout=kw.pop("timeout", 60), **kw)
        if r.status_code not in expect:
            raise HubError(f"hub API {method} {path}: HTTP {r.status_code}: {r.text[:500]}\n{self.log_tail()}")
        return r.json() if r.content else None

    def user(self, name: str) -> UserClient:
        """A client holding a token that belongs to ``name`` (made by the admin service)."""
        if name not in self.users:
            token = self.api("POST", f"users/{name}/tokens", expect=(200, 201),
                             json={"note": "tests/test_jupyterhub.py", "expires_in": 3600})["token"]
            self.users[name] = UserClient(self, name, token)
        return self.users[name]

    def spawn(self, names, timeout: float = 240) -> dict[str, float]:
        """Start each user's server (in parallel); wait until every one is ready. Returns seconds taken."""
        start = time.monotonic()

        def one(name):
            # The POST can block up to the hub's slow_spawn_timeout: the ready flag is what counts.
            try:
                self.api("POST", f"users/{name}/server", expect=(201, 202, 400), timeout=60)
            except requests.RequestException:
                pass
            deadline = start + timeout
            while time.monotonic() < deadline:
                server = (self.api("GET", f"users/{name}").get("servers") or {}).get("")
                if server and server.get("ready"):
                    self.watch()
                    return name, time.monotonic() - start
                if server is None and time.monotonic() - start > 20:
                    raise HubError(f"{name}'s server stopped while starting:\n{self.log_tail()}")
                time.sleep(0.5)
            raise HubError(f"{name}'s server was not ready within {timeout:g} s:\n{self.log_tail()}")

        with ThreadPoolExecutor(len(names)) as pool:
            return dict(pool.map(one, names))

    def server_pid(self, name: str) -> int | None:
        server = (self.api("GET", f"users/{name}").get("servers") or {}).get("")
        return (server or {}).get("state", {}).get("pid")

    # ---------------------------------------------------------------- processes
    def _marked(self) -> list[psutil.Process]:
        me = os.getpid()
        found = []
        for p in psutil.process_iter(["pid"]):
            if p.pid == me:
                continue
            try:
                if p.environ().get("COURSE_HUB_RUN_ID") == self.run_id:
                    found.append(p)
            except (psutil.Error, OSError):
                continue
        return found

    def watch(self) -> None:
        """Remember every process below the hub and every process carrying this run's marker."""
        procs = []
        if self.proc is not None:
            try:
                hub = psutil.Process(self.proc.pid)
                procs = [hub, *hub.children(recursive=True)]
            except psutil.Error:
                pass
        for p in procs + self._marked():
            try:
                self.seen.setdefault(p.pid, (os.getpgid(p.pid), p.create_time()))
            except (psutil.Error, OSError):
                continue

    def alive(self) -> list[int]:
        """The remembered processes still running (the same process: its start time matches)."""
        alive = []
        for pid, (_, started) in self.seen.items():
            try:
                p = psutil.Process(pid)
                if p.create_time() == started and p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(pid)
            except psutil.Error:
                continue
        return alive

    def stop(self) -> list[int]:
        """Stop the hub and everything it started. Returns the pids that had to be killed."""
        self.watch()
        own_group = os.getpgid(0)
        if self.proc is not None and self.proc.poll() is None:
            try:  # the hub stops its users' servers and its proxy when it gets SIGTERM
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                pass
        self.watch()
        for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            left = self.alive()
            if not left:
                break
            for pid in left:
                try:
                    group = os.getpgid(pid)
                    if group != own_group and group == self.seen[pid][0]:
                        os.killpg(group, sig)
                    os.kill(pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass
            deadline = time.monotonic() + grace
            while self.alive() and time.monotonic() < deadline:
                time.sleep(0.2)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        return self.alive()
