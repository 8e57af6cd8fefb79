"""The run page's model card, confusion matrix and Prefect link, and the
model page's signature, on a store made by the real training flow
(`mlcadence train`, reporting to the session's real Prefect server)."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlcadence import tracking
from mlcadence.tracking.entities import Run
from tests.tracking.server_fixtures import MLCADENCE

pytestmark = pytest.mark.integration

PREFECT_UI = "http://prefect.example:4200"
MODEL = "stockpred"


@dataclass
class Trained:
    uri: str
    run: Run
    artifacts: Path  # the run's artifact folder


@pytest.fixture(scope="module")
def trained(prefect_server, tmp_path_factory) -> Trained:
    folder = tmp_path_factory.mktemp("trained")
    uri = str(folder / "mlruns")
    env = {
        **os.environ,
        "MLCADENCE_TRACKING_URI": uri,
        "MLCADENCE_CACHE_DIR": str(folder / "cache"),
    }
    done = subprocess.run(
        [*MLCADENCE, "train", "--source", "synthetic:42", "--register-as", MODEL],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    client = tracking.Client(uri)
    version = client.get_model_version(MODEL, 1)
    client.transition_model_version_stage(MODEL, 1, "Staging")
    run = client.get_run(version.run_id)
    return Trained(uri, run, tracking.artifacts.artifact_root(run.info.artifact_uri))


@pytest.fixture
def page_on(browser):
    """page_on(server) -> a fresh page on the server; script errors fail the test."""
    contexts, errors = [], []

    def open_page(server, query: str = ""):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{server.url}/{query}")
        page.wait_for_selector("main:not([aria-busy])")
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not errors, f"uncaught script errors on the page: {errors}"


def test_model_card_shows_the_runs_estimator_dataset_and_registered_version(
    trained,
    tracking_server,
    page_on,
    tmp_path,
):
    page = page_on(tracking_server(trained.uri), f"?view=run&run={trained.run.info.run_id}")
    card = page.locator("#model-card")
    fact = lambda name: card.locator(f'dd[data-fact="{name}"]').inner_text()  # noqa: E731
    params, tags = trained.run.data.params, trained.run.data.tags
    assert fact("Estimator") == params["model"] == "random_forest"
    assert f"n_estimators={params['n_estimators']}" in fact("Parameters")
    assert fact("Dataset source") == tags["mlcadence.dataset.source"] == "synthetic:42"
    assert fact("Dataset digest") == tags["mlcadence.dataset.digest"]
    assert fact("Registered") == f"{MODEL} version 1"
    accuracy = trained.run.data.metrics["accuracy"]
    assert f"accuracy {float(f'{accuracy:.6g}')}" in fact("Metrics")
    page.screenshot(path=str(tmp_path / "run-model-card.png"), full_page=True)


def test_confusion_matrix_cells_equal_the_logged_json(trained, tracking_server, page_on):
    logged = json.loads((trained.artifacts / "evaluation" / "confusion_matrix.json").read_text())
    page = page_on(tracking_server(trained.uri), f"?view=run&run={trained.run.info.run_id}")
    table = page.locator("#confusion-matrix")
    shown = [
        [
            int(table.locator(f'td[data-row="{t}"][data-column="{p}"]').inner_text())
            for p in logged["labels"]
        ]
        for t in logged["labels"]
    ]
    assert shown == logged["matrix"]
    headers = table.locator("thead th")
    assert [headers.nth(i).inner_text() for i in range(headers.count())] == [
        f"predicted {label}" for label in logged["labels"]
    ]
    report = (trained.artifacts / "evaluation" / "classification_report.txt").read_text()
    assert page.locator("#classification-report").inner_text().strip() == report.strip()


def test_model_page_lists_each_versions_signature_input_example_and_stage(
    trained,
    tracking_server,
    page_on,
):
    from mlflow.models import Model  # the real mlflow reads the same MLmodel

    mlmodel = Model.load(str(trained.artifacts / "model"))
    columns = mlmodel.signature.inputs.input_names()
    example = json.loads((trained.artifacts / "model" / "input_example.json").read_text())
    page = page_on(tracking_server(trained.uri), f"?view=model&name={MODEL}")
    inputs = page.locator("#signature-inputs-1 tbody tr")
    shown = [inputs.nth(i).get_attribute("data-column") for i in range(inputs.count())]
    assert shown == columns and len(columns) == 14
    assert inputs.first.locator("td").nth(1).inner_text() == "long"
    assert "tensor int64" in page.locator("#signature-outputs-1").inner_text()
    rows = page.locator("#input-example-1 tbody tr")
    assert rows.count() == len(example["data"])
    assert rows.first.inner_text().split() == [str(v) for v in example["data"][0]]
    section = page.locator('section.version-detail[data-version="1"] h3')
    assert section.inner_text() == "Version 1 · stage Staging"


def test_prefect_flow_run_links_to_the_prefect_uis_flow_run_page(
    trained,
    tracking_server,
    page_on,
):
    from prefect.client.orchestration import get_client

    flow_run_id = trained.run.data.tags["mlcadence.prefect.flow_run_id"]
    server = tracking_server(trained.uri, "--prefect-ui-url", PREFECT_UI + "/")
    page = page_on(server, f"?view=run&run={trained.run.info.run_id}")
    links = page.locator("#facts a.prefect-link")
    assert links.count() == 2  # the flow run's name and its id
    for i in range(2):
        assert links.nth(i).get_attribute("href") == f"{PREFECT_UI}/runs/flow-run/{flow_run_id}"
    # The id is a flow run the Prefect server knows, under the name the run shows.
    with get_client(sync_client=True) as prefect:
        flow_run = prefect.read_flow_run(flow_run_id)
    assert flow_run.name == trained.run.data.tags["mlcadence.prefect.flow_run_name"]
    assert links.first.inner_text() == flow_run.name


def test_without_a_prefect_ui_url_the_flow_run_is_plain_text(trained, tracking_server, page_on):
    server = tracking_server(trained.uri, PREFECT_UI_URL="")
    page = page_on(server, f"?view=run&run={trained.run.info.run_id}")
    flow_run_id = trained.run.data.tags["mlcadence.prefect.flow_run_id"]
    assert flow_run_id in page.locator("#facts").inner_text()
    assert page.locator("#facts a.prefect-link").count() == 0


def test_the_prefect_ui_url_defaults_to_prefects_own_variable(trained, tracking_server):
    server = tracking_server(trained.uri, PREFECT_UI_URL=PREFECT_UI)
    with urllib.request.urlopen(f"{server.url}/ui/config", timeout=30) as response:
        assert json.loads(response.read()) == {"prefect_ui_url": PREFECT_UI}
