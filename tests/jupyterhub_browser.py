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
        """Open a notebook (its full URL, ``.../lab/tree/PATH``), Run > Run All Cells, and wait until every code
        cell has run and the kernel is idle again."""
        page = self.page
        page.goto(notebook_url)
        page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=120_000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
        started = """() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]
            .some(e => /\[(\d+|\*)\]/.test(e.textContent))"""
        for attempt in range(4):  # under load a click can land before the kernel is ready: retry until cells queue
            for dialog in page.locator(".jp-Dialog .jp-mod-accept").all():  # e.g. a kernel picker
                dialog.click()
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            try:
                page.wait_for_function(started, timeout=30_000)
                break
            except Exception:
                page.keyboard.press("Escape")
                if attempt == 3:
                    raise
        self._wait_until_all_ran(timeout)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)

    def _wait_until_all_ran(self, timeout_ms: int) -> None:
        """Every code cell numbered ([n], not [ ] or [*]). Fails at once, with the error's text and a screenshot, when
        a cell raised (Run All stops there) or the kernel died; accepts a dialog that appears meanwhile (a kernel
        picker would hold the queued cells forever)."""
        state = """() => { const cells = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell')];
            const prompts = cells.map(c => (c.querySelector('.jp-InputPrompt') || {}).textContent || '');
            const stderr = '.jp-Notebook [data-mime-type="application/vnd.jupyter.stderr"]';
            const errors = [...document.querySelectorAll(stderr)].map(e => e.textContent)
                .filter(t => /Error|Traceback/.test(t));
            const status = (document.querySelector('.jp-Notebook-ExecutionIndicator') || {dataset: {}}).dataset.status;
            return {prompts, errors, status,
                    done: cells.length > 0 && prompts.every(t => /\\[\\d+\\]/.test(t))}; }"""
        deadline = time.monotonic() + timeout_ms / 1000
        stalled_since, reruns = None, 0
        while True:
            for dialog in self.page.locator(".jp-Dialog .jp-mod-accept").all():
                dialog.click()
            now = self.page.evaluate(state)
            if now["done"]:
                return
            # under load JupyterLab has queued only the first cells of a Run All: the kernel is idle with cells
            # never run and no error; after 20 s of that, Run All again (at most twice)
            stalled = now["status"] == "idle" and not now["errors"] and "[*]:" not in now["prompts"]
            stalled_since = (stalled_since or time.monotonic()) if stalled else None
            if stalled_since and time.monotonic() - stalled_since > 20 and reruns < 2:
                self.page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
                self.page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
                stalled_since, reruns = None, reruns + 1
            problem = ("a cell raised: " + now["errors"][-1][-1500:] if now["errors"] and "[*]" not in now["prompts"]
                       else "the kernel died" if now["status"] == "dead"
                       else "the cells did not all run in time" if time.monotonic() > deadline else "")
            if problem:
                shot = self.shot("run_all_failed.png")
                raise AssertionError(f"Run All Cells: {problem} (cell prompts {now['prompts']}, kernel "
                                     f"{now['status']}; screenshot {shot})")
            time.sleep(2)

    def move_latent_slider(self, name: str = "explorer", fraction: float = 0.85,
                           timeout: int = 60_000) -> tuple[Path, Path]:
        """In an open notebook whose latent explorer cell (course_utils.explorer) has run, drag the explorer's first
        slider to ``fraction`` of its track; returns the screenshots of the explorer (before, after).

        Waits for the decoded image to change (its ``src``) before the second screenshot; raises if it never does.
        The screenshots are ``<shots>/<name>_before.png`` and ``<name>_after.png``.
        """
        page = self.page
        explorer = page.locator(".course-latent-explorer").first
        explorer.wait_for(state="visible", timeout=timeout)
        explorer.scroll_into_view_if_needed()
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
