"""The trusted side's view of the student's kernel: requests out, data back, every verdict here.

The hidden checks (:mod:`autograder.checks`) run in the trusted process (``autograder grade``, nbgrader's
autograde, a Dask worker, pytest). Their ``ns`` is a :class:`Remote`: reading a global of the notebook,
calling a student function, building a student class, calling a method or running a recipe
(:mod:`autograder.inkernel.recipes`) sends one request to the kernel's protocol server
(:mod:`autograder.inkernel.server`) and decodes the reply as data (:mod:`autograder.inkernel.wire`):
tensors, numbers, strings, lists, tuples and dicts of them, and :class:`Handle` s, which stand for objects
that stay in the kernel and carry nothing but a number, a type name and a few names.

Nothing the kernel sends is executed, unpickled or believed: a reply is a value, and the checks compare
it with what they computed themselves. A reply that is malformed, larger than :data:`LIMITS` allows
(oversized frames are dropped by the socket itself), late or missing raises :class:`BadReply`,
:class:`NoReply` or :class:`KernelDied`; the check that needed it fails with that reason, and nothing
else does.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from autograder.inkernel import wire
from autograder.inkernel.server import REPLY, REQUEST

LIMITS = wire.LIMITS
GRACE = 3.0  # seconds past a call's limit before the trusted side interrupts the kernel
INTERRUPT_WAIT = 5.0  # seconds an interrupted call has to answer before the kernel is declared stuck


class RemoteError(Exception):
    """The kernel answered with an error: kind ``missing``, ``blank``, ``raised``, ``timeout``, ``exit``,
    ``not_data`` or ``bad_request``."""

    def __init__(self, kind: str, type_: str, message: str):
        super().__init__(f"{type_}: {message}" if message else type_)
        self.kind, self.type, self.message = kind, type_, message


class ProtocolProblem(Exception):
    """The kernel could not be asked, or did not answer usably. Never the student's answer to a check."""

    reason = "the kernel did not answer"


class NoReply(ProtocolProblem):
    reason = "the kernel did not answer in time"


class KernelDied(ProtocolProblem):
    reason = "the kernel died"


class KernelStuck(ProtocolProblem):
    reason = "the kernel ran past the limit and did not stop when interrupted"


class BadReply(ProtocolProblem):
    reason = "the kernel's reply could not be read"


