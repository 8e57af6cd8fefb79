"""The artifact reads the UI uses, over HTTP: MLflow's `artifacts/list` and
`/get-artifact` by run id, with clear 4xx errors."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from mlcadence import tracking
from tests.tracking.server_fixtures import tracking_server  # noqa: F401

pytestmark = pytest.mark.integration


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture
def run_with_artifacts(tmp_path):
    uri = str(tmp_path / "mlruns")
    client = tracking.Client(uri)
    run = client.create_run("0")
    client.log_text(run.info.run_id, "hello\n", "notes/readme.txt")
    return uri, run.info.run_id


def test_a_runs_artifacts_are_listed_and_read_by_run_id(tracking_server, run_with_artifacts):  # noqa: F811
    uri, run_id = run_with_artifacts
    server = tracking_server(uri)
    status, body = get(f"{server.url}/api/2.0/mlflow/artifacts/list?run_id={run_id}")
    assert status == 200
    assert json.loads(body)["files"] == [{"path": "notes", "is_dir": True}]
    status, body = get(f"{server.url}/api/2.0/mlflow/artifacts/list?run_id={run_id}&path=notes")
    assert json.loads(body)["files"] == [
        {"path": "notes/readme.txt", "is_dir": False, "file_size": 6}
    ]
    status, body = get(f"{server.url}/get-artifact?run_id={run_id}&path=notes/readme.txt")
    assert (status, body) == (200, b"hello\n")


def test_a_missing_or_escaping_artifact_path_is_a_clear_4xx(tracking_server, run_with_artifacts):  # noqa: F811
    uri, run_id = run_with_artifacts
    server = tracking_server(uri)
    status, body = get(f"{server.url}/get-artifact?run_id={run_id}&path=nope.txt")
    assert status == 404
    assert "has no artifact file 'nope.txt'" in json.loads(body)["message"]
    status, body = get(f"{server.url}/get-artifact?run_id={run_id}&path=../../etc/passwd")
    assert status == 400 and json.loads(body)["error_code"] == "INVALID_PARAMETER_VALUE"
    status, body = get(f"{server.url}/get-artifact?path=x")
    assert status == 400 and "run_id" in json.loads(body)["message"]
