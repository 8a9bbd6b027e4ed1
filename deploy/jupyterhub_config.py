"""JupyterHub for one course of the autoencoder unit, on one machine.

Start it with ``python deploy/standup.py`` (which lays out the course folder this file reads and
then runs ``jupyterhub -f deploy/jupyterhub_config.py``). Everything lives under one state folder,
``$COURSE_HUB_ROOT`` (default ``/srv/autoencoders-hub``); its ``course-hub.json`` (written by the
standup script) names the roster, the ports and the paths:

    <root>/course-hub.json        the settings below (roster, ports, paths, mode)
    <root>/hub/                   the hub's database, cookie secret, proxy pid, demo passwords
    <root>/exchange/              nbgrader's exchange (mode 1777)
    <root>/home/<user>/           each user's home and server root ("demo" mode)
    <home of instructor>/<course_id>/   the course directory: solutions/, nbgrader_config.py, gradebook.db

Who sees what:

* students (group ``students``): the Assignments panel (fetch, validate, submit, fetch feedback);
  the formgrader, create-assignment and course-list extensions are off, both the server side and the
  JupyterLab side. Their server's root is their home: the course directory is not in it.
* instructors (group ``instructors``, hub admins) and TAs (group ``graders``): the formgrader, on the
  instructor's course directory (a TA's home links to it in "demo" mode).

Two modes (``mode`` in course-hub.json):

* ``demo`` — one unix user runs every server (a local process spawner with homes under
  ``<root>/home``), and each roster user logs in with their own password from
  ``<root>/hub/demo-passwords.json``. No isolation between users: for trying the course out and
  for ``tests/test_jupyterhub.py``, which runs it.
* ``unix`` — real unix accounts: PAM logins and ``LocalProcessSpawner``, every server runs as its
  user in ``/home/<user>``. What a course on one shared machine should use (see docs/jupyterhub.md).

``COURSE_HUB_ADMIN_TOKEN`` (optional) registers a service ``course-admin`` that may manage users, their
servers and their tokens, for scripts (and the test) that drive the hub over its REST API.
"""
import hmac
import json
import os
import sys
from pathlib import Path

from jupyterhub.auth import Authenticator
from jupyterhub.spawner import LocalProcessSpawner, SimpleLocalProcessSpawner, set_user_setuid
from traitlets import Unicode

c = get_config()  # noqa: F821 (provided by traitlets)

DEPLOY = Path(__file__).resolve().parent
ROOT = Path(os.environ.get("COURSE_HUB_ROOT", "/srv/autoencoders-hub")).resolve()
SETTINGS_FILE = ROOT / "course-hub.json"
if not SETTINGS_FILE.is_file():
    sys.exit(f"{SETTINGS_FILE} is missing: stand the course up with `python {DEPLOY / 'standup.py'} --root {ROOT}`")
S = json.loads(SETTINGS_FILE.read_text())

INSTRUCTORS, GRADERS, STUDENTS = S["instructors"], S["graders"], S["students"]
STAFF = set(INSTRUCTORS) | set(GRADERS)
VENV_BIN = str(Path(sys.executable).parent)

