"""/docs renders in a real browser (Debian's chromium, headless, driven by
Playwright) from assets the server itself serves: no request leaves localhost."""

from __future__ import annotations

import shutil
from urllib.parse import urlparse

import httpx
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TOKEN = "docs-token"


@pytest.fixture(scope="module")
def server(start_server, stock_model):
    return start_server(["-m", str(stock_model)], {"MLCADENCE_SERVING_TOKEN": TOKEN})


def render_docs(url: str, headers: dict[str, str]) -> tuple[str, list[str]]:
    """The rendered /docs text, and every URL the page asked for. Requests to
    anywhere but the server are refused, so a CDN asset would break the page."""
    from playwright.sync_api import sync_playwright

    asked: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_context(extra_http_headers=headers).new_page()

            def only_local(route):
                asked.append(route.request.url)
                if urlparse(route.request.url).hostname == "127.0.0.1":
                    route.continue_()
                else:
                    route.abort()

            page.route("**/*", only_local)
            page.goto(url + "/docs")
            page.wait_for_selector("text=/invocations", timeout=60_000)
            text = page.inner_text("body")
        finally:
            browser.close()
    return text, asked


def test_docs_render_offline_and_list_invocations(server):
    text, asked = render_docs(server.url, {"Authorization": f"Bearer {TOKEN}"})
    assert "/invocations" in text and "/ping" in text
    assert {urlparse(u).hostname for u in asked} == {"127.0.0.1"}, asked
    assert any(u.endswith("/docs/assets/swagger-ui-bundle.js") for u in asked)


def test_docs_assets_follow_the_docs_token_rule(server):
    asset = server.url + "/docs/assets/swagger-ui-bundle.js"
    assert httpx.get(asset).status_code == 401
    answer = httpx.get(asset, headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith(
        "text/javascript"
    )
    missing = httpx.get(
        server.url + "/docs/assets/../../etc/passwd", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert missing.status_code == 404
    unknown = httpx.get(
        server.url + "/docs/assets/index.html", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert unknown.status_code == 404 and unknown.json()["error_code"] == "ENDPOINT_NOT_FOUND"
