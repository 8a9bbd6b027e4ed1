"""A student's browser on the course hub: Debian's chromium, headless, driven by Playwright.

Playwright only drives the system's ``/usr/bin/chromium`` (``executable_path``); it never
downloads a browser of its own. Every browser gets a fresh profile folder and the hub run's
marker in its environment, so ``CourseHub.stop()`` ends any process it leaves behind.
"""
from __future__ import annotations

import re
import shutil
import tempfile
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
        page.goto(f"{self.url}user/{user}/lab/tree/{notebook_path}")
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
