"""The protocol server: the one handler the grading kernel adds, answering the trusted side with data.

The trusted side (:mod:`autograder.remote`) sends shell messages of type ``autograder_request``; the
tensors travel as the message's buffers (:mod:`~autograder.inkernel.wire`). Each reply, of type
``autograder_reply``, holds a value or an error, never a verdict::

    hello                           {"pid", "version", "isolation"}: asked before any cell runs, so the
                                    sandbox's report comes from code no student has touched yet
    begin {"seed"}                  a check starts: torch's, numpy's and random's states are saved, torch is
                                    seeded, gradients are on, torch uses the grading thread count
    end                             the check is over: those states come back, handles are forgotten
    get {"name"} or {"path"}        the notebook's global ``name``, or the kernel's ``torch.…`` or
                                    ``course_utils.…`` object (a handle to pass on, e.g. ``torch.tanh``)
    getattr {"obj", "name"}         an attribute of an object the trusted side holds a handle to
    call {"fn", "args", "kwargs", "limit", "inputs"}
                                    fn(*args, **kwargs), where fn is {"name": global}, {"path": "torch.…" or
                                    "course_utils.…"}, {"recipe": name} (:mod:`~autograder.inkernel.recipes`)
                                    or {"handle": n}, each with an optional "attr" (a method); with "inputs",
                                    the arguments as the call left them come back too (in-place changes)

Student code runs only inside ``call`` and ``getattr``, with its printing swallowed, warnings off and a
time limit (SIGALRM, ``limit`` seconds). An error comes back as {"kind", "type", "message"} with kind
``missing``, ``blank`` (NotImplementedError), ``raised``, ``timeout``, ``exit`` (SystemExit), ``not_data``
or ``bad_request``.
"""
from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
import threading
import types
import warnings

from autograder.inkernel import wire

REQUEST = "autograder_request"
REPLY = "autograder_reply"
VERSION = 2
PATH_ROOTS = ("torch", "course_utils")


class CheckTimeout(KeyboardInterrupt):
    """Raised inside student code that ran past the call's time limit."""


class Failure(Exception):
    """An error reply: (kind, type, message)."""

    def __init__(self, kind: str, type_: str, message: str):
        super().__init__(message)
        self.kind, self.type, self.message = kind, type_, message


# ---------------------------------------------------------------------------------------- handles
def qualified(cls) -> str:
    module = getattr(cls, "__module__", "") or ""
    name = getattr(cls, "__qualname__", None) or getattr(cls, "__name__", "?")
    return str(name) if module == "builtins" else f"{module}.{name}"


def describe(obj) -> dict:
    """What the trusted side learns about an object that is not data: its type, and names only."""
    try:
        cls = obj if isinstance(obj, type) else type(obj)
        kind = ("class" if isinstance(obj, type) else "module" if isinstance(obj, types.ModuleType)
                else "function" if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType, types.MethodType))
                else "object")
        meta = {"type": qualified(type(obj)), "kind": kind, "callable": callable(obj),
                "mro": [qualified(c) for c in getattr(cls, "__mro__", ())][:40]}
        name = getattr(obj, "__name__", None) if kind != "object" else None
        if isinstance(name, str):
            meta["name"] = name[:200]
        return meta
    except Exception:  # an object whose type cannot even be read
        return {"type": "?", "kind": "object", "callable": False, "mro": []}


class Handles:
    """The objects the trusted side holds handles to, by number, until the check ends."""

    def __init__(self):
        self.objects: dict[int, object] = {}
        self.numbers: dict[int, int] = {}  # id(object) -> number

    def put(self, obj) -> dict:
        number = self.numbers.get(id(obj))
        if number is None or self.objects.get(number) is not obj:
            number = len(self.objects) + 1
            self.objects[number] = obj
            self.numbers[id(obj)] = number
        return {"$handle": number, **describe(obj)}

    def get(self, meta: dict):
        number = meta.get("$handle")
        if number not in self.objects:
            raise Failure("bad_request", "KeyError", f"no object with handle {number}")
        return self.objects[number]

    def clear(self) -> None:
        self.objects.clear()
        self.numbers.clear()


# ---------------------------------------------------------------------------------------- running code
@contextlib.contextmanager
def time_limit(seconds: float):
    """Interrupt the block after ``seconds`` (the main thread only; no limit elsewhere or for 0)."""
    if threading.current_thread() is not threading.main_thread() or not seconds or seconds <= 0:
        yield
        return

    def on_alarm(signum, frame):
        raise CheckTimeout(f"ran past its {seconds:g} s limit")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _Sink(io.TextIOBase):
    """Swallows what student code prints while the grader calls it."""

    def writable(self) -> bool:
        return True

    def write(self, text) -> int:
        return len(text)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else ""


def run_student(fn, args, kwargs, limit: float):
    """``fn(*args, **kwargs)`` quietly and within ``limit`` seconds; student failures become :class:`Failure`."""
    sink = _Sink()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), \
                time_limit(limit):
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs)
    except Failure:
        raise
    except NotImplementedError as exc:
        raise Failure("blank", "NotImplementedError", _first_line(exc)) from None
    except CheckTimeout as exc:
        raise Failure("timeout", "CheckTimeout", str(exc)) from None
    except KeyboardInterrupt:
        raise Failure("timeout", "KeyboardInterrupt", "interrupted by the grader") from None
    except SystemExit as exc:
        raise Failure("exit", "SystemExit", f"exit code {exc.code!r}"[:200]) from None
    except BaseException as exc:  # student code may raise anything
        raise Failure("raised", type(exc).__name__[:100], _first_line(exc)) from None


