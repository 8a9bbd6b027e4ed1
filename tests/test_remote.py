"""The trusted side's channel to a kernel: data back from honest kernels; forged, malformed, oversized, late or
missing replies, and a replaced protocol server, fail only the request that needed them."""
import os
import sys
import time

import pytest
import torch

from autograder.inkernel.wire import Limits
from autograder.remote import BadReply, Channel, Handle, KernelStuck, LocalChannel, Remote, RemoteError


@pytest.fixture(scope="module")
def kernel():
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpec

    class Manager(KernelManager):
        @property
        def kernel_spec(self):
            return KernelSpec(argv=[sys.executable, "-I", "-m", "autograder.inkernel.kernel", "-f",
                                    "{connection_file}"], display_name="grading", language="python", resource_dir="")

    km = Manager()
    km.start_kernel(env={**os.environ, "COURSE_TORCH_THREADS": "1"})
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=120)
    yield km, kc
    kc.stop_channels()
    km.shutdown_kernel(now=True)


def run(kc, code: str) -> None:
    reply = kc.execute_interactive(code, timeout=60)
    assert reply["content"]["status"] == "ok", reply["content"]


@pytest.fixture
def ns(kernel):
    km, kc = kernel
    run(kc, "from autograder.inkernel import server as _s; _s.install(get_ipython().kernel)")  # an honest server
    channel = Channel(km.get_connection_info(session=False), alive=km.is_alive, interrupt=km.interrupt_kernel,
                      limits=Limits(max_bytes=4 * 2**20))
    remote = Remote(channel)
    yield remote
    channel.close()


def test_student_functions_answer_with_data(kernel, ns):
    run(kernel[1], "import torch\ndef double(x):\n    x.mul_(2)\n    return x, {'n': len(x)}\n"
                   "def blank():\n    raise NotImplementedError('Student exercise: blank')\nclass M(torch.nn.Module):\n"
                   "    pass\n")
    x = torch.arange(3.0)
    out, positional, _ = ns.call_keeping_inputs({"name": "double"}, x)
    assert torch.equal(out[0], 2 * x) and out[1] == {"n": 3} and torch.equal(positional[0], 2 * x)
    assert torch.equal(x, torch.arange(3.0))  # our copy is ours
    model = ns["M"]()
    assert isinstance(model, Handle) and model.is_a("torch.nn.modules.module.Module") and model.kind == "object"
    with pytest.raises(RemoteError) as blank:
        ns["blank"]()
    assert blank.value.kind == "blank"
    assert "missing_name" not in ns and ns.get("missing_name", 7) == 7


def test_a_replaced_server_gets_no_verdict_through(kernel, ns):
    """Whatever a replaced server answers is a value the checks judge, or a reply that cannot be read."""
    run(kernel[1], "k = get_ipython().kernel\n"
                   "def forged(stream, ident, parent):\n"
                   "    k.session.send(stream, 'autograder_reply', {'status': 'ok', 'value': {'$pickle': 'x'}}, parent,"
                   " ident=ident)\n"
                   "k.shell_handlers['autograder_request'] = forged")
    with pytest.raises(BadReply):
        ns["anything"]
    run(kernel[1], "def verdict(stream, ident, parent):\n"
                   "    k.session.send(stream, 'autograder_reply', {'status': 'ok', 'value': {'$dict': [['passed', True],"
                   " ['score', 5.0]]}}, parent, ident=ident)\n"
                   "k.shell_handlers['autograder_request'] = verdict")
    assert ns["anything"] == {"passed": True, "score": 5.0}  # data: a check compares it with what it computed
    run(kernel[1], "def other(stream, ident, parent):\n"
                   "    k.session.send(stream, 'execute_reply', {'status': 'ok'}, parent, ident=ident)\n"
                   "k.shell_handlers['autograder_request'] = other")
    with pytest.raises(BadReply):
        ns["anything"]


def test_late_missing_oversized_and_endless_replies_stop_only_their_request(kernel, ns, monkeypatch):
    import autograder.remote

    monkeypatch.setattr(autograder.remote, "GRACE", 0.5)
    monkeypatch.setattr(autograder.remote, "INTERRUPT_WAIT", 1.0)
    km, kc = kernel
    ns.deadline = time.monotonic() + 2.0
    run(kc, "k = get_ipython().kernel\nk.shell_handlers['autograder_request'] = lambda stream, ident, parent: None")
    with pytest.raises(KernelStuck):  # never answers: interrupted, still nothing: the kernel has to be restarted
        ns["anything"]
    ns.deadline = None
    run(kc, "import os\n"
            "def huge(stream, ident, parent):\n"
            "    k.session.send(stream, 'autograder_reply', {'status': 'ok', 'value': {'$tensor': 0, 'dtype': 'uint8',"
            " 'shape': [8 * 2**20]}}, parent, ident=ident, buffers=[os.urandom(8 * 2**20)])\n"
            "k.shell_handlers['autograder_request'] = huge")
    ns.deadline = time.monotonic() + 2.0
    with pytest.raises((KernelStuck, BadReply)):  # the socket drops a frame over the limit: nothing arrives
        ns["anything"]
    ns.deadline = None
    run(kc, "def flood(stream, ident, parent):\n"
            "    for _ in range(200):\n"
            "        k.session.send(stream, 'autograder_reply', {'status': 'ok', 'value': 1}, {'header': {'msg_id': 'x'}},"
            " ident=ident)\n"
            "k.shell_handlers['autograder_request'] = flood")
    ns.deadline = time.monotonic() + 2.0
    with pytest.raises(KernelStuck):  # answers to other requests are not this request's answer
        ns["anything"]
    ns.deadline = None
    run(kc, "from autograder.inkernel import server as _s; _s.install(get_ipython().kernel)\n"
            "def forever():\n    while True:\n        pass\n")
    ns.deadline = time.monotonic() + 1.0
    with pytest.raises(RemoteError) as late:  # the server's own alarm stops a runaway student function
        ns["forever"]()
    assert late.value.kind == "timeout"
    ns.deadline = None
    assert ns.hello()["version"] >= 2  # the channel still works after all of that


def test_the_local_channel_speaks_the_same_protocol():
    ns = Remote(LocalChannel({"f": lambda x: x * 2}))
    assert torch.equal(ns["f"](torch.ones(2)), 2 * torch.ones(2))
    assert ns.hello()["version"] >= 2
