"""The deploy targets with MLCADENCE_TRACKING_URI=http://... (our tracking
server, tokens on): the model is fetched from the server and verified, the
deployment serves it, and the deployment is recorded on the server's
version. Local: a server process that resolves the alias over HTTP itself;
Docker: an image built from the downloaded model."""

from __future__ import annotations

import secrets

import httpx
import pytest

from tests.http_fixtures import free_port
from tests.serving.flagship import BOOK_ROW, FEATURES
from tests.tracking.server_fixtures import tracking_server  # noqa: F401

pytestmark = pytest.mark.integration


@pytest.fixture
def served_registry(tracking_server, train_forest, tmp_path, monkeypatch):  # noqa: F811
    """Our tracking server (write token required) holding version 1 of a
    model (a name of its own, so its image tag is ours alone) as champion,
    made the process's tracking URI; yields (client, name, estimator)."""
    from mlcadence.settings import reload_settings
    from mlcadence.tracking import Client
    from mlcadence.tracking.models import log_model

    name = f"stockhttp{secrets.token_hex(3)}"
    token = "w-" + secrets.token_hex(8)
    (tmp_path / "tokens").write_text(f"{token} write\n")
    server = tracking_server(
        f"sqlite:///{tmp_path / 'served.db'}", "--tokens-file", str(tmp_path / "tokens")
    )
    monkeypatch.setenv("MLCADENCE_TRACKING_URI", server.url)
    monkeypatch.setenv("MLCADENCE_TRACKING_TOKEN", token)
    monkeypatch.setenv("MLCADENCE_STATE_DIR", str(tmp_path / "state"))
    reload_settings()
    client = Client(server.url)
    est, X = train_forest(seed=0, n_estimators=10)
    run_id = client.create_run(client.create_experiment("deploy")).info.run_id
    log_model(est, "model", input_example=X.head(2), run_id=run_id, client=client,
              registered_model_name=name)  # fmt: skip
    client.set_registered_model_alias(name, "champion", 1)
    yield client, name, est
    monkeypatch.undo()
    reload_settings()


def _expected(est) -> list:
    import pandas as pd

    return [int(v) for v in est.predict(pd.DataFrame([BOOK_ROW], columns=FEATURES))]


def test_local_target_deploys_an_alias_from_the_tracking_server(served_registry):
    from mlcadence.serving.deploy import deploy_model
    from mlcadence.serving.local_target import LocalTarget

    client, name, est = served_registry
    port = free_port()
    record = deploy_model(name, alias="champion", target="local", port=port)
    try:
        assert record.version == "1"
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).json()
        assert health["model"]["version"] == "1"
        answer = httpx.post(
            f"http://127.0.0.1:{port}/invocations", json={"data": [BOOK_ROW]}, timeout=30
        )
        assert answer.status_code == 200 and answer.json()["predictions"] == _expected(est)
        tags = client.get_model_version(name, 1).tags
        assert tags["target"] == "local" and tags["endpoint"].endswith(f":{port}/invocations")
    finally:
        LocalTarget().stop(record.name)


@pytest.mark.docker
def test_docker_target_builds_from_a_model_on_the_tracking_server(
    served_registry, docker, cache_env
):
    from mlcadence.serving.docker_target import DockerTarget

    client, name, est = served_registry
    target = DockerTarget(cache_dir=cache_env / "docker")
    port = free_port()
    record = target.deploy(f"models:/{name}@champion", port=port, tracking_uri=client.tracking_uri)
    try:
        answer = httpx.post(
            f"http://127.0.0.1:{port}/invocations", json={"data": [BOOK_ROW]}, timeout=30
        )
        assert answer.status_code == 200 and answer.json()["predictions"] == _expected(est)
        assert record.version == "1"
    finally:
        target.stop(port)
        for image in docker.images.list():
            if any(t.startswith(f"{name}:") for t in image.tags):
                docker.images.remove(image.id, force=True)
