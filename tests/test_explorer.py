"""The latent explorer (course_utils.explorer): live sliders where widgets render, a static grid elsewhere.

* outside a kernel, and in a headless kernel run (nbclient, as nbconvert and the grader run notebooks),
  the explorer shows the static traversal grid as a PNG, with no error and no widget;
* the widget decodes on every slider move and trains nothing;
* in a real JupyterLab in headless Chromium (no hub: a server on 127.0.0.1 started by the test), a
  student runs a notebook with the explorer, drags a slider, and the decoded digit changes. The two
  screenshots stay in artifacts/explorer/.
"""
from __future__ import annotations

import base64
import io
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import torch

from autograder.checkout import REPO
from course_utils.explorer import LatentExplorer, latent_explorer, widget_frontend

ARTIFACTS = REPO / "artifacts" / "explorer"

# A notebook that needs no MNIST: a seeded random decoder and random codes (what matters is the explorer).
SETUP = """import torch
torch.manual_seed(0)
decoder = torch.nn.Sequential(torch.nn.Linear(2, 64), torch.nn.Tanh(), torch.nn.Linear(64, 784), torch.nn.Sigmoid())
codes = torch.randn(600, 2) * torch.tensor([1.5, 0.7])
labels = torch.arange(600) % 10
images = decoder(codes).detach()"""
# For the browser: PCA's 2-D code of 2,000 MNIST digits, so that the screenshots show digits morphing.
MNIST_SETUP = """import torch
from course_utils import load_mnist_flat
X, labels = load_mnist_flat("train", n=2000, seed=0)
mean = X.mean(0)
components = torch.linalg.svd(X - mean, full_matrices=False)[2][:2]
codes, images = (X - mean) @ components.T, X
decoder = lambda Z: Z @ components + mean"""
EXPLORER = """from course_utils.explorer import latent_explorer
latent_explorer(decoder, codes, labels, images=images, title="test explorer")"""


def _decoder_and_codes():
    ns: dict = {}
    exec(SETUP, ns)
    return ns["decoder"], ns["codes"], ns["labels"], ns["images"]


def test_outside_a_kernel_the_explorer_is_a_static_grid():
    decoder, codes, labels, images = _decoder_and_codes()
    assert widget_frontend() == (False, "not running in a Jupyter kernel")
    explorer = latent_explorer(decoder, codes, labels, images=images)
    assert isinstance(explorer, LatentExplorer) and not explorer.interactive and explorer.widget is None
    bundle = explorer._repr_mimebundle_()
    assert set(bundle) == {"image/png", "text/plain"} and "static traversal grid" in bundle["text/plain"]
    from PIL import Image

    picture = Image.open(io.BytesIO(base64.b64decode(bundle["image/png"])))
    assert picture.width > 300 and picture.height > 100
    fig = explorer.static_figure(steps=5)
    assert len(fig.axes) == 2 * 5  # one row per latent coordinate


def test_the_switch_forces_the_static_grid(monkeypatch):
    monkeypatch.setenv("COURSE_WIDGETS", "0")
    assert widget_frontend()[0] is False


def test_slider_moves_decode_and_train_nothing():
    decoder, codes, labels, images = _decoder_and_codes()
    weights = [p.detach().clone() for p in decoder.parameters()]
    explorer = latent_explorer(decoder, codes, labels, images=images, interactive=True)
    assert explorer.interactive and explorer.widget is not None and len(explorer.sliders) == 2
    bundle = explorer._repr_mimebundle_()
    assert {"application/vnd.jupyter.widget-view+json", "image/png", "text/plain"} <= set(bundle)
    digit, dot, note = explorer.digit.value, explorer.scatter.value, explorer.note.value
    started = time.perf_counter()
    explorer.sliders[0].value = explorer.sliders[0].max
    seconds = time.perf_counter() - started
    assert explorer.digit.value != digit and explorer.scatter.value != dot and explorer.note.value != note
    assert float(explorer.code[0]) == pytest.approx(explorer.sliders[0].max)
    assert seconds < 1.0, f"a slider move took {seconds:.2f} s"
    expected = decoder(explorer.code[None]).detach().reshape(28, 28).numpy()
    assert abs(explorer.decode() - expected).max() < 1e-6
    explorer.jump.value = 3  # the median code of the 3s
    assert torch.allclose(explorer.code, explorer.centres[3].clamp(explorer.low, explorer.high), atol=0.02)
    assert all(torch.equal(p, q) for p, q in zip(decoder.parameters(), weights)), "a slider move changed weights"
    assert all(p.grad is None for p in decoder.parameters()), "a slider move ran backward"


