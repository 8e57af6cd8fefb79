"""`mlcadence server` over raw HTTP: MLflow's error JSON for bad requests,
bearer-token auth, idempotent retries and restarts that keep everything."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

pytestmark = pytest.mark.integration

API = "/api/2.0/mlflow"


def _post(server, path, body, **kw):
    return httpx.post(server.url + API + path, json=body, timeout=30, **kw)


def _get(server, path, params=None, **kw):
    return httpx.get(server.url + API + path, params=params, timeout=30, **kw)


def _new_run(server, headers=None) -> str:
    exp = _post(server, "/experiments/create", {"name": "e"}, headers=headers).json()
    made = _post(
        server,
        "/runs/create",
        {"experiment_id": exp["experiment_id"], "start_time": 1},
        headers=headers,
    )
    return made.json()["run"]["info"]["run_id"]


@pytest.fixture
def sqlite_uri(tmp_path):
    return f"sqlite:///{tmp_path / 'store.db'}"


def test_bad_requests_get_mlflow_error_json_with_4xx(tracking_server, sqlite_uri):
    server = tracking_server(sqlite_uri)
    unknown = httpx.get(server.url + "/api/2.0/mlflow/no-such-thing", timeout=30)
    assert unknown.status_code == 404
    assert unknown.json()["error_code"] == "ENDPOINT_NOT_FOUND"

    malformed = httpx.post(
        server.url + API + "/experiments/create",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert malformed.status_code == 400
    assert malformed.json()["error_code"] == "INVALID_PARAMETER_VALUE"

    missing = _post(server, "/experiments/create", {})
    assert missing.status_code == 400
    assert "'name'" in missing.json()["message"]

    wrong_type = _post(
        server, "/runs/log-metric", {"run_id": "a" * 32, "key": "m", "value": "x", "timestamp": 1}
    )
    assert wrong_type.status_code == 400
    assert "'value'" in wrong_type.json()["message"]

    absent = _get(server, "/runs/get", {"run_id": "0" * 32})
    assert absent.status_code == 404
    assert absent.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"

    run_id = _new_run(server)
    _post(server, "/runs/log-parameter", {"run_id": run_id, "key": "p", "value": "1"})
    changed = _post(server, "/runs/log-parameter", {"run_id": run_id, "key": "p", "value": "2"})
    assert changed.status_code == 400
    assert "Changing param values" in changed.json()["message"]

    duplicate = _post(server, "/experiments/create", {"name": "e"})
    assert (duplicate.status_code, duplicate.json()["error_code"]) == (
        400,
        "RESOURCE_ALREADY_EXISTS",
    )
    escaping = httpx.get(
        server.url + "/api/2.0/mlflow-artifacts/artifacts", params={"path": "../x"}, timeout=30
    )
    assert escaping.status_code == 400


def test_a_retried_log_batch_does_not_duplicate_metrics(tracking_server, backend_uri):
    server = tracking_server(backend_uri)
    run_id = _new_run(server)
    batch = {
        "run_id": run_id,
        "metrics": [{"key": "m", "value": v / 2, "timestamp": 10 + v, "step": v} for v in range(50)]
        + [{"key": "nan", "value": "NaN", "timestamp": 5, "step": 0}],
        "params": [{"key": "p", "value": "1"}],
        "tags": [{"key": "t", "value": "x"}],
    }
    for _ in range(2):  # the client lost the first answer and sent it again
        assert _post(server, "/runs/log-batch", batch).status_code == 200
    server.restart()  # and once more after a restart
    assert _post(server, "/runs/log-batch", batch).status_code == 200
    history = _get(server, "/metrics/get-history", {"run_id": run_id, "metric_key": "m"}).json()
    assert [(m["step"], m["value"]) for m in history["metrics"]] == [(v, v / 2) for v in range(50)]
    nan = _get(server, "/metrics/get-history", {"run_id": run_id, "metric_key": "nan"}).json()
    assert len(nan["metrics"]) == 1 and nan["metrics"][0]["value"] == "NaN"
    # a new value at the same step is a new record, not a duplicate
    _post(
        server,
        "/runs/log-metric",
        {"run_id": run_id, "key": "m", "value": 9, "timestamp": 10, "step": 0},
    )
    history = _get(server, "/metrics/get-history", {"run_id": run_id, "metric_key": "m"}).json()
    assert len(history["metrics"]) == 51


def test_tokens_401_without_403_for_read_scope_and_never_logged(
    tracking_server, sqlite_uri, tmp_path
):
    writer, reader = "w-" + os.urandom(8).hex(), "r-" + os.urandom(8).hex()
    tokens = tmp_path / "tokens"
    tokens.write_text(f"# team tokens\n{writer} write\n{reader} read\n")
    server = tracking_server(
        sqlite_uri, "--tokens-file", str(tokens), "--access-log", "--log-level", "debug"
    )

    assert httpx.get(server.url + "/health", timeout=30).text == "OK"  # open
    anonymous = _get(server, "/experiments/get", {"experiment_id": "0"})
    assert anonymous.status_code == 401
    assert anonymous.json()["error_code"] == "UNAUTHENTICATED"
    wrong = _get(
        server, "/experiments/get", {"experiment_id": "0"}, headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401
    read_ok = _get(
        server,
        "/experiments/get",
        {"experiment_id": "0"},
        headers={"Authorization": f"Bearer {reader}"},
    )
    assert read_ok.status_code == 200
    searched = _post(
        server,
        "/runs/search",
        {"experiment_ids": ["0"]},
        headers={"Authorization": f"Bearer {reader}"},
    )
    assert searched.status_code == 200  # a POST that only reads
    denied = _post(
        server, "/experiments/create", {"name": "x"}, headers={"Authorization": f"Bearer {reader}"}
    )
    assert denied.status_code == 403
    assert denied.json()["error_code"] == "PERMISSION_DENIED"
    upload = httpx.put(
        server.url + "/api/2.0/mlflow-artifacts/artifacts/0/a.txt",
        content=b"x",
        headers={"Authorization": f"Bearer {reader}"},
        timeout=30,
    )
    assert upload.status_code == 403

    # the mlflow client, with MLFLOW_TRACKING_TOKEN, logs through it
    code = (
        "import mlflow\n"
        "with mlflow.start_run() as run:\n"
        "    mlflow.log_metric('m', 1.5)\n"
        "    mlflow.log_text('hi', 'a.txt')\n"
        "print(mlflow.get_run(run.info.run_id).data.metrics['m'])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "MLFLOW_TRACKING_URI": server.url, "MLFLOW_TRACKING_TOKEN": writer},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "1.5"
    denied_client = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "MLFLOW_TRACKING_URI": server.url, "MLFLOW_TRACKING_TOKEN": reader},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert denied_client.returncode != 0 and "PERMISSION_DENIED" in denied_client.stderr

    log = server.log()
    assert "POST /api/2.0/mlflow/runs/create" in log  # the access log is on
    assert writer not in log and reader not in log


def test_bad_tokens_file_fails_the_command_without_echoing_it(tmp_path, sqlite_uri):
    secret = "s-" + os.urandom(8).hex()
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{secret} admin\n")
    from tests.tracking.server_fixtures import MLCADENCE

    done = subprocess.run(
        [*MLCADENCE, "server", "--backend-store-uri", sqlite_uri, "--tokens-file", str(tokens)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "entry 1" in done.stderr and "'read' or 'write'" in done.stderr
    assert secret not in done.stderr + done.stdout


def test_a_restart_keeps_runs_registry_logged_models_and_artifacts(tracking_server, backend_uri):
    server = tracking_server(backend_uri)
    run_id = _new_run(server)
    _post(server, "/runs/log-metric", {"run_id": run_id, "key": "m", "value": 1, "timestamp": 1})
    exp_id = _get(server, "/runs/get", {"run_id": run_id}).json()["run"]["info"]["experiment_id"]
    model = _post(
        server,
        "/logged-models",
        {
            "experiment_id": exp_id,
            "name": "model",
            "source_run_id": run_id,
            "params": [{"key": "a", "value": "1"}],
        },
    ).json()["model"]
    model_id = model["info"]["model_id"]
    assert (
        model["info"]["artifact_uri"] == f"mlflow-artifacts:/{exp_id}/models/{model_id}/artifacts"
    )
    httpx.patch(
        server.url + API + f"/logged-models/{model_id}",
        json={"model_id": model_id, "status": "LOGGED_MODEL_READY"},
        timeout=30,
    )
    httpx.patch(
        server.url + API + f"/logged-models/{model_id}/tags",
        json={"tags": [{"key": "k", "value": "v"}]},
        timeout=30,
    )
    _post(
        server,
        "/model-versions/create",
        {"name": "reg", "source": f"models:/{model_id}", "run_id": run_id, "model_id": model_id},
    )
    put = httpx.put(
        server.url + f"/api/2.0/mlflow-artifacts/artifacts/{exp_id}/{run_id}/artifacts/a.bin",
        content=b"\x00\x01payload",
        timeout=30,
    )
    assert put.status_code == 200

    server.restart()

    got = _get(server, f"/logged-models/{model_id}").json()["model"]
    assert got["info"]["status"] == "LOGGED_MODEL_READY"
    assert got["info"]["tags"] == [{"key": "k", "value": "v"}]
    assert got["data"]["params"] == [{"key": "a", "value": "1"}]
    found = _post(
        server, "/logged-models/search", {"experiment_ids": [exp_id], "filter": "name = 'model'"}
    ).json()
    assert [m["info"]["model_id"] for m in found["models"]] == [model_id]
    version = _get(server, "/model-versions/get", {"name": "reg", "version": "1"}).json()[
        "model_version"
    ]
    assert version["model_id"] == model_id
    history = _get(server, "/metrics/get-history", {"run_id": run_id, "metric_key": "m"}).json()
    assert len(history["metrics"]) == 1
    data = httpx.get(
        server.url + f"/api/2.0/mlflow-artifacts/artifacts/{exp_id}/{run_id}/artifacts/a.bin",
        timeout=30,
    )
    assert data.content == b"\x00\x01payload"
    listing = httpx.get(
        server.url + "/api/2.0/mlflow-artifacts/artifacts",
        params={"path": f"{exp_id}/{run_id}/artifacts"},
        timeout=30,
    ).json()
    assert listing == {"files": [{"path": "a.bin", "is_dir": False, "file_size": 9}]}
