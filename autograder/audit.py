"""A static audit of what a student wrote: the calls that tampering with grading needs, flagged for a person.

It reads every cell the student can edit (answers, written answers and cells they added; never
the instructor's restored cells) and flags, by line:

* changes to the import machinery: ``sys.path``, ``sys.meta_path``, ``sys.modules``, ``builtins``,
  ``__import__``, ``importlib``;
* IPython's formatters, display hooks, events and the kernel object (``get_ipython()`` beyond its
  magics), ``sys.displayhook``/``excepthook``;
* ``ctypes`` and ``gc``; frames, closures and code objects (``sys._getframe``, ``f_back``,
  ``__closure__``, ``__code__``...); trace, profile and audit hooks; signal handlers;
* reading ``/proc`` or the kernel's memory; writing ``.py`` (and ``.pth``, config) files;
* threads, processes and shell commands; torch function/dispatch modes; library functions
  replaced by assignment; dynamic code (``eval``, ``exec``, ``getattr`` with a computed name).

A flag reads "needs review" and names the cell and line. It never changes a score: a person
decides (docs/ta-guide.md, "Threat model"). It is not the defence, and never was: obfuscated code can
hide from any static reading. The defence is that the kernel holds nothing of the grader and answers
only with data the trusted side judges (:mod:`autograder.remote`); the audit points a TA at code that
tried anyway, or that reached for things no exercise needs.
"""
from __future__ import annotations

import ast
import re
from dataclasses import asdict, dataclass

from autograder import cells as kitcells

IMPORTS = {
    "ctypes": "uses ctypes (raw memory access)", "_ctypes": "uses ctypes (raw memory access)",
    "cffi": "uses cffi (raw memory access)", "gc": "uses gc (reaches any object in the kernel)",
    "importlib": "uses importlib (the import machinery)", "builtins": "uses the builtins module",
    "_thread": "starts threads", "multiprocessing": "starts processes", "subprocess": "runs other programs",
    "mmap": "maps memory or files", "pty": "runs other programs", "sysconfig": "reads the interpreter's layout",
    "site": "changes the interpreter's site set-up", "ipykernel": "uses the kernel's internals",
    "zmq": "talks to the kernel's sockets", "traitlets": "uses IPython's configuration machinery",
    "jupyter_client": "talks to kernels", "pickle": "unpickles data (runs code)", "marshal": "loads code objects",
    "autograder": "imports the grader",
}
ATTRIBUTES = {  # (object name, attribute) -> reason; object None matches any object
    ("sys", "path"): "changes or reads the import path (sys.path)",
    ("sys", "meta_path"): "changes the import machinery (sys.meta_path)",
    ("sys", "path_hooks"): "changes the import machinery (sys.path_hooks)",
    ("sys", "path_importer_cache"): "changes the import machinery",
    ("sys", "modules"): "changes or reads loaded modules (sys.modules)",
    ("sys", "_getframe"): "inspects call frames (sys._getframe)",
    ("sys", "settrace"): "installs a trace hook", ("sys", "setprofile"): "installs a profile hook",
    ("sys", "addaudithook"): "installs an audit hook", ("sys", "displayhook"): "changes the display hook",
    ("sys", "excepthook"): "changes the exception hook",
    ("threading", "settrace"): "installs a trace hook", ("threading", "setprofile"): "installs a profile hook",
    ("threading", "Thread"): "starts a thread", ("threading", "Timer"): "starts a thread",
    ("os", "fork"): "forks the kernel", ("os", "forkpty"): "forks the kernel", ("os", "kill"): "sends signals",
    ("os", "killpg"): "sends signals", ("os", "system"): "runs a shell command",
    ("os", "popen"): "runs a shell command", ("os", "execv"): "replaces the process",
    ("os", "execvp"): "replaces the process", ("os", "execve"): "replaces the process",
    ("os", "posix_spawn"): "starts processes", ("os", "getppid"): "looks for the grading process",
    ("os", "environ"): "reads or changes the environment",
    ("signal", "signal"): "changes signal handling (time limits)",
    ("signal", "setitimer"): "changes the check timer", ("signal", "alarm"): "changes the check timer",
    ("signal", "pthread_sigmask"): "blocks signals (time limits)",
    ("inspect", "currentframe"): "inspects call frames", ("inspect", "stack"): "inspects call frames",
    ("inspect", "getouterframes"): "inspects call frames", ("inspect", "getinnerframes"): "inspects call frames",
    ("inspect", "trace"): "inspects call frames", ("inspect", "getclosurevars"): "reads closures",
    ("inspect", "getsource"): "reads source code", ("inspect", "getsourcefile"): "looks up source files",
    ("torch", "_C"): "uses torch's C internals",
    (None, "f_back"): "walks call frames", (None, "f_locals"): "reads a frame's variables",
    (None, "f_globals"): "reads a frame's globals", (None, "gi_frame"): "reads a generator's frame",
    (None, "cr_frame"): "reads a coroutine's frame", (None, "tb_frame"): "reads a traceback's frames",
    (None, "__closure__"): "reads closures", (None, "cell_contents"): "reads closure cells",
    (None, "__code__"): "reads or replaces code objects", (None, "__globals__"): "reads a function's globals",
    (None, "__subclasses__"): "enumerates classes", (None, "__builtins__"): "uses the builtins",
    (None, "__torch_function__"): "intercepts torch functions", (None, "__torch_dispatch__"): "intercepts torch",
    (None, "display_formatter"): "uses IPython's formatters", (None, "displayhook"): "uses the display hook",
    (None, "display_pub"): "uses IPython's display publisher", (None, "shell_handlers"): "uses the kernel's "
    "message handlers", (None, "for_type"): "registers a formatter", (None, "for_type_by_name"): "registers a "
    "formatter", (None, "set_custom_exc"): "changes exception handling", (None, "ast_transformers"): "rewrites cells",
    (None, "input_transformers_post"): "rewrites cells", (None, "input_transformers_cleanup"): "rewrites cells",
}
NAMES = {
    "__import__": "imports through __import__", "__builtins__": "uses the builtins",
    "eval": "runs code from a string (eval)", "exec": "runs code from a string (exec)",
    "compile": "compiles code from a string", "globals": "reads or changes globals()",
    "TorchFunctionMode": "intercepts torch functions", "TorchDispatchMode": "intercepts torch",
    "breakpoint": "starts a debugger",
}
IPYTHON_MAGICS = {"run_line_magic", "run_cell_magic", "magic"}
MAGICS = {"bash": "runs a shell command", "sh": "runs a shell command", "script": "runs a shell command",
          "system": "runs a shell command", "sx": "runs a shell command", "env": "reads or changes the environment",
          "run": "runs code from a file", "load": "loads code from a file", "load_ext": "loads an IPython extension",
          "alias": "defines a shell alias", "config": "changes IPython's configuration"}
