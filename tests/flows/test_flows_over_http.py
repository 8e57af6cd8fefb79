"""Everything above tracking with MLCADENCE_TRACKING_URI=http://...: the
training flow logs its run and registers its model on our tracking server,
and `mlcadence serve -m models:/<name>@champion` serves it from there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from mlcadence import tracking
from mlcadence.flows.training import training
from mlcadence.tracking.entities import RunStatus
from mlcadence.tracking.models import load_model
from tests.http_fixtures import free_port
from tests.tracking.server_fixtures import tracking_server  # noqa: F401

pytestmark = pytest.mark.integration

MLCADENCE = str(Path(sys.executable).with_name("mlcadence"))


@pytest.fixture
def http_store(prefect_server, tracking_server, tmp_path, monkeypatch):  # noqa: F811
    """Our tracking server over a fresh sqlite store, as MLCADENCE_TRACKING_URI."""
    server = tracking_server(f"sqlite:///{tmp_path / 'served.db'}")
    monkeypatch.setenv("MLCADENCE_TRACKING_URI", server.url)
    monkeypatch.setenv("MLCADENCE_CACHE_DIR", str(tmp_path / "cache"))
    tracking.set_tracking_uri(None)  # follow the environment
    return server


def _input_example(client, run_id) -> pd.DataFrame:
    local = client.download_artifacts(run_id, "model/input_example.json")
    doc = json.loads(local.read_text())
    return pd.DataFrame(doc["data"], columns=doc["columns"])


def test_training_flow_logs_and_registers_on_the_server_and_serve_serves_it(
    http_store, run_flow, tmp_path
):
    result = run_flow(training, source="synthetic:1", register_as="demo")
    client = tracking.Client(http_store.url)
    run = client.get_run(result.run_id)
    assert run.info.status == RunStatus.FINISHED
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/")
    assert run.data.params["data_source"] == "synthetic:1"
    assert run.data.metrics == pytest.approx(result.metrics)
    files = {f.path for f in client.list_artifacts(result.run_id, "model")}
    assert {"model/MLmodel", "model/mlcadence-manifest.json"} <= files
    version = client.get_model_version("demo", 1)
    assert version.source == f"runs:/{result.run_id}/model"
    assert "champion" in version.aliases
    # Nothing of the store is on this side: the server keeps it all.
    assert not (tmp_path / "mlruns").exists()

    example = _input_example(client, result.run_id)
    expected = list(load_model("models:/demo@champion").predict(example))

    port = free_port()
    env = {**os.environ, "MLCADENCE_TRACKING_URI": http_store.url}
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed below
    served = subprocess.Popen(
        [MLCADENCE, "serve", "-m", "models:/demo@champion", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            assert served.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(url + "/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        body = {"dataframe_split": json.loads(example.to_json(orient="split", index=False))}
        answer = httpx.post(url + "/invocations", json=body, timeout=60)
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == expected
    finally:
        served.terminate()
        served.wait(timeout=30)
        log.close()
