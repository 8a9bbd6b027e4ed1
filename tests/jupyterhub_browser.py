"""A student's browser on the course hub: Debian's chromium, headless, driven by Playwright.

Playwright only drives the system's ``/usr/bin/chromium`` (``executable_path``); it never
downloads a browser of its own. Every browser gets a fresh profile folder and the hub run's
marker in its environment, so ``CourseHub.stop()`` ends any process it leaves behind.
"""
from __future__ import annotations

import re
import shutil
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
# Playwright adds --headless (headless=True) and --user-data-dir (the fresh profile folder) itself.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1400, "height": 900}


class StudentBrowser:
    def __init__(self, hub_url: str, shots: Path, env: dict):
        self.url, self.shots, self.env = hub_url, Path(shots), env
        self.shots.mkdir(parents=True, exist_ok=True)
        self.saved: list[Path] = []

    def __enter__(self):
        self.profile = tempfile.mkdtemp(prefix="course-hub-chromium-")
        self._pw = sync_playwright().start()
        try:
            self.context = self._pw.chromium.launch_persistent_context(
                self.profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, env=self.env,
                viewport=VIEWPORT)
        except BaseException:
            self._pw.stop()
            raise
        self.context.set_default_timeout(60_000)
        self.page = self.context.pages[0] if self.context.pages else self.context.new_page()
        return self

    def __exit__(self, *exc):
        try:
            self.context.close()
        finally:
            self._pw.stop()
            shutil.rmtree(self.profile, ignore_errors=True)

    def shot(self, name: str) -> Path:
        path = self.shots / name
        self.page.screenshot(path=str(path))
        self.saved.append(path)
        return path

    def login(self, user: str, password: str) -> None:
        page = self.page
        page.goto(self.url + "hub/login")
        page.fill("#username_input", user)
        page.fill("#password_input", password)
        page.click("#login_submit")
        page.wait_for_url(re.compile(rf"/user/{re.escape(user)}/lab"), timeout=120_000)
        page.wait_for_selector(".jp-LabShell", timeout=120_000)

    def menu_items(self, menu: str) -> list[str]:
        self.page.locator(".lm-MenuBar-itemLabel", has_text=menu).click()
        self.page.wait_for_selector(".lm-Menu-content .lm-Menu-itemLabel")
        items = [t for t in self.page.locator(".lm-Menu-content .lm-Menu-itemLabel").all_inner_texts() if t.strip()]
        self.page.keyboard.press("Escape")
        return items

    def open_assignments(self) -> str:
        """Nbgrader > Assignment List; returns the panel's text once the lists have loaded."""
        page = self.page
        page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
        page.locator(".lm-Menu-itemLabel", has_text="Assignment List").click()
        page.wait_for_selector("#released_assignments_list", timeout=60_000)
        # The lists fill in after a call to the server; wait until none says it is loading.
        page.wait_for_function("""() => { const w = document.querySelector('.nbgrader-mainarea-widget');
            return w && !/Loading, please wait/i.test(w.innerText); }""", timeout=60_000)
        return page.locator(".nbgrader-mainarea-widget").inner_text()

    def run_first_code_cell(self, user: str, notebook_path: str) -> tuple[str, str]:
        """Open a notebook, run its first code cell, wait for it; returns (prompt, output text)."""
        page = self.page
        page.goto(f"{self.url}user/{user}/lab/tree/{notebook_path}?reset")  # only this notebook open
        page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=120_000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
        cell = page.locator(".jp-Notebook .jp-CodeCell").first
        cell.scroll_into_view_if_needed()
        # Under load a keypress sent before the editor has focus is lost: retry until the cell is queued.
        queued = """() => { const c = document.querySelector('.jp-Notebook .jp-CodeCell');
            const p = c && c.querySelector('.jp-InputPrompt'); return p && /\\[(\\d+|\\*)\\]/.test(p.textContent); }"""
        for attempt in range(4):
            cell.locator(".jp-InputArea-editor").click()
            page.keyboard.press("Shift+Enter")
            try:
                page.wait_for_function(queued, timeout=30_000)
                break
            except Exception:
                if attempt == 3:
                    raise
        page.wait_for_function("""() => { const c = document.querySelector('.jp-Notebook .jp-CodeCell');
            const p = c && c.querySelector('.jp-InputPrompt'); return p && /\\[\\d+\\]/.test(p.textContent); }""",
                               timeout=300_000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
        cell.scroll_into_view_if_needed()
        return cell.locator(".jp-InputPrompt").inner_text(), cell.locator(".jp-OutputArea").inner_text()

    # ------------------------------------------------------------------ notebooks: run all, the latent explorer
    def run_all_cells(self, notebook_url: str, timeout: int = 600_000) -> None:
        """Open a notebook (its full URL, ``.../lab/tree/PATH``) and run every code cell in order, as a student
        pressing Ctrl+Enter on each: a cell is run only once the kernel is idle and the cell before it has its
        number, so no cell can ever run before the ones it needs. (Run > Run All Cells, clicked while the kernel
        was still connecting, could have its first requests dropped and its later ones sent: a cell then ran
        before the cell defining its names.) Fails at once, with the error's text and a screenshot, when a cell
        raises or the kernel dies."""
        page = self.page
        page.goto(notebook_url)
        page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=120_000)
        # JupyterLab attaches a long notebook's cells to the page a few at a time: wait for all of them, as many
        # as the server's copy of the notebook has
        base, path = re.match(r"(.*/)lab/tree/([^?#]*)", notebook_url).groups()
        count = page.evaluate("""async (url) => {
            const xsrf = (document.cookie.match(/(?:^|; )_xsrf=([^;]*)/) || [])[1];
            const r = await fetch(url, {credentials: 'same-origin',
                                        headers: xsrf ? {'X-XSRFToken': decodeURIComponent(xsrf)} : {}});
            if (!r.ok) throw new Error(`GET ${url}: HTTP ${r.status} ${await r.text()}`);
            return (await r.json()).content.cells.filter(c => c.cell_type === 'code').length; }""",
                              f"{base}api/contents/{path}?content=1")
        page.wait_for_function("(n) => document.querySelectorAll('.jp-Notebook .jp-CodeCell').length >= n",
                               arg=count, timeout=120_000)
        self._wait_for_kernel("idle", 120_000)
        deadline = time.monotonic() + timeout / 1000
        for index in range(count):
            self._run_cell(index, max(1_000, int((deadline - time.monotonic()) * 1000)))

    CELL_STATE = """(index) => {
        const cell = document.querySelectorAll('.jp-Notebook .jp-CodeCell')[index];
        const prompt = ((cell && cell.querySelector('.jp-InputPrompt')) || {}).textContent || '';
        const errors = cell ? [...cell.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]')]
            .map(e => e.textContent).filter(t => /Error|Traceback/.test(t)) : [];
        const kernel = (document.querySelector('.jp-Notebook-ExecutionIndicator') || {dataset: {}}).dataset.status;
        return {prompt, errors, kernel}; }"""

    def _cell_state(self, index: int) -> dict:
        return self.page.evaluate(self.CELL_STATE, index)

    def _wait_for_kernel(self, status: str, timeout_ms: int) -> None:
        self.page.wait_for_selector(f".jp-Notebook-ExecutionIndicator[data-status='{status}']", timeout=timeout_ms)

    def _accept_dialogs(self) -> None:
        for dialog in self.page.locator(".jp-Dialog .jp-mod-accept").all():  # e.g. a kernel picker
            dialog.click()

    def _run_cell(self, index: int, timeout_ms: int) -> None:
        """Run code cell ``index`` once the kernel is idle; return when it has its number and the kernel is idle."""
        page = self.page
        cell = page.locator(".jp-Notebook .jp-CodeCell").nth(index)
        before = self._cell_state(index)["prompt"]
        for attempt in range(3):  # a request the kernel never received leaves the prompt as it was
            self._accept_dialogs()
            self._wait_for_kernel("idle", 120_000)
            cell.scroll_into_view_if_needed()
            cell.locator(".jp-InputPrompt").first.click()  # selects the cell, in command mode
            page.keyboard.press("Control+Enter")
            try:
                page.wait_for_function(
                    "([index, before]) => { const c = document.querySelectorAll('.jp-Notebook .jp-CodeCell')[index];"
                    " const p = ((c && c.querySelector('.jp-InputPrompt')) || {}).textContent || '';"
                    " return p !== before && /\\[(\\d+|\\*)\\]/.test(p); }",
                    arg=[index, before], timeout=30_000)
                break
            except Exception:
                if attempt == 2:
                    self._fail(index, "it never started")
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            self._accept_dialogs()
            now = self._cell_state(index)
            if now["errors"]:
                self._fail(index, "it raised: " + now["errors"][-1][-1500:])
            if now["kernel"] == "dead":
                self._fail(index, "the kernel died")
            if re.fullmatch(r"\s*\[\d+\]:?\s*", now["prompt"]) and now["kernel"] == "idle":
                return
            if time.monotonic() > deadline:
                self._fail(index, "it did not finish in time")
            page.wait_for_timeout(500)

    def _fail(self, index: int, problem: str) -> None:
        shot = self.shot("run_all_failed.png")
        raise AssertionError(f"running code cell {index + 1}: {problem} (screenshot {shot})")

    def move_latent_slider(self, name: str = "explorer", fraction: float = 0.85,
                           timeout: int = 60_000) -> tuple[Path, Path]:
        """In an open notebook whose latent explorer cell (course_utils.explorer) has run, drag the explorer's first
        slider to ``fraction`` of its track; returns the screenshots of the explorer (before, after).

        Waits for the decoded image to change (its ``src``) before the second screenshot; raises if it never does.
        The screenshots are ``<shots>/<name>_before.png`` and ``<name>_after.png``.
        """
        page = self.page
        explorer = page.locator(".course-latent-explorer").first
        explorer.wait_for(state="attached", timeout=timeout)
        explorer.scroll_into_view_if_needed()  # a cell far from the view is not laid out (content-visibility)
        explorer.wait_for(state="visible", timeout=timeout)
        decoded = explorer.locator("img.course-latent-decoded").first
        decoded.wait_for(state="visible", timeout=timeout)
        page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=decoded.element_handle(),
                               timeout=timeout)
        before_src = decoded.get_attribute("src")
        before = self.shots / f"{name}_before.png"
        explorer.screenshot(path=str(before))
        self.saved.append(before)

        track = explorer.locator(".noUi-target").first
        handle = explorer.locator(".noUi-handle").first
        box, knob = track.bounding_box(), handle.bounding_box()
        page.mouse.move(knob["x"] + knob["width"] / 2, knob["y"] + knob["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + fraction * box["width"], knob["y"] + knob["height"] / 2, steps=12)
        page.mouse.up()
        changed = """([img, old]) => img.getAttribute('src') !== old && img.complete && img.naturalWidth > 0"""
        try:
            page.wait_for_function(changed, arg=[decoded.element_handle(), before_src], timeout=timeout // 2)
        except Exception:  # a drag lost under load: the keyboard moves the focused handle too
            handle.focus()
            for _ in range(40):
                page.keyboard.press("ArrowRight")
            page.wait_for_function(changed, arg=[decoded.element_handle(), before_src], timeout=timeout // 2)
        page.wait_for_timeout(300)  # let the scatter's dot repaint too
        after = self.shots / f"{name}_after.png"
        explorer.screenshot(path=str(after))
        self.saved.append(after)
        return before, after