# ---------------------------------------------------------------------------------------- the channel
class Channel:
    """One socket to the kernel's shell port, used from one thread: a request, then its reply."""

    def __init__(self, connection: dict, alive: Callable[[], bool] | None = None,
                 interrupt: Callable[[], None] | None = None, limits: wire.Limits = LIMITS):
        import zmq

        self._address(connection)
        self.context = zmq.Context()
        self.alive = alive or (lambda: True)
        self.interrupt = interrupt or (lambda: None)
        self.limits = limits
        self.socket = self._connect()

    def _address(self, connection: dict) -> None:
        from jupyter_client.session import Session

        key = connection.get("key", b"")
        self.session = Session(key=key if isinstance(key, bytes) else str(key).encode(),
                               signature_scheme=connection.get("signature_scheme", "hmac-sha256"),
                               username="autograder")
        self.url = f"{connection.get('transport', 'tcp')}://{connection['ip']}:{connection['shell_port']}"

    def _connect(self):
        import zmq

        sock = self.context.socket(zmq.DEALER)
        sock.linger = 0
        sock.sndtimeo = 10_000  # a send never blocks grading for long
        sock.setsockopt(zmq.MAXMSGSIZE, self.limits.max_bytes + 2**20)  # per frame: larger ones are dropped
        sock.connect(self.url)
        return sock

    def reconnect(self) -> None:
        """A fresh socket: after a reply that broke the connection (an oversized frame), or one never sent."""
        self.socket.close(linger=0)
        self.socket = self._connect()

    def retarget(self, connection: dict) -> None:
        """Talk to the kernel started in place of the old one (other ports, another key), on a fresh socket."""
        self._address(connection)
        self.reconnect()

    def close(self) -> None:
        self.socket.close(linger=0)
        self.context.term()

    def send(self, content: dict, buffers: list) -> str:
        import zmq

        try:
            msg = self.session.send(self.socket, REQUEST, content, buffers=buffers)
        except zmq.ZMQError:
            self.reconnect()
            raise NoReply("the request could not be sent") from None
        return msg["header"]["msg_id"]

    def wait(self, msg_id: str, deadline: float) -> dict:
        """The reply to ``msg_id``; :class:`NoReply` at the deadline, :class:`KernelDied` when the kernel is gone."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise NoReply()
            if not self.socket.poll(int(min(left, 0.5) * 1000)):
                if not self.alive():
                    raise KernelDied()
                continue
            frames = self.socket.recv_multipart(copy=True)
            try:
                _, body = self.session.feed_identities(frames)
                msg = self.session.deserialize(body, content=True)
            except Exception:
                raise BadReply() from None
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue  # the late answer to an earlier request: not this one's
            if msg.get("header", {}).get("msg_type") != REPLY:
                raise BadReply()
            return msg

    def request(self, content: dict, args: Any = None, timeout: float = 60.0, limit: float = 0.0) -> tuple[Any, list]:
        """Send one request; (the reply's content, its buffers).

        ``limit`` is the time the server gives the student's code; past it and :data:`GRACE`, the kernel is
        interrupted, and an interrupted call has :data:`INTERRUPT_WAIT` seconds to answer before the kernel
        counts as stuck.
        """
        content, buffers = _encode_request(content, args, limit, self.limits)
        msg_id = self.send(content, buffers)
        try:
            try:
                msg = self.wait(msg_id, time.monotonic() + (limit + GRACE if limit else timeout))
            except NoReply:
                self.interrupt()
                try:
                    msg = self.wait(msg_id, time.monotonic() + INTERRUPT_WAIT)
                except NoReply:
                    raise KernelStuck() from None
        except (KernelStuck, BadReply):
            self.reconnect()  # whatever is still on its way is no answer to anything asked later
            raise
        reply = msg.get("content")
        if not isinstance(reply, dict):
            raise BadReply()
        return reply, list(msg.get("buffers") or [])


class LocalChannel:
    """The protocol without the process boundary: a server answering in this very process.

    For the benchmark's floor (what grading costs beyond the notebook and its checks) and for tests of the
    checks themselves; never for grading, where the student's code must not share the checks' process.
    """

    def __init__(self, ns: dict, limits: wire.Limits = LIMITS):
        from autograder.inkernel.server import Server

        self.server = Server(ns)
        self.limits = limits

    def close(self) -> None:
        pass

    def request(self, content: dict, args: Any = None, timeout: float = 60.0, limit: float = 0.0) -> tuple[Any, list]:
        content, buffers = _encode_request(content, args, limit, self.limits)
        return self.server.answer(content, [bytes(b) for b in buffers])


def _handle_ref(obj) -> dict:
    if isinstance(obj, Handle):
        return {"$handle": obj.number}
    if isinstance(obj, Global):
        return {"$global": obj.name}
    raise wire.NotData(f"the grader cannot send a {type(obj).__name__}")


def _encode_request(content: dict, args: Any, limit: float, limits: wire.Limits) -> tuple[dict, list]:
    """A request as it goes to the kernel: its arguments encoded as data (within ``limits``), and the time the
    server gives the student's code when there is one."""
    content = dict(content)
    buffers: list = []
    if args is not None:
        content["args"], buffers = wire.encode(args, _handle_ref, limits)
    if limit:
        content["limit"] = limit
    return content, buffers


@dataclass(frozen=True)
class Global:
    """The notebook's own global ``name``, passed to a student function without a round trip (its X_train)."""

    name: str


# ---------------------------------------------------------------------------------------- handles
@dataclass
class Handle:
    """A student object that stays in the kernel: a number, its type's name and its base classes' names."""

    remote: "Remote" = field(repr=False)
    number: int
    type: str = "?"
    kind: str = "object"
    callable: bool = False
    mro: list = field(default_factory=list)
    name: str = ""

    def is_a(self, qualified_name: str) -> bool:
        """Whether the kernel says the object is (for a class: derives from) ``qualified_name``."""
        return qualified_name in self.mro

    @property
    def type_name(self) -> str:
        """The short name of its type, as messages show it (``numpy.ndarray``, ``Linear``)."""
        return self.type.rsplit(".", 1)[-1] if self.type.startswith(("__main__.", "builtins.")) else self.type

    def __call__(self, *args, **kwargs):
        return self.remote.call({"handle": self.number}, *args, **kwargs)

    def method(self, name: str, *args, **kwargs):
        return self.remote.call({"handle": self.number, "attr": name}, *args, **kwargs)

    def attr(self, name: str):
        return self.remote.ask({"op": "getattr", "obj": self.number, "name": name})


# ---------------------------------------------------------------------------------------- the namespace
class Remote:
    """The notebook's namespace, seen from the trusted side: the ``ns`` every hidden check takes.

    ``ns["name"]`` and ``ns.get("name")`` read a global (data, or a :class:`Handle`); ``ns.call`` calls a
    global, a handle or a ``torch.…`` path; ``ns.recipe`` runs a recipe; ``ns.cells`` are the notebook's code
    cells run so far, as (grade id or None, source), for the rules read from the student's source.
    """

    def __init__(self, channel: Channel, cells: list | None = None):
        self.channel = channel
        self.cells: list[tuple[str | None, str]] = list(cells or [])
        self.deadline: float | None = None  # the current check's: every call's limit is what is left of it
        self.calls = 0
        self.reviews: list[str] = []  # what the current check asked a person to look at
        self.earlier: dict[str, tuple[float, float]] = {}  # (score, max) of the cells graded before this one

    # ------------------------------------------------------------------ requests
    def ask(self, content: dict, args: Any = None, student_code: bool = True) -> Any:
        """One request; its value, decoded as data; :class:`RemoteError` when the kernel answers an error."""
        limit = 0.0
        timeout = 60.0
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise RemoteError("timeout", "CheckTimeout", "ran past its limit")
            limit, timeout = (max(left, 0.05), left + GRACE) if student_code else (0.0, left + GRACE)
        self.calls += 1
        reply, buffers = self.channel.request(content, args, timeout=timeout, limit=limit)
        if reply.get("status") == "error":
            raise RemoteError(str(reply.get("kind", "raised"))[:20], str(reply.get("type", "Error"))[:100],
                              str(reply.get("message", ""))[:500])
        if reply.get("status") != "ok" or "value" not in reply:
            raise BadReply()
        try:
            return wire.decode(reply["value"], buffers, self._handle, self.channel.limits)
        except wire.Malformed as exc:
            raise BadReply(str(exc)) from None

    def _handle(self, meta: dict) -> Handle:
        mro = meta.get("mro") if type(meta.get("mro")) is list else []
        return Handle(self, meta["$handle"], str(meta.get("type", "?"))[:200], str(meta.get("kind", "object"))[:20],
                      meta.get("callable") is True, [str(m)[:200] for m in mro[:40]], str(meta.get("name") or "")[:200])

    def call(self, fn: dict, *args, **kwargs) -> Any:
        return self.ask({"op": "call", "fn": fn}, [list(args), dict(kwargs)])

    def ref(self, name: str) -> Global:
        """The notebook's global ``name`` as an argument: the kernel's own object, not a copy sent back."""
        return Global(name)

    def call_keeping_inputs(self, fn: dict, *args, **kwargs) -> tuple[Any, list, dict]:
        """``fn(*args, **kwargs)`` and the arguments as the call left them (to see changes made in place)."""
        out = self.ask({"op": "call", "fn": fn, "inputs": True}, [list(args), dict(kwargs)])
        if not isinstance(out, dict) or "result" not in out or not isinstance(out.get("inputs"), list):
            raise BadReply("a call's reply without its inputs")
        positional, keywords = out["inputs"]
        return out["result"], positional, keywords

    def recipe(self, name: str, *args, **kwargs) -> Any:
        """Run a grader-written recipe (:mod:`autograder.inkernel.recipes`) in the kernel."""
        return self.call({"recipe": name}, *args, **kwargs)

    def path(self, dotted: str) -> Any:
        """The kernel's own ``torch.…`` or ``course_utils.…`` object (a handle: e.g. ``torch.tanh`` to pass on)."""
        return self.ask({"op": "get", "path": dotted})

    def full_marks(self, cell: str) -> bool | None:
        """Whether an earlier check cell of this notebook earned all its points (None: not graded in this run)."""
        if cell not in self.earlier:
            return None
        score, maximum = self.earlier[cell]
        return maximum > 0 and abs(score - maximum) < 1e-9

    def review(self, text: str) -> None:
        """Ask a person to look at this submission (the check's outcome stands; the submission is flagged)."""
        self.reviews.append(text)

    def begin(self, seed: int = 0) -> None:
        self.ask({"op": "begin", "seed": seed}, student_code=False)

    def end(self) -> None:
        self.ask({"op": "end"}, student_code=False)

    def hello(self) -> dict:
        return self.ask({"op": "hello"}, student_code=False)

    # ------------------------------------------------------------------ the namespace, dict-like
    def __getitem__(self, name: str) -> Any:
        try:
            return self.ask({"op": "get", "name": name})
        except RemoteError as exc:
            if exc.kind == "missing":
                raise KeyError(name) from None
            raise

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default

    def __contains__(self, name: str) -> bool:
        return self.get(name, _MISSING) is not _MISSING

    def source(self) -> str:
        """Every code cell run so far, in order: what the rules read from the student's source."""
        return "\n\n".join(source for _, source in self.cells)


_MISSING = object()