# ---------------------------------------------------------------------------------------- the server
class Server:
    """Answers the trusted side's requests against the notebook's namespace ``ns``."""

    def __init__(self, ns: dict):
        self.ns = ns
        self.handles = Handles()
        self.saved: dict | None = None
        self.isolation: dict = {}  # what the sandbox did at start-up (autograder.inkernel.sandbox.apply)

    # each op returns a value to encode
    def op_hello(self, content, args):
        return {"pid": os.getpid(), "version": VERSION, "isolation": self.isolation}

    def op_begin(self, content, args):
        import random

        import torch

        if self.saved is None:
            numpy = sys.modules.get("numpy")
            self.saved = {"torch": torch.get_rng_state(), "grad": torch.is_grad_enabled(),
                          "threads": torch.get_num_threads(), "random": random.getstate(),
                          "numpy": numpy.random.get_state() if numpy is not None else None}
        self.handles.clear()
        torch.manual_seed(int(content.get("seed", 0)))
        torch.set_grad_enabled(True)
        from course_utils.threads import cap_torch_threads

        cap_torch_threads()
        return None

    def op_end(self, content, args):
        import random

        import torch

        self.handles.clear()
        saved, self.saved = self.saved, None
        if saved:
            torch.set_rng_state(saved["torch"])
            torch.set_grad_enabled(saved["grad"])
            random.setstate(saved["random"])
            if saved["numpy"] is not None:
                sys.modules["numpy"].random.set_state(saved["numpy"])
        return None

    def op_get(self, content, args):
        if "path" in content:
            return _by_path(content["path"])
        name = content.get("name")
        if type(name) is not str or name not in self.ns:
            raise Failure("missing", "NameError", f"name {str(name)[:100]!r} is not defined")
        return self.ns[name]

    def op_getattr(self, content, args):
        obj = self.resolve({"handle": content.get("obj")})
        name = content.get("name")
        if type(name) is not str:
            raise Failure("bad_request", "TypeError", "an attribute name must be a string")
        return run_student(getattr, (obj, name), {}, float(content.get("limit") or 0))

    def op_call(self, content, args):
        fn = self.resolve(content.get("fn"))
        positional, keywords = args if args is not None else ([], {})
        if type(positional) is not list or type(keywords) is not dict:
            raise Failure("bad_request", "TypeError", "arguments must be a list and a dict")
        result = run_student(fn, positional, keywords, float(content.get("limit") or 0))
        if content.get("inputs"):
            return {"result": result, "inputs": [positional, keywords]}
        return result

    def argument(self, meta: dict):
        """What a handle or a global named in a request's arguments stands for."""
        if "$global" in meta:
            return self.op_get({"name": meta["$global"]}, None)
        return self.handles.get(meta)

    def resolve(self, ref):
        """The callable or object a reference names."""
        if type(ref) is not dict:
            raise Failure("bad_request", "TypeError", "a reference must be an object")
        if "handle" in ref:
            obj = self.handles.get({"$handle": ref["handle"]})
        elif "name" in ref:
            obj = self.op_get({"name": ref["name"]}, None)
        elif "path" in ref:
            obj = _by_path(ref["path"])
        elif "recipe" in ref:
            from autograder.inkernel import recipes

            obj = recipes.RECIPES.get(ref["recipe"])
            if obj is None:
                raise Failure("bad_request", "KeyError", f"no recipe {str(ref['recipe'])[:60]!r}")
        else:
            raise Failure("bad_request", "KeyError", "a reference names a handle, name, path or recipe")
        if "attr" in ref:
            if type(ref["attr"]) is not str:
                raise Failure("bad_request", "TypeError", "an attribute name must be a string")
            obj = run_student(getattr, (obj, ref["attr"]), {}, 0)
        return obj

    def answer(self, content: dict, buffers: list) -> tuple[dict, list]:
        """The reply content and buffers for one request; never raises."""
        op = getattr(self, f"op_{content.get('op')}", None) if type(content.get("op")) is str else None
        try:
            if op is None:
                raise Failure("bad_request", "KeyError", f"no operation {str(content.get('op'))[:40]!r}")
            args = None
            if "args" in content:
                try:
                    args = wire.decode(content["args"], buffers, self.argument)
                except wire.Malformed as exc:
                    raise Failure("bad_request", "Malformed", str(exc)) from None
            value = op(content, args)
            try:
                tree, out = wire.encode(value, self.handles.put)
            except wire.NotData as exc:
                raise Failure("not_data", "NotData", str(exc)) from None
            return {"status": "ok", "value": tree}, out
        except Failure as failure:
            return {"status": "error", "kind": failure.kind, "type": failure.type, "message": failure.message}, []
        except BaseException as exc:  # the server must answer whatever happens
            return {"status": "error", "kind": "raised", "type": type(exc).__name__[:100],
                    "message": _first_line(exc)}, []


def _by_path(path) -> object:
    import importlib

    if type(path) is not str or path.split(".")[0] not in PATH_ROOTS:
        raise Failure("bad_request", "KeyError", f"no path {str(path)[:80]!r} (torch.* and course_utils.* only)")
    parts = path.split(".")
    obj = importlib.import_module(parts[0])
    for i, part in enumerate(parts[1:], start=1):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            try:
                obj = importlib.import_module(".".join(parts[:i + 1]))
            except ImportError:
                raise Failure("bad_request", "AttributeError", f"no {path!r}") from None
    return obj


def install(kernel) -> Server:
    """Add the request handler to an ipykernel kernel; the server answers on the kernel's shell channel."""
    server = Server(kernel.shell.user_ns)

    def handle(stream, ident, parent):
        content = parent.get("content") or {}
        buffers = list(parent.get("buffers") or [])
        reply, out = server.answer(content if type(content) is dict else {}, buffers)
        kernel.session.send(stream, REPLY, reply, parent, ident=ident, buffers=out)

    kernel.shell_handlers[REQUEST] = handle
    return server