IPYTHON_SAFE_IMPORTS = ("IPython.display",)
WRITE_MODES = re.compile(r"^[rbt]*[wax+][rbt+]*$")
RISKY_PATHS = re.compile(r"(/proc\b|/dev/mem|\.pyc?\b|\.pth\b|site-packages|sitecustomize|usercustomize|"
                         r"ipython_(kernel_)?config|\.ipython|conftest|/startup/|autograder)")
LIBRARY_ROOTS = {"torch", "np", "numpy", "nn", "F", "math", "builtins", "sys", "os", "plt", "matplotlib",
                 "course_utils", "tqdm", "random", "functools", "operator", "inspect", "json", "IPython"}


@dataclass
class Flag:
    cell: str
    line: int
    reason: str
    code: str

    def text(self, notebook: str = "") -> str:
        from autograder.results import flag_text

        return flag_text(self.to_dict(), notebook)

    def to_dict(self) -> dict:
        return asdict(self)


def _python(source: str) -> str:
    """The cell as Python: IPython's magics and shell escapes turned into the calls they make."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:
        return source


class _Visitor(ast.NodeVisitor):
    def __init__(self):
        self.found: list[tuple[int, str]] = []
        self.modules = set(LIBRARY_ROOTS)
        self.shells: set[str] = set()  # names bound to get_ipython()

    def flag(self, node, reason: str) -> None:
        self.found.append((getattr(node, "lineno", 1), reason))

    def visit_Import(self, node):
        for alias in node.names:
            self._imported(node, alias.name)
            self.modules.add((alias.asname or alias.name).split(".")[0])
        self.generic_visit(node)

    def _imported(self, node, module: str) -> None:
        root = module.split(".")[0]
        if root in IMPORTS:
            self.flag(node, IMPORTS[root])
        elif root == "IPython" and not module.startswith(IPYTHON_SAFE_IMPORTS):
            self.flag(node, "uses IPython's internals")

    def visit_ImportFrom(self, node):
        root = (node.module or "").split(".")[0]
        self._imported(node, node.module or "")
        for alias in node.names:
            key = (root, alias.name)
            if key in ATTRIBUTES:
                self.flag(node, ATTRIBUTES[key])
            elif alias.name in NAMES:
                self.flag(node, NAMES[alias.name])
        self.generic_visit(node)

    def visit_Attribute(self, node):
        base = node.value.id if isinstance(node.value, ast.Name) else None
        reason = ATTRIBUTES.get((base, node.attr)) or ATTRIBUTES.get((None, node.attr))
        if reason:
            self.flag(node, reason)
        elif (_is_get_ipython(node.value) or base in self.shells) and node.attr not in IPYTHON_MAGICS:
            self.flag(node, "runs a shell command" if node.attr in ("system", "getoutput") else
                      f"uses IPython's shell object (get_ipython().{node.attr})")
        self.generic_visit(node)

    def visit_Name(self, node):
        if node.id in NAMES and not isinstance(node.ctx, ast.Store):
            self.flag(node, NAMES[node.id])
        self.generic_visit(node)

    def visit_Call(self, node):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name in ("getattr", "setattr", "delattr") and isinstance(func, ast.Name) and node.args:
            on_library = _root(node.args[0]) in self.modules or _is_get_ipython(node.args[0])
            computed = len(node.args) >= 2 and not isinstance(node.args[1], ast.Constant)
            if on_library and (name != "getattr" or computed):
                self.flag(node, f"{name}() on a library object" + (" with a computed name" if computed else ""))
        if name in IPYTHON_MAGICS and node.args and isinstance(node.args[0], ast.Constant):
            magic = str(node.args[0].value)
            if magic in MAGICS:
                self.flag(node, MAGICS[magic])
            elif magic in ("writefile", "file") and _mentions_risky(node):
                self.flag(node, "writes a code, config or system file")
        if name == "open" and _writes(node) and _mentions_risky(node):
            self.flag(node, "writes a code, config or system file")
        if name in ("write_text", "write_bytes", "copy", "copyfile", "copy2", "move", "symlink_to", "rename",
                    "replace", "hardlink_to") and _mentions_risky(node):
            self.flag(node, "writes a code, config or system file")
        self.generic_visit(node)

    def visit_Assign(self, node):
        for target in node.targets:
            self._assigned(target)
            if isinstance(target, ast.Name) and _is_get_ipython(node.value):
                self.shells.add(target.id)
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        self._assigned(node.target)
        self.generic_visit(node)

    def _assigned(self, target) -> None:
        if isinstance(target, ast.Attribute) and _root(target) in self.modules:
            self.flag(target, f"replaces a library attribute ({ast.unparse(target)})")
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._assigned(element)

    def visit_Constant(self, node):
        if isinstance(node.value, str) and re.search(r"/proc\b|/dev/mem", node.value):
            self.flag(node, "reads /proc or the kernel's memory")
        if isinstance(node.value, str) and "vnd.autograder" in node.value:
            self.flag(node, "writes the grader's own output type")
        self.generic_visit(node)


def _is_get_ipython(node) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "get_ipython"


def _root(node) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.value if not isinstance(node, ast.Call) else node.func
    return node.id if isinstance(node, ast.Name) else None


def _writes(node: ast.Call) -> bool:
    mode = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "mode"), None)
    return isinstance(mode, ast.Constant) and isinstance(mode.value, str) and bool(WRITE_MODES.match(mode.value))


def _mentions_risky(node) -> bool:
    return any(isinstance(n, ast.Constant) and isinstance(n.value, str) and RISKY_PATHS.search(n.value)
               for n in ast.walk(node))


def audit_source(source: str) -> list[tuple[int, str]]:
    """(line, reason) for each flagged construct of one cell's source."""
    python = _python(source)
    try:
        tree = ast.parse(python)
    except SyntaxError:
        return []  # it cannot run either
    visitor = _Visitor()
    visitor.visit(tree)
    seen, found = set(), []
    for line, reason in sorted(visitor.found):
        if (line, reason) not in seen:
            seen.add((line, reason))
            found.append((line, reason))
    return found


def audit_notebook(nb) -> list[Flag]:
    """Flags for every editable code cell of a (restored) notebook."""
    flags = []
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code" or not kitcells.is_editable(cell):
            continue
        name = kitcells.cell_name(cell, index)
        lines = _python(cell.source).splitlines()
        for line, reason in audit_source(cell.source):
            code = lines[line - 1].strip() if 0 < line <= len(lines) else ""
            flags.append(Flag(name, line, reason, code[:120]))
    return flags
