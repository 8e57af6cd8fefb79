"""The web UI on a server started with --tokens-file: the page asks for a
token on the first 401, keeps it for the tab and sends it as a bearer token;
a read-only token's write is refused with a message that says so."""

from __future__ import annotations

import secrets

import pytest

from tests.ui.images import png
from tests.ui.store import seed

pytestmark = pytest.mark.integration


@pytest.fixture
def guarded(tracking_server, browser, tmp_path):
    """A seeded file store behind a server that needs tokens, and a fresh page."""
    uri = str(tmp_path / "mlruns")
    store = seed(uri)
    tokens = {"read": secrets.token_hex(16), "write": secrets.token_hex(16)}
    tokens_file = tmp_path / "tokens"
    tokens_file.write_text("".join(f"{token} {scope}\n" for scope, token in tokens.items()))
    server = tracking_server(uri, "--tokens-file", str(tokens_file))
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield server, store, tokens, page
    context.close()
    assert not errors, f"uncaught script errors on the page: {errors}"


def answer_prompt(page, token: str) -> None:
    field = page.get_by_label("Access token")
    field.wait_for()
    assert field.get_attribute("type") == "password"
    assert field.evaluate("el => el === document.activeElement")  # focus moves to it
    field.fill(token)
    page.get_by_role("button", name="Use this token").click()


def test_the_page_asks_for_a_token_then_shows_the_data(guarded, tmp_path):
    server, store, tokens, page = guarded
    page.goto(server.url + "/")
    prompt = page.locator("#token-prompt")
    prompt.wait_for()
    assert "needs a token" in prompt.inner_text()
    page.screenshot(path=str(tmp_path / "token-prompt.png"), full_page=True)
    answer_prompt(page, tokens["read"])
    row = page.locator(f'tr[data-experiment-id="{store.experiment_id}"]')
    row.wait_for()
    assert row.locator("td").nth(1).inner_text() == "stock-training"
    assert page.evaluate("sessionStorage.getItem('mlcadence.token')") == tokens["read"]
    # The tab keeps the token: other pages load without asking again.
    page.goto(f"{server.url}/?view=run&run={store.child_ids[0]}")
    page.wait_for_selector('main:not([aria-busy]) svg[data-metric="loss"]')
    assert page.locator("#token-prompt").count() == 0


def test_a_refused_token_asks_again_with_the_servers_reason(guarded):
    server, store, tokens, page = guarded
    page.goto(server.url + "/")
    answer_prompt(page, "not-a-token")
    page.wait_for_function(
        "document.querySelector('#token-prompt')?.innerText.includes('not valid')"
    )
    answer_prompt(page, tokens["write"])
    page.locator(f'tr[data-experiment-id="{store.experiment_id}"]').wait_for()


def test_a_write_with_a_read_only_token_says_the_token_can_only_read(guarded):
    server, _store, tokens, page = guarded
    page.goto(server.url + "/")
    answer_prompt(page, tokens["read"])
    page.get_by_label("New experiment name").fill("holdout")
    page.get_by_role("button", name="Create").click()
    alert = page.locator("#experiment-message [role=alert]")
    alert.wait_for()
    assert "this token can only read" in alert.inner_text().lower()
    # With a write token the same request goes through.
    page.evaluate("sessionStorage.clear()")
    page.reload()
    answer_prompt(page, tokens["write"])
    page.get_by_label("New experiment name").fill("holdout")
    page.get_by_role("button", name="Create").click()
    page.get_by_role("link", name="holdout").wait_for()


def test_an_image_artifact_loads_through_the_token(guarded, tmp_path):
    server, store, tokens, page = guarded
    from mlcadence import tracking

    image = tmp_path / "plot.png"
    image.write_bytes(png())
    tracking.Client(server.backend_uri).log_artifact(store.child_ids[0], str(image))
    page.goto(f"{server.url}/?view=run&run={store.child_ids[0]}")
    answer_prompt(page, tokens["read"])
    page.get_by_role("button", name="plot.png").click()
    shown = page.locator('#artifact-preview img[data-path="plot.png"]')
    shown.wait_for()
    page.wait_for_function("img => img.naturalWidth > 0", arg=shown.element_handle())
