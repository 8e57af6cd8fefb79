"""Browser tests of the web UI: Playwright drives Debian's chromium (never a
browser Playwright downloads) against a real `mlcadence server` on a seeded
store of each backend kind."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.tracking.server_fixtures import ServerProcess, tracking_server  # noqa: F401
from tests.ui.store import Seeded, seed

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Browser:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class UI:
    server: ServerProcess
    store: Seeded
    page: Page
    shots: Path
    errors: list[str]

    def open(self, query: str = "") -> Page:
        self.page.goto(f"{self.server.url}/{query}")
        self.page.wait_for_load_state("networkidle")
        self.page.wait_for_selector("main:not([aria-busy])")
        return self.page

    def screenshot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def ui(browser, tracking_server, backend_uri, tmp_path):  # noqa: F811 - the imported fixture
    """The seeded store behind a started server, and a fresh browser page on it.
    Uncaught script errors on the page fail the test at teardown."""
    store = seed(backend_uri)
    server = tracking_server(backend_uri)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    shots = tmp_path / "screenshots"
    shots.mkdir()
    yield UI(server, store, page, shots, errors)
    context.close()
    assert not errors, f"uncaught script errors on the page: {errors}"