def test_a_failing_decoder_says_so_in_the_widget():
    _, codes, labels, images = _decoder_and_codes()
    calls = []

    def decoder(z):
        calls.append(1)
        if len(calls) > 1:  # the first call draws the starting digit
            raise ValueError("broken on purpose")
        return torch.zeros(len(z), 784)

    explorer = latent_explorer(decoder, codes, labels, interactive=True)
    explorer.sliders[1].value = explorer.sliders[1].min
    assert "broken on purpose" in explorer.note.value


def _execute_headless(cells: list[str], tmp_path: Path):
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    env = dict(os.environ)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute(
        env=env)
    return nb


def test_a_headless_kernel_run_shows_the_static_grid(tmp_path):
    """nbconvert --execute and the feedback HTML: no widget frontend, so the explorer draws the grid, no error."""
    nb = _execute_headless([SETUP, EXPLORER], tmp_path)
    outputs = nb.cells[1].outputs
    assert [o.output_type for o in outputs] == ["execute_result"], outputs
    data = outputs[0].data
    assert "image/png" in data and "application/vnd.jupyter.widget-view+json" not in data
    assert "a headless run" in data["text/plain"]


# ---------------------------------------------------------------------------------------------- real JupyterLab
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def jupyter_lab(tmp_path):
    """A JupyterLab server on 127.0.0.1 with a token, rooted in a temporary folder; stopped by its pid."""
    root, home = tmp_path / "lab", tmp_path / "home"
    root.mkdir()
    home.mkdir()
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, HOME=str(home), JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), IPYTHONDIR=str(home / "ipython"))
    env.pop("MPLBACKEND", None)  # the kernel's inline backend, as on a student's server
    log = open(tmp_path / "lab.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
                             f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
                             f"--ServerApp.root_dir={root}", "--LabApp.news_url=", "--ServerApp.port_retries=0",
                             "--ServerApp.allow_root=True"],
                            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}api/status?token={token}", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"JupyterLab did not start: {(tmp_path / 'lab.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield url, token, root
    finally:
        _stop_lab(proc, url, token)
        log.close()


def _stop_lab(proc, url: str, token: str) -> None:
    try:  # shut its kernels down first (they run in sessions of their own)
        with urllib.request.urlopen(f"{url}api/kernels?token={token}", timeout=5) as response:
            for kernel in json.load(response):
                request = urllib.request.Request(f"{url}api/kernels/{kernel['id']}?token={token}", method="DELETE")
                urllib.request.urlopen(request, timeout=10).close()
    except OSError:
        pass
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium")
def test_student_drags_a_slider_in_jupyterlab_and_the_digit_changes(jupyter_lab, tmp_path, mnist_available):
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
    from PIL import Image, ImageChops

    from tests.jupyterhub_browser import StudentBrowser

    url, token, root = jupyter_lab
    nb = new_notebook(cells=[new_markdown_cell("# The latent explorer"), new_code_cell(MNIST_SETUP),
                             new_code_cell(EXPLORER)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(root / "explorer.ipynb"))
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    with StudentBrowser(url, ARTIFACTS, dict(os.environ)) as browser:
        browser.run_all_cells(f"{url}lab/tree/explorer.ipynb?token={token}")
        before, after = browser.move_latent_slider("explorer")
        browser.shot("explorer_page.png")
    a, b = Image.open(before).convert("RGB"), Image.open(after).convert("RGB")
    assert a.size == b.size and a.width > 400, (a.size, b.size)
    changed = ImageChops.difference(a, b).getbbox()
    assert changed is not None, "the explorer looks the same after the slider moved"
    assert (ARTIFACTS / "explorer_before.png").exists() and (ARTIFACTS / "explorer_after.png").exists()