# ------------------------------------------------------------------ network and state
c.JupyterHub.ip = S["ip"]
c.JupyterHub.port = int(S["port"])
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(S["hub_port"])
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{int(S['proxy_api_port'])}"
_chp = DEPLOY / "node_modules" / ".bin" / "configurable-http-proxy"
c.ConfigurableHTTPProxy.command = [str(_chp) if _chp.exists() else "configurable-http-proxy"]
c.ConfigurableHTTPProxy.pid_file = str(ROOT / "hub" / "jupyterhub-proxy.pid")
c.JupyterHub.db_url = "sqlite:///" + str(ROOT / "hub" / "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = str(ROOT / "hub" / "jupyterhub_cookie_secret")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every user's server

# ------------------------------------------------------------------ who may log in
c.Authenticator.allowed_users = set(INSTRUCTORS) | set(GRADERS) | set(STUDENTS)
c.Authenticator.admin_users = set(INSTRUCTORS)
c.JupyterHub.load_groups = {
    "instructors": {"users": list(INSTRUCTORS)},
    "graders": {"users": list(GRADERS)},
    "students": {"users": list(STUDENTS)},
}


class DemoPasswordAuthenticator(Authenticator):
    """Each roster user logs in with their own password from a JSON file (demo and test only)."""

    passwords_file = Unicode(config=True, help="JSON object: user name -> password")

    async def authenticate(self, handler, data):
        try:
            passwords = json.loads(Path(self.passwords_file).read_text())
        except (OSError, ValueError):
            self.log.error("cannot read the demo passwords from %s", self.passwords_file)
            return None
        name, given = data.get("username", ""), data.get("password", "")
        expected = passwords.get(name)
        if expected and hmac.compare_digest(str(expected).encode(), str(given).encode()):
            return name
        return None


if S["mode"] == "demo":
    c.JupyterHub.authenticator_class = DemoPasswordAuthenticator
    c.DemoPasswordAuthenticator.passwords_file = str(ROOT / "hub" / "demo-passwords.json")
else:
    c.JupyterHub.authenticator_class = "pam"

# ------------------------------------------------------------------ what each server gets
JUPYTER_DIRS = {role: str(DEPLOY / "jupyter" / role) for role in ("global", "grader", "student")}


def role_of(name: str) -> str:
    return "grader" if name in STAFF else "student"


class CourseSpawnerMixin:
    """Role-dependent settings for every user's server (environment variables only)."""

    def get_env(self):
        env = super().get_env()
        role = role_of(self.user.name)
        # The role's config folder first (it wins), then the course-wide one: nbgrader reads
        # nbgrader_config.py, jupyter-server its extension switches, JupyterLab its disabled plugins.
        env["JUPYTER_CONFIG_PATH"] = os.pathsep.join([JUPYTER_DIRS[role], JUPYTER_DIRS["global"]])
        env["COURSE_ID"] = S["course_id"]
        env["NBGRADER_EXCHANGE_ROOT"] = S["exchange"]
        if role == "grader":
            env["COURSE_DIRECTORY"] = S["course_dir"] if self.user.name in INSTRUCTORS else str(
                Path(S["home_template"].format(username=self.user.name)) / S["course_id"])
        if S.get("data_dir"):
            env["COURSE_DATA_DIR"] = S["data_dir"]
        passed = ["COURSE_OFFLINE", "COURSE_TORCH_THREADS", "OMP_NUM_THREADS", "COURSE_HUB_RUN_ID"]
        if role == "student":
            # The students' environment (deploy/isolation.py): course_utils, no grader. Its own kernel comes
            # first on the Jupyter path; the kit environment's share/jupyter gives JupyterLab its extensions.
            env["PATH"] = str(Path(S["student_env"]) / "bin") + os.pathsep + os.defpath
            env["JUPYTER_PATH"] = os.pathsep.join([str(Path(S["student_env"]) / "share" / "jupyter"),
                                                   S["kit_jupyter_path"]])
            env["JUPYTERLAB_DIR"] = str(Path(S["kit_jupyter_path"]) / "lab")
            # ... and the kit environment's server-extension switches (JupyterLab, nbgrader), after the role's
            env["JUPYTER_CONFIG_PATH"] += os.pathsep + S["kit_config_path"]
            env["COURSE_CACHE_DIR"] = str(Path(self.home_dir_of()) / ".cache" / "autoencoder-course")
        else:
            # nbgrader's gradebook shells out to alembic: the servers need this Python's bin on PATH.
            env["PATH"] = VENV_BIN + os.pathsep + env.get("PATH", os.defpath)
            passed += ["COURSE_CACHE_DIR", "AUTOGRADER_CHECK_TIMEOUT", "AUTOGRADER_CELL_TIMEOUT",
                       "AUTOGRADER_NOTEBOOK_TIMEOUT", "AUTOGRADER_MEMORY_MB"]
        for name in passed:
            if name in os.environ:
                env[name] = os.environ[name]
        return env

    def home_dir_of(self) -> str:
        return S["home_template"].format(username=self.user.name)

    async def start(self):
        if role_of(self.user.name) == "student":  # from the students' environment; staff from the kit's
            self.cmd = [str(Path(S["student_env"]) / "bin" / "python"), "-m", "jupyterhub.singleuser"]
        return await super().start()

    def get_args(self):
        args = list(super().get_args())
        if os.geteuid() == 0 and "--allow-root" not in args:
            args.append("--allow-root")  # jupyter-server refuses to run as root without it
        return args


class CourseDemoSpawner(CourseSpawnerMixin, SimpleLocalProcessSpawner):
    """Homes under <root>/home. Staff servers run as the hub's own unix user; students' servers run in the
    students' environment, as the unprivileged ``student_account`` when the hub runs as root."""

    def make_preexec_fn(self, name):
        account = S.get("student_account")
        if role_of(self.user.name) == "student" and account:
            become, home = set_user_setuid(account, chdir=False), self.home_dir

            def preexec():
                become()
                os.chdir(home)

            return preexec
        return super().make_preexec_fn(name)

    def get_args(self):
        args = list(super().get_args())
        if role_of(self.user.name) == "student" and S.get("student_account"):
            args = [a for a in args if a != "--allow-root"]
        return args


class CourseUnixSpawner(CourseSpawnerMixin, LocalProcessSpawner):
    """Every server as its own unix user, in its own home; students' in the students' environment."""

    def home_dir_of(self) -> str:
        import pwd

        return pwd.getpwnam(self.user.name).pw_dir


if S["mode"] == "demo":
    c.JupyterHub.spawner_class = CourseDemoSpawner
    c.SimpleLocalProcessSpawner.home_dir_template = S["home_template"]
    c.Spawner.notebook_dir = S["home_template"]
else:
    c.JupyterHub.spawner_class = CourseUnixSpawner
    c.Spawner.notebook_dir = "~"
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 180  # a loaded 2-core machine takes a while to import jupyterlab
c.Spawner.http_timeout = 180
c.Spawner.mem_limit = None

# ------------------------------------------------------------------ automation
_admin_token = os.environ.get("COURSE_HUB_ADMIN_TOKEN")
if _admin_token:
    c.JupyterHub.services = [{"name": "course-admin", "api_token": _admin_token}]
    c.JupyterHub.load_roles = [{
        "name": "course-admin",
        "description": "run the course from scripts: users, their servers and tokens",
        "scopes": ["admin:users", "admin:servers", "admin:server_state", "tokens", "read:groups", "access:servers"],
        "services": ["course-admin"],
    }]
