"""A browser tab on a module-wide server (the `ui` fixture of conftest.py is
per test, on its own seeded store), and where screenshots go: the test's
folder, and also the README's folder docs/ui when UI_DOCS_SCREENSHOTS=1
(how docs/ui/*.png are refreshed from the real training store)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, Page

DOCS = Path(__file__).resolve().parents[2] / "docs" / "ui"


@dataclass
class Tab:
    url: str
    page: Page
    shots: Path
    errors: list[str] = field(default_factory=list)

    def open(self, query: str = "") -> Page:
        self.page.goto(f"{self.url}/{query}")
        self.page.wait_for_load_state("networkidle")
        self.page.wait_for_selector("main:not([aria-busy])")
        return self.page

    def screenshot(self, name: str, *, for_docs: bool = False) -> Path:
        self.shots.mkdir(parents=True, exist_ok=True)
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        if for_docs and os.environ.get("UI_DOCS_SCREENSHOTS") == "1":
            self.page.screenshot(path=str(DOCS / f"{name}.png"), full_page=True)
        return path


def browse(browser: Browser, url: str, shots: Path):
    """Yield a Tab on `url`; uncaught script errors on the page fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = Tab(url, context.new_page(), shots)
    tab.page.on("pageerror", lambda exc: tab.errors.append(str(exc)))
    try:
        yield tab
    finally:
        context.close()
    assert not tab.errors, f"uncaught script errors on the page: {tab.errors}"
