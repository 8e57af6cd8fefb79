"""The Deployments page on a real deployment: a model trained by `mlcadence
train`, deployed with `mlcadence deploy --target local`, shown live with the
version its /health reports and the requests its /metrics counts, then shown
stopped after `mlcadence deployments stop`."""

from __future__ import annotations

import uuid

import httpx
import pytest

from mlcadence import tracking
from mlcadence.tracking.conventions import DEPLOYMENT_ENDPOINT_TAG, DEPLOYMENT_TARGET_TAG
from mlcadence.tracking.uris import resolve_model_uri
from tests.tracking.server_fixtures import free_port
from tests.ui.browsing import browse
from tests.ui.training_store import (
    MODEL,
    TRAIN,
    build_training_store,
    cli_env,
    run_cli,
    start_server,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def trained(prefect_server, tmp_path_factory):
    """A file store with version 1 of the model (one real training), and a
    tracking server on it."""
    workdir = tmp_path_factory.mktemp("deployments")
    store = build_training_store(str(workdir / "mlruns"), workdir, commands=(TRAIN,))
    server = start_server(store.backend_uri, workdir / "server")
    yield store, server, workdir
    server.stop()


@pytest.fixture
def tab(browser, trained, tmp_path):
    yield from browse(browser, trained[1].url, tmp_path / "screenshots")


@pytest.fixture
def deployment(trained):
    """Version 1 deployed on a free port with the CLI; stopped at teardown if
    the test did not stop it. Yields (port, stop) where stop() runs
    `mlcadence deployments stop`."""
    store, _, workdir = trained
    env = cli_env(store.backend_uri, workdir)
    port = free_port()
    run_cli(["deploy", MODEL, "--target", "local", "--port", str(port)], env, workdir)
    stopped = []

    def stop() -> None:
        run_cli(["deployments", "stop", MODEL, "--target", "local"], env, workdir)
        stopped.append(True)

    try:
        yield port, stop
    finally:
        if not stopped:
            stop()


def field(row, name: str) -> str:
    return row.locator(f'td[data-field="{name}"]').inner_text().strip()


def test_a_live_deployment_shows_its_endpoint_health_and_growing_request_count(
    trained, tab, deployment
):
    store, _, _ = trained
    port, stop = deployment
    page = tab.open("?view=deployments")
    row = page.locator(f'#deployments tr[data-model="{MODEL}"][data-version="1"]')
    endpoint = f"http://127.0.0.1:{port}/invocations"
    assert field(row, "endpoint") == endpoint
    assert row.locator("[data-state]").get_attribute("data-state") == "live"
    assert field(row, "served") == "v1"
    before = int(field(row, "requests"))

    model_dir = resolve_model_uri(f"models:/{MODEL}/1", tracking.Client(store.backend_uri))
    body = (model_dir.local_path / "serving_input_example.json").read_bytes()
    for _ in range(3):
        answer = httpx.post(
            endpoint, content=body, headers={"Content-Type": "application/json"}, timeout=30
        )
        assert answer.status_code == 200, answer.text
    page.get_by_role("button", name="Refresh health and metrics").click()
    page.wait_for_selector("#deployments:not([aria-busy])")
    assert int(field(row, "requests")) == before + 3
    assert field(row, "errors") == "0"
    assert "p50" in field(row, "latency")
    tab.screenshot("deployments", for_docs=True)

    stop()
    page = tab.open("?view=deployments")
    row = page.locator(f'#deployments tr[data-model="{MODEL}"][data-version="1"]')
    assert row.locator("[data-state]").get_attribute("data-state") == "stopped"
    assert "stopped at" in field(row, "state")
    assert field(row, "served") == "–"
    tab.screenshot("deployments-stopped")


def test_a_deployment_whose_server_is_gone_shows_as_unreachable_not_as_an_error(trained, tab):
    store, _, _ = trained
    client = tracking.Client(store.backend_uri)
    name = f"gone-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name)
    client.create_model_version(name, "file:///nowhere/model")
    # Deployed once, then its process died without `deployments stop`.
    client.set_model_version_tag(
        name, 1, DEPLOYMENT_ENDPOINT_TAG, f"http://127.0.0.1:{free_port()}/invocations"
    )
    client.set_model_version_tag(name, 1, DEPLOYMENT_TARGET_TAG, "local")
    page = tab.open("?view=deployments")
    row = page.locator(f'#deployments tr[data-model="{name}"][data-version="1"]')
    assert row.locator("[data-state]").get_attribute("data-state") == "unreachable"
    assert "/health did not answer" in field(row, "state")
    assert page.get_by_role("alert").count() == 0
    assert page.locator('nav a[data-view="deployments"]').get_attribute("aria-current") == "page"
